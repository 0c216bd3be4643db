"""A French install reads French: every message, modal, Home view, e-mail, page, error and note is rendered in `fr`
and no English word is left, apart from the data the samples carry (names, memos, ids, error codes)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.reminders import TEXT_PARTS, default_text, reminder_context
from bot.slack.admin_forms import FormRow
from bot.slack.app import command_registry
from bot.slack.group_modals import GroupForm, group_modal
from bot.slack.rule_modal import RuleForm, rule_modal
from engine.actions import sample_contact, sample_record
from engine.approvals import RequestStatus
from engine.catalog import catalog
from engine.errors import InvalidDefinitionError
from engine.records import RecordType
from engine.workflows import parse_definition
from messages.cards import record_view
from messages.pages import render_page
from messages.render import TEMPLATE_DIR, Renderer
from tests.messages.english import english_words, visible_strings
from tests.messages.test_views import (
    LONG,
    NOW,
    Case,
    card,
    cases,
    note_details,
    record,
    service,
    workflow,
)

# What the samples carry as data: shown as they are in every language.
DATA = ("Two nights in Lyon", "Tell finance", "Large invoices", "Needs two approvals", "too high", "Wrong VAT",
        "Air France is travel", "Finance leads", "Chase it", "Chase", "{{ record.id }} waits.", "Payment due",
        "channel_not_found", "Hello", "Custom", "_it_", "Acme", "Quarterly retainer", "Finance", "Travel",
        "Invoice INV-1 has not been sent yet.", "Sales", "Jane Doe", "vips", "Globex", "IT", "OVERDUE", "finance-team",
        "group-", "value-", "Payment du", "Payment…")
FR = "fr"
HELP_KEYS = ("help", "pending", "request", "away", "workflows", "workflow", "templates", "new", "history", "remind",
             "groups", "rules", "outbox")


def shown_text(shown: Any) -> str:
    """Return what a reader sees of a rendered view, message, text or page."""
    if isinstance(shown, str):
        return re.sub(r"<style>.*?</style>|<[^>]+>", " ", shown, flags=re.S) if "<html" in shown else shown
    return "\n".join(visible_strings(shown))


def english_in(shown: Any, allowed: tuple[str, ...] = ()) -> list[str]:
    """Return the English words a reader of `shown` would see (each text on its own), data left out."""
    texts = [shown_text(shown)] if isinstance(shown, str) else visible_strings(shown)
    return [w for text in texts for w in english_words(text, allowed=(*DATA, LONG, *LONG.splitlines(), *allowed))]


# what test_views does not build: e-mails, the approval page, reminders, digests, every error and note


def _closed_emails() -> Iterator[Case]:
    """The e-mail telling a seat asked by e-mail that its step was settled without it, for each way it ends."""
    endings: tuple[tuple[str, dict[str, Any]], ...] = (
        ("step_done", {"current_step": 1}), ("approved", {"status": RequestStatus.APPROVED}),
        ("rejected", {"status": RequestStatus.REJECTED, "reason": "Wrong VAT"}),
        ("expired", {"status": RequestStatus.EXPIRED}),
        ("cancelled", {"status": RequestStatus.CANCELLED, "reason": "the workflow Tell finance was deleted"}))
    for name, changes in endings:
        yield Case(f"approval_closed_email:{name}", "approval_closed_email.txt.j2", "text", lambda r, big, c=changes:
                   r.text("approval_closed_email.txt.j2", card=card(big, **c), deciders=["Jane Doe"]))
    yield Case("approval_closed_email_subject", "approval_closed_email_subject.txt.j2", "text",
               lambda r, big: r.text("approval_closed_email_subject.txt.j2", card=card(big)))


def _renderer_cases() -> Iterator[Case]:
    yield Case("approval_email", "approval_email.txt.j2", "text", lambda r, big: r.text(
        "approval_email.txt.j2", card=card(big), step_index=0, requester_name="Jane Doe",
        approve_url="https://signoff.example/a/x", reject_url="https://signoff.example/r/x", expires_at=NOW))
    yield Case("approval_email:resubmitted", "approval_email.txt.j2", "text", lambda r, big: r.text(
        "approval_email.txt.j2", card=resubmitted(big), step_index=0, requester_name="Jane Doe",
        approve_url="https://signoff.example/a/x", reject_url="https://signoff.example/r/x", expires_at=NOW))
    yield Case("approval_email_subject", "approval_email_subject.txt.j2", "text",
               lambda r, big: r.text("approval_email_subject.txt.j2", card=card(big)))
    for kind, role in (("remind", "target"), ("escalate", "target"), ("escalate", "notice")):
        nudge = {"kind": kind, "role": role, "waited": {"days": 2, "hours": 3}}
        for name in ("approval_nudge_email", "approval_nudge_email_subject"):
            yield Case(f"{name}:{kind}:{role}", f"{name}.txt.j2", "text", lambda r, big, n=nudge, t=name: r.text(
                f"{t}.txt.j2", card=card(big), step_index=0, requester_name="Jane Doe",
                approve_url="https://signoff.example/a/x", reject_url="https://signoff.example/r/x",
                expires_at=NOW, nudge=n))
    documents = [{"record": record_view(record(False, n), None), "waited": {"days": 2, "hours": n},
                  "requester_name": "Jane Doe",
                  "approve_url": f"https://signoff.example/approve/a{n}", "reject_url": f"https://signoff.example/approve/r{n}",
                  "expires_at": NOW} for n in range(3)]
    for kind, role in (("remind", ""), ("escalate", "target"), ("escalate", "notice")):
        for name in ("approval_nudge_digest_email", "approval_nudge_digest_email_subject"):
            for count in (1, 3):
                yield Case(f"{name}:{kind}:{role}:{count}", f"{name}.txt.j2", "text",
                           lambda r, big, k=kind, o=role, t=name, c=count: r.text(
                               f"{t}.txt.j2", kind=k, role=o, documents=documents[:c]))
    for kind in ("notification", "reminder"):
        context = {"kind": kind, "record_type": "invoice", "record_id": "INV-1001", "workflow_name": "Tell finance"}
        yield Case(f"notification:{kind}", "notification.json.j2", "message",
                   lambda r, big, c=context: r.json("notification.json.j2", text="Chase it", **c))
        yield Case(f"notification_subject:{kind}", "notification_subject.txt.j2", "text",
                   lambda r, big, c=context: r.text("notification_subject.txt.j2", **c))
    for is_admin in (True, False):
        yield Case(f"help_text:{is_admin}", "help.txt.j2", "text", lambda r, big, a=is_admin: r.text(
            "help.txt.j2", is_admin=a, entries=[{"usage": k, "help_key": k, "is_admin_only": a} for k in HELP_KEYS]))
    yield from _closed_emails()
    yield Case("escalation_expired_reason", "escalation_expired_reason.txt.j2", "text", lambda r, big: r.text(
        "escalation_expired_reason.txt.j2", after={"days": 3, "hours": 1, "minutes": 0, "iso": "P3DT1H"}))
    yield from _approval_nudges()
    yield from _digests()
    yield from _workflow_answers()
    yield from _group_and_rule_views()
    yield from _refusals()


REFUSALS = ("name_taken", "group_in_use", "email_off", "nobody_left", "no_approval_waiting", "reminder_closed",
            "reminder_not_finalised", "reminder_not_approved", "reminder_paid", "reminder_no_address")
PROBLEMS = (("not_a_member", {"value": "U01AAA", "kind": "people"}), ("no_contact", {"value": "C9", "kind": "vendor"}),
            ("used_by", {"value": "Tell finance", "kind": "rule"}), ("group_name_invalid", {"value": "x y"}))


def _refusals() -> Iterator[Case]:
    """Every refusal and problem worded in templates, as a /signoff answer and a reminder answer."""
    params = {"kind": "group", "name": "vips", "status": "draft", "approval_status": "pending"}
    for why in REFUSALS:
        detail = {"message": "english", "why": why, "params": params, "details": [
            {"path": "x", "message": "english", "code": code, "params": p} for code, p in PROBLEMS]}
        yield Case(f"refusal:{why}", "commands_note.json.j2", "message",
                   lambda r, big, d=detail: r.json("commands_note.json.j2", code="failed", detail=d))
        yield Case(f"reminder_refusal:{why}", "reminders_note.json.j2", "message", lambda r, big, d=detail: r.json(
            "reminders_note.json.j2", code="failed", detail={**d, "invoice": "INV-1001"}))
    for kind in ("group", "workflow", "rule", "template", "customer", "vendor", "run", "outbox_item", "token",
                 "invoice"):
        yield Case(f"not_found:{kind}", "commands_note.json.j2", "message", lambda r, big, k=kind: r.json(
            "commands_note.json.j2", code="not_found", detail={"kind": k, "ref": "vips"}))


def _approval_nudges() -> Iterator[Case]:
    escalation = {"level": 2, "to": ["U01DDD"], "waiting_on": ["U01AAA"], "waited": {"days": 3, "hours": 1}}
    for behalf in (None, {"who": "U01AAA", "until": NOW + timedelta(days=3)}):
        extra = {"behalf": behalf, "value": "AR-1|U01AAA" if behalf else None}
        reminder = {"n": 2, "waited": {"days": 2, "hours": 0}}
        yield Case(f"approval_reminder:{bool(behalf)}", "approval_reminder.json.j2", "message",
                   lambda r, big, e=extra, n=reminder: r.json("approval_reminder.json.j2", card=card(big),
                                                              reminder=n, **e))
        yield Case(f"escalation:{bool(behalf)}", "escalation.json.j2", "message",
                   lambda r, big, e=extra: r.json("escalation.json.j2", card=card(big), escalation=escalation, **e))
        yield Case(f"escalation_notice:{bool(behalf)}", "escalation_notice.json.j2", "message",
                   lambda r, big, b=behalf: r.json("escalation_notice.json.j2", card=card(big), escalation=escalation,
                                                   behalf=b))
    yield Case("approval_reminder_digest", "approval_reminder_digest.json.j2", "message",
               lambda r, big: r.json("approval_reminder_digest.json.j2", items=[
                   {"record": card(big)["record"], "waited": {"days": n, "hours": 5},
                    "on_behalf_of": "U01AAA" if n % 2 else None} for n in range(40 if big else 4)]))
    for role in ("target", "notice"):
        yield Case(f"escalation_digest:{role}", "escalation_digest.json.j2", "message",
                   lambda r, big, role=role: r.json("escalation_digest.json.j2", role=role, items=[
                       {"record": card(big)["record"], "waited": {"days": n, "hours": 5}, "to": ["U01DDD"],
                        "on_behalf_of": "U01AAA" if n % 2 else None} for n in range(40 if big else 4)]))


def _digests() -> Iterator[Case]:
    documents = [{"task_id": n, "text": "Invoice INV-1 has not been sent yet.",
                  "record": record_view(record(False, n), None)} for n in range(3)]
    for offset in (0, 20):
        digest = {"workflow_id": "wf_1", "workflow": "Tell finance", "count": 45, "offset": offset, "page_size": 20,
                  "documents": documents, "previous": 0 if offset else None, "next": offset + 20}
        yield Case(f"reminder_digest:{offset}", "reminder_digest.json.j2", "message",
                   lambda r, big, d=digest: r.json("reminder_digest.json.j2", digest=d))
    yield Case("reminder_digest:done", "reminder_digest.json.j2", "message",
               lambda r, big: r.json("reminder_digest.json.j2", digest=None))
    for is_reminder in (True, False):
        digest = {"workflow": "Tell finance", "record_type": "invoice", "count": 12, "lines": ["INV-1 Acme"] * 3,
                  "more": 9, "is_reminder": is_reminder}
        yield Case(f"channel_digest:{is_reminder}", "channel_digest.json.j2", "message",
                   lambda r, big, d=digest: r.json("channel_digest.json.j2", digest=d))


def _workflow_answers() -> Iterator[Case]:
    from bot.slack.workflow_words import workflow_view

    def view(big: bool) -> dict[str, Any]:
        return workflow_view(workflow(big))

    yield Case("workflow_choose", "workflow_choose.json.j2", "message", lambda r, big: r.json(
        "workflow_choose.json.j2", ref="Large", op="show", workflows=[view(big)] * 3, more=2))
    for pending in (0, 3):
        yield Case(f"workflow_delete:{pending}", "workflow_delete.json.j2", "message",
                   lambda r, big, p=pending: r.json("workflow_delete.json.j2", workflow=view(big), pending=p))
    for kept, cancelled in ((True, 0), (False, 0), (False, 4)):
        yield Case(f"workflow_deleted:{kept}:{cancelled}", "workflow_deleted.json.j2", "message",
                   lambda r, big, k=kept, c=cancelled: r.json("workflow_deleted.json.j2", workflow=view(big),
                                                              kept=k, cancelled=c))


def _group_and_rule_views() -> Iterator[Case]:
    group = {"id": "grp_1", "name": "vips", "kind": "customer", "description": None, "members": 3, "filters": 1,
             "auto_update": True}
    rows = (FormRow("balance", "between", "100, 1000"), FormRow())
    for kind in ("customer", "vendor", "people"):
        form = GroupForm(None, "vips", kind, None, True, rows)
        yield Case(f"group_modal:{kind}", "group_modal.json.j2", "view", lambda r, big, f=form: group_modal(
            service(r), f))
    yield Case("group_members", "group_members.json.j2", "view", lambda r, big: r.json(
        "group_members.json.j2", group=group, members=[{"id": "C1", "added": True}, {"id": "C2", "added": False}],
        page=1, pages=2, removed=1, add_block="add", metadata="{}"))
    yield Case("group_email", "group_email.json.j2", "view", lambda r, big: r.json(
        "group_email.json.j2", group=group, chunks=[[{"id": "C1", "name": "Acme", "email": "ap@acme.example"},
                               {"id": "C2", "name": "Globex", "email": None}]], more=3, metadata="{}"))
    yield Case("group_saved", "group_saved.json.j2", "message", lambda r, big: r.json("group_saved.json.j2",
                                                                                   group=group))
    for users in ([], [{"path": "workflows.wf_1", "message": "used by workflow 'Tell finance'", "code": "used_by",
                        "params": {"kind": "workflow", "value": "Tell finance"}}]):
        yield Case(f"group_delete:{bool(users)}", "group_delete.json.j2", "view", lambda r, big, u=users: r.json(
            "group_delete.json.j2", group=group, users=u, metadata="{}"))
    rule_rows = (FormRow("due_date", "due_within_days", "5"), FormRow("memo", "contains", "x"), FormRow())
    for rule_id in (None, "rule_1"):
        form = RuleForm(rule_id, "Air France is travel", rule_rows, (("category", "Travel"), (None, None)))
        yield Case(f"rule_modal:{rule_id}", "rule_modal.json.j2", "view", lambda r, big, f=form: rule_modal(
            service(r), f))
    rule = {"id": "rule_1", "name": "Air France is travel", "status": "draft", "more_conditions": 1,
            "conditions": [{"field": "vendor", "op": "eq", "value": {"kind": "text", "value": "AF"}}],
            "results": [{"field": "category", "value": {"kind": "text", "value": "Travel"}}]}
    preview = {"count": 12, "more": 2, "records": [{"type": "invoice", "id": "INV-1001"}] * 10}
    for callback, status in (("rule_status", "published"), ("rule_status", "draft"), ("rule_delete", "draft")):
        yield Case(f"rule_confirm:{callback}:{status}", "rule_confirm.json.j2", "view", lambda r, big, c=callback,
                   s=status: r.json("rule_confirm.json.j2", callback=c, status=s, rule=rule, preview=preview,
                                    metadata="{}"))


def _reminder_email(renderer: Renderer, days: int) -> str:
    """The invoice reminder e-mail as a customer gets it, from the shipped default texts."""
    record_ = sample_record(RecordType.INVOICE, NOW, renderer.fmt.tz)
    context = reminder_context(record_, sample_contact(RecordType.INVOICE), NOW, renderer.fmt.tz, "Northwind")
    context["days_until_due"], context["days_overdue"] = days, max(0, -days)
    texts = {part: renderer.user_text(default_text(part, renderer.locale), **context) for part in TEXT_PARTS}
    body = renderer.text("invoice_reminder_email.txt.j2", greeting=texts["greeting"], body=texts["body"],
                         invoice=context["invoice"], company=context["company"],
                         payment_url="https://pay.example/INV-1")
    return texts["subject"] + "\n" + body


def _reminder_cases() -> Iterator[Case]:
    for days in (-3, 0, 5):
        yield Case(f"invoice_reminder:{days}", "invoice_reminder_email.txt.j2", "text",
                   lambda r, big, d=days: _reminder_email(r, d))
    slots = [{"index": i, "days": str(d), "subject": "", "greeting": "", "body": "", "copy_sender": bool(i),
              "kept": ["body"] if i else []} for i, d in enumerate(("-3", "0", "none"))]
    for preview in ({"invoice": "INV-7", "customer": "Acme", "is_real": True, "error": None, "subject": "Hello",
                     "body": "Hello", "to": "ap@acme.example", "slot": 0},
                    {"invoice": "INV-7", "customer": "Acme", "is_real": False, "error": "line 1: x", "subject": None,
                     "body": None, "to": None, "slot": 1},
                    {"invoice": "INV-7", "customer": "Acme", "is_real": False, "error": None, "subject": None,
                     "body": None, "to": None, "slot": 0}):
        yield Case(f"reminders_modal:{preview['is_real']}:{bool(preview['error'])}", "reminders_modal.json.j2",
                   "view", lambda r, big, p=preview: r.json(
                       "reminders_modal.json.j2", enabled=bool(p["is_real"]), slots=slots, days=list(range(-10, 11)),
                       preview=p, metadata="[]"))


PAGE_STATES = ("form", "not_found", "used", "expired", "forbidden", "too_large", "refused", "done")


def _page_cases() -> Iterator[Case]:
    for state in PAGE_STATES:
        for decision in ("approve", "reject"):
            yield Case(f"approval_page:{state}:{decision}", "approval_page.html.j2", "page",
                       lambda r, big, s=state, d=decision: _page(r, s, d))
    yield Case("approval_page:form:forced", "approval_page.html.j2", "page",
               lambda r, big: _page(r, "form", "approve", forced="stale"))


def resubmitted(big: bool) -> dict[str, Any]:
    """Return a card of a document resubmitted after Jane Doe rejected it."""
    return {**card(big), "earlier_rejection": {"by": "Jane Doe", "at": NOW, "reason": "Wrong VAT"}}


def _page(renderer: Renderer, state: str, decision: str, forced: str | None = None) -> str:
    refused, missing = (renderer.text("refusal.txt.j2", code=c, detail="") for c in ("request_closed",
                                                                                    "reason_required"))
    page = {"state": state, "decision": decision, "card": None if state == "not_found" else resubmitted(False),
            "step_index": 0, "requester_name": "Jane Doe", "reason": "", "lang": renderer.locale,
            "error": missing if decision == "reject" or forced else None, "forced": forced,
            "message": refused if state == "refused" else None}
    return render_page("approval_page.html.j2", renderer.locale, renderer.timezone, page=page)


# every code of every error, note and refusal template, read from the templates themselves

CODE = re.compile(r"""code\s*==\s*["'](\w+)["']""")
CODED = ("_error.txt.j2", "_note.json.j2", "_note.txt.j2", "refusal.txt.j2")
OTHER = "an_unknown_code"


def template_codes(name: str) -> list[str]:
    """Return the codes a template words, and one it does not know (its fallback)."""
    return [*dict.fromkeys(CODE.findall((TEMPLATE_DIR / name).read_text(encoding="utf-8"))), OTHER]


def coded_templates() -> list[str]:
    """Return every template that words a code: errors, notes, refusals."""
    return sorted(p.name for p in TEMPLATE_DIR.glob("*.j2") if p.name.endswith(CODED))


def _detail(big: bool) -> dict[str, Any]:
    return {**note_details(big), "name": "vips", "id": "grp_1", "members": 3, "names": ["Air France is travel"],
            "changed": 2, "queued": 3, "skipped": 1, "invoice": "INV-7", "to": "ap@acme.example",
            "subject": "Hello", "message": "channel_not_found"}


WORKFLOW_PROBLEM = {"step": 2, "max": 5, "quorum": 3, "listed": 1, "path": "actions[0].steps[1].approvers"}


def _coded(renderer: Renderer, name: str, code: str) -> Any:
    context: dict[str, Any] = {"code": code, "detail": _detail(False), "problem": "line 1: x", "type": "expense",
                               "id": "EXP-1", "status": "pending", "enabled": True, "schedules": [1, 2],
                               "workflow": note_details(False)["workflow"], **WORKFLOW_PROBLEM}
    if name == "refusal.txt.j2":
        context["detail"] = ""
    if name.endswith(".json.j2"):
        return renderer.json(name, **context)
    return renderer.text(name, **context)


def _coded_cases() -> Iterator[Case]:
    for name in coded_templates():
        for code in template_codes(name):
            yield Case(f"{name.split('.')[0]}:{code}", name, "coded", lambda r, big, n=name, c=code: _coded(r, n, c))


def _engine_problem_cases() -> Iterator[Case]:
    """What the workflow modal says of each definition problem the engine finds."""
    for label, definition in BAD_DEFINITIONS.items():
        yield Case(f"workflow_form_error:engine:{label}", "workflow_form_error.txt.j2", "text",
                   lambda r, big, d=definition: "\n".join(_engine_problems(r, d)))


def _engine_problems(renderer: Renderer, definition: dict[str, Any]) -> Iterator[str]:
    try:
        parse_definition(definition)
    except InvalidDefinitionError as exc:
        for detail in exc.details:
            yield renderer.text("workflow_form_error.txt.j2", **{**detail, "code": "invalid",
                                                                "problem": detail.get("code")})
    else:
        raise AssertionError("the definition was expected to be refused")


def _wf(**changes: Any) -> dict[str, Any]:
    step = {"approvers": ["U01AAA"], "min_approvers": 1}
    approval = {"type": "approval", "steps": [step]}
    return {"name": "Large invoices", "record_type": "invoice", "actions": [approval], **changes}


def _approval(**changes: Any) -> dict[str, Any]:
    return _wf(actions=[{"type": "approval", "steps": [{"approvers": ["U01AAA"], "min_approvers": 1}], **changes}])


def _step(**changes: Any) -> dict[str, Any]:
    return _wf(actions=[{"type": "approval", "steps": [{"approvers": ["U01AAA"], "min_approvers": 1, **changes}]}])


BAD_DEFINITIONS: dict[str, dict[str, Any]] = {
    "quorum_above_approvers": _step(min_approvers=3),
    "approver_twice": _step(approvers=["U01AAA", "U01AAA"]),
    "bad_approver": _step(approvers=["bob"]),
    "bad_duration": _approval(remind_every="soon"),
    "negative_duration": _approval(remind_every="PT0S"),
    "escalation_without_target": _approval(escalate_after="P3D"),
    "bad_escalation_target": _approval(escalate_after="P3D", escalate_to=["#finance"]),
    "bad_channel": _wf(actions=[{"type": "notification", "channel": "finance", "message": "Hi"}]),
    "no_target": _wf(actions=[{"type": "notification", "message": "Hi"}]),
    "bad_reminder_target": _wf(actions=[{"type": "reminder", "to": ["bob"], "message": "Hi"}]),
    "unwritable_field": _wf(actions=[{"type": "update", "field": "amount", "value": "1"}]),
    "bad_schedule": _wf(trigger="scheduled", schedule="every day"),
    "no_schedule": _wf(trigger="scheduled"),
    "unknown_trigger_field": _wf(trigger="updated", trigger_fields=["colour"]),
    "missing_name": {"record_type": "invoice", "actions": [{"type": "approval", "steps": [{"approvers": ["U01AAA"]}]}]},
    "long_name": _wf(name="x" * 201),
    "no_action": _wf(actions=[]),
    "bad_record_type": _wf(record_type="cheque"),
    "extra_key": _wf(colour="blue"),
    "zero_quorum": _step(min_approvers=0),
    "bad_condition_field": _wf(conditions=[{"field": "colour", "op": "eq", "value": "blue"}]),
    "bad_condition_op": _wf(conditions=[{"field": "amount", "op": "is_about", "value": "1"}]),
    "bad_condition_value": _wf(conditions=[{"field": "amount", "op": "gt", "value": "abc"}]),
    "condition_needs_value": _wf(conditions=[{"field": "amount", "op": "gt"}]),
    "conditions_not_a_list": _wf(conditions="amount > 5"),
    "bad_range": _wf(conditions=[{"field": "amount", "op": "between", "value": ["9", "1"]}]),
    "bad_days": _wf(conditions=[{"field": "due_date", "op": "due_within_days", "value": -1}]),
}


def french_cases() -> list[Case]:
    """Every case of test_views, and every case it does not build."""
    return [*cases(), *_renderer_cases(), *_reminder_cases(), *_page_cases(), *_coded_cases(),
            *_engine_problem_cases()]


ALL = french_cases()


def strings_of(value: Any) -> Iterator[str]:
    """Yield every text inside a nested value."""
    if hasattr(value, "model_dump"):
        value = value.model_dump(mode="json")
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_of(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings_of(item)


def catalog_texts(name: str) -> tuple[str, ...]:
    """The ready-made workflow's own texts (translated with the catalog), data to the modal that shows them."""
    slug = name.removeprefix("new_modal:")
    found = [t for t in catalog() if t.slug == slug and name.startswith("new_modal:")]
    texts = [text for t in found for text in (*strings_of(t.definition), *strings_of(t.summary()))]
    names = [text.removeprefix("group:") for text in texts if text.startswith("group:")]
    return tuple(text for text in (*texts, *names) if len(text) > 3)  # not ops such as `ne`, inside French words


@pytest.mark.parametrize("size", ["realistic", "oversized"])
@pytest.mark.parametrize("case", ALL, ids=[c.name for c in ALL])
def test_every_message_reads_in_french(case: Case, size: str) -> None:
    shown = case.build(Renderer(FR, "Europe/Paris"), size == "oversized")
    assert english_in(shown, catalog_texts(case.name)) == [], shown_text(shown)[:3000]


def test_every_shipped_template_is_read_in_french() -> None:
    partials = {p.name for p in TEMPLATE_DIR.glob("_*.j2")} | {"rule_form_rows.j2"}
    defaults = {f"invoice_reminder_{part}{lang}.txt.j2" for part in TEXT_PARTS for lang in ("", ".fr")}
    covered = {c.template for c in ALL} | partials | defaults
    assert {p.name for p in TEMPLATE_DIR.glob("*.j2")} - covered == set()


def test_every_coded_template_words_its_codes() -> None:
    assert len(coded_templates()) >= 10
    for name in coded_templates():
        assert len(template_codes(name)) >= 2, name


def test_the_check_finds_english_left_in_a_french_message() -> None:
    assert english_in({"text": "Votre facture INV-1 is pending approval"}) == ["is", "pending", "approval"]
    assert english_in("Dépense Two nights in Lyon enregistrée") == []
    assert english_in("<html><style>body { color: red }</style><p>Please try again</p></html>") == ["please"]


def test_a_template_with_english_put_back_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import messages.render as render

    source = (TEMPLATE_DIR / "refusal.txt.j2").read_text(encoding="utf-8")
    (tmp_path / "refusal.txt.j2").write_text(source.replace(
        '{{ _("Your decision was already counted.") }}', "Your decision was already counted."), encoding="utf-8")
    monkeypatch.setattr(render, "TEMPLATE_DIR", tmp_path)
    render._shipped.cache_clear()
    try:
        shown = Renderer(FR, "UTC").text("refusal.txt.j2", code="already_voted", detail="")
    finally:
        render._shipped.cache_clear()
    assert english_in(shown) == ["your", "decision", "was"]


def test_every_placeholder_of_the_help_reads_in_french() -> None:
    usages = [c.usage for c in command_registry()]
    shown = Renderer(FR, "Europe/Paris").text("help.txt.j2", is_admin=True, entries=[
        {"usage": usage, "help_key": "help", "is_admin_only": False} for usage in usages])
    placeholders = set(re.findall(r"\b[A-Z][A-Z-]{2,}\b", " ".join(usages))) - {"TYPE", "YAML", "MESSAGE"}
    assert {"NAME", "TEMPLATE", "UNTIL"} <= placeholders
    assert [p for p in sorted(placeholders) if re.search(rf"(?<![\w-]){p}(?![\w-])", shown)] == [], shown
    assert "NOM-OU-ID" in shown and "@remplaçant" in shown
