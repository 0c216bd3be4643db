"""Forced approval, table-driven: when an approval must be forced, and what forcing it does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.approvals import (
    ApprovalRequest,
    Decision,
    ForceKind,
    RequestStatus,
    Step,
    Vote,
    force_approve,
    force_kind,
)
from engine.errors import VoteRefusedError
from engine.events import ApprovalRequested, RecordApproved, StepApproved, VoteRecorded

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def two_step(votes: tuple[Vote, ...] = (), status: RequestStatus = RequestStatus.PENDING) -> ApprovalRequest:
    return ApprovalRequest(
        id="AR-1", record_type="invoice", record_id="INV-1", workflow_id="wf", requester="UREQ",
        steps=(Step(0, ("UA", "UB", "UC"), 2), Step(1, ("UD",), 1)), created_at=NOW, step_started_at=NOW,
        status=status, votes=votes,
    )


@pytest.mark.parametrize(
    ("actor", "is_admin", "is_matching", "kind"),
    [
        ("UA", False, True, None),
        ("UA", False, False, ForceKind.STALE),
        ("UA", True, True, None),
        ("UA", True, False, ForceKind.STALE),
        ("UX", True, True, ForceKind.OVERRIDE),
        ("UX", True, False, ForceKind.OVERRIDE),
        ("UX", False, False, None),
        ("UD", True, True, ForceKind.OVERRIDE),
        ("UREQ", True, False, None),
    ],
)
def test_force_kind(actor: str, is_admin: bool, is_matching: bool, kind: ForceKind | None) -> None:
    assert force_kind(two_step(), actor, is_admin=is_admin, is_matching=is_matching) == kind


def test_closed_requests_are_never_forced() -> None:
    closed = two_step(status=RequestStatus.APPROVED)
    assert force_kind(closed, "UX", is_admin=True, is_matching=False) is None


def test_an_admin_override_completes_the_step_and_asks_the_next() -> None:
    outcome = force_approve(two_step(), "UX", NOW, "CFO said yes", is_admin=True, is_matching=True)
    request = outcome.request
    assert request.current_step == 1 and request.status is RequestStatus.PENDING
    assert request.votes == (Vote(0, "UX", Decision.APPROVE, NOW, "CFO said yes"),)
    assert [type(e) for e in outcome.events] == [VoteRecorded, StepApproved, ApprovalRequested]


def test_an_override_of_the_last_step_approves_the_record() -> None:
    at_last = two_step(votes=(Vote(0, "UA", Decision.APPROVE, NOW), Vote(0, "UB", Decision.APPROVE, NOW)))
    at_last = ApprovalRequest(**{**at_last.__dict__, "current_step": 1})
    outcome = force_approve(at_last, "UX", NOW, "urgent", is_admin=True, is_matching=True)
    assert outcome.request.status is RequestStatus.APPROVED and isinstance(outcome.events[-1], RecordApproved)


def test_a_stale_approval_by_an_approver_counts_as_one_vote() -> None:
    outcome = force_approve(two_step(), "UA", NOW, "still fine", is_admin=False, is_matching=False, acted_by="UZ")
    assert outcome.request.current_step == 0 and outcome.request.votes[0].acted_by == "UZ"
    assert outcome.request.votes[0].reason == "still fine"


def test_an_admin_who_already_voted_completes_the_stale_step_without_a_second_vote() -> None:
    voted = two_step(votes=(Vote(0, "UA", Decision.APPROVE, NOW),))
    outcome = force_approve(voted, "UA", NOW, "done", is_admin=True, is_matching=False)
    assert outcome.request.current_step == 1 and len(outcome.request.votes) == 1


@pytest.mark.parametrize(
    ("request_", "actor", "is_admin", "is_matching", "reason", "code"),
    [
        (two_step(), "UA", False, True, "x", "not_forced"),
        (two_step(), "UX", False, False, "x", "not_an_approver"),
        (two_step(), "UREQ", True, False, "x", "own_record"),
        (two_step(status=RequestStatus.REJECTED), "UX", True, True, "x", "request_closed"),
        (two_step(), "UX", True, True, "  ", "reason_required"),
    ],
)
def test_force_refusals_change_nothing(request_: ApprovalRequest, actor: str, is_admin: bool, is_matching: bool,
                                       reason: str, code: str) -> None:
    with pytest.raises(VoteRefusedError) as refused:
        force_approve(request_, actor, NOW, reason, is_admin=is_admin, is_matching=is_matching)
    assert refused.value.code == code
