"""The publish preview is a pure decision: the same planning as publishing, over records given as data."""

from __future__ import annotations

from engine.records import ApprovalStatus
from engine.rules import ChangeInputs, RuleStatus, plan_rule_change, preview_of, rule_change, rules_after
from tests.engine.test_rules import AMOUNT, CONTACTS, CTX, VENDOR, record, rule


def test_publishing_preview_counts_the_not_yet_approved_documents_whose_values_change() -> None:
    draft = rule("r1", [VENDOR], {"category": "Travel"}, status="draft")
    published = draft.model_copy(update={"status": RuleStatus.PUBLISHED})
    records = [record(id="B-1"), record(id="B-2", vendor="V-OTHER"), record(id="B-3", category="Travel"),
               record(id="B-4", approval_status=ApprovalStatus.APPROVED), record(id="B-5", category="Hotels")]
    inputs = ChangeInputs(records, {}, CONTACTS)
    plans = plan_rule_change(rules_after([draft], draft, published), rule_change(draft, published), inputs, CTX)
    preview = preview_of(plans)
    assert preview.records == (("bill", "B-1"),) and preview.count == 1
    assert {key for key, _ in plans} == {("bill", "B-1"), ("bill", "B-5")}


def test_unpublishing_previews_the_documents_the_rule_filled() -> None:
    live = rule("r1", [AMOUNT], {"department": "Ops"})
    inputs = ChangeInputs([record(id="B-1")], {}, CONTACTS)
    filled = plan_rule_change([live], rule_change(None, live), inputs, CTX)
    applied = {key: plan.applied for key, plan in filled}
    undone = ChangeInputs([plan.record for _, plan in filled], applied, CONTACTS, frozenset(applied))
    draft = live.model_copy(update={"status": RuleStatus.DRAFT})
    preview = preview_of(plan_rule_change(rules_after([live], live, draft), rule_change(live, draft), undone, CTX))
    assert preview.records == (("bill", "B-1"),)
    assert preview_of(plan_rule_change([], rule_change(None, draft), inputs, CTX)).count == 0
