"""Socket Mode with the inbox: a click is committed before its envelope is acknowledged, replays ignored.

Slack sends an envelope that is not acknowledged again, with a new `envelope_id`, possibly to another
process holding a connection of the same app; the payload is the same. So what the inbox remembers is the
payload's own identity, shared by every process on the database: an event's `event_id`, an interaction's
`trigger_id` (one per click, command or submission). A retry of a request stored before is acknowledged and
goes no further, whichever process stored it; only an envelope without either is known by its envelope_id.
"""

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
TRIGGER_PREFIX = "trigger:"
MAX_ID_CHARS = 200


def socket_entry(req: SocketModeRequest) -> InboxEntry:
    """Return what the inbox stores of a Socket Mode envelope: a click with its payload, else its identity."""
    payload: Any = req.payload
    identity = _identity(req)
    if req.type == "interactive" and isinstance(payload, dict) and payload.get("type") == "block_actions":
        return InboxEntry(identity, SOCKET_CLICK, json.dumps(payload))
    return InboxEntry(identity, "event" if identity.startswith(EVENT_PREFIX) else "request")


def _identity(req: SocketModeRequest) -> str:
    """Return the identity every delivery of the same request shares: its event_id or trigger_id."""
    payload = req.payload if isinstance(req.payload, dict) else {}
    event_id, trigger_id = payload.get("event_id"), payload.get("trigger_id")
    if req.type == "events_api" and isinstance(event_id, str) and event_id:
        return EVENT_PREFIX + event_id[:MAX_ID_CHARS]
    if req.type != "events_api" and isinstance(trigger_id, str) and trigger_id:
        return TRIGGER_PREFIX + trigger_id[:MAX_ID_CHARS]
    return ENVELOPE_PREFIX + req.envelope_id


class InboxSocketModeHandler(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler, acknowledging an envelope only once its work is durable."""

    def __init__(self, app: AsyncApp, app_token: str | None, worker: InboxWorker) -> None:
        super().__init__(app, app_token)
        self.worker = worker

    async def handle(self, client: Any, req: SocketModeRequest) -> None:
        """Store the envelope; queue a click and acknowledge it, or run anything else to completion."""
        entry = socket_entry(req)
        try:
            row_id = await self.worker.inbox.accept(entry)
        except Exception:
            log.exception("a Socket Mode envelope could not be stored; left unacknowledged for Slack to resend")
            return
        if row_id is not None and entry.body is not None:
            # Queued before the ack: a connection lost while acknowledging must not leave the click idle.
            self.worker.submit(InboxRow(row_id, entry.identity, entry.kind, entry.body, 1, 0.0))
        if row_id is None or entry.body is not None:
            await client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            return
        await super().handle(client, req)
