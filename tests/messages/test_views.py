"""Every message, modal and Home view of the Slack surface, in both locales, with realistic and oversized data,
passes the sandbox's Block Kit validation and slack_sdk.models validation."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache
from types import SimpleNamespace
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.sandbox.blockkit.validation import validate_message, validate_view
from bot.slack.command_kit import Pager
from bot.slack.home_pages import HomePages
from bot.slack.home_render import home_view
from bot.slack.home_tasks import HomeData, Task
from bot.slack.request_modal import request_modal
from bot.slack.workflow_commands import new_workflow_modal, template_view
from bot.slack.workflow_words import workflow_view
from engine.approvals import ApprovalRequest, Decision, ForceKind, RequestStatus, Step, Vote
from engine.catalog import catalog
from engine.delegation import Delegation, acted_by_steps
from engine.errors import NoApproverError
from engine.lifecycle import CHANGED, MOVED, NO_LONGER_MATCHES, REQUESTER_CHANGED, VOIDED
from engine.records import ApprovalStatus, Contact, ContactKind, Record, RecordType
from engine.workflows import Workflow, parse_definition
from messages.cards import approval_card, record_view
from messages.render import TEMPLATE_DIR, Renderer, truncate
from storage.models import ReminderTask

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LONG = ("Quarterly retainer <b>&</b> *bold* _it_ ~strike~ `code` > quote\n" * 80)[:4000]  # the longest memo
ID = "INV-" + "9" * 57  # with a number of up to three digits: the longest id, 64 characters
PEOPLE = ("U01AAA", "U01BBB", "U01CCC", "U01DDD", "U01EEE")
LOCALES = ("en", "fr")
SIZES = ("realistic", "oversized")
NOTE_CODES = ("unknown_command", "admin_only", "usage", "not_found", "failed", "not_available", "workflow_enabled",
              "workflow_disabled", "workflow_copied", "workflow_deleted", "workflow_created", "away_set", "away_ended",
              "away_none", "away_problem", "unknown_type", "unknown_category", "reminded_approvers",
              "remind_nothing_waiting", "reminded", "error")
REFUSALS = ("not_an_approver", "own_record", "request_closed", "reason_required", "force_reason_required",
            "already_voted", "not_found", "not_a_delegate", "double_seat", "other_step", "needs_confirmation",
            "not_forced", "form_too_late", "other")


HISTORY_EVENTS = ("actions", "approval_started", "approval_decision", "approval_forced", "approval_escalated",
                  "approval_expired", "approval_cancelled", "digest", "approval_seat_removed")
REQUEST_ERROR_CODES = ("vendor_required", "amount_invalid", "amount_decimals", "currency_invalid", "kind_invalid",
                       "ref_invalid", "text_invalid")
REQUEST_NOTE_CODES = ("not_found", "not_yours", "not_editable", "unchanged", "nothing_to_submit", "no_approver")


REPLY_URL = "https://hooks.slack.com/actions/T1/1/"


def history_run(n: int, big: bool) -> dict[str, Any]:
    """One line of /signoff history: a workflow run, or an approval event."""
    event = HISTORY_EVENTS[n % len(HISTORY_EVENTS)]
    return {"workflow_id": "wf", "workflow_name": LONG if big else "Tell finance", "record_type": "invoice",
            "record_id": ID if big else "INV-1", "cause": ["created", "updated", "scheduled", "other"][n % 4],
            "outcome": LONG if big and n % 2 else "ok", "at": NOW,
            "actions": [{"type": t, "result": "queued"} for t in ("notification", "update", "send")] * 3,
            "event": event, "actor": "U01AAA", "on_behalf_of": "U01BBB" if n % 2 else None,
            "decision": ["approve", "reject"][n % 2], "reason": LONG[:1000] if big else "too high", "step": 1,
            "forced": "admin_override" if event == "approval_forced" else None, "approvers": ["U01AAA", "U01BBB"],
            "escalated_to": ["U01DDD"], "channels": ["#finance"] * (10 if big else 1), "count": n,
            "seat": "c" * 200 + "@example.com" if big else "cara@example.com",
            "why": ["requester", "same_person", "unreachable"][n % 3], "min_approvers": 2,
            "left_out": ["U01EEE"] if n % 2 else [], "stand_ins": ["U01DDD"] * (n % 3),
            "min_approvers_asked": 3 if n % 4 == 1 else 0}


@dataclass(frozen=True)
class Case:
    """One thing the bot shows: its template, its kind and a builder of its content."""

    name: str
    template: str
    kind: str
    build: Callable[[Renderer, bool], Any]


def record(big: bool, n: int = 0, status: ApprovalStatus = ApprovalStatus.PENDING) -> Record:
    return Record(type=RecordType.INVOICE, id=(ID if big else "INV-1001") + str(n), amount=Decimal("12500.00"),
                  currency="EUR", customer="C-" + ("ACME" * 15 + "AC" if big else "ACME"),
                  category="Travel" * (20 if big else 1), department="Sales",
                  memo=LONG if big else "Two nights in Lyon", due_date=datetime(2026, 12, 20).date(),
                  approval_status=status, created_by="U0REQ", created_at=NOW, updated_at=NOW)


def request(big: bool, n: int = 0, votes: tuple[Vote, ...] = ()) -> ApprovalRequest:
    steps = tuple(Step(i, PEOPLE, 2, ("Finance leads " * 20) if big else None) for i in range(10 if big else 2))
    return ApprovalRequest(id=f"AR-{n:016d}", record_type="invoice", record_id=(ID if big else "INV-1001") + str(n),
                           workflow_id="wf_1", requester="U0REQ", steps=steps, created_at=NOW - timedelta(days=n),
                           step_started_at=NOW - timedelta(days=n, hours=3), votes=votes)


def card(big: bool, votes: tuple[Vote, ...] = (), viewer: str | None = None, **changes: Any) -> dict[str, Any]:
    req = request(big, votes=votes)
    req = ApprovalRequest(**{**req.__dict__, **changes})
    contact = Contact(kind=ContactKind.CUSTOMER, id="C-ACME", name="Acme " * (40 if big else 1))
    return {**approval_card(record(big), req, contact, 0, viewer=viewer), "acted_by": acted_by_steps(req)}


@cache
def workflow(big: bool) -> Workflow:
    conditions = [{"field": "amount", "op": "gt", "value": "5000"},
                  {"field": "customer.state", "op": "in", "value": ["CA", "NY"]},
                  {"field": "due_date", "op": "due_within_days", "value": 7},
                  {"field": "created_at", "op": "days_since_at_least", "value": 1},
                  {"field": "amount", "op": "between", "value": ["100", "1000"]},
                  {"field": "customer", "op": "in_group", "value": "ca-mid"},
                  {"field": "memo", "op": "is_empty"}]
    if big:
        values = [f"value-{j}-" + "x" * 30 for j in range(1000)]
        conditions = [{"field": f"fields.custom_{i}", "op": "in", "value": values} for i in range(100)]
    approval = {"type": "approval", "channel": "#finance", "remind_every": "P1DT4H", "escalate_after": "P3D",
                "escalate_to": ["U01DDD"], "steps": [{"approvers": list(PEOPLE), "min_approvers": 2,
                                                      "name": "Finance " * (10 if big else 1)}] * (10 if big else 2)}
    message = "{{ record.id }} waits. " * (130 if big else 1)
    notify = {"type": "notification", "channel": "#finance", "message": message}
    update = {"type": "update", "field": "memo", "value": "OVERDUE"}
    send = {"type": "send", "subject": "Payment due " * (20 if big else 1), "body": "Hello", "copy_sender": True}
    remind = {"type": "reminder", "to": ["U01BBB", "#finance", "group:finance-team"], "message": "Chase it"}
    actions = [approval, notify, update, send, remind] + ([notify] * 40 if big else [])
    definition = parse_definition({"name": ("Large invoices " * 20)[:200] if big else "Large invoices",
                                   "description": LONG[:2000] if big else "Needs two approvals",
                                   "record_type": "invoice", "trigger": "created", "conditions": conditions,
                                   "actions": actions})
    return Workflow(**definition.model_dump(), id="wf_" + "a" * 16, created_at=NOW, updated_at=NOW)


def pager(big: bool, command: str = "workflows") -> dict[str, Any]:
    return Pager(command, "x" * 3000 if big else "", 4 if big else 0, 9 if big else 1, 10, 90 if big else 3).view()


def task(big: bool, n: int, force: ForceKind | None = None, seat: str = "U01AAA") -> Task:
    return Task(request(big, n), seat, record(big, n), "Acme " * (40 if big else 1), force,
                NOW - timedelta(hours=n) if n % 2 else None)


@cache
def home_data(big: bool) -> HomeData:
    count = 500 if big else 3
    tasks = [task(big, n, [None, ForceKind.STALE, ForceKind.OVERRIDE][n % 3], "U01AAA" if n % 4 else "U01BBB")
             for n in range(count)]
    reminders = [replace_reminded(t) for t in tasks[: 50 if big else 2]]
    reminder_tasks = [ReminderTask(i, "run", "U01AAA", "wf", "invoice", ID if big else "INV-7",
                                   LONG if big else "Chase", NOW) for i in range(50 if big else 2)]
    requests = [record(big, n, status) for n in range(count) for status in (ApprovalStatus.APPROVED,)]
    away = Delegation("U01AAA", "U01DDD", NOW, NOW + timedelta(days=3))
    covering = [Delegation(p, "U01AAA", NOW, NOW + timedelta(days=2)) for p in PEOPLE]
    skipped = [skip(big, n) for n in range(len(SKIPS))]
    notice = {"kind": "batch", "approved": 19, "forced": 1, "refused": len(skipped) + (30 if big else 0),
              "codes": sorted({s["code"] for s in skipped}), "skipped": skipped, "skipped_hidden": 30 if big else 0}
    return HomeData("U01AAA", NOW, tasks, count, reminders, reminder_tasks, requests, count, away, covering, notice)


# Why a batch skips a task: (refusal code, status of its request, who decided it)
SKIPS = (("request_closed", "approved", "U01BBB"), ("request_closed", "approved", "U01AAA"),
         ("request_closed", "rejected", "U01CCC"), ("request_closed", "expired", None),
         ("request_closed", "cancelled", None), ("request_closed", "pending", None), ("already_voted", "pending", None),
         ("not_an_approver", "pending", None), ("not_a_delegate", "pending", None), ("double_seat", "pending", None),
         ("other_step", "pending", None), ("needs_confirmation", "pending", None), ("own_record", "pending", None),
         ("not_found", None, None), ("other", "pending", None))


def skip(big: bool, n: int) -> dict[str, Any]:
    code, status, by = SKIPS[n]
    return {"type": "" if status is None else "invoice", "id": (ID if big else "INV-1001") + str(n), "code": code,
            "status": status, "by": by}


def paged(big: bool, pages: HomePages) -> HomeData:
    """The Home of `home_data` on other pages: its tasks and requests those of these pages."""
    data = home_data(big)
    tasks, requests = data.tasks[pages.tasks * 40:][:40], data.requests[pages.requests * 10:][:10]
    return HomeData(data.user, NOW, tasks, data.tasks_total, data.reminders, data.reminder_tasks, requests,
                    data.requests_total, data.away, data.covering, data.notice, 50, pages=pages)


def replace_reminded(t: Task) -> Task:
    return Task(t.request, t.seat, t.record, t.contact_name, t.force, NOW - timedelta(hours=5))


def service(renderer: Renderer) -> Any:
    return SimpleNamespace(renderer=renderer, settings=SimpleNamespace(locale=renderer.locale, currency="USD"))


def note_details(big: bool) -> dict[str, Any]:
    text = LONG if big else "wf_1"
    view = workflow_view(workflow(big))
    return {"command": text, "usage": text, "message": text, "details": [{"path": text, "message": text}] * 20,
            "workflow": view, "source": view, "delegate": "U01BBB", "until": NOW, "problem": "in_past",
            "example": "2026-12-24", "record_type": "bill", "invoice": text, "to": text, "subject": text,
            "record_id": text, "approvers": ["U01AAA", "cfo@example.com"] * (15 if big else 1),
            "types": ["bill", "invoice"], "kind": "group", "ref": text, "kept": 3 if big else 0,
            "category": text, "categories": ["approval", "reminders"]}


def _voted_cases(for_you: tuple[Vote, ...]) -> Iterator[Case]:
    """The copy of an approver whose seat is decided (by themselves, or by their delegate), and of a delegate who
    decided for someone away."""
    own = (Vote(0, "U01AAA", Decision.APPROVE, NOW, None, None),)
    for_them = (Vote(0, "U01AAA", Decision.APPROVE, NOW, None, "U02DEL"),)
    own_email = (Vote(0, "del@example.com", Decision.APPROVE, NOW, None, "U02DEL"),)
    for name, cast, viewer in (("own", own, "U01AAA"), ("for_you", for_you, "U01AAA"),
                               ("for_them", for_them, "U02DEL"), ("own_email", own_email, "U02DEL")):
        yield Case(f"approval_request:voted:{name}", "approval_request.json.j2", "message",
                   lambda r, big, c=cast, v=viewer: r.json("approval_request.json.j2", card=card(big, c, viewer=v)))


def _behalf_cases(votes: tuple[Vote, ...]) -> Iterator[Case]:
    """The copy of a delegate asked for an away approver: while it decides in their seat, and once it no longer does."""
    for standing in ("acting", "decided", "back"):
        yield Case(f"approval_request:behalf:{standing}", "approval_request.json.j2", "message",
                   lambda r, big, s=standing: r.json(
                       "approval_request.json.j2", card=card(big, votes), value="AR-1|U01AAA",
                       behalf={"who": "U01AAA", "until": NOW + timedelta(days=3), "standing": s}))
    yield Case("approval_request:seat_lost", "approval_request.json.j2", "message",
               lambda r, big: r.json("approval_request.json.j2", card=card(big, votes), seat_lost=True))


def cases() -> Iterator[Case]:
    yield Case("home", "home.json.j2", "view", lambda r, big: home_view(service(r), home_data(big)))
    yield Case("home_empty", "home.json.j2", "view",
               lambda r, big: home_view(service(r), HomeData("U01AAA", NOW, [], 0)))
    yield Case("home_middle_pages", "home.json.j2", "view",
               lambda r, big: home_view(service(r), paged(big, HomePages(1, 1) if big else HomePages())))
    yield Case("home_last_pages", "home.json.j2", "view",
               lambda r, big: home_view(service(r), paged(big, HomePages(12, 49) if big else HomePages())))
    yield Case("home_confirm", "home_confirm.json.j2", "view", lambda r, big: r.json(
        "home_confirm.json.j2", total=40, metadata='["' + "AR-x|U01AAA" * (90 if big else 1) + '"]',
        forced=[{"kind": ["stale", "override"][n % 2], "record": record_view(record(big, n), None)}
                for n in range(40 if big else 1)]))
    yield Case("request_modal", "request_modal.json.j2", "view", lambda r, big: request_modal(service(r), "expense"))
    yield Case("request_modal_po", "request_modal.json.j2", "view",
               lambda r, big: request_modal(service(r), "purchase_order"))
    yield Case("reject_modal", "reject_modal.json.j2", "view", lambda r, big: r.json(
        "reject_modal.json.j2", card={**card(big), "task_value": "AR-1|U01AAA"}))
    yield Case("reject_modal_from_pending", "reject_modal.json.j2", "view", lambda r, big: r.json(
        "reject_modal.json.j2", card={**card(big), "task_value": "AR-1|U01AAA",
                                      "reply_url": REPLY_URL + "x" * (400 if big else 9)}))
    for template in catalog():
        yield Case(f"new_modal:{template.slug}", "commands_new_modal.json.j2", "view",
                   lambda r, big, t=template: new_workflow_modal(service(r), t))
    yield Case("help", "commands_help.json.j2", "message", lambda r, big: r.json(
        "commands_help.json.j2", is_admin=True, entries=[{"usage": k, "help_key": k, "is_admin_only": True} for k in (
            "help", "pending", "request", "away", "workflows", "workflow", "templates", "new", "history", "remind",
            "groups", "rules", LONG if big else "Custom")]))
    yield Case("workflows", "commands_workflows.json.j2", "message", lambda r, big: r.json(
        "commands_workflows.json.j2", workflows=[{**workflow_view(workflow(big)), "id": f"wf_{n:016d}"}
                                                 for n in range(10 if big else 2)],
        pager=pager(big)))
    yield Case("workflows_empty", "commands_workflows.json.j2", "message",
               lambda r, big: r.json("commands_workflows.json.j2", workflows=[], pager=pager(False)))
    yield Case("workflow", "commands_workflow.json.j2", "message",
               lambda r, big: r.json("commands_workflow.json.j2", workflow=workflow_view(workflow(big))))
    yield Case("templates", "commands_templates.json.j2", "message", lambda r, big: r.json(
        "commands_templates.json.j2", templates=[template_view(t) for t in catalog()[:8]], pager=pager(big),
        categories=["approval", "reminder"]))
    yield Case("history", "commands_history.json.j2", "message", lambda r, big: r.json(
        "commands_history.json.j2", pager=pager(big), workflow=workflow_view(workflow(big)) if big else None,
        runs=[history_run(n, big) for n in range(12)]))
    yield Case("groups", "commands_groups.json.j2", "message", lambda r, big: r.json(
        "commands_groups.json.j2", pager=pager(big), groups=[
            {"id": f"grp_{n}", "name": f"group-{n}", "kind": ["customer", "vendor", "people"][n % 3],
             "description": LONG if big else None, "members": n, "filters": n % 2, "auto_update": bool(n % 3)}
            for n in range(15)]))
    yield Case("rules", "commands_rules.json.j2", "message", lambda r, big: r.json(
        "commands_rules.json.j2", pager=pager(big), rules=[
            {"id": f"rule_{n}", "name": LONG[:200] if big else "Air France is travel",
             "status": ["draft", "published"][n % 2],
             "conditions": [{"field": "vendor", "op": "eq", "value": {"kind": "text", "value": LONG if big else "AF"}}]
             * min(n, 10), "more_conditions": max(0, n - 10),
             "results": [{"field": "category", "value": {"kind": "text", "value": LONG if big else "Travel"}}] * 5}
            for n in range(15)]))
    yield Case("outbox", "commands_outbox.json.j2", "message", lambda r, big: r.json(
        "commands_outbox.json.j2", pager=pager(big), counts={"dead": 12, "sent": 3, "queued": 1},
        items=[{"id": n, "kind": "message", "target": ID if big else "C0LATER", "attempts": n, "created_at": NOW,
                "last_error": LONG if big else "channel_not_found",
                "error_code": [None, "channel_not_found", "not_in_channel", "is_archived", "user_not_found",
                               "user_disabled", "cannot_dm_bot", "msg_too_long", "smtp", "email_off"][n]}
               for n in range(10)]))
    yield Case("pending", "commands_pending.json.j2", "message", lambda r, big: r.json(
        "commands_pending.json.j2", pager=pager(big, "pending"),
        tasks=[_task_view(t) for t in home_data(big).tasks[:8]]))
    for code in NOTE_CODES:
        yield Case(f"note:{code}", "commands_note.json.j2", "message",
                   lambda r, big, c=code: r.json("commands_note.json.j2", code=c, detail=note_details(big)))
    for code in ("workflow_created", "workflow_updated"):
        yield Case(f"workflow_note:{code}", "workflow_note.json.j2", "message",
                   lambda r, big, c=code: r.json("workflow_note.json.j2", code=c, workflow=workflow_view(workflow(big)),
                                                 missing_groups=[LONG] * 12 if big else ["finance-leads"],
                                                 overlaps=[{"workflow_id": f"wf_{i}", "workflow_name": LONG if big
                                                            else "Large invoices", "follows": ("this", "other")[i % 2]}
                                                           for i in range(12 if big else 2)],
                                                 unreachable=[{"user": f"U0{i}BOT", "problem": p} for i, p in
                                                              enumerate(("bot", "deactivated", "not_found") * 4)],
                                                 channels=[{"channel": "#" + "x" * 80 if big else "#finanse",
                                                            "problem": p} for p in
                                                           ("not_found", "archived", "no_public") * 4],
                                                 short=[{"step": k + 1, "quorum": 3, "people": 1}
                                                        for k in range(12 if big else 1)],
                                                 rules=[{"rule": "trigger"}, {"rule": "update_read",
                                                                              "field": "customer.state"}] * 3,
                                                 late=["remind_every", "escalate_after"],
                                                 same_names=[{"named_like": f"wf_{i}", "other_name": LONG if big
                                                              else "Large invoices"} for i in range(6 if big else 1)]))
    yield Case("delegate_away_notice", "delegate_away_notice.json.j2", "message",
               lambda r, big: r.json("delegate_away_notice.json.j2", delegate="U01BBB", until=NOW, back=NOW))
    for started in (True, False):
        yield Case(f"delegation_notice:{started}", "delegation_notice.json.j2", "message",
                   lambda r, big, s=started: r.json("delegation_notice.json.j2", principal="U01AAA", until=NOW,
                                                    is_started=s))
    for status in (ApprovalStatus.PENDING, ApprovalStatus.APPROVED, ApprovalStatus.NONE):
        yield Case(f"request_confirmation:{status.value}", "request_confirmation.json.j2", "message",
                   lambda r, big, s=status: r.json("request_confirmation.json.j2", record=record_view(record(big, 0, s),
                                                                                                      None)))
    votes = (Vote(0, "U01AAA", Decision.APPROVE, NOW, None, "U01BBB"),
             Vote(0, "U01CCC", Decision.REJECT, NOW, LONG, None))
    yield Case("approval_request", "approval_request.json.j2", "message",
               lambda r, big: r.json("approval_request.json.j2", card=card(big, votes[:1])))
    yield from _behalf_cases(votes[:1])
    for by in ("U01CCC", "ap@example.com"):
        yield Case(f"approval_request:resubmitted:{by}", "approval_request.json.j2", "message",
                   lambda r, big, b=by: r.json("approval_request.json.j2", card={
                       **card(big), "earlier_rejection": {"by": b, "at": NOW, "reason": LONG if big else "Wrong VAT"}}))
    yield from _voted_cases(votes[:1])
    forced = (Vote(0, "U0ADMIN", Decision.APPROVE, NOW, LONG, None),)
    yield Case("approval_request:forced", "approval_request.json.j2", "message",
               lambda r, big: r.json("approval_request.json.j2", card=card(big, forced)))
    for status in ("approved", "rejected", "expired", "cancelled"):
        for name in ("approval_request", "approval_outcome"):
            yield Case(f"{name}:{status}", f"{name}.json.j2", "message", lambda r, big, s=status, t=name: r.json(
                f"{t}.json.j2", card=card(big, votes, status=RequestStatus(s), reason=LONG if big else "Wrong VAT"),
                may_remind=True))
    for code in REFUSALS:
        yield Case(f"refusal:{code}", "refusal.txt.j2", "text",
                   lambda r, big, c=code: r.text("refusal.txt.j2", code=c, detail=LONG if big else "no"))
    for code in REQUEST_NOTE_CODES:
        yield Case(f"request_note:{code}", "request_note.txt.j2", "text",
                   lambda r, big, c=code: r.text("request_note.txt.j2", code=c, type="expense",
                                                 id=ID if big else "EXP-1", status="pending"))
    for code in REQUEST_ERROR_CODES:
        yield Case(f"request_error:{code}", "request_error.txt.j2", "text",
                   lambda r, big, c=code: r.text("request_error.txt.j2", code=c))
    for code in ("conditions_yaml", "admin_only", "other"):
        yield Case(f"form_error:{code}", "commands_form_error.txt.j2", "text",
                   lambda r, big, c=code: r.text("commands_form_error.txt.j2", code=c))


def _task_view(t: Task) -> dict[str, Any]:
    from bot.slack.home_render import task_view

    return task_view(t, "U01AAA", NOW)


ALL = list(cases())


def check_message(message: Any) -> None:
    assert set(message) <= {"text", "blocks"} and message["text"]
    assert validate_message(message["blocks"], message["text"]) == []
    assert len(message["blocks"]) <= 50
    for block in message["blocks"]:
        parsed = Block.parse(block)
        assert parsed is not None
        parsed.validate_json()


def check_view(view: Any) -> None:
    assert validate_view(view) == []
    assert len(view["blocks"]) <= 100
    View(**view).validate_json()


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("case", ALL, ids=[c.name for c in ALL])
def test_every_view_passes_slack_validation(case: Case, locale: str, size: str) -> None:
    shown = case.build(Renderer(locale, "Europe/Paris"), size == "oversized")
    if case.kind == "view":
        check_view(shown)
    elif case.kind == "message":
        check_message(shown)
    else:
        assert shown and len(shown) <= 2000


def test_the_cases_cover_every_template_of_the_slack_surface() -> None:
    covered = {c.template for c in ALL}
    mine = {p.name for p in TEMPLATE_DIR.glob("*.j2") if p.name.startswith(
        ("commands_", "home", "request_", "delegation_", "approval_outcome", "approval_request", "reject_modal",
         "refusal", "help"))}
    assert mine - covered == {"help.txt.j2"}


def buttons(view: dict[str, Any], block_id: str) -> dict[str, str]:
    """Return the action id → value of the buttons of one block of a view."""
    [block] = [b for b in view["blocks"] if b.get("block_id") == block_id]
    return {e["action_id"]: e["value"] for e in block["elements"]}


@pytest.mark.parametrize("locale", LOCALES)
def test_a_home_with_500_tasks_shows_them_by_pages_of_40_with_next_and_previous(locale: str) -> None:
    words = {"en": ("page 1 of 13", "page 2 of 13", "page 13 of 13", "page 1 of 50"),
             "fr": ("page 1 sur 13", "page 2 sur 13", "page 13 sur 13", "page 1 sur 50")}[locale]
    first = home_view(service(Renderer(locale, "UTC")), home_data(True))
    check_view(first)
    assert sum(1 for b in first["blocks"] if str(b.get("block_id", "")).startswith("task:")) == 40
    assert words[0] in str(first["blocks"]) and words[3] in str(first["blocks"])
    assert HomePages.decode(first["private_metadata"]) == HomePages(0, 0)
    assert {k: HomePages.decode(v) for k, v in buttons(first, "tasks_pager").items()} == {
        "home_tasks_next": HomePages(1, 0)}
    assert {k: HomePages.decode(v) for k, v in buttons(first, "requests_pager").items()} == {
        "home_requests_next": HomePages(0, 1)}
    middle = home_view(service(Renderer(locale, "UTC")), paged(True, HomePages(1, 1)))
    assert words[1] in str(middle["blocks"]) and HomePages.decode(middle["private_metadata"]) == HomePages(1, 1)
    assert {k: HomePages.decode(v) for k, v in buttons(middle, "tasks_pager").items()} == {
        "home_tasks_previous": HomePages(0, 1), "home_tasks_next": HomePages(2, 1)}
    last = home_view(service(Renderer(locale, "UTC")), paged(True, HomePages(12, 49)))
    check_view(last)
    assert sum(1 for b in last["blocks"] if str(b.get("block_id", "")).startswith("task:")) == 20
    assert words[2] in str(last["blocks"]) and list(buttons(last, "tasks_pager")) == ["home_tasks_previous"]


def test_a_home_of_one_page_has_no_pager() -> None:
    view = home_view(service(Renderer("en", "UTC")), home_data(False))
    assert not [b for b in view["blocks"] if str(b.get("block_id", "")).endswith("_pager")]
    assert "page 1 of" not in str(view["blocks"])


@pytest.mark.parametrize("locale", LOCALES)
def test_a_batch_notice_says_what_was_approved_and_why_each_skipped_task_was_skipped(locale: str) -> None:
    view = home_view(service(Renderer(locale, "UTC")), home_data(False))
    [notice] = [b["text"]["text"] for b in view["blocks"] if b.get("block_id") == "notice"]
    lines = notice.splitlines()
    assert len(lines) == 2 + len(SKIPS) and len(set(lines[2:])) == len(SKIPS)
    expected = {"en": ("19 documents approved", "15 documents were skipped:",
                       "*Invoice INV-10010* — already approved by <@U01BBB>", "*INV-100113* — it no longer exists"),
                "fr": ("19 documents approuvés", "15 documents laissés de côté :",
                       "*Facture INV-10010* — approbation déjà donnée par <@U01BBB>", "*INV-100113* — n’existe plus")}
    assert all(words in notice for words in expected[locale]), notice


def test_a_notice_of_many_skipped_tasks_says_how_many_more_and_fits() -> None:
    view = home_view(service(Renderer("en", "UTC")), home_data(True))
    [notice] = [b["text"]["text"] for b in view["blocks"] if b.get("block_id") == "notice"]
    assert "45 documents were skipped:" in notice and notice.endswith("and 30 more") and len(notice) <= 3000


@pytest.mark.parametrize(("changes", "words", "icon"), [
    ({"status": RequestStatus.EXPIRED}, "Expired", "⌛"),
    ({"status": RequestStatus.CANCELLED, "reason": "workflow deleted"}, "Cancelled", "🚫"),
    ({"status": RequestStatus.REJECTED, "reason": "wrong amount"}, "Rejected", "❌"),
])
def test_a_closed_request_says_so_in_its_notification_text_and_step_icon(
        changes: dict[str, Any], words: str, icon: str) -> None:
    message = Renderer().json("approval_request.json.j2", card=card(False, **changes))
    assert "needs your approval" not in message["text"] and words in message["text"]
    assert icon in str(message["blocks"])


@pytest.mark.parametrize(("votes", "viewer", "line"), [
    ((Vote(0, "U01AAA", Decision.APPROVE, NOW, None, None),), "U01AAA", "You approved it;"),
    ((Vote(0, "U01AAA", Decision.APPROVE, NOW, None, "U01EEE"),), "U01AAA", "<@U01EEE> approved it for you;"),
    ((Vote(0, "U01AAA", Decision.APPROVE, NOW, None, "U02DEL"),), "U02DEL", "You approved it for <@U01AAA>;"),
    ((Vote(0, "U01AAA", Decision.APPROVE, NOW, None, "U02DEL"),), "U02OUT", None),
    ((Vote(0, "U01AAA", Decision.APPROVE, NOW, None, None),), "U01BBB", None),
    ((Vote(0, "U01AAA", Decision.APPROVE, NOW, None, None),), None, None),
    ((), "U01AAA", None),
])
def test_an_approver_whose_seat_is_decided_gets_no_buttons_on_their_copy(
        votes: tuple[Vote, ...], viewer: str | None, line: str | None) -> None:
    message = Renderer().json("approval_request.json.j2", card=card(False, votes, viewer=viewer))
    actions = [b for b in message["blocks"] if b["type"] == "actions"]
    assert (actions == []) is (line is not None)
    if line is not None:
        assert line in message["text"] and "needs your approval" not in message["text"]


def test_the_channel_copy_names_nobody_as_you_and_empty_fields_are_left_out() -> None:
    bare = record(False).model_copy(update={"customer": None, "due_date": None})
    shared = {**approval_card(bare, request(False), None, None), "acted_by": {}}
    message = Renderer().json("approval_request.json.j2", card=shared)
    assert message["text"] == "Invoice INV-10010 for €12,500.00 awaits approval"
    fields = [f["text"] for b in message["blocks"] if b.get("block_id") == "record_fields" for f in b["fields"]]
    assert fields[0].startswith("*Amount")
    assert not any(f.startswith(("*Customer*", "*Vendor*", "*Due*")) for f in fields)
    french = Renderer("fr").json("approval_request.json.j2", card=shared)
    assert french["text"].endswith("attend une approbation")


@pytest.mark.parametrize(("text", "limit", "cut"), [
    ("abcdef", 10, "abcdef"),
    ("abcdef", 4, "abc…"),
    ("ab&lt;cd", 4, "ab…"),
    ("ab&lt;cd", 5, "ab…"),
    ("ab&lt;cd", 7, "ab&lt;…"),
    ("abc&amp;", 7, "abc…"),
    ("a&b&gt", 4, "a&b…"),
    ("AT&T rocks", 5, "AT&T…"),
])
def test_a_cut_never_splits_an_escaped_character(text: str, limit: int, cut: str) -> None:
    assert truncate(text, limit) == cut


def test_the_requester_hears_who_approved_and_what_an_expiry_still_lacked() -> None:
    approved = card(False, (Vote(0, "U01AAA", Decision.APPROVE, NOW), Vote(0, "U01BBB", Decision.APPROVE, NOW),
                            Vote(1, "U01CCC", Decision.APPROVE, NOW)), status=RequestStatus.APPROVED)
    text = Renderer().json("approval_outcome.json.j2", card=approved, may_remind=False)["text"]
    assert "was approved by <@U01AAA>, <@U01BBB>, <@U01CCC>." in text
    expired = card(False, (Vote(0, "U01AAA", Decision.APPROVE, NOW),), status=RequestStatus.EXPIRED)
    text = Renderer("fr").json("approval_outcome.json.j2", card=expired, may_remind=False)["text"]
    assert "avant d’avoir reçu toutes les approbations" in text and "<@U01AAA>" in text
    silent = Renderer().json("approval_outcome.json.j2", card=card(False, status=RequestStatus.EXPIRED),
                             may_remind=False)["text"]
    assert "nobody decided in time" in silent


@pytest.mark.parametrize(("locale", "expected"), [("en", "≈ $1,111,110.75 at 0.9"),
                                                   ("fr", "≈ 1\u202f111\u202f110,75\u00a0$US au taux de 0,9")])
def test_a_foreign_amount_shows_its_worth_in_the_companys_currency(locale: str, expected: str) -> None:
    foreign = record(False).model_copy(update={"amount": Decimal("1234567.50"), "currency": "EUR",
                                               "exchange_rate": Decimal("0.9")})
    shown = {**approval_card(foreign, request(False), None, 0), "acted_by": {}}
    for template in ("approval_request.json.j2", "escalation.json.j2"):
        extra = {"escalation": {"level": 1, "to": [], "waiting_on": [], "waited": {"days": 1, "hours": 0}}}
        message = Renderer(locale, "UTC", "USD").json(template, card=shown, **extra)
        assert expected in json.dumps(message["blocks"], ensure_ascii=False), template
        assert "≈" not in str(Renderer(locale, "UTC").json(template, card=shown, **extra)["blocks"])


@pytest.mark.parametrize(("rate", "expected"), [("0.0066667", "at 0.0066667"), ("0.000000001", "at 0.000000001"),
                                                ("1.123456789012345", "at 1.123456789012345")])
def test_a_foreign_amount_shows_the_rate_as_booked(rate: str, expected: str) -> None:
    foreign = record(False).model_copy(update={"amount": Decimal("150000"), "currency": "JPY",
                                               "exchange_rate": Decimal(rate)})
    shown = {**approval_card(foreign, request(False), None, 0), "acted_by": {}}
    message = Renderer("en", "UTC", "USD").json("approval_request.json.j2", card=shown)
    assert expected in json.dumps(message["blocks"], ensure_ascii=False)
    assert foreign.model_dump(mode="json")["exchange_rate"] == rate


@pytest.mark.parametrize(("votes", "line"), [
    ((Vote(0, "U01AAA", Decision.APPROVE, NOW),), "Expired before every approval it needed came in"),
    ((), "Expired: nobody decided in time"),
])
def test_an_expired_card_says_whether_anyone_approved(votes: tuple[Vote, ...], line: str) -> None:
    expired = card(False, votes, status=RequestStatus.EXPIRED)
    message = Renderer().json("approval_request.json.j2", card=expired, viewer="U01AAA")
    assert line in json.dumps(message, ensure_ascii=False)


@pytest.mark.parametrize("reason", [NO_LONGER_MATCHES, MOVED, CHANGED, REQUESTER_CHANGED, VOIDED,
                                    "the workflow Large invoices was deleted",
                                    str(NoApproverError(0, None))])
def test_a_cancellation_is_told_in_the_readers_language_and_a_restart_as_one(reason: str) -> None:
    cancelled = card(False, status=RequestStatus.CANCELLED, reason=reason)
    outcome = Renderer("fr").json("approval_outcome.json.j2", card=cancelled, may_remind=False)
    told = json.dumps(outcome, ensure_ascii=False)
    assert reason not in told, "worded in French"
    english = Renderer().json("approval_outcome.json.j2", card=cancelled, may_remind=False)["text"]
    assert english.startswith("🔁" if reason.endswith("asked for approval again") else "🚫"), english
    assert reason.split(":")[0] not in json.dumps(Renderer("fr").json("approval_request.json.j2", card=cancelled,
                                                                       viewer="U01AAA"), ensure_ascii=False)


@pytest.mark.parametrize(("counts", "words"), [
    ({"approved": 3, "waiting": 1}, ["2 documents approved.", "Your approval was counted on 1 document that now "
                                     "waits for other approvers or its next step."]),
    ({"approved": 1, "waiting": 0, "forced": 1}, ["1 document approved.", "It was a forced approval."]),
    ({"approved": 0}, ["No document was approved."]),
])
def test_a_batch_notice_tells_a_step_approved_from_a_document_approved(counts: dict[str, int],
                                                                       words: list[str]) -> None:
    notice = {"kind": "batch", "forced": 0, "refused": 0, "codes": [], "skipped": [], "skipped_hidden": 0, **counts}
    data = replace(home_data(False), notice=notice)
    view = home_view(service(Renderer("en", "UTC")), data)
    [text] = [b["text"]["text"] for b in view["blocks"] if b.get("block_id") == "notice"]
    assert all(w in text for w in words), text
    assert "of them" not in text
