"""What the run history keeps of an approval: started, each decision, forced approvals, escalation, expiry."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from engine.approvals import ApprovalRequest, Outcome, RequestStatus, Vote
from engine.events import RecordRejected


class HistoryEvent(StrEnum):
    """The kinds of approval line in the run history (workflow actions are `actions`)."""

    STARTED = "approval_started"
    DECISION = "approval_decision"
    FORCED = "approval_forced"
    ESCALATED = "approval_escalated"
    EXPIRED = "approval_expired"
    CANCELLED = "approval_cancelled"
    PASSED_OVER = "approval_passed_over"
    SEAT_REMOVED = "approval_seat_removed"


class SeatRemoval(StrEnum):
    """Why a seat was taken off a step once Slack said who, or what, it was."""

    REQUESTER = "requester"  # the requester, named by an e-mail
    SAME_PERSON = "same_person"  # a second seat of one person, named by Slack id and by e-mail
    UNREACHABLE = "unreachable"  # Slack refuses to DM them: deactivated, a bot, not in the workspace


# a request closed without a decision: expired by the scheduler, or cancelled because its document changed
CLOSED_EVENTS = {RequestStatus.EXPIRED.value: (HistoryEvent.EXPIRED, "schedule"),
                 RequestStatus.CANCELLED.value: (HistoryEvent.CANCELLED, "updated")}


@dataclass(frozen=True)
class HistoryEntry:
    """One line of an approval's history: what happened, to which request, by and for whom, and why."""

    event: HistoryEvent
    request: ApprovalRequest
    cause: str
    actor: str | None = None
    on_behalf_of: str | None = None
    decision: str | None = None
    reason: str | None = None
    step: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    workflow_id: str | None = None

    @property
    def run_workflow_id(self) -> str:
        """Return the workflow whose history the line belongs to: the request's, or one it was preferred to."""
        return self.workflow_id or self.request.workflow_id

    @property
    def outcome(self) -> str:
        """Return where the request stands after this event."""
        return self.request.status.value

    def actions(self) -> list[dict[str, Any]]:
        """Return the entry as the run's list of actions (one approval action)."""
        result = self.decision or self.event.value.removeprefix("approval_")
        return [{"type": "approval", "result": result, **self.detail}]


def started(request: ApprovalRequest, cause: str, actor: str | None, listed: Sequence[str] = (),
            quorum_asked: int | None = None) -> HistoryEntry:
    """Return the line of an approval that starts: who is asked first, and how many must approve; with `listed`
    (who the workflow names on the step), who was left out (the requester) and who stands in for them; with
    `quorum_asked` (the workflow's `min_approvers`), what it asked for when fewer people could decide."""
    step = request.step()
    detail: dict[str, Any] = {"approvers": list(step.approvers), "min_approvers": step.min_approvers}
    left_out = [p for p in listed if p not in step.approvers]
    if left_out:
        detail |= {"left_out": left_out, "stand_ins": [p for p in step.approvers if p not in listed]}
    if quorum_asked is not None and quorum_asked > step.min_approvers:
        detail["min_approvers_asked"] = quorum_asked
    return HistoryEntry(HistoryEvent.STARTED, request, cause, actor, step=request.current_step, detail=detail)


def passed_over(request: ApprovalRequest, workflow_id: str, governing_name: str, cause: str,
                actor: str | None) -> HistoryEntry:
    """Return the line, in the history of another approval workflow the document matched, that says it follows the
    request's workflow instead (the one with more conditions, or the older)."""
    return HistoryEntry(HistoryEvent.PASSED_OVER, request, cause, actor, workflow_id=workflow_id,
                        detail={"governed_by": request.workflow_id, "governed_by_name": governing_name})


def _new_vote(before: ApprovalRequest, after: ApprovalRequest) -> Vote | None:
    return after.votes[-1] if len(after.votes) > len(before.votes) else None


def _decision(before: ApprovalRequest, after: ApprovalRequest, actor: str | None, forced: str | None,
              reason: str | None) -> HistoryEntry | None:
    vote = _new_vote(before, after)
    if vote is None and forced is None:
        return None
    approver = vote.approver if vote else actor
    who = actor or approver
    detail: dict[str, Any] = {"step_completed": after.current_step != before.current_step or not after.is_open()}
    if forced is not None:
        detail["forced"] = forced
    return HistoryEntry(HistoryEvent.FORCED if forced else HistoryEvent.DECISION, after, "decision", who,
                        approver if approver != who else None, vote.decision.value if vote else "approve",
                        (vote.reason if vote else None) or reason, before.current_step, detail)


def cancelled_or_decided(before: ApprovalRequest, outcome: Outcome, actor: str | None, *, forced: str | None = None,
            reason: str | None = None) -> list[HistoryEntry]:
    """Return the lines of an outcome: the decision taken (forced, with its kind) and an expiry or cancellation."""
    after = outcome.request
    entries = [e for e in [_decision(before, after, actor, forced, reason)] if e is not None]
    for event in outcome.events:
        if isinstance(event, RecordRejected) and event.status in CLOSED_EVENTS:
            kind, cause = CLOSED_EVENTS[event.status]
            entries.append(HistoryEntry(kind, after, cause, actor, reason=event.reason, step=before.current_step))
    return entries


def escalated(request: ApprovalRequest, to: Sequence[str], level: int, waiting_on: Sequence[str]) -> HistoryEntry:
    """Return the line of a step escalated to more people after waiting on some approvers."""
    return HistoryEntry(HistoryEvent.ESCALATED, request, "schedule", step=request.current_step,
                        detail={"to": list(to), "level": level, "waiting_on": list(waiting_on)})


def seat_removed(before: ApprovalRequest, after: ApprovalRequest, seat: str, why: SeatRemoval) -> HistoryEntry:
    """Return the line of a seat taken off the current step: whose, why, who was asked in its place and the quorum
    that holds now."""
    step = after.steps[before.current_step]
    asked = [p for p in step.approvers if p not in before.step().approvers]
    return HistoryEntry(HistoryEvent.SEAT_REMOVED, after, "lookup", step=before.current_step,
                        detail={"seat": seat, "why": why.value, "to": asked, "min_approvers": step.min_approvers})
