"""Who is asked how when an approval step starts: a Slack DM, an App Home task, an e-mail with approval links."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from engine.dates import require_aware
from engine.workflows import EMAIL, SLACK_ID

IDENTITY_TTL = timedelta(days=7)
NO_IDENTITY_TTL = timedelta(days=1)
MAX_LINK_LIFE = timedelta(days=30)
LINK_DECISIONS = ("approve", "reject")


def is_email(ref: str) -> bool:
    """Tell whether an approver is named by an e-mail address."""
    return bool(EMAIL.match(ref))


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


def needs_lookup(approver: str, notify: Iterable[str]) -> bool:
    """Tell whether asking an approver needs Slack first: to find the user of an e-mail, or the e-mail of a user."""
    return is_email(approver) or (is_slack_user(approver) and "email" in notify)


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


def plan_nudge(reach: Reach) -> Ask | None:
    """Decide how a reminder or an escalation reaches an approver: a DM to their Slack user, else fresh e-mail links."""
    if reach.slack_user is not None:
        return Ask(reach.approver, dm_to=reach.slack_user)
    return Ask(reach.approver, email_to=reach.email) if reach.email else None


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
