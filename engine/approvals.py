"""The approval state machine: steps, quorum, one rejection rejects, an approver counts once."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from engine.errors import NoApproverError, VoteRefusedError
from engine.events import (
    ApprovalRequested,
    Event,
    RecordApproved,
    RecordRejected,
    SeatTakenOff,
    StepApproved,
    VoteRecorded,
)
from engine.limits import clean_text, is_email
from engine.records import Record
from engine.workflows import ApprovalAction, Workflow, WorkflowDefinition

MIN_REASON_CHARS = 3
MAX_REASON_CHARS = 3000


class Decision(StrEnum):
    """What an approver chose."""

    APPROVE = "approve"
    REJECT = "reject"


class RequestStatus(StrEnum):
    """Where an approval request stands."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Vote:
    """One counted decision on one step."""

    step_index: int
    approver: str
    decision: Decision
    at: datetime
    reason: str | None = None
    acted_by: str | None = None


@dataclass(frozen=True)
class Step:
    """A step with its approvers resolved to people."""

    index: int
    approvers: tuple[str, ...]
    min_approvers: int
    name: str | None = None


@dataclass(frozen=True)
class ApprovalRequest:
    """The approval of one record by one workflow."""

    id: str
    record_type: str
    record_id: str
    workflow_id: str
    requester: str | None
    steps: tuple[Step, ...]
    created_at: datetime
    step_started_at: datetime
    current_step: int = 0
    status: RequestStatus = RequestStatus.PENDING
    votes: tuple[Vote, ...] = ()
    decided_at: datetime | None = None
    reason: str | None = None

    def step(self) -> Step:
        """Return the current step."""
        return self.steps[self.current_step]

    def is_open(self) -> bool:
        """Tell whether decisions are still accepted."""
        return self.status is RequestStatus.PENDING

    def approvals_on(self, step_index: int) -> tuple[str, ...]:
        """Return the approvers who approved a step, in order."""
        return tuple(
            v.approver for v in self.votes
            if v.step_index == step_index and v.decision is Decision.APPROVE
        )

    def has_voted(self, approver: str) -> bool:
        """Tell whether this approver already decided on the current step."""
        return any(v.step_index == self.current_step and v.approver == approver for v in self.votes)


@dataclass(frozen=True)
class Outcome:
    """The new state of a request and the events that led to it."""

    request: ApprovalRequest
    events: tuple[Event, ...] = field(default_factory=tuple)
    is_counted: bool = True


def is_same_person(ref: str | None, other: str | None) -> bool:
    """Tell whether two references name the same person: one Slack id, or one e-mail address in any case."""
    if not ref or not other:
        return False
    return ref == other or ("@" in ref and "@" in other and ref.casefold() == other.casefold())


def is_requester(request: ApprovalRequest, actor: str, actor_emails: Iterable[str] = ()) -> bool:
    """Tell whether a person (named by `actor`, or by an e-mail Slack knows them by) requested the document."""
    return any(is_same_person(ref, request.requester) for ref in (actor, *actor_emails))


def resolve_step_approvers(
    refs: list[str], groups: Mapping[str, tuple[str, ...]], requester: str | None
) -> tuple[str, ...]:
    """Expand `group:NAME` references and drop the requester, keeping order and uniqueness."""
    people: list[str] = []
    for ref in refs:
        members = groups.get(ref.removeprefix("group:"), ()) if ref.startswith("group:") else (ref,)
        people.extend(m for m in members if not is_same_person(m, requester) and m not in people)
    return tuple(people)


