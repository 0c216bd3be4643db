"""Planning non-approval actions as data: one table per action kind."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.actions import (
    NO_EMAIL,
    Company,
    PostMessage,
    ReminderState,
    RemindPeople,
    SendEmail,
    SetField,
    Skipped,
    apply_fields,
    expand_targets,
    has_side_actions,
    lapsed_reminders,
    plan_actions,
    sample_contact,
    sample_record,
    template_context,
    template_sources,
)
from engine.records import Contact, Record, RecordType
from engine.workflows import STORED, Workflow, parse_definition

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
COMPANY = Company("Acme Corp", "Europe/Paris")
GROUPS = {"finance-team": ("U01AAA", "U01BBB"), "empty": ()}
ADMINS = ("U0ADMIN",)


def workflow(*actions: dict[str, Any]) -> Workflow:
    definition = parse_definition({"name": "W", "record_type": "invoice", "actions": list(actions)})
    return Workflow(**definition.model_dump(), id="wf1", created_at=NOW, updated_at=NOW)


def record(**changes: Any) -> Record:
    data: dict[str, Any] = {"type": "invoice", "id": "INV-1", "amount": "120.50", "currency": "EUR",
                            "customer": "C-ACME", "memo": "hello", "created_at": NOW, "updated_at": NOW}
    return Record.model_validate({**data, **changes})


def contact(email: str | None = "ap@acme.example") -> Contact:
    return Contact(kind="customer", id="C-ACME", name="ACME", email=email)


def plan(wf: Workflow, rec: Record | None = None, who: Contact | None = None, **options: Any) -> list[Any]:
    options = {"people_groups": GROUPS, "fallback": ADMINS, "sender": "billing@signoff.example", **options}
    return plan_actions(wf, rec or record(), who, NOW, COMPANY, **options)


def shape(items: list[Any]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for item in items:
        if isinstance(item, PostMessage):
            out.append(("post", item.action_index, item.target, item.template))
        elif isinstance(item, RemindPeople):
            out.append(("remind", item.action_index, item.targets, item.template))
        elif isinstance(item, SendEmail):
            out.append(("email", item.action_index, item.to, item.cc))
        elif isinstance(item, SetField):
            out.append(("set", item.action_index, item.field, item.value, item.previous))
        elif isinstance(item, Skipped):
            out.append(("skip", item.action_index, item.kind, item.reason))
    return out


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ({"type": "notification", "channel": "#finance", "message": "m"}, [("post", 0, "#finance", "m")]),
        ({"type": "notification", "to": ["U01AAA", "ap@x.io"], "message": "m"},
         [("post", 0, "U01AAA", "m"), ("post", 0, "ap@x.io", "m")]),
        ({"type": "notification", "channel": "C0FIN", "to": ["group:finance-team", "U01AAA"], "message": "m"},
         [("post", 0, "C0FIN", "m"), ("post", 0, "U01AAA", "m"), ("post", 0, "U01BBB", "m")]),
        ({"type": "notification", "to": ["group:unknown"], "message": "m"}, [("post", 0, "U0ADMIN", "m")]),
    ],
)
def test_notification(action: dict[str, Any], expected: list[tuple[Any, ...]]) -> None:
    assert shape(plan(workflow(action))) == expected


def test_notification_without_anyone_is_skipped() -> None:
    wf = workflow({"type": "notification", "to": ["group:empty"], "message": "m"})
    assert shape(plan(wf, fallback=())) == [("skip", 0, "notification", "nobody to notify")]


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        (["U01CCC"], ("U01CCC",)),
        (["#finance", "group:finance-team"], ("#finance", "U01AAA", "U01BBB")),
        (["group:finance-team", "U01AAA"], ("U01AAA", "U01BBB")),
        (["group:empty"], ADMINS),
    ],
)
def test_reminder(to: list[str], expected: tuple[str, ...]) -> None:
    assert shape(plan(workflow({"type": "reminder", "to": to, "message": "r"}))) == [("remind", 0, expected, "r")]


SEND = {"type": "send", "subject": "s", "body": "b"}


@pytest.mark.parametrize(
    ("action", "who", "options", "expected"),
    [
        (SEND, contact(), {}, [("email", 0, "ap@acme.example", ()), ("set", 0, "email_status", "sent", "not_sent"),
                               ("set", 0, "sent_at", NOW, None)]),
        ({**SEND, "copy_sender": True}, contact(), {},
         [("email", 0, "ap@acme.example", ("billing@signoff.example",)),
          ("set", 0, "email_status", "sent", "not_sent"), ("set", 0, "sent_at", NOW, None)]),
        ({**SEND, "copy_sender": True}, contact(), {"sender": None},
         [("email", 0, "ap@acme.example", ()), ("set", 0, "email_status", "sent", "not_sent"),
          ("set", 0, "sent_at", NOW, None)]),
        (SEND, contact(None), {}, [("skip", 0, "send", NO_EMAIL)]),
        (SEND, None, {}, [("skip", 0, "send", NO_EMAIL)]),
        (SEND, contact(), {"is_email_on": False}, [("skip", 0, "send", "e-mail is off")]),
    ],
)
def test_send(action: dict[str, Any], who: Contact | None, options: dict[str, Any],
              expected: list[tuple[Any, ...]]) -> None:
    assert shape(plan(workflow(action), who=who, **options)) == expected


@pytest.mark.parametrize(
    ("status", "why"),
    [("approval_required", "awaits submission for approval"), ("pending", "is pending approval"),
     ("rejected", "was rejected"), ("expired", "expired without approval")],
)
def test_nothing_is_sent_to_the_customer_before_approval(status: str, why: str) -> None:
    flow = workflow(SEND, {"type": "update", "field": "memo", "value": "X"})
    assert shape(plan(flow, record(approval_status=status), contact())) == [
        ("skip", 0, "send", f"not approved: invoice INV-1 {why}"), ("set", 1, "memo", "X", "hello")]


@pytest.mark.parametrize("status", ["none", "approved"])
def test_a_document_that_needs_no_approval_or_has_it_is_sent(status: str) -> None:
    assert shape(plan(workflow(SEND), record(approval_status=status), contact()))[0] == (
        "email", 0, "ap@acme.example", ())


def test_a_reminder_leaves_out_who_dismissed_it_and_gives_tasks_only_to_who_has_none() -> None:
    states = {"U01AAA": ReminderState.OPEN, "U01BBB": ReminderState.DISMISSED}
    items = plan(workflow({"type": "reminder", "to": ["group:finance-team", "U01CCC"], "message": "r"}),
                 reminder_states=states)
    assert len(items) == 1 and isinstance(items[0], RemindPeople)
    assert (items[0].targets, items[0].new_tasks, items[0].dismissed) == (
        ("U01AAA", "U01CCC"), ("U01CCC",), ("U01BBB",))


def test_reminders_lapse_for_documents_that_stopped_matching() -> None:
    known = [("invoice", "INV-1"), ("invoice", "INV-2"), ("invoice", "INV-3")]
    assert lapsed_reminders(known, [("invoice", "INV-2")]) == [("invoice", "INV-1"), ("invoice", "INV-3")]
    assert lapsed_reminders(known, known) == []


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("memo", "OVERDUE", ("set", 0, "memo", "OVERDUE", "hello")),
        ("status", "paid", ("set", 0, "status", "paid", "open")),
        ("class", "Retail", ("set", 0, "class", "Retail", None)),
        ("fields.stage", "dunning", ("set", 0, "fields.stage", "dunning", None)),
        ("memo", "hello", ("skip", 0, "update", "memo is already hello")),
        ("status", "haunted", ("skip", 0, "update", "status cannot be 'haunted': Input should be 'draft', "
                                                    "'open', 'sent', 'paid' or 'void'")),
    ],
)
def test_update(field: str, value: Any, expected: tuple[Any, ...]) -> None:
    data = {"name": "W", "record_type": "invoice", "actions": [{"type": "update", "field": field, "value": value}]}
    flow = Workflow.model_validate({**data, "id": "wf1", "created_at": NOW, "updated_at": NOW},
                                   context=STORED)  # saved before its value was checked at save
    assert shape(plan(flow)) == [expected]


def test_actions_keep_their_index_and_approval_is_left_out() -> None:
    wf = workflow(
        {"type": "approval", "steps": [{"approvers": ["U01AAA"]}]},
        {"type": "notification", "channel": "#finance", "message": "n"},
        {"type": "update", "field": "memo", "value": "X"},
    )
    assert [item.action_index for item in plan(wf)] == [1, 2]
    assert has_side_actions(wf)
    assert not has_side_actions(workflow({"type": "approval", "steps": [{"approvers": ["U01AAA"]}]}))


def test_apply_fields_sets_every_planned_field() -> None:
    wf = workflow(SEND, {"type": "update", "field": "fields.stage", "value": "sent"})
    later = datetime(2026, 11, 24, tzinfo=UTC)
    updated = apply_fields(record(), plan(wf, who=contact()), later)
    assert updated.email_status.value == "sent" and updated.sent_at == NOW
    assert updated.fields == {"stage": "sent"} and updated.updated_at == later
    assert apply_fields(record(), [], later) == record()


def test_template_context() -> None:
    ctx = template_context(record(balance="20"), contact(), workflow(SEND), COMPANY, NOW)
    assert ctx["record"]["balance"] == Decimal("20") and ctx["record"]["class"] is None
    assert ctx["contact"]["email"] == "ap@acme.example"
    assert ctx["company"] == {"name": "Acme Corp", "timezone": "Europe/Paris"}
    assert ctx["workflow"]["id"] == "wf1" and ctx["today"] == date(2026, 11, 23)
    assert template_context(record(), None, workflow(SEND), COMPANY, NOW)["contact"] == {}


def test_expand_targets_keeps_order_and_uniqueness() -> None:
    assert expand_targets(["U1AA", "group:finance-team", "U01AAA"], GROUPS, ADMINS) == ("U1AA", "U01AAA", "U01BBB")


@pytest.mark.parametrize("record_type", list(RecordType))
def test_samples_exist_for_every_type(record_type: RecordType) -> None:
    sample = sample_record(record_type, NOW, ZoneInfo("Europe/Paris"))
    assert sample.type is record_type and sample.contact_id() in (None, "C-SAMPLE")
    assert sample_contact(record_type).email


def test_template_sources_name_their_paths() -> None:
    wf = workflow({"type": "reminder", "to": ["U01AAA"], "message": "r"}, SEND,
                  {"type": "notification", "channel": "#finance", "message": "n"})
    assert template_sources(wf) == [("actions[0].message", "r"), ("actions[1].subject", "s"),
                                    ("actions[1].body", "b"), ("actions[2].message", "n")]


def scheduled(*conditions: dict[str, Any]) -> Workflow:
    definition = parse_definition({"name": "Due soon", "record_type": "invoice", "trigger": "scheduled",
                                   "schedule": "0 9 * * *", "conditions": list(conditions), "actions": [SEND]})
    return Workflow(**definition.model_dump(), id="wf9", created_at=NOW, updated_at=NOW)


def once_key(wf: Workflow, rec: Record) -> str | None:
    [email] = [item for item in plan(wf, rec, contact()) if isinstance(item, SendEmail)]
    return email.once_key


DUE_SOON = ({"field": "due_date", "op": "due_within_days", "value": 3}, {"field": "balance", "op": "gt", "value": "0"})


@pytest.mark.parametrize(("first", "second", "is_same"), [
    ({"due_date": "2026-11-25"}, {"due_date": "2026-11-25", "memo": "changed"}, True),  # not a value it reads
    ({"due_date": "2026-11-25"}, {"due_date": "2026-11-26"}, False),
    ({"due_date": "2026-11-25", "balance": "10"}, {"due_date": "2026-11-25", "balance": "5"}, False),
    ({"due_date": "2026-11-25"}, {"due_date": "2026-11-25", "id": "INV-2"}, False),
])
def test_a_scheduled_email_is_keyed_by_the_values_its_conditions_read(
        first: dict[str, Any], second: dict[str, Any], is_same: bool) -> None:
    keys = [once_key(scheduled(*DUE_SOON), record(**values)) for values in (first, second)]
    assert all(k is not None and k.startswith("send:wf9:0:invoice:") for k in keys)
    assert (keys[0] == keys[1]) is is_same


def test_an_email_of_a_workflow_run_by_an_event_is_not_keyed() -> None:
    assert once_key(workflow(SEND), record()) is None


def test_an_action_sees_the_document_as_the_actions_before_it_left_it() -> None:
    wf = workflow({"type": "notification", "channel": "#finance", "message": "before {{ record.memo }}"},
                  {"type": "update", "field": "memo", "value": "STAMPED"},
                  {"type": "notification", "channel": "#finance", "message": "after {{ record.memo }}"})
    posted = [item for item in plan(wf) if isinstance(item, PostMessage)]
    assert [item.context["record"]["memo"] for item in posted] == ["hello", "STAMPED"]


def test_only_the_actions_asked_for_are_planned() -> None:
    wf = workflow({"type": "notification", "channel": "#finance", "message": "n"},
                  {"type": "update", "field": "memo", "value": "X"})
    assert [item.action_index for item in plan(wf, only={1})] == [1]


def test_a_document_stored_under_older_rules_is_planned_for_without_raising() -> None:
    older = record().model_copy(update={"amount": Decimal("10.001"), "currency": "USD"})  # three decimals in USD
    wf = workflow(SEND, {"type": "update", "field": "memo", "value": "X"},
                  {"type": "notification", "channel": "#finance", "message": "m {{ record.memo }}"})
    assert [type(item).__name__ for item in plan(wf, older, who=contact())][-1] == "PostMessage"
