"""Workflow definitions: validation with field paths, triggers and the record lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from engine.catalog import catalog
from engine.errors import InvalidDefinitionError
from engine.groups import parse_group
from engine.invoice_reminders import parse_reminder_settings
from engine.lifecycle import (
    CHANGED,
    MOVED,
    REQUESTER_CHANGED,
    Plan,
    approval_workflow_for,
    approval_workflows_for,
    changed_fields,
    decide_on_reroute,
    decide_on_save,
    field_changes,
    is_triggered,
)
from engine.records import ApprovalStatus, Record, RecordType, Source
from engine.rules import parse_rule
from engine.workflows import (
    STORED,
    Workflow,
    WorkflowDefinition,
    approval_rule_warnings,
    name_key,
    parse_definition,
    same_name_warnings,
    unreachable_channel_warnings,
    unreachable_people_warnings,
)

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def definition(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "Large invoices",
        "record_type": "invoice",
        "trigger": "created",
        "conditions": [{"field": "amount", "op": "gt", "value": "5000"}],
        "actions": [
            {
                "type": "approval",
                "steps": [{"approvers": ["U01AAA", "U01BBB", "U01CCC"], "min_approvers": 2}, {"approvers": ["U01DDD"]}],
            }
        ],
    }
    base.update(changes)
    return base


def workflow(**changes: Any) -> Workflow:
    return Workflow(**parse_definition(definition(**changes)).model_dump(), id="wf1", created_at=NOW, updated_at=NOW)


def record(**changes: Any) -> Record:
    data: dict[str, Any] = {
        "type": "invoice",
        "id": "INV-1",
        "amount": "12500.00",
        "currency": "EUR",
        "customer": "C-ACME",
        "created_by": "U0REQ",
        "created_at": NOW,
        "updated_at": NOW,
    }
    data.update(changes)
    return Record.model_validate(data)


def test_spec_example_is_valid() -> None:
    parsed = parse_definition(definition())
    assert parsed.approval() is not None and parsed.conditions[0].value == Decimal("5000")


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"record_type": "bananas"}, "record_type"),
        ({"conditions": [{"field": "nope", "op": "eq", "value": 1}]}, "conditions[0].field"),
        ({"conditions": [{"field": "memo", "op": "gt", "value": "1"}]}, "conditions[0].op"),
        ({"conditions": [{"field": "amount", "op": "gt", "value": "lots"}]}, "conditions[0].value"),
        ({"actions": []}, "actions"),
        (
            {
                "actions": [
                    {"type": "approval", "steps": [{"approvers": ["U1AA", "U2AA", "U3AA", "U4AA", "U5AA", "U6AA"]}]}
                ]
            },
            "actions[0].steps[0].approvers",
        ),
        (
            {"actions": [{"type": "approval", "steps": [{"approvers": ["U1AA"], "min_approvers": 2}]}]},
            "actions[0].steps[0]",
        ),
        (
            {"actions": [{"type": "approval", "steps": [{"approvers": ["not a person"]}]}]},
            "actions[0].steps[0].approvers",
        ),
        (
            {"actions": [{"type": "approval", "remind_every": "daily", "steps": [{"approvers": ["U1AA"]}]}]},
            "actions[0].remind_every",
        ),
        ({"actions": [{"type": "teleport"}]}, "actions[0]"),
        ({"actions": [{"type": "notification", "message": "hi"}]}, "actions[0]"),
        ({"trigger": "scheduled"}, "schedule"),
        ({"colour": "red"}, "colour"),
        ({"actions": [{"type": "update", "field": "status", "value": "bogus"}]}, "actions[0].value"),
        ({"actions": [{"type": "update", "field": "email_status", "value": 3}]}, "actions[0].value"),
        ({"actions": [{"type": "update", "field": "memo", "value": "x" * 5000}]}, "actions[0].value"),
    ],
)
def test_invalid_definitions_name_the_path(changes: dict[str, Any], path: str) -> None:
    with pytest.raises(InvalidDefinitionError) as info:
        parse_definition(definition(**changes))
    assert path in [d["path"] for d in info.value.details], info.value.details


@pytest.mark.parametrize(
    ("trigger", "fields", "is_new", "changed", "expected"),
    [
        ("created", [], True, set(), True),
        ("created", [], False, {"amount"}, False),
        ("updated", [], True, set(), False),
        ("updated", [], False, {"amount"}, True),
        ("updated", ["due_date"], False, {"amount"}, False),
        ("updated", ["due_date"], False, {"due_date"}, True),
        ("created_or_updated", [], True, set(), True),
        ("created_or_updated", [], False, {"memo"}, True),
        ("created_or_updated", [], False, set(), False),
        ("scheduled", [], True, set(), False),
    ],
)
def test_triggers(trigger: str, fields: list[str], is_new: bool, changed: set[str], expected: bool) -> None:
    extra = {"schedule": "0 9 * * 1-5"} if trigger == "scheduled" else {}
    wf = workflow(trigger=trigger, trigger_fields=fields, **extra)
    assert is_triggered(wf, is_new, frozenset(changed)) is expected


def test_an_update_value_no_save_accepts_any_more_still_loads_from_storage() -> None:
    data = definition(actions=[{"type": "update", "field": "status", "value": "bogus"}])
    stored = WorkflowDefinition.model_validate(data, context=STORED)
    assert stored.actions[0].value == "bogus"


WF = workflow()
PENDING, APPROVED = ApprovalStatus.PENDING, ApprovalStatus.APPROVED


@pytest.mark.parametrize(
    ("before", "after", "governing", "is_admin", "status", "plan"),
    [
        (None, {}, WF, False, ApprovalStatus.APPROVAL_REQUIRED, Plan.NOTHING),
        (None, {}, None, False, ApprovalStatus.NONE, Plan.NOTHING),
        (None, {}, WF, True, ApprovalStatus.NONE, Plan.NOTHING),
        (None, {"source": "import"}, WF, False, PENDING, Plan.START),
        (None, {"source": "app"}, WF, True, PENDING, Plan.START),
        (None, {"source": "receipt_capture"}, WF, False, PENDING, Plan.START),
        (None, {"source": "spreadsheet_sync"}, WF, False, PENDING, Plan.START),
        (
            {"approval_status": "rejected"},
            {"amount": "13000"},
            WF,
            False,
            ApprovalStatus.APPROVAL_REQUIRED,
            Plan.NOTHING,
        ),
        (
            {"approval_status": "approved"},
            {"amount": "13000"},
            WF,
            False,
            ApprovalStatus.APPROVAL_REQUIRED,
            Plan.NOTHING,
        ),
        ({"approval_status": "approved"}, {"amount": "100"}, None, False, ApprovalStatus.NONE, Plan.NOTHING),
        ({"approval_status": "approved"}, {"amount": "13000", "source": "app"}, WF, False, APPROVED, Plan.NOTHING),
        ({"approval_status": "approved"}, {}, WF, False, APPROVED, Plan.NOTHING),
        ({"approval_status": "approved"}, {"created_by": "U0DAN"}, WF, False, APPROVED, Plan.NOTHING),
        ({"approval_status": "rejected"}, {"created_by": "U0DAN"}, WF, False, ApprovalStatus.REJECTED, Plan.NOTHING),
        ({"approval_status": "approved"}, {"status": "sent", "email_status": "sent"}, WF, False, APPROVED,
         Plan.NOTHING),  # sending it, or recording a payment, is not a change to what was approved
        ({"approval_status": "approved", "source": "import"}, {"balance": "500"}, WF, False, APPROVED, Plan.NOTHING),
        ({"approval_status": "approved", "source": "import"}, {"status": "paid", "balance": "0"}, WF, False, APPROVED,
         Plan.NOTHING),
        ({"approval_status": "approved", "source": "import"}, {"memo": "x"}, WF, False, PENDING, Plan.START),
        ({"approval_status": "approved"}, {"memo": "x"}, WF, False, ApprovalStatus.APPROVAL_REQUIRED, Plan.NOTHING),
        ({"approval_status": "pending"}, {"amount": "100"}, None, False, ApprovalStatus.NONE, Plan.CANCEL),
        ({"approval_status": "pending"}, {"memo": "x"}, WF, False, PENDING, Plan.REFRESH),  # the cards show it
        ({"approval_status": "pending"}, {"due_date": "2027-01-02", "department": "Ops"}, WF, False, PENDING,
         Plan.REFRESH),
        ({"approval_status": "pending"}, {}, WF, False, PENDING, Plan.NOTHING),
        ({"approval_status": "pending"}, {"amount": "95000"}, WF, False, PENDING, Plan.RESTART),  # asked again
        ({"approval_status": "pending"}, {"currency": "USD"}, WF, False, PENDING, Plan.RESTART),
        ({"approval_status": "pending"}, {"customer": "C-OTHER"}, WF, False, PENDING, Plan.RESTART),
        ({"approval_status": "pending"}, {"status": "void"}, WF, False, ApprovalStatus.NONE, Plan.CANCEL),
        ({"approval_status": "pending", "source": "app"}, {"status": "void"}, WF, False, ApprovalStatus.NONE,
         Plan.CANCEL),
        ({"approval_status": "approval_required"}, {"status": "void"}, WF, False, ApprovalStatus.NONE, Plan.NOTHING),
        ({"approval_status": "approved"}, {"status": "void"}, WF, False, APPROVED, Plan.NOTHING),
        ({"approval_status": "rejected"}, {"status": "void"}, WF, False, ApprovalStatus.REJECTED, Plan.NOTHING),
        ({"approval_status": "rejected", "source": "app"}, {"status": "sent", "email_status": "sent"}, WF, False,
         ApprovalStatus.REJECTED, Plan.NOTHING),  # an integration marking it sent does not resubmit it
        ({"approval_status": "expired", "source": "import"}, {"balance": "500"}, WF, False, ApprovalStatus.EXPIRED,
         Plan.NOTHING),
        ({"approval_status": "rejected", "source": "app"}, {"amount": "13000"}, WF, False, PENDING, Plan.START),
        ({"approval_status": "rejected"}, {"memo": "fixed VAT"}, WF, False, ApprovalStatus.APPROVAL_REQUIRED,
         Plan.NOTHING),
        (None, {"status": "void", "source": "import"}, WF, False, ApprovalStatus.NONE, Plan.NOTHING),
    ],
)
def test_record_lifecycle(before, after, governing, is_admin, status, plan) -> None:
    previous = record(**before) if before is not None else None
    saved = record(**{**(before or {}), **after})
    decision = decide_on_save(previous, saved, governing, is_admin)
    assert (decision.approval_status, decision.plan) == (status, plan)


@pytest.mark.parametrize(
    ("changes", "asked_under", "status", "plan", "reason"),
    [
        ({"memo": "x"}, WF.id, PENDING, Plan.REFRESH, None),
        ({"memo": "x"}, None, PENDING, Plan.REFRESH, None),
        ({"department": "IT"}, "wf_marketing", PENDING, Plan.RESTART, MOVED),
        ({"amount": "95000"}, "wf_marketing", PENDING, Plan.RESTART, MOVED),
        ({"amount": "95000"}, WF.id, PENDING, Plan.RESTART, CHANGED),
        ({"created_by": "U0DAN"}, WF.id, PENDING, Plan.RESTART, REQUESTER_CHANGED),  # the new one never approves it
        ({"created_by": "U0DAN", "memo": "mine now"}, WF.id, PENDING, Plan.RESTART, REQUESTER_CHANGED),
        ({"source": "app"}, WF.id, PENDING, Plan.NOTHING, None),
        ({"created_by": "U0REQ@EXAMPLE.COM"}, WF.id, PENDING, Plan.RESTART, REQUESTER_CHANGED),
    ],
)
def test_a_pending_document_follows_the_workflow_that_governs_it(changes, asked_under, status, plan, reason) -> None:
    before = record(approval_status="pending")
    decision = decide_on_save(before, record(**{"approval_status": "pending", **changes}), WF, False, asked_under)
    assert (decision.approval_status, decision.plan, decision.reason) == (status, plan, reason)


@pytest.mark.parametrize(
    ("governing", "asked_under", "status", "plan"),
    [(WF, WF.id, PENDING, Plan.NOTHING), (WF, "wf_other", PENDING, Plan.RESTART),
     (None, WF.id, ApprovalStatus.NONE, Plan.CANCEL), (WF, None, PENDING, Plan.NOTHING)],
)
def test_rerouting_after_what_workflows_read_changed(governing, asked_under, status, plan) -> None:
    decision = decide_on_reroute(governing, asked_under)
    assert (decision.approval_status, decision.plan) == (status, plan)
    assert decision.workflow is (governing if plan is not Plan.CANCEL else None)


def test_changed_fields_ignores_source() -> None:
    assert changed_fields(record(), record(source=Source.APP)) == frozenset()
    assert changed_fields(record(), record(memo="x")) == frozenset({"memo"})


def test_most_specific_approval_workflow_governs() -> None:
    broad = workflow(conditions=[])
    narrow = Workflow(**{**workflow().model_dump(), "id": "wf2"})
    disabled = Workflow(
        **{
            **workflow().model_dump(),
            "id": "wf3",
            "enabled": False,
            "conditions": [{"field": "amount", "op": "gt", "value": "1"},
                           {"field": "amount", "op": "lt", "value": "9"}],
        }
    )
    chosen = approval_workflow_for(record(), [broad, narrow, disabled], lambda w: True)
    assert chosen is not None and chosen.id == "wf2"
    assert approval_workflow_for(record(type=RecordType.BILL), [broad], lambda w: True) is None
    assert [w.id for w in approval_workflows_for(record(), [broad, disabled, narrow], lambda w: True)] == [
        "wf2", broad.id]
    assert [w.id for w in approval_workflows_for(record(), [broad, narrow], lambda w: w.id != "wf2")] == [broad.id]


@pytest.mark.parametrize(("parse", "data", "path"), [
    (parse_definition, {"name": "W\ud800", "record_type": "bill", "trigger": "created", "actions": []}, "name"),
    (parse_rule, {"name": "R", "conditions": [{"field": "vendor", "op": "eq", "value": "a\u0000"}],
                  "results": {"category": "T"}}, "conditions[0].value"),
    (parse_group, {"name": "G", "kind": "customer", "filters": [], "members": ["\udfff"]}, "members[0]"),
    (parse_reminder_settings, {"enabled": True, "schedules": [{"offset_days": 1, "subject": "\ud800"}]},
     "schedules[0].subject"),
])
def test_a_definition_holding_text_no_database_stores_is_refused(parse: Any, data: dict[str, Any],
                                                                 path: str) -> None:
    with pytest.raises(InvalidDefinitionError) as caught:
        parse(data)
    assert [d["path"] for d in caught.value.details] == [path]


def test_people_slack_cannot_reach_are_warned_of_where_the_workflow_names_them() -> None:
    definition = parse_definition({"name": "W", "record_type": "bill", "trigger": "created", "actions": [
        {"type": "approval", "steps": [{"approvers": ["U0AAA1", "group:board"]}], "escalate_after": "P1D",
         "escalate_to": ["U0AAA3"]}]})
    warned = unreachable_people_warnings(definition, {"board": ["U0AAA2", "U0AAA4"]},
                                         {"U0AAA2": "deactivated", "U0AAA3": "bot", "U0AAA9": "not_found"})
    assert [(w["path"], w["user"]) for w in warned] == [("actions[0].escalate_to[0]", "U0AAA3"),
                                                        ("actions[0].steps[0].approvers[1]", "U0AAA2")]
    assert "deactivated" in warned[1]["message"] and "group:board" in warned[1]["message"]
    assert unreachable_people_warnings(definition, {}, {}) == []


def test_channels_slack_would_refuse_posts_in_are_warned_of_where_the_workflow_names_them() -> None:
    definition = parse_definition({"name": "W", "record_type": "bill", "trigger": "created", "actions": [
        {"type": "approval", "steps": [{"approvers": ["U0AAA1"]}], "channel": "#gone"},
        {"type": "notification", "channel": "#finance", "to": ["U0AAA1", "C0OLD", "#finance"], "message": "Hi"},
        {"type": "reminder", "to": ["#gone"], "message": "Chase it"}]})
    assert definition.channel_paths() == [("actions[0].channel", "#gone"), ("actions[1].channel", "#finance"),
                                          ("actions[1].to[1]", "C0OLD"), ("actions[1].to[2]", "#finance"),
                                          ("actions[2].to[0]", "#gone")]
    warned = unreachable_channel_warnings(definition, {"#gone": "no_public", "C0OLD": "archived"})
    assert [(w["path"], w["problem"]) for w in warned] == [("actions[0].channel", "no_public"),
                                                           ("actions[1].to[1]", "archived"),
                                                           ("actions[2].to[0]", "no_public")]
    assert "C0OLD is archived: posts to it would fail" in warned[1]["message"]
    assert unreachable_channel_warnings(definition, {}) == []


@pytest.mark.parametrize(("name", "other", "is_same"), [
    ("Large invoices", "Large invoices", True),
    ("Large invoices", "  large   INVOICES ", True),
    ("Factures validées", "FACTURES VALIDE\u0301ES", True),
    ("Large invoices", "Large invoice", False),
    ("Large invoices", "Large-invoices", False),
])
def test_a_workflow_named_like_another_is_warned_of_case_spacing_and_composition_aside(
        name: str, other: str, is_same: bool) -> None:
    assert (name_key(name) == name_key(other)) is is_same
    saved = Workflow.model_validate({**parse_definition({"name": other, "record_type": "bill", "trigger": "created",
                                                         "actions": [{"type": "notification", "to": ["U0AAA1"],
                                                                      "message": "Hi"}]}).model_dump(),
                                     "id": "wf_other", "created_at": NOW, "updated_at": NOW})
    definition = parse_definition({"name": name, "record_type": "invoice", "trigger": "created",
                                   "actions": [{"type": "notification", "to": ["U0AAA1"], "message": "Hi"}]})
    warned = same_name_warnings(definition, [saved])
    assert [(w["path"], w["named_like"]) for w in warned] == ([("name", "wf_other")] if is_same else [])
    assert same_name_warnings(definition, [saved], own=saved) == []


def test_the_audit_of_a_save_names_every_field_it_changed_its_requester_and_source_too() -> None:
    before = record(approval_status="approved")
    after = record(approval_status="approved", amount="50000.00", source="app", created_by="U0DAN")
    assert field_changes(before, after) == {"amount": ["12500.00", "50000.00"], "created_by": ["U0REQ", "U0DAN"],
                                            "source": ["manual", "app"]}


def test_a_workflow_stored_before_the_stricter_address_rule_still_reads() -> None:
    action = {"type": "approval", "steps": [{"approvers": ["mailto:dan@example.com"]}], "escalate_to": ["x@y.z."]}
    data = {"id": "wf", "name": "W", "record_type": "invoice", "trigger": "created", "actions": [action],
            "created_at": NOW, "updated_at": NOW}
    assert Workflow.model_validate(data, context=STORED).actions[0].steps[0].approvers == ["mailto:dan@example.com"]
    with pytest.raises(ValueError):
        Workflow.model_validate(data)


def test_the_same_requester_in_other_letter_case_keeps_the_request() -> None:
    before = record(approval_status="pending", created_by="dan@example.com")
    decision = decide_on_save(before, record(approval_status="pending", created_by="DAN@Example.com"), WF, False,
                              WF.id)
    assert decision.plan is Plan.NOTHING


APPROVE = {"type": "approval", "steps": [{"approvers": ["U0AAA1"]}]}


@pytest.mark.parametrize(("trigger", "actions", "rules"), [
    ("created", [APPROVE], []),
    ("created_or_updated", [APPROVE, {"type": "update", "field": "memo", "value": "x"}], []),
    ("updated", [APPROVE], ["trigger"]),
    ("created", [APPROVE, {"type": "update", "field": "department", "value": "Done"}], ["update_read"]),
    ("updated", [{"type": "update", "field": "department", "value": "Done"}], []),  # no approval: stamps are fine
])
def test_what_an_approval_workflow_says_that_it_does_not_do_is_warned_of(
    trigger: str, actions: list[dict[str, Any]], rules: list[str],
) -> None:
    definition = parse_definition({"name": "W", "record_type": "bill", "trigger": trigger, "actions": actions,
                                   "conditions": [{"field": "department", "op": "eq", "value": "Ops"}]})
    assert [w["rule"] for w in approval_rule_warnings(definition)] == rules


def test_no_template_of_the_catalog_is_warned_of() -> None:
    assert [t.slug for t in catalog() if approval_rule_warnings(t.definition)] == []


@pytest.mark.parametrize(("changes", "path", "code"), [
    ({"conditions": [{"field": "amount", "op": "gt", "value": "5"}] * 2}, "conditions", "condition_twice"),
    ({"conditions": [{"field": "amount", "op": "gt", "value": "500"},
                     {"field": "amount", "op": "gt", "value": "500.00"}]}, "conditions", "condition_twice"),
    ({"conditions": [{"field": "amount", "op": "gt", "value": str(i)} for i in range(101)]}, "conditions",
     "too_many_conditions"),
    ({"conditions": [{"field": "fields." + "x" * 65, "op": "eq", "value": "a"}]}, "conditions", "field_unknown"),
    ({"actions": [{"type": "approval", "steps": [{"approvers": ["U0AAA1"], "min_approvers": "1"}]}]},
     "actions[0].steps[0].min_approvers", "int_type"),
])
def test_conditions_no_ranking_or_document_can_use_and_a_quorum_as_text_are_refused(
    changes: dict[str, Any], path: str, code: str,
) -> None:
    with pytest.raises(InvalidDefinitionError) as caught:
        parse_definition({"name": "W", "record_type": "bill", "actions": [APPROVE], **changes})
    assert [(d["path"], d["code"]) for d in caught.value.details] == [(path, code)]
    stored = {"name": "W", "record_type": "bill", "actions": [APPROVE], "id": "wf1", "created_at": NOW,
              "updated_at": NOW, **changes}
    if path == "conditions":
        kept = Workflow.model_validate(stored, context=STORED)
        assert kept.definition().conditions == kept.conditions, "stored under older rules: still read and exported"
