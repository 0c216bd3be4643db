"""Slack posts made by the outbox: each carries its outbox key, and a post that may have been made is found first.

Posts carry Slack message metadata naming their outbox key (and, for one message standing for several, such
as a reminder listing documents, the keys it covers). An item whose earlier attempt may have
reached Slack (the process died, or the call timed out) is looked up in `conversations.history`
before it is posted again, so it is delivered once.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.outbox.lanes import Gate, Pacer
from bot.senders.slack import Posted, SlackOut
from engine.notify import is_slack_user
from storage.models import OutboxItem

log = logging.getLogger(__name__)

HISTORY_PAGES = 10
CLOCK_SKEW_S = 5.0
METADATA_EVENT = "signoff_outbox"
# Without the history scopes (im:history, channels:history, groups:history) a post whose fate is unknown
# cannot be checked: it is posted again rather than never (at least once instead of exactly once).
UNREADABLE_HISTORY = frozenset({"missing_scope", "not_in_channel", "channel_not_found", "not_allowed_token_type"})


def outbox_key(item: OutboxItem) -> str:
    """Return the key a delivered message carries in its metadata."""
    return item.key or f"outbox:{item.id}"


@dataclass(frozen=True)
class Mark:
    """The item being delivered: its key, since when its fate is unknown (if it is), and its lane's pacing."""

    key: str
    uncertain_since: float | None
    lane: str
    pacer: Pacer
    gate: Gate
    covers: tuple[str, ...] = ()


_CURRENT: ContextVar[Mark | None] = ContextVar("signoff_outbox_item", default=None)


@contextlib.contextmanager
def delivering(mark: Mark) -> Iterator[None]:
    """Make the Slack posts of the block this item's: tagged, paced in its lane, looked up when uncertain."""
    token = _CURRENT.set(mark)
    try:
        yield
    finally:
        _CURRENT.reset(token)


class OutboxSlack(SlackOut):
    """Slack for the outbox: posts carry their outbox key, and a post that may have been made is found first."""

    async def post(self, channel: str, message: dict[str, Any]) -> Posted:
        """Post a message; during outbox delivery tag it, and reuse the earlier post of a retried item."""
        mark = _CURRENT.get()
        if mark is None:
            return await super().post(channel, message)
        if mark.uncertain_since is not None:
            found = await self.find_posted(channel, mark.key, mark.uncertain_since)
            if found is not None:
                log.info("outbox %s was already delivered as %s %s", mark.key, found.channel, found.ts)
                return found
        metadata = {"event_type": METADATA_EVENT, "event_payload": _tag(mark)}
        await mark.pacer.acquire(mark.lane)
        try:
            async with mark.gate.slot(mark.pacer.is_fresh(mark.lane)):
                return await super().post(channel, {**message, "metadata": metadata})
        finally:
            mark.pacer.settle(mark.lane)

    async def dm(self, user_id: str, message: dict[str, Any]) -> Posted:
        """DM a user; during outbox delivery post to the user id straight away (no `conversations.open` first)."""
        if _CURRENT.get() is None:
            return await super().dm(user_id, message)
        posted = await self.post(user_id, message)
        self._dm_channels.setdefault(user_id, posted.channel)
        return posted

    async def find_posted(self, channel: str, key: str, since_wall_s: float) -> Posted | None:
        """Return the message posted to a conversation since a moment with this outbox key, if any."""
        if is_slack_user(channel):
            channel = await self.dm_channel(channel)
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            try:
                page = await self.client.conversations_history(
                    channel=channel, oldest=f"{since_wall_s - CLOCK_SKEW_S:.6f}", include_all_metadata=True,
                    limit=200, cursor=cursor,
                )
            except SlackApiError as exc:
                if exc.response.get("error") not in UNREADABLE_HISTORY:
                    raise
                log.warning("cannot read %s to check outbox %s (%s); posting it again", channel, key,
                            exc.response.get("error"))
                return None
            found = _tagged(page.get("messages") or [], channel, key)
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if found is not None or cursor is None:
                return found
        return None


def _tag(mark: Mark) -> dict[str, Any]:
    """Return the metadata payload of a post: its outbox key, and the keys of the items it stands for, if any."""
    return {"key": mark.key, "covers": list(mark.covers)} if mark.covers else {"key": mark.key}


def _tagged(messages: list[dict[str, Any]], channel: str, key: str) -> Posted | None:
    """Return the message of a history page that carries this outbox key, if any."""
    for message in messages:
        metadata = message.get("metadata") or {}
        payload = metadata.get("event_payload") or {}
        if metadata.get("event_type") == METADATA_EVENT and payload.get("key") == key:
            return Posted(channel, str(message["ts"]))
    return None
