"""Socket Mode with the inbox: a click is committed before its envelope is acknowledged, replays ignored."""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.slack.front import EVENT_PREFIX
from bot.slack.inbox import InboxWorker
from storage.models import InboxEntry, InboxRow

log = logging.getLogger(__name__)

SOCKET_CLICK = "socket_click"
ENVELOPE_PREFIX = "envelope:"


def socket_entry(req: SocketModeRequest) -> InboxEntry:
    """Return what the inbox stores of a Socket Mode envelope: a click with its payload, else its identity."""
    payload: Any = req.payload
    if req.type == "interactive" and isinstance(payload, dict) and payload.get("type") == "block_actions":
        return InboxEntry(ENVELOPE_PREFIX + req.envelope_id, SOCKET_CLICK, json.dumps(payload))
    event_id = payload.get("event_id") if isinstance(payload, dict) else None
    if req.type == "events_api" and isinstance(event_id, str) and event_id:
        return InboxEntry(EVENT_PREFIX + event_id[:200], "event")
    return InboxEntry(ENVELOPE_PREFIX + req.envelope_id, "request")


class InboxSocketModeHandler(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler, acknowledging an envelope only once its work is durable."""

    def __init__(self, app: AsyncApp, app_token: str | None, worker: InboxWorker) -> None:
        super().__init__(app, app_token)
        self.worker = worker

    async def handle(self, client: Any, req: SocketModeRequest) -> None:
        """Store the envelope; acknowledge and queue a click, or run anything else to completion."""
        entry = socket_entry(req)
        try:
            row_id = await self.worker.inbox.accept(entry)
        except Exception:
            log.exception("a Socket Mode envelope could not be stored; left unacknowledged for Slack to resend")
            return
        if row_id is None or entry.body is not None:
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
        if row_id is None:
            return
        if entry.body is not None:
            self.worker.submit(InboxRow(row_id, entry.identity, entry.kind, entry.body, 1, 0.0))
            return
        await super().handle(client, req)
