"""Who is told what about an approval: asks (Slack DM, App Home task, e-mail links), refreshes, outcomes, copies."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from engine.approvals import ApprovalRequest, Outcome, RequestStatus
from engine.dates import require_aware
from engine.delegation import Delegation, Recipient, recipients_on_step
from engine.events import ApprovalRequested, RecordApproved, RecordRejected
from engine.lifecycle import RESTARTS
from engine.limits import SLACK_ID, is_email
from engine.workflows import DEFAULT_NOTIFY, Workflow

IDENTITY_TTL = timedelta(days=7)
NO_IDENTITY_TTL = timedelta(days=1)
MAX_LINK_LIFE = timedelta(days=30)
LINK_DECISIONS = ("approve", "reject")


def is_slack_user(ref: str | None) -> bool:
    """Tell whether an approver is named by a Slack user id."""
    return bool(ref) and bool(SLACK_ID.match(str(ref)))


@dataclass(frozen=True)
class Reach:
    """How an approver of a step can be reached: their Slack user and their e-mail, when known."""

    approver: str
    slack_user: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Ask:
    """How one approver is asked: a DM to a Slack user, an e-mail with approval links, a task on their Home."""

    approver: str
    dm_to: str | None = None
    email_to: str | None = None
    home: bool = False


def needs_lookup(approver: str, notify: Iterable[str], requester: str | None = None) -> bool:
    """Tell whether asking an approver needs Slack first: to find the user of an e-mail, or the e-mail of a user
    (to e-mail them, or to tell whether they are the requester named by an e-mail)."""
    wants_email = "email" in notify or (requester is not None and is_email(requester))
    return is_email(approver) or (is_slack_user(approver) and wants_email)


def reach_without_lookup(approver: str) -> Reach:
    """Return what an approver's own name tells of how to reach them."""
    if is_slack_user(approver):
        return Reach(approver, slack_user=approver)
    return Reach(approver, email=approver if is_email(approver) else None)


def plan_ask(reach: Reach, notify: Iterable[str], requester: str | None) -> Ask | None:
    """Decide how to ask one approver, as configured; None when they cannot or must not be asked.

    Someone without Slack is always e-mailed (links are their only way to decide); a Slack user gets what
    `notify` lists, and a DM when nothing listed can reach them.
    """
    wanted = set(notify)
    user = reach.slack_user
    if user is not None and user == requester:
        return None
    if user is None:
        return Ask(reach.approver, email_to=reach.email) if reach.email else None
    dm = "dm" in wanted
    email_to = reach.email if "email" in wanted else None
    home = "home" in wanted
    if not (dm or email_to or home):
        dm = True
    return Ask(reach.approver, dm_to=user if dm else None, email_to=email_to, home=home)


def plan_nudge(reach: Reach, notify: Iterable[str] = DEFAULT_NOTIFY) -> Ask | None:
    """Decide how a reminder or an escalation reaches an approver, as their ask did: e-mail with fresh links when
    `notify` lists email (always without Slack), a DM to their Slack user when it lists dm or no e-mail reaches them."""
    if reach.slack_user is None:
        return Ask(reach.approver, email_to=reach.email) if reach.email else None
    email_to = reach.email if "email" in notify else None
    is_dm = "dm" in notify or email_to is None
    return Ask(reach.approver, dm_to=reach.slack_user if is_dm else None, email_to=email_to)


def identity_expiry(user_id: str | None, now: datetime) -> datetime:
    """Return until when Slack's answer about an e-mail is kept (a user for a week, nobody for a day)."""
    return require_aware(now, "now") + (IDENTITY_TTL if user_id else NO_IDENTITY_TTL)


def link_expiry(request_created_at: datetime, expire_after_s: float, now: datetime) -> datetime:
    """Return when an approval link sent now expires: with its request, and within 30 days."""
    ends = require_aware(request_created_at, "request_created_at") + timedelta(seconds=expire_after_s)
    return min(ends, require_aware(now, "now") + MAX_LINK_LIFE)


class LinkProblem(StrEnum):
    """Why an approval link cannot be used."""

    NOT_FOUND = "not_found"
    USED = "used"
    EXPIRED = "expired"


def link_problem(used_at: datetime | None, expires_at: datetime, now: datetime) -> LinkProblem | None:
    """Tell why a link found by its token cannot be used at `now`, or None when it can."""
    if used_at is not None:
        return LinkProblem.USED
    return LinkProblem.EXPIRED if require_aware(now, "now") >= expires_at else None


