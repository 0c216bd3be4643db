"""Socket Mode with the inbox: a click is committed before its envelope is acknowledged, replays ignored.

Slack sends an envelope that is not acknowledged again, with a new `envelope_id`, possibly to another
process holding a connection of the same app; the payload is the same. So what the inbox remembers is the
payload's own identity, shared by every process on the database: an event's `event_id`, an interaction's
`trigger_id` (one per click, command or submission). A retry of a request stored before is acknowledged and
goes no further, whichever process stored it; only an envelope without either is known by its envelope_id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.slack.front import EVENT_PREFIX
from bot.slack.inbox import InboxWorker
from bot.slack.payload import json_object
from storage.models import InboxEntry, InboxRow

log = logging.getLogger(__name__)

SOCKET_CLICK = "socket_click"
ENVELOPE_PREFIX = "envelope:"
TRIGGER_PREFIX = "trigger:"
MAX_ID_CHARS = 200
MAX_CONNECTIONS = 10
TOO_MANY = "too_many_websockets"
ANSWER_WAIT_S = 10.0
CONTROL_MAX_CHARS = 2048


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


class PatientSocketModeClient(SocketModeClient):
    """A Socket Mode client that, turned away because the app has all its connections, waits before asking again.

    Slack allows 10 connections per app and disconnects an 11th with `too_many_websockets`; the SDK's client
    would reconnect at once, forever. This one logs why and waits (1 s, doubled each time, at most a minute)
    until a connection is accepted again (`hello`).
    """

    first_wait_s = 1.0
    max_wait_s = 60.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refusals = 0
        self._not_before_s = 0.0
        self._reconnecting = asyncio.Lock()
        self._answered = asyncio.Event()

    async def enqueue_message(self, message: str) -> None:
        """Note a greeting or a refusal as it is read (before the connection's close is), then queue it."""
        kind = _control_type(message)
        if kind is not None:
            self._answered.set()
        if kind == "hello":
            self.refusals = 0
        elif kind == TOO_MANY:
            wait_s = min(self.max_wait_s, self.first_wait_s * 2 ** self.refusals)
            self.refusals += 1
            self._not_before_s = time.monotonic() + wait_s
            log.error("Slack turned this Socket Mode connection away: the app already has its %d connections "
                      "(one per replica); trying again in %g s", MAX_CONNECTIONS, wait_s)
        await super().enqueue_message(message)

    async def connect_to_new_endpoint(self, force: bool = False) -> None:
        """Connect again once the wait after a refusal is over, one task at a time (the listener or the monitor),
        each waiting until Slack has greeted or turned away the connection before it."""
        async with self._reconnecting:
            while (wait_s := self._not_before_s - time.monotonic()) > 0:
                await asyncio.sleep(wait_s)
            if not force and await self.is_connected():
                return
            self._answered.clear()
            await super().connect_to_new_endpoint(force)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._answered.wait(), timeout=ANSWER_WAIT_S)


def _control_type(raw: str) -> str | None:
    """Return "hello" for a greeting, the reason of a disconnect, or None for anything else Slack sends."""
    message = json_object(raw) if len(raw) <= CONTROL_MAX_CHARS else None
    if message is None or message.get("type") not in ("hello", "disconnect"):
        return None
    return "hello" if message["type"] == "hello" else str(message.get("reason", ""))


class InboxSocketModeHandler(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler, acknowledging an envelope only once its work is durable."""

    def __init__(self, app: AsyncApp, app_token: str | None, worker: InboxWorker) -> None:
        # Bolt's constructor, with the patient client (a client made and dropped would leak its HTTP session).
        self.app = app
        self.app_token = app_token or ""
        self.client = PatientSocketModeClient(app_token=self.app_token, logger=app.logger, web_client=app.client)
        self.client.socket_mode_request_listeners.append(self.handle)  # type: ignore[arg-type]
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
