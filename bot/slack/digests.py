"""The buttons of a reminder digest: turn its page, or mark a document done (the digest itself: bot.core.digests)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.core.admin import dismiss_reminder
from bot.core.digests import digest_message, parse_page_value
from bot.core.service import Signoff
from bot.slack.payload import action_value, first_action, mapping, small_int, text, user_id

log = logging.getLogger(__name__)

DONE_ACTION = "digest_done"
PAGE_ACTIONS = ("digest_previous", "digest_next")


class DigestListeners:
    """Done and page buttons of reminder digests."""

    def __init__(self, service: Signoff, on_done: Any = None) -> None:
        self.service = service
        self.on_done = on_done

    async def on_done_click(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Dismiss one document's reminder (only the clicker's own), then show the page again."""
        await ack()
        user, value = user_id(body), action_value(body)
        task_id = small_int((value or "").partition("|")[0])
        if user is None or task_id is None:
            return
        await dismiss_reminder(self.service.deps, user, task_id)
        await self.show(body, user, parse_page_value(value))
        if self.on_done is not None:
            await self.on_done([user])

    async def on_page_click(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Show another page of the digest in place."""
        await ack()
        user = user_id(body)
        if user is not None:
            await self.show(body, user, parse_page_value(action_value(body)))

    async def show(self, body: dict[str, Any], user: str, page: tuple[str, int] | None) -> None:
        """Replace the clicked digest message with the page asked for (or with a note that all is done)."""
        container = mapping(mapping(body).get("container"))
        channel, ts = text(container.get("channel_id"), 64), text(container.get("message_ts"), 64)
        if page is None or channel is None or ts is None:
            return
        async with self.service.db.read() as repo:
            message = await digest_message(self.service.renderer, repo, user, page[0], page[1])
        if message is None:
            message = self.service.renderer.json("reminder_digest.json.j2", digest=None)
        try:
            await self.service.slack.update(channel, ts, message)
        except Exception:
            log.exception("could not update the reminder digest %s of %s", first_action(body).get("value"), user)


def register(app: AsyncApp, service: Signoff, on_done: Any = None) -> DigestListeners:
    """Register the digest buttons on the Bolt app."""
    listeners = DigestListeners(service, on_done)
    app.action(DONE_ACTION)(listeners.on_done_click)
    for action_id in PAGE_ACTIONS:
        app.action(action_id)(listeners.on_page_click)
    return listeners
