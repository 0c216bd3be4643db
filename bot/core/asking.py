"""How approvers and requesters are named to people: their Slack name, or the e-mail they are known by.

Asking approvers (Slack DMs, Home tasks, e-mails with single-use links) is queued by the engine's plan
(`engine.notify`, `bot.core.notices`) and delivered by the outbox (`bot.outbox.asking`).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.senders.slack import SlackOut
from engine.notify import is_slack_user

log = logging.getLogger(__name__)
NOT_IN_SLACK = frozenset({"users_not_found", "user_not_found"})


async def display_name(slack: SlackOut, ref: str | None) -> str:
    """Return how a person is named in an e-mail or on a page: their Slack name, or the e-mail given."""
    if not ref or not is_slack_user(ref):
        return ref or "—"
    try:
        info = await slack.client.users_info(user=ref)
    except Exception:  # a name is a nicety: the page and the e-mail never fail for want of one
        log.info("could not read the name of %s; showing the id", ref, exc_info=True)
        return ref
    user = info.get("user") or {}
    return str(user.get("real_name") or user.get("name") or ref)


async def with_names(slack: SlackOut, card: dict[str, Any]) -> dict[str, Any]:
    """Return a request's card as an e-mail or a page shows it: whoever rejected it before it was resubmitted is
    named (`display_name`), not mentioned."""
    earlier = card.get("earlier_rejection")
    if not earlier:
        return card
    return {**card, "earlier_rejection": {**earlier, "by": await display_name(slack, earlier["by"])}}


async def email_of(slack: SlackOut, user_id: str) -> str | None:
    """Return the e-mail of a Slack user's profile, if Slack shows it (None for a user Slack does not know)."""
    try:
        info = await slack.client.users_info(user=user_id)
    except SlackApiError as exc:
        if (exc.response.get("error") if exc.response else None) not in NOT_IN_SLACK:
            raise
        return None
    email = ((info.get("user") or {}).get("profile") or {}).get("email")
    return str(email) if email else None


async def person_problem(slack: SlackOut, user_id: str) -> str | None:
    """Return why Slack would not let this user id decide: `not_found`, `deactivated` or `bot`; None for a person,
    or when Slack could not say (a lookup that failed is no evidence against them)."""
    try:
        info = await slack.client.users_info(user=user_id)
    except SlackApiError as exc:
        return "not_found" if (exc.response.get("error") if exc.response else None) in NOT_IN_SLACK else None
    except Exception:
        log.info("could not look %s up in Slack", user_id, exc_info=True)
        return None
    user = info.get("user") or {}
    return "deactivated" if user.get("deleted") else "bot" if user.get("is_bot") else None