class NoticeKind(StrEnum):
    """What one queued message is: each kind is delivered by its own outbox handler."""

    REFRESH = "refresh"
    ASK = "ask"
    LOOKUP = "approver_lookup"
    LOOKUP_DIGEST = "approver_lookup_digest"
    APPROVAL_EMAIL = "approval_email"
    APPROVAL_EMAIL_DIGEST = "approval_email_digest"
    CLOSED_EMAIL = "approval_closed_email"
    OUTCOME = "outcome"
    CHANNEL_COPY = "channel_copy"
    REMIND = "remind"
    REMIND_DIGEST = "remind_digest"
    ESCALATE = "escalate"
    ESCALATE_DIGEST = "escalate_digest"


@dataclass(frozen=True)
class Notice:
    """One message to queue: its kind, to whom, what it carries, and its idempotency key (coalesced: none needed)."""

    kind: str
    target: str
    payload: dict[str, Any] = field(default_factory=dict)
    key: str | None = None
    is_coalesced: bool = False


def refresh_notice(request_id: str) -> Notice:
    """Return the (coalesced) refresh of every copy of a request's message."""
    return Notice(NoticeKind.REFRESH, request_id, {"request_id": request_id}, is_coalesced=True)


def redrawn_for(request_id: str, slack_user: str | None, readers: Collection[str]) -> list[Notice]:
    """Return the refresh a lookup calls for when it finds an e-mail seat to be a Slack user who already reads a
    copy of the step (one sent to them as the delegate of someone away): it becomes a copy of their own seat."""
    return [refresh_notice(request_id)] if slack_user is not None and slack_user in readers else []


def notify_options(workflow: Workflow | None) -> list[str]:
    """Return how a workflow asks its approvers (`notify`), the default when it is gone or has no approval."""
    action = workflow.approval() if workflow else None
    return list(action.notify if action else DEFAULT_NOTIFY)


def ask_notices(ask: Ask | None, request_id: str, step_index: int) -> list[Notice]:
    """Return what one ask needs: the DM with the buttons, the e-mail with the links (a Home task needs nothing)."""
    if ask is None:
        return []
    payload = {"request_id": request_id, "step_index": step_index}
    notices = []
    if ask.dm_to:
        notices.append(Notice(NoticeKind.ASK, ask.dm_to, {**payload, "approver": ask.approver},
                              f"ask:{request_id}:{step_index}:{ask.dm_to}"))
    if ask.email_to:
        notices.append(Notice(NoticeKind.APPROVAL_EMAIL, ask.email_to, {**payload, "approver": ask.approver},
                              f"mail:{request_id}:{step_index}:{ask.approver}"))
    return notices


@dataclass(frozen=True)
class EmailedSeat:
    """A seat of a request's step that was e-mailed links (to `email`) it has not used."""

    step_index: int
    approver: str
    email: str


def is_told_settled(request: ApprovalRequest, seat: EmailedSeat) -> bool:
    """Tell whether an e-mailed seat is told that its step was settled without its vote (its links then decide
    nothing); not when the request was cancelled to be asked again at once: the new ask says enough."""
    if request.status is RequestStatus.CANCELLED and request.reason in RESTARTS:
        return False
    is_settled = not request.is_open() or request.current_step > seat.step_index
    return is_settled and not any(v.step_index == seat.step_index and v.approver == seat.approver
                                  for v in request.votes)


def closed_email_notice(request_id: str, seat: EmailedSeat) -> Notice:
    """Return the e-mail telling a seat that its step was settled without it, once per seat and address."""
    payload = {"request_id": request_id, "step_index": seat.step_index, "approver": seat.approver}
    return Notice(NoticeKind.CLOSED_EMAIL, seat.email, payload,
                  f"mail-closed:{request_id}:{seat.step_index}:{seat.approver}:{seat.email}")


def lookup_notice(request_id: str, step_index: int, approver: str) -> Notice:
    """Return the lookup that finds how to reach an approver before they are asked."""
    payload = {"request_id": request_id, "step_index": step_index, "approver": approver}
    return Notice(NoticeKind.LOOKUP, approver, payload, f"lookup:{request_id}:{step_index}:{approver}")


def step_asks(event: ApprovalRequested, notify: Iterable[str], requester: str | None) -> list[Notice]:
    """Return the asks of a step that starts: at once when an approver's name says enough, else after a lookup."""
    notify = list(notify)
    notices: list[Notice] = []
    for approver in event.approvers:
        if needs_lookup(approver, notify, requester):
            notices.append(lookup_notice(event.request_id, event.step_index, approver))
        else:
            ask = plan_ask(reach_without_lookup(approver), notify, requester)
            notices += ask_notices(ask, event.request_id, event.step_index)
    return notices


def behalf_of(recipient: Recipient) -> dict[str, Any]:
    """Return what a queued message keeps of whom its recipient stands in for (nothing for the approver)."""
    if recipient.on_behalf_of is None or recipient.until is None:
        return {}
    return {"on_behalf_of": recipient.on_behalf_of, "until": recipient.until.isoformat()}


