"""Approval workflows a document could match together are warned of; tiers that cannot meet are not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.conditions import Condition
from engine.overlaps import excludes, overlap_warnings
from engine.workflows import Workflow, WorkflowDefinition

START = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)
APPROVAL = {"type": "approval", "steps": [{"approvers": ["U01AAA"]}]}


def cond(field: str, op: str, value: Any = None) -> Condition:
    return Condition.model_validate({"field": field, "op": op, "value": value})


def flow(conditions: list[Condition], **overrides: Any) -> Workflow:
    data = {"id": "wf_old", "name": "Large invoices", "record_type": "invoice", "trigger": "created",
            "conditions": [c.model_dump(mode="json") for c in conditions], "actions": [APPROVAL],
            "created_at": START, "updated_at": START}
    return Workflow.model_validate({**data, **overrides})


@pytest.mark.parametrize(("one", "other", "is_excluded"), [
    (cond("amount", "lte", "1000"), cond("amount", "gt", "1000"), True),
    (cond("amount", "lte", "1000"), cond("amount", "gte", "1000"), False),
    (cond("amount", "lt", "1000"), cond("amount", "gte", "1000"), True),
    (cond("amount", "between", ["0", "999.99"]), cond("amount", "between", ["1000", "5000"]), True),
    (cond("amount", "between", ["0", "1000"]), cond("amount", "between", ["1000", "5000"]), False),
    (cond("amount", "eq", "500"), cond("amount", "gt", "500"), True),
    (cond("amount", "in", ["10", "20"]), cond("amount", "gt", "15"), False),
    (cond("amount", "in", ["10", "20"]), cond("amount", "gt", "25"), True),
    (cond("department", "eq", "Sales"), cond("department", "eq", "sales"), False),
    (cond("department", "eq", "Sales"), cond("department", "in", ["Ops", "IT"]), True),
    (cond("department", "in", ["Ops", "IT"]), cond("department", "not_in", ["Ops", "IT", "HR"]), True),
    (cond("department", "in", ["Ops", "Sales"]), cond("department", "not_in", ["Ops"]), False),
    (cond("department", "eq", "Ops"), cond("department", "ne", "Ops"), True),
    (cond("department", "is_empty"), cond("department", "eq", "Ops"), True),
    (cond("department", "is_empty"), cond("department", "not_in", ["Ops"]), False),
    (cond("department", "is_not_empty"), cond("department", "is_empty"), True),
    (cond("department", "contains", "ops"), cond("department", "eq", "Sales"), False),
    (cond("department", "eq", "Ops"), cond("location", "eq", "Paris"), False),
    (cond("due_date", "lt", "2026-12-01"), cond("due_date", "gte", "2026-12-01"), True),
])
def test_two_tests_of_one_field_exclude_each_other_only_when_no_value_passes_both(
    one: Condition, other: Condition, is_excluded: bool,
) -> None:
    assert excludes(one, other) is is_excluded
    assert excludes(other, one) is is_excluded


@pytest.mark.parametrize(("saved", "existing", "follows"), [
    ([cond("amount", "gt", "1000")], [cond("amount", "gt", "5000")], "other"),
    ([cond("amount", "gt", "1000"), cond("department", "eq", "Ops")], [cond("amount", "gt", "5000")], "this"),
    ([], [cond("department", "eq", "Ops")], "other"),
    ([cond("amount", "lte", "1000")], [cond("amount", "gt", "1000")], None),
    ([cond("amount", "lte", "1000")], [cond("amount", "gt", "1000"), cond("location", "eq", "Paris")], None),
])
def test_a_new_approval_workflow_is_warned_of_each_live_one_a_document_could_match_as_well(
    saved: list[Condition], existing: list[Condition], follows: str | None,
) -> None:
    definition = WorkflowDefinition.model_validate(flow(saved).model_dump(exclude={"id", "created_at", "updated_at"}))
    found = overlap_warnings(definition, [flow(existing)])
    assert [w.get("follows") for w in found] == ([follows] if follows else [])
    if found:
        assert found[0]["workflow_id"] == "wf_old" and "Large invoices" in found[0]["message"]


@pytest.mark.parametrize("other", [
    flow([], enabled=False),
    flow([], status="draft"),
    flow([], record_type="bill"),
    flow([], actions=[{"type": "notification", "channel": "#finance", "message": "hi"}]),
])
def test_workflows_that_never_govern_the_same_documents_are_not_warned_of(other: Workflow) -> None:
    assert overlap_warnings(flow([], id="wf_new"), [other], flow([], id="wf_new")) == []


def test_a_saved_workflow_is_not_its_own_overlap_and_the_older_of_equals_governs() -> None:
    older = flow([cond("amount", "gt", "10")], id="wf_a")
    newer = flow([cond("amount", "gt", "20")], id="wf_b", created_at=START + timedelta(days=1))
    assert [w["follows"] for w in overlap_warnings(newer, [older, newer], newer)] == ["other"]
    assert [w["follows"] for w in overlap_warnings(older, [older, newer], older)] == ["this"]
