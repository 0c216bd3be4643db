"""Delegation while away: who may act for whom at `now`, and whose seat a click takes."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from engine.approvals import ApprovalRequest, is_eligible, is_requester, is_same_person
from engine.dates import local_date, require_aware, resolve_wall_time
from engine.errors import VoteRefusedError
from engine.limits import SLACK_ID

MAX_AWAY_DAYS = 366


class DelegationProblem(StrEnum):
    """Why an away request cannot be accepted."""

    BAD_DELEGATE = "bad_delegate"
    SELF = "self"
    BAD_UNTIL = "bad_until"
    IN_PAST = "in_past"
    TOO_LONG = "too_long"
    DELEGATE_AWAY = "delegate_away"


@dataclass(frozen=True)
class Delegation:
    """A principal's approvals handed to a delegate from `starts_at` until `ends_at`."""

    principal: str
    delegate: str
    starts_at: datetime
    ends_at: datetime
    ended_at: datetime | None = None

    def end(self) -> datetime:
        """Return when the delegation stops: at `ends_at`, or earlier when ended by hand."""
        return self.ends_at if self.ended_at is None else min(self.ends_at, self.ended_at)

    def is_active(self, now: datetime) -> bool:
        """Tell whether the delegate may act for the principal at `now`."""
        return self.starts_at <= require_aware(now, "now") < self.end()


def parse_until(text: str, tz: ZoneInfo) -> datetime | None:
    """Read UNTIL: a date (back that day, from 00:00) or an ISO date-time, in the company zone."""
    text = text.strip()
    try:
        if len(text) == 10:
            return resolve_wall_time(datetime.combine(date.fromisoformat(text), time(0, 0)), tz)
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else resolve_wall_time(moment, tz)


def example_return_day(now: datetime, tz: ZoneInfo) -> date:
    """Return the day a usage example names as UNTIL: a week from today, company time (never a past date)."""
    return local_date(now, tz) + timedelta(days=7)


def delegation_problem(
    principal: str, delegate: str, until: datetime | None, now: datetime, *, is_delegate_away: bool = False,
) -> DelegationProblem | None:
    """Return what is wrong with `principal away, delegate acts until UNTIL`, or None (a delegate who is away
    would act for nobody: delegations do not chain)."""
    if not SLACK_ID.match(delegate):
        return DelegationProblem.BAD_DELEGATE
    if delegate == principal:
        return DelegationProblem.SELF
    if until is None:
        return DelegationProblem.BAD_UNTIL
    if until <= now:
        return DelegationProblem.IN_PAST
    if until - now > timedelta(days=MAX_AWAY_DAYS):
        return DelegationProblem.TOO_LONG
    if is_delegate_away:
        return DelegationProblem.DELEGATE_AWAY
    return None


def plan_delegation(principal: str, delegate: str, until: datetime, now: datetime) -> Delegation:
    """Build the delegation that starts now; raise ValueError when `delegation_problem` objects."""
    problem = delegation_problem(principal, delegate, until, now)
    if problem is not None:
        raise ValueError(f"cannot delegate: {problem.value}")
    return Delegation(principal, delegate, now, until)


def principals_of(delegations: Iterable[Delegation], delegate: str, now: datetime) -> tuple[str, ...]:
    """Return whom a person may act for at `now`, in the order the delegations started."""
    found = [d for d in delegations if d.delegate == delegate and d.is_active(now)]
    found.sort(key=lambda d: d.starts_at)
    return tuple(dict.fromkeys(d.principal for d in found))


def _may_sit_for(request: ApprovalRequest, actor: str, principal: str) -> bool:
    """Tell whether a delegate may take a principal's seat on the current step."""
    return not is_on_request(request, actor) and is_eligible(request, principal)


def is_on_request(request: ApprovalRequest, person: str) -> bool:
    """Tell whether a person decides on some step of a request, or decided on one (for themselves or for someone):
    they never also sit for someone away, so that one person never decides two steps of one approval."""
    return (any(person in step.approvers for step in request.steps)
            or any(person in (vote.approver, vote.acted_by) for vote in request.votes))


def is_on_request_as(request: ApprovalRequest, names: Iterable[str]) -> bool:
    """Tell whether a person, under any of their names (Slack id, the e-mails Slack shows), decides or decided on
    some step of a request."""
    return any(is_on_request(request, name) for name in names)


def is_seatless(request: ApprovalRequest, reader: str, emails: Iterable[str] = ()) -> bool:
    """Tell whether the reader of a copy of the open request's current step no longer decides there under their Slack
    id or an e-mail Slack says is theirs (`emails`), nor decided there: its seat was taken off, and a click on it
    would be refused (a delegate's copy is told apart before: see `stood_in_for`)."""
    if not request.is_open():
        return False
    names = {reader, *emails}
    step = request.step()
    return names.isdisjoint(step.approvers) and not any(
        v.step_index == step.index and not names.isdisjoint((v.approver, v.acted_by)) for v in request.votes)


def seat_for(request: ApprovalRequest, actor: str, principals: Iterable[str]) -> str | None:
    """Return whose undecided seat a person would take on the current step, or None."""
    if not request.is_open() or is_same_person(actor, request.requester):
        return None
    if is_eligible(request, actor):
        return None if request.has_voted(actor) else actor
    return next(
        (p for p in principals if _may_sit_for(request, actor, p) and not request.has_voted(p)), None
    )