def listed_on_step(workflow: Workflow, step_index: int, groups: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Return who a workflow names on one of its approval steps, groups expanded (the requester too)."""
    action = workflow.approval()
    if action is None or step_index >= len(action.steps):
        return ()
    return resolve_step_approvers(action.steps[step_index].approvers, groups, None)


def short_step_warnings(
    definition: WorkflowDefinition, groups: Mapping[str, tuple[str, ...]],
) -> list[dict[str, Any]]:
    """Return a warning for each approval step whose people groups, as they are today, name fewer people than its
    `min_approvers`: the escalation targets, then the admins, fill the missing seats (with too few of them too,
    the quorum shrinks to who can decide)."""
    found = []
    for i, action in enumerate(definition.actions):
        for k, step in enumerate(action.steps if isinstance(action, ApprovalAction) else ()):
            people = resolve_step_approvers(step.approvers, groups, None)
            if people and len(people) < step.min_approvers:
                found.append({"path": f"actions[{i}].steps[{k}].min_approvers", "step": k + 1,
                              "quorum": step.min_approvers, "people": len(people),
                              "message": f"step {k + 1} asks for {step.min_approvers} approvals but names "
                                         f"{len(people)} {'person' if len(people) == 1 else 'people'} today: "
                                         "escalate_to, then the admins, fill the missing seats"})
    return found


def plan_approval(
    request_id: str,
    record: Record,
    workflow: Workflow,
    now: datetime,
    groups: Mapping[str, tuple[str, ...]] | None = None,
    fallback: tuple[str, ...] = (),
) -> Outcome:
    """Build the approval request for a record that matched an approval workflow; raise NoApproverError when a
    step would have nobody to decide it (a requester never approves their own record)."""
    action = workflow.approval()
    assert action is not None, "plan_approval needs a workflow with an approval action"
    steps = _resolve_steps(action, record.created_by, groups or {}, fallback)
    empty = next((step for step in steps if not step.approvers), None)
    if empty is not None:
        raise NoApproverError(empty.index, empty.name)
    request = ApprovalRequest(
        id=request_id, record_type=record.type.value, record_id=record.id,
        workflow_id=workflow.id, requester=record.created_by, steps=steps,
        created_at=now, step_started_at=now,
    )
    return Outcome(request, (ApprovalRequested(request.id, 0, steps[0].approvers, now),))


def _resolve_steps(
    action: ApprovalAction, requester: str | None,
    groups: Mapping[str, tuple[str, ...]], fallback: tuple[str, ...],
) -> tuple[Step, ...]:
    steps = []
    fillers = stand_ins(action, requester, groups, fallback)
    for index, spec in enumerate(action.steps):
        people = resolve_step_approvers(spec.approvers, groups, requester)
        if len(people) < spec.min_approvers:  # the requester taken off, a group grown smaller: the quorum holds
            people = (*people, *fillers.joining(people, spec.min_approvers))
        steps.append(Step(index, people, max(1, min(spec.min_approvers, len(people))), spec.name))
    return tuple(steps)


@dataclass(frozen=True)
class StandIns:
    """Who takes the seats a step lacks: its escalation targets first, then the admins (never the requester)."""

    targets: tuple[str, ...]
    admins: tuple[str, ...]

    def joining(self, seats: tuple[str, ...], quorum: int, gone: str | None = None) -> tuple[str, ...]:
        """Return who joins `seats` (without `gone`) so that the step can reach `quorum`: the targets not seated,
        and the admins too while that is not enough."""
        def usable(people: tuple[str, ...]) -> list[str]:
            return [p for p in dict.fromkeys(people) if p not in seats and p != gone]
        added = usable(self.targets)
        if len(seats) + len(added) < quorum:
            added += [p for p in usable(self.admins) if p not in added]
        return tuple(added)


def stand_ins(
    action: ApprovalAction | None, requester: str | None,
    groups: Mapping[str, tuple[str, ...]], fallback: tuple[str, ...],
) -> StandIns:
    """Return the stand-ins of a request's steps: its escalation targets, then `fallback` (the admins)."""
    targets = resolve_step_approvers(list(action.escalate_to), groups, requester) if action is not None else ()
    return StandIns(targets, tuple(p for p in fallback if not is_same_person(p, requester)))


def unseat(request: ApprovalRequest, seat: str, stand_in: StandIns, now: datetime) -> Outcome:
    """Take a seat off the current step: the requester's (Slack gives them its e-mail), a second seat of one
    person, or one Slack cannot reach. A step left short of its quorum gets stand-ins, who are asked; only when
    there are too few does the quorum shrink to the seats there are (the step completes if its votes reach it).
    Uncounted when the seat is not on the open step, or nobody could take it."""
    if not request.is_open() or seat not in request.step().approvers:
        return Outcome(request, (), is_counted=False)
    current = request.step()
    left = tuple(p for p in current.approvers if p != seat)
    short = len(left) < current.min_approvers
    free = StandIns(*(tuple(p for p in people if not decided_other_step(request, p))
                      for people in (stand_in.targets, stand_in.admins)))  # each step another person's
    asked = tuple(p for p in free.joining(left, current.min_approvers, seat)
                  if not is_same_person(p, request.requester)) if short else ()
    if not (left or asked):
        return Outcome(request, (), is_counted=False)
    seats = (*left, *asked)
    step = replace(current, approvers=seats, min_approvers=max(1, min(current.min_approvers, len(seats))))
    changed = replace(request, steps=tuple(step if s.index == step.index else s for s in request.steps))
    taken_off = SeatTakenOff(request.id, step.index, seat, now)
    if len(changed.approvals_on(step.index)) >= step.min_approvers:
        return _step_completed(changed, now, taken_off)
    return Outcome(changed, (taken_off, *([ApprovalRequested(request.id, step.index, asked, now)] if asked else [])))


def second_seat(request: ApprovalRequest, approver: str, slack_user: str | None, email: str | None) -> str | None:
    """Return the e-mail seat of the current step that Slack shows to be the same person as another seat (an
    approver listed by Slack id and by e-mail), or None; `slack_user` and `email` are what Slack says of `approver`."""
    seats = request.step().approvers
    if is_email(approver) and slack_user is not None and slack_user in seats:
        return approver
    return next((s for s in seats if s != approver and is_email(s) and is_same_person(s, email)), None)


def forced_votes(request: ApprovalRequest, step_index: int) -> tuple[Vote, ...]:
    """Return a step's approvals that were forced: confirmed with a reason (an admin completing the step, or an
    approver overriding what the workflow says), in order."""
    return tuple(v for v in request.votes
                 if v.step_index == step_index and v.decision is Decision.APPROVE and v.reason)


def is_eligible(request: ApprovalRequest, actor: str) -> bool:
    """Tell whether a person may decide on the request's current step."""
    return request.is_open() and actor in request.step().approvers and not is_same_person(actor, request.requester)


def decide(
    request: ApprovalRequest,
    approver: str,
    decision: Decision,
    now: datetime,
    reason: str | None = None,
    acted_by: str | None = None,
) -> Outcome:
    """Apply one decision; raise VoteRefusedError when it may not be taken."""
    check_may_decide(request, approver, decision, reason)
    if request.has_voted(approver):
        return Outcome(request, (), is_counted=False)
    vote = Vote(request.current_step, approver, decision, now, reason, acted_by)
    voted = replace(request, votes=(*request.votes, vote))
    recorded = VoteRecorded(request.id, request.current_step, approver, decision.value, now, acted_by)
    if decision is Decision.REJECT:
        return _rejected(voted, approver, reason or "", now, recorded)
    return _after_approval(voted, now, recorded)


def is_waiting_on(request: ApprovalRequest | None, step_index: int, approver: str) -> bool:
    """Tell whether a request's step still waits for this approver (a reminder or an ask of it still applies)."""
    return (request is not None and request.is_open() and request.current_step == step_index
            and approver in request.step().approvers and not request.has_voted(approver))


def stood_in_seat(vote: Vote) -> str | None:
    """Return the seat of the away approver a delegate cast a vote in, or None when the vote is the voter's own: in
    their Slack id's seat, or in an e-mail seat (Slack says it is theirs, or its link was theirs), as delegates only
    ever sit for Slack users."""
    if vote.acted_by is None or vote.acted_by == vote.approver or is_email(vote.approver):
        return None
    return vote.approver


def viewer_vote(request: ApprovalRequest, viewer: str | None) -> Vote | None:
    """Return the vote that settled a viewer's part in the current step of an open request, or None: their own
    seat's, or the one they cast for someone away (a delegate who voted sits for nobody else on the request, and
    one who decides a step never sits for anyone on it), so their copy has nothing left to decide."""
    if viewer is None or not request.is_open():
        return None
    is_seated = viewer in request.step().approvers
    return next((v for v in request.votes if v.step_index == request.current_step
                 and (v.approver == viewer if is_seated else v.acted_by == viewer)), None)


def is_on_step(request: ApprovalRequest | None, step_index: int) -> bool:
    """Tell whether a request is still open on this step (an escalation of it still applies)."""
    return request is not None and request.is_open() and request.current_step == step_index


def valid_reason(typed: str | None) -> str | None:
    """Return a typed reason cleaned, or None when it is too short, too long or holds control characters."""
    reason = clean_text(typed or "", MAX_REASON_CHARS)
    return reason if is_valid_reason(reason) else None


def is_valid_reason(reason: str | None) -> bool:
    """Tell whether a (cleaned) reason of a rejection or a forced approval is long enough to count, invisible
    characters (zero-width spaces, joiners, direction marks) left out."""
    if reason is None:
        return False
    return len("".join(ch for ch in reason if unicodedata.category(ch) != "Cf").strip()) >= MIN_REASON_CHARS


def closed_params(
    request: ApprovalRequest, decision: Decision, reason: str | None, latest: ApprovalRequest | None = None,
) -> dict[str, Any]:
    """Return what a refusal on a closed request says: how it ended, who decided it, the reason the refused
    rejection carried (so that it is not lost), and how the document's `latest` request stands when it went for
    approval again since (`again`)."""
    deciding = Decision.APPROVE if request.status is RequestStatus.APPROVED else Decision.REJECT
    by = [v.acted_by or v.approver for v in request.votes if v.decision is deciding]
    if request.status is RequestStatus.REJECTED:
        by = by[-1:]
    typed = reason if decision is Decision.REJECT and reason else None
    return {"status": request.status.value, "by": list(dict.fromkeys(by)), "reason": typed,
            "again": asked_again(request, latest)}


def asked_again(request: ApprovalRequest, latest: ApprovalRequest | None) -> str | None:
    """Return how the document's `latest` request stands when it is not `request` (it went for approval again
    since), else None."""
    return latest.status.value if latest is not None and latest.id != request.id else None


def check_may_decide(
    request: ApprovalRequest, approver: str, decision: Decision, reason: str | None = None
) -> None:
    """Raise VoteRefusedError when this person may not take this decision now."""
    if not request.is_open():
        raise VoteRefusedError(f"This request is already {request.status.value}.", "request_closed",
                               closed_params(request, decision, reason))
    if is_same_person(approver, request.requester):
        raise VoteRefusedError("You cannot approve a document you requested.", "own_record")
    if approver not in request.step().approvers:
        if any(approver in (v.approver, v.acted_by) for v in request.votes):
            raise VoteRefusedError("Your decision was already counted; the request has moved on.", "already_voted")
        raise VoteRefusedError("You are not an approver of the current step.", "not_an_approver")
    if decision is Decision.REJECT and not is_valid_reason(reason):
        raise VoteRefusedError("A rejection needs a reason.", "reason_required")


def _rejected(
    request: ApprovalRequest, approver: str, reason: str, now: datetime, recorded: Event
) -> Outcome:
    closed = replace(request, status=RequestStatus.REJECTED, decided_at=now, reason=reason)
    return Outcome(closed, (recorded, RecordRejected(request.id, approver, reason, now)))


def _after_approval(request: ApprovalRequest, now: datetime, recorded: Event) -> Outcome:
    step = request.step()
    approvals = request.approvals_on(step.index)
    if len(approvals) < step.min_approvers:
        return Outcome(request, (recorded,))
    done = StepApproved(request.id, step.index, approvals, now)
    if step.index + 1 == len(request.steps):
        closed = replace(request, status=RequestStatus.APPROVED, decided_at=now)
        return Outcome(closed, (recorded, done, RecordApproved(request.id, now)))
    nxt = replace(request, current_step=step.index + 1, step_started_at=now)
    asked = ApprovalRequested(request.id, nxt.current_step, nxt.step().approvers, now)
    return Outcome(nxt, (recorded, done, asked))


def close(request: ApprovalRequest, status: RequestStatus, now: datetime, reason: str) -> Outcome:
    """Close an open request as expired or cancelled."""
    if not request.is_open():
        return Outcome(request, (), is_counted=False)
    closed = replace(request, status=status, decided_at=now, reason=reason)
    return Outcome(closed, (RecordRejected(request.id, None, reason, now, status.value),))


class ForceKind(StrEnum):
    """Why an approval must be forced, and so confirmed first."""

    STALE = "stale"
    OVERRIDE = "override"


def force_kind(request: ApprovalRequest, actor: str, *, is_admin: bool, is_matching: bool) -> ForceKind | None:
    """Tell whether approving the current step now is a forced approval, and why (None: a normal vote)."""
    if not request.is_open() or is_same_person(actor, request.requester):
        return None
    is_approver = actor in request.step().approvers
    if is_admin and not is_approver:
        return ForceKind.OVERRIDE
    return ForceKind.STALE if is_approver and not is_matching else None


def force_approve(
    request: ApprovalRequest, actor: str, now: datetime, reason: str, *,
    is_admin: bool, is_matching: bool, acted_by: str | None = None,
) -> Outcome:
    """Approve despite the workflow once confirmed: an admin completes the step, an approver votes."""
    if force_kind(request, actor, is_admin=is_admin, is_matching=is_matching) is None:
        check_may_decide(request, actor, Decision.APPROVE)
        raise VoteRefusedError("This approval does not need to be forced.", "not_forced")
    if not reason.strip():
        raise VoteRefusedError("A forced approval needs a reason.", "reason_required")
    if not is_admin:
        return decide(request, actor, Decision.APPROVE, now, reason, acted_by)
    vote = Vote(request.current_step, actor, Decision.APPROVE, now, reason, acted_by)
    votes = request.votes if request.has_voted(actor) else (*request.votes, vote)
    recorded = VoteRecorded(request.id, request.current_step, actor, Decision.APPROVE.value, now, acted_by)
    return _step_completed(replace(request, votes=votes), now, recorded)


def _step_completed(request: ApprovalRequest, now: datetime, *recorded: Event) -> Outcome:
    step = request.step()
    done = StepApproved(request.id, step.index, request.approvals_on(step.index), now)
    if step.index + 1 == len(request.steps):
        closed = replace(request, status=RequestStatus.APPROVED, decided_at=now)
        return Outcome(closed, (*recorded, done, RecordApproved(request.id, now)))
    nxt = replace(request, current_step=step.index + 1, step_started_at=now)
    return Outcome(nxt, (*recorded, done, ApprovalRequested(request.id, nxt.current_step, nxt.step().approvers, now)))


def decided_other_step(request: ApprovalRequest, person: str) -> bool:
    """Tell whether a person decided a step of the request other than its current one (for themselves or for
    someone) and is not an approver of this one: escalation and stand-ins never seat them here, so that each step is
    another person's (a workflow that lists one person on two steps keeps them, as written)."""
    return person not in request.step().approvers and any(
        person in (vote.approver, vote.acted_by) for vote in request.votes if vote.step_index != request.current_step)


def escalate(request: ApprovalRequest, to: tuple[str, ...] | list[str]) -> Outcome:
    """Make the escalation targets approvers of the current step too (not the requester, nor who decided another
    step); uncounted when nothing changes."""
    if not request.is_open():
        return Outcome(request, (), is_counted=False)
    current = request.step()
    added = tuple(p for p in dict.fromkeys(to) if p not in current.approvers
                  and not is_same_person(p, request.requester) and not decided_other_step(request, p))
    if not added:
        return Outcome(request, (), is_counted=False)
    steps = tuple(replace(s, approvers=(*s.approvers, *added)) if s.index == current.index else s
                  for s in request.steps)
    return Outcome(replace(request, steps=steps), ())


def is_still_governed(request: ApprovalRequest, governing_workflow_id: str | None) -> bool:
    """Tell whether a record is still governed by the workflow its approval follows (else approving is stale)."""
    return governing_workflow_id is not None and governing_workflow_id == request.workflow_id


def forced_label(kind: ForceKind | None) -> str:
    """Return how the history names a forced approval: its kind, or plainly "forced"."""
    return kind.value if kind is not None else "forced"


class BatchMove(StrEnum):
    """How one task of a batch is approved."""

    VOTE = "vote"
    FORCE = "force"


def batch_move(kind: ForceKind | None, reason: str | None) -> BatchMove:
    """Decide how a batch approves one task: a vote, or a forced approval once confirmed with a reason."""
    if kind is None:
        return BatchMove.VOTE
    if not reason:
        raise VoteRefusedError("A forced approval must be confirmed first.", "needs_confirmation")
    return BatchMove.FORCE

