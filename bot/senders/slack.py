"""Sending to Slack through the real AsyncWebClient: DMs, updates, ephemerals, views."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import FormTooLate

log = logging.getLogger(__name__)
# What views.open answers a click whose trigger is more than 3 seconds old (or was never issued).
EXPIRED_TRIGGER = frozenset({"expired_trigger_id", "invalid_trigger_id"})


@dataclass(frozen=True)
class Posted:
    """Where a message landed."""

    channel: str
    ts: str


def make_client(token: str | None, base_url: str, keep_alive: bool = False) -> AsyncWebClient:
    """Build the Web API client; rate limits (429) are the outbox's to honour, per channel.

    With `keep_alive` (inside the event loop) calls share one HTTP session; its owner closes `client.session`.
    """
    return AsyncWebClient(token=token, base_url=base_url, session=aiohttp.ClientSession() if keep_alive else None)


class SlackOut:
    """Thin wrapper over the Web API calls the bot makes."""

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client
        self._dm_channels: dict[str, str] = {}

    async def dm_channel(self, user_id: str) -> str:
        """Return (opening once) the DM channel with a user."""
        if user_id not in self._dm_channels:
            response = await self.client.conversations_open(users=user_id)
            self._dm_channels[user_id] = response["channel"]["id"]
        return self._dm_channels[user_id]

    async def post(self, channel: str, message: dict[str, Any]) -> Posted:
        """Post a rendered `{text, blocks}` message."""
        response = await self.client.chat_postMessage(channel=channel, **message)
        return Posted(response["channel"], response["ts"])

    async def dm(self, user_id: str, message: dict[str, Any]) -> Posted:
        """Send a rendered message to a user's DM."""
        return await self.post(await self.dm_channel(user_id), message)

    async def update(self, channel: str, ts: str, message: dict[str, Any]) -> None:
        """Replace a message's content."""
        await self.client.chat_update(channel=channel, ts=ts, **message)

    async def ephemeral(self, channel: str, user_id: str, text: str) -> None:
        """Show a message only one user can see; fall back to a DM outside channels."""
        try:
            await self.client.chat_postEphemeral(channel=channel, user=user_id, text=text)
        except SlackApiError as exc:
            log.info("ephemeral to %s in %s failed (%s); sending a DM", user_id, channel, exc.response.get("error"))
            await self.dm(user_id, {"text": text})

    async def open_view(self, trigger_id: str, view: dict[str, Any]) -> None:
        """Open a modal; raise FormTooLate when the click's trigger has expired (nothing opens, whatever the tries)."""
        try:
            await self.client.views_open(trigger_id=trigger_id, view=view)
        except SlackApiError as exc:
            if (exc.response.get("error") if exc.response else None) in EXPIRED_TRIGGER:
                raise FormTooLate("the form could not open in time; click again") from exc
            raise

    async def update_view(self, view_id: str, view: dict[str, Any], view_hash: str | None = None) -> None:
        """Redraw an open modal, guarded by its hash; on `hash_conflict` (an earlier redraw won) redraw anyway."""
        # This click's state holds every choice made so far, so its redraw is at least as new as the one that won.
        try:
            await self.client.views_update(view_id=view_id, hash=view_hash, view=view)
        except SlackApiError as exc:
            if view_hash is None or (exc.response.get("error") if exc.response else None) != "hash_conflict":
                raise
            log.info("view %s changed since the click; redrawing it from the newer choices", view_id)
            await self.client.views_update(view_id=view_id, view=view)

    async def publish_home(self, user_id: str, view: dict[str, Any]) -> None:
        """Publish a user's App Home view."""
        await self.client.views_publish(user_id=user_id, view=view)