def acting_for(
    request: ApprovalRequest, actor: str, principals: Iterable[str], on_behalf_of: str | None = None,
    actor_emails: Iterable[str] = (),
) -> str:
    """Return whose vote a click counts as: the actor's own, or an away principal's seat (never the requester's,
    whether named by their Slack id or by an e-mail Slack knows them by)."""
    principals = tuple(principals)
    if is_requester(request, actor, actor_emails) and request.is_open():
        raise VoteRefusedError("You cannot approve a document you requested.", "own_record")
    if on_behalf_of and on_behalf_of != actor:
        if on_behalf_of not in principals:
            raise VoteRefusedError("You no longer act for this person.", "not_a_delegate")
        names = (actor, *(e for e in actor_emails if e != on_behalf_of))  # the actor under each of their names
        if request.is_open() and any(name in request.step().approvers for name in names):
            raise VoteRefusedError("You decide on this step yourself, not for someone else.", "double_seat")
        if request.is_open() and is_on_request_as(request, names):
            raise VoteRefusedError("You decide on another step of this request, not for someone else.", "other_step")
        return on_behalf_of
    if is_eligible(request, actor):
        return actor
    seated = seat_for(request, actor, principals)
    if seated is not None:
        return seated
    return next((p for p in principals if _may_sit_for(request, actor, p)), actor)


def left_with_principal(requests: Iterable[ApprovalRequest], principal: str, delegate: str) -> int:
    """Return how many of the approvals waiting on a principal their delegate may not take (the delegate decides
    another step of them, decided one, or requested them): they stay with the principal."""
    return sum(1 for r in requests if r.is_open() and principal in r.step().approvers and not r.has_voted(principal)
               and (is_on_request(r, delegate) or is_same_person(delegate, r.requester)))


def acted_by_steps(request: ApprovalRequest) -> dict[int, dict[str, str]]:
    """Return, per step, who cast each vote for an away approver: {step: {approver: delegate}}."""
    found: dict[int, dict[str, str]] = {}
    for vote in request.votes:
        if vote.acted_by and vote.acted_by != vote.approver:
            found.setdefault(vote.step_index, {})[vote.approver] = vote.acted_by
    return found


@dataclass(frozen=True)
class Recipient:
    """Who is told about an approver's pending decision, and for whom when they stand in for someone away."""

    person: str
    on_behalf_of: str | None = None
    until: datetime | None = None

    def seat(self) -> str:
        """Return whose seat the recipient's buttons take: the away approver's, or their own."""
        return self.on_behalf_of or self.person


def recipient_for(
    approver: str, delegations: Iterable[Delegation], now: datetime, cannot_sit: Collection[str] = ()
) -> Recipient:
    """Return who gets an approver's reminders, escalations and Home tasks at `now`.

    While the approver is away it is their latest active delegate, for them (delegations do not chain);
    it stays the approver when that delegate may not take their seat (`cannot_sit`: the people who decide
    on a step of the request or decided on one, and the requester) and once the delegation has ended.
    """
    active = [d for d in delegations if d.principal == approver and d.is_active(now)]
    if not active:
        return Recipient(approver)
    latest = max(active, key=lambda d: d.starts_at)
    if latest.delegate == approver or latest.delegate in cannot_sit:
        return Recipient(approver)
    return Recipient(latest.delegate, approver, latest.end())


def recipients_on_step(
    request: ApprovalRequest, approvers: Iterable[str], delegations: Iterable[Delegation], now: datetime
) -> dict[str, Recipient]:
    """Return, for each of these approvers of the request's current step, who is told at `now`."""
    delegations = tuple(delegations)
    people = {*(p for step in request.steps for p in step.approvers),
              *(v.acted_by or v.approver for v in request.votes)}
    cannot_sit = {*people, *([request.requester] if request.requester else [])}
    return {a: recipient_for(a, delegations, now, cannot_sit) for a in dict.fromkeys(approvers)}


class CopyStanding(StrEnum):
    """Where the copy of a delegate who stood in for an approver of the current step stands."""

    ACTING = "acting"
    DECIDED = "decided"
    BACK = "back"


@dataclass(frozen=True)
class StoodIn:
    """A reader of a request's copy who stood in for an away approver of its current step, and where that stands."""

    recipient: Recipient
    standing: CopyStanding


def stood_in_for(
    request: ApprovalRequest, readers: Iterable[str], latest: Iterable[Delegation], now: datetime,
    emails: Mapping[str, Iterable[str]] | None = None,
) -> dict[str, StoodIn]:
    """Return, of these readers of a request's copies, each one delegated by an approver of its current step (in
    that approver's `latest` delegation), and whether they still decide in that seat, or it is no longer theirs:
    the approver decided, or is back. The first such approver counts, as for their ask. A reader the request lists
    under an e-mail Slack says is theirs (`emails`) sits in that seat only: nobody holds two."""
    if not request.is_open():
        return {}
    wanted, by_principal = set(readers), {d.principal: d for d in latest}
    found: dict[str, StoodIn] = {}
    for approver in request.step().approvers:
        delegation = by_principal.get(approver)
        if delegation is None or delegation.delegate not in wanted or delegation.delegate in found:
            continue
        if is_on_request(request, delegation.delegate) or is_same_person(delegation.delegate, request.requester):
            continue
        if is_on_request_as(request, (emails or {}).get(delegation.delegate, ())) or now < delegation.starts_at:
            continue
        standing = (CopyStanding.BACK if not delegation.is_active(now) else
                    CopyStanding.DECIDED if request.has_voted(approver) else CopyStanding.ACTING)
        found[delegation.delegate] = StoodIn(Recipient(delegation.delegate, approver, delegation.end()), standing)
    return found
