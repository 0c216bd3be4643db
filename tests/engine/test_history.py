"""What the run history keeps of an approval, decided in the engine."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from engine.approvals import ApprovalRequest, Decision, RequestStatus, Step, close, decide, force_approve
from engine.history import HistoryEvent, cancelled_or_decided, escalated, started
from engine.workflows import WorkflowStatus, one_meaning_of_enabled, switched

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def two_step() -> ApprovalRequest:
    steps = (Step(0, ("UA", "UB"), 1), Step(1, ("UD",), 1))
    return ApprovalRequest("AR-1", "invoice", "INV-1", "wf_1", "UR", steps, NOW, NOW)


@pytest.mark.parametrize(("listed", "asked", "extra"), [
    ((), None, {}),
    (("UA", "UB"), 1, {}),
    (("UR", "UA"), None, {"left_out": ["UR"], "stand_ins": ["UB"]}),  # the requester left out, UB stands in
    (("UA", "UB"), 3, {"min_approvers_asked": 3}),  # the workflow asked for more than could decide
])
def test_a_start_names_who_is_asked_how_many_must_approve_and_who_stands_in(
    listed: tuple[str, ...], asked: int | None, extra: dict[str, Any],
) -> None:
    entry = started(two_step(), "created", "UR", listed, asked)
    step = two_step().step()
    assert (entry.event, entry.outcome, entry.actions()) == (HistoryEvent.STARTED, "pending", [
        {"type": "approval", "result": "started", "approvers": ["UA", "UB"], "min_approvers": step.min_approvers,
         **extra}])


def test_a_delegates_vote_is_for_the_approver() -> None:
    before = two_step()
    [entry] = cancelled_or_decided(before, decide(before, "UA", Decision.APPROVE, NOW, acted_by="UZ"), "UZ")
    assert (entry.event, entry.actor, entry.on_behalf_of, entry.decision, entry.step) == (
        HistoryEvent.DECISION, "UZ", "UA", "approve", 0)
    assert entry.actions()[0]["step_completed"] is True


def test_a_rejection_keeps_its_reason_and_closes() -> None:
    before = two_step()
    [entry] = cancelled_or_decided(before, decide(before, "UB", Decision.REJECT, NOW, "Wrong amount"), "UB")
    assert (entry.on_behalf_of, entry.reason, entry.outcome) == (None, "Wrong amount", "rejected")


def test_a_forced_approval_says_so_with_its_reason() -> None:
    before = two_step()
    outcome = force_approve(before, "UX", NOW, "CFO said yes", is_admin=True, is_matching=True)
    [entry] = cancelled_or_decided(before, outcome, "UX", forced="override")
    assert (entry.event, entry.reason) == (HistoryEvent.FORCED, "CFO said yes")
    assert entry.actions()[0]["forced"] == "override"


def test_expiry_and_cancellation_have_their_own_lines_and_no_decision() -> None:
    before = two_step()
    [expired] = cancelled_or_decided(before, close(before, RequestStatus.EXPIRED, NOW, "too late"), None)
    [cancelled] = cancelled_or_decided(before, close(before, RequestStatus.CANCELLED, NOW, "changed"), None)
    assert (expired.event, expired.cause, expired.reason, expired.decision) == (
        HistoryEvent.EXPIRED, "schedule", "too late", None)
    assert (cancelled.event, cancelled.outcome) == (HistoryEvent.CANCELLED, "cancelled")
    assert cancelled_or_decided(before, decide(before, "UA", Decision.APPROVE, NOW), "UA")[0].outcome == "pending"


def test_an_escalation_names_its_targets() -> None:
    entry = escalated(two_step(), ("UC",), 1, ("UA", "UB"))
    assert entry.actions()[0] == {"type": "approval", "result": "escalated", "to": ["UC"], "level": 1,
                                  "waiting_on": ["UA", "UB"]}


def test_enabled_means_live() -> None:
    assert switched(True) == {"enabled": True, "status": WorkflowStatus.PUBLISHED}
    assert switched(False) == {"enabled": False}
    assert one_meaning_of_enabled({"status": "draft", "enabled": True})["status"] == "published"
    assert one_meaning_of_enabled({"status": "draft"}) == {"status": "draft", "enabled": False}
    assert one_meaning_of_enabled({"status": "draft", "enabled": False}) == {"status": "draft", "enabled": False}
    assert one_meaning_of_enabled({"enabled": True}) == {"enabled": True}
