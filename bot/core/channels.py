"""Whether Slack would take a post in a channel a workflow names: looked up when the workflow is saved."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from weakref import WeakKeyDictionary

from slack_sdk.errors import SlackApiError

from bot.senders.slack import SlackOut

log = logging.getLogger(__name__)
MAX_CHANNEL_LOOKUPS = 20
MAX_LIST_PAGES = 5
PAGE_SIZE = 1000
LISTING_KEPT_S = 60.0
_LISTINGS: WeakKeyDictionary[SlackOut, tuple[float, dict[str, bool]]] = WeakKeyDictionary()  # when, what


async def channel_problems(slack: SlackOut, channels: Sequence[str]) -> dict[str, str]:
    """Return the channels Slack would refuse a post in: a channel id Slack does not know (`not_found`), an
    archived channel (`archived`), a `#name` no public channel has (`no_public`). A lookup that failed, or a
    listing cut short, is no evidence against a channel."""
    wanted = list(dict.fromkeys(channels))
    found: dict[str, str] = {}
    for channel_id in [c for c in wanted if not c.startswith("#")][:MAX_CHANNEL_LOOKUPS]:
        if (problem := await _id_problem(slack, channel_id)) is not None:
            found[channel_id] = problem
    names = [c for c in wanted if c.startswith("#")]
    listed = await public_channels(slack) if names else None
    for name in names if listed is not None else ():
        is_archived = listed.get(name[1:])
        if is_archived is not False:
            found[name] = "no_public" if is_archived is None else "archived"
    return found


async def _id_problem(slack: SlackOut, channel_id: str) -> str | None:
    try:
        info = await slack.client.conversations_info(channel=channel_id)
    except SlackApiError as exc:
        return "not_found" if (exc.response.get("error") if exc.response else None) == "channel_not_found" else None
    except Exception:
        log.info("could not look channel %s up in Slack", channel_id, exc_info=True)
        return None
    return "archived" if (info.get("channel") or {}).get("is_archived") else None


async def public_channels(slack: SlackOut) -> dict[str, bool] | None:
    """Return every public channel's name and whether it is archived, as Slack listed them within the last
    LISTING_KEPT_S (conversations.list is rate-limited: showing workflows must not spend it); None when Slack
    could not list them all within MAX_LIST_PAGES pages."""
    kept = _LISTINGS.get(slack)
    if kept is not None and time.monotonic() - kept[0] < LISTING_KEPT_S:
        return kept[1]
    listed = await _list_public_channels(slack)
    if listed is not None:
        _LISTINGS[slack] = (time.monotonic(), listed)
    return listed


async def _list_public_channels(slack: SlackOut) -> dict[str, bool] | None:
    listed: dict[str, bool] = {}
    cursor = ""
    for _ in range(MAX_LIST_PAGES):
        try:
            page = await slack.client.conversations_list(types="public_channel", limit=PAGE_SIZE, cursor=cursor or None)
        except Exception:
            log.info("could not list the channels of Slack", exc_info=True)
            return None
        listed |= {str(c.get("name")): bool(c.get("is_archived")) for c in page.get("channels") or []}
        cursor = str((page.get("response_metadata") or {}).get("next_cursor") or "")
        if not cursor:
            return listed
    return None