def stand_in_asks(
    event: ApprovalRequested, request: ApprovalRequest, delegations: Sequence[Delegation]
) -> list[Notice]:
    """Return the DMs asking, as a step starts, the delegates of its Slack approvers who are away: each with the
    buttons that decide in the away approver's seat (one per delegate; the approver is asked too). None when the
    requester is named by an e-mail: only a lookup tells whether an approver is them, and nobody decides for them."""
    away = [a for a in event.approvers if is_slack_user(a) and a != request.requester]
    if not delegations or not away or is_email(request.requester or ""):
        return []
    routes = recipients_on_step(request, away, delegations, event.at)
    stand_ins: dict[str, Recipient] = {}
    for recipient in routes.values():
        if recipient.on_behalf_of is not None:
            stand_ins.setdefault(recipient.person, recipient)
    return [Notice(NoticeKind.ASK, person, {"request_id": event.request_id, "step_index": event.step_index,
                                            "approver": r.seat(), **behalf_of(r)},
                   f"ask:{event.request_id}:{event.step_index}:{person}:for:{r.seat()}")
            for person, r in stand_ins.items()]


def needs_workflow(outcome: Outcome) -> bool:
    """Tell whether the notices of an outcome depend on its workflow (a step starts: how to ask, a channel copy)."""
    return any(isinstance(event, ApprovalRequested) for event in outcome.events)


def asked_slack_users(outcome: Outcome) -> set[str]:
    """Return the Slack users asked by the steps an outcome starts (whose delegations decide who else is asked)."""
    return {a for event in outcome.events if isinstance(event, ApprovalRequested) for a in event.approvers
            if is_slack_user(a)}


def channel_copy(event: ApprovalRequested, workflow: Workflow | None) -> Notice | None:
    """Return the channel copy of a request when its first step starts and the approval action names a channel."""
    action = workflow.approval() if workflow else None
    if action is None or not action.channel or event.step_index != 0:
        return None
    payload = {"request_id": event.request_id, "step_index": event.step_index}
    return Notice(NoticeKind.CHANNEL_COPY, action.channel, payload, f"copy:{event.request_id}")


def outcome_notice(outcome: Outcome, request_id: str) -> Notice | None:
    """Return the DM of an approval's outcome to its requester, when the requester is a Slack user."""
    requester = outcome.request.requester
    if not is_slack_user(requester):
        return None
    return Notice(NoticeKind.OUTCOME, requester or "", {"request_id": request_id}, f"outcome:{request_id}")


def notices_of(outcome: Outcome, workflow: Workflow | None, delegations: Sequence[Delegation] = ()) -> list[Notice]:
    """Return every message an outcome calls for, in order: the refresh, each step's asks (to the delegates of its
    approvers who are away too: `delegations`, those of its Slack approvers) and copy, the outcome."""
    notices = [refresh_notice(outcome.request.id)] if outcome.events else []
    for event in outcome.events:
        if isinstance(event, ApprovalRequested):
            notices += step_asks(event, notify_options(workflow), outcome.request.requester)
            notices += stand_in_asks(event, outcome.request, delegations)
            notices += [n for n in (channel_copy(event, workflow),) if n is not None]
        if isinstance(event, RecordApproved | RecordRejected):
            notices += [n for n in (outcome_notice(outcome, event.request_id),) if n is not None]
    return notices


def nudge_lookup(approver: str, nudge: Mapping[str, Any], key: str) -> Notice:
    """Return the lookup that reminds an approver named by e-mail, or tells them of an escalation (`nudge`)."""
    payload = {"request_id": nudge["request_id"], "step_index": nudge["step_index"], "approver": approver,
               "nudge": dict(nudge)}
    return Notice(NoticeKind.LOOKUP, approver, payload, key)


def nudge_notices(ask: Ask | None, nudge: Mapping[str, Any], key: str) -> list[Notice]:
    """Return a reminder or an escalation as planned: the Slack DM of its kind (unless the nudge says it was queued
    without waiting for the lookup), or the e-mail with fresh links."""
    if ask is None:
        return []
    notices = []
    if ask.dm_to and not nudge.get("is_dm_queued"):
        payload = {k: v for k, v in nudge.items() if k not in ("kind", "is_dm_queued")}
        notices.append(Notice(nudge["kind"], ask.dm_to, {**payload, "approver": ask.approver}, f"{key}:dm"))
    if ask.email_to:
        payload = {"request_id": nudge["request_id"], "step_index": nudge["step_index"], "approver": ask.approver,
                   "nudge": dict(nudge)}
        notices.append(Notice(NoticeKind.APPROVAL_EMAIL, ask.email_to, payload, f"{key}:mail"))
    return notices
