"""Slack's Socket Mode, server side: `apps.connections.open` and the WebSockets that carry envelopes.

What the hub copies of Slack (its "Using Socket Mode" guide, and the envelopes and messages apps log):

- An app holds up to 10 connections at once. Slack refuses an 11th on the WebSocket itself, with a
  `disconnect` message whose reason is `too_many_websockets` (apps.connections.open still answers ok);
  the hub sends that message and closes the socket.
- With several connections open, each envelope is sent to one of them: the hub takes them in turn.
- An envelope is acknowledged with its `envelope_id` within 3 seconds. One that is not, or whose connection
  closes first, is sent again, to a connection it has not been to when one is open: with a new
  `envelope_id`, the same payload (an event keeps its `event_id`, an interaction its `trigger_id`), and
  `retry_attempt` / `retry_reason` ("timeout") as on Slack's retried events; at most 4 attempts (the first
  and Slack's 3 retries), then the sender gets AckTimeoutError. Slack spaces its later retries by minutes;
  the hub retries at once, and at once too when the connection closes, without waiting out the 3 seconds.
  An acknowledgement is taken on whichever connection it arrives; one arriving after its attempt timed out
  is ignored (the retry is what counts).
- Slack documents these retries for Events API envelopes. Whether it retries an interaction (a click, a
  command, a modal submission) over Socket Mode is not documented (over HTTP it shows the person an error
  instead); the hub retries every kind, the stricter case for the app, which must not count a click twice
  when its retry lands on another process.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from bot.sandbox.errors import AckTimeoutError

APP_TOKEN = "xapp-1-sandbox"
SOCKET_PATH = "/socket-mode"
SOCKET_KEY = web.AppKey("socket_mode", object)
MAX_CONNECTIONS = 10
ACK_TIMEOUT_S = 3.0
MAX_ATTEMPTS = 4
RETRY_REASON = "timeout"


@dataclass
class Connection:
    """One open WebSocket of the app, numbered in the order they opened."""

    number: int
    ws: web.WebSocketResponse
    sent: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Attempt:
    """One sending of an envelope: its id, the connection it went to, and how it ended (acked, timeout, closed)."""

    envelope_id: str
    connection: int
    outcome: str


@dataclass
class Delivery:
    """An envelope Slack has to deliver, every attempt at it, and the acknowledgement that ended it."""

    kind: str
    payload: dict[str, Any]
    attempts: list[Attempt] = field(default_factory=list)
    ack: dict[str, Any] | None = None

    @property
    def is_acked(self) -> bool:
        """Tell whether an attempt was acknowledged."""
        return self.ack is not None

    @property
    def ack_payload(self) -> dict[str, Any] | None:
        """Return the payload the acknowledgement carried (a reply, modal errors), or None."""
        return self.ack.get("payload") if self.ack is not None else None

    @property
    def acked_on(self) -> int | None:
        """Return the number of the connection whose attempt was acknowledged, or None."""
        return next((a.connection for a in self.attempts if a.outcome == "acked"), None)


class SocketModeHub:
    """Hands the app WebSocket URLs and delivers each envelope over one connection, retrying until acknowledged."""

    def __init__(
        self,
        app_token: str = APP_TOKEN,
        *,
        ack_timeout_s: float = ACK_TIMEOUT_S,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.app_token = app_token
        self.base_url = ""
        self.ack_timeout_s = ack_timeout_s
        self.max_attempts = max_attempts
        self.deliveries: list[Delivery] = []
        self.refused = 0
        self._open: list[Connection] = []
        self._waiting: dict[str, asyncio.Future[dict[str, Any] | None]] = {}
        self._numbers = itertools.count()
        self._turn = itertools.count()
        self._changed = asyncio.Event()
        self._writes: set[asyncio.Task[None]] = set()

    def install(self, app: web.Application) -> None:
        """Add the WebSocket route to the sandbox's aiohttp application."""
        app[SOCKET_KEY] = self
        app.router.add_get(SOCKET_PATH, self._socket)

    def open_connection(self, token: str | None) -> tuple[int, dict[str, Any]]:
        """Answer `apps.connections.open`: only the app-level token may ask."""
        if token != self.app_token:
            return 200, {"ok": False, "error": "invalid_auth" if token else "not_authed"}
        ws_url = self.base_url.replace("http://", "ws://").rstrip("/") + SOCKET_PATH
        return 200, {"ok": True, "url": ws_url}

    @property
    def connections(self) -> list[int]:
        """Return the numbers of the open connections."""
        return [c.number for c in self._open]

    def in_flight(self, number: int) -> int:
        """Return how many envelopes sent over connection `number` still wait for their ack."""
        return sum(len(c.sent) for c in self._open if c.number == number)

    async def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 10.0) -> None:
        """Wait until `predicate()` holds, checking it whenever a connection opens or closes or an attempt ends."""
        async with asyncio.timeout(timeout_s):
            while not predicate():
                await self._changed.wait()

    async def wait_connected(self, timeout_s: float = 10.0, count: int = 1) -> None:
        """Wait until `count` connections are open."""
        await self.wait_for(lambda: len(self._open) >= count, timeout_s)

    async def send(
        self,
        kind: str,
        payload: dict[str, Any],
        timeout_s: float | None = None,
        envelope_id: str | None = None,
    ) -> dict[str, Any] | None:
        """Deliver one envelope (`interactive`, `slash_commands`, `events_api`); return the ack's payload."""
        return (await self.deliver(kind, payload, timeout_s=timeout_s, envelope_id=envelope_id)).ack_payload

    async def deliver(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        timeout_s: float | None = None,
        envelope_id: str | None = None,
    ) -> Delivery:
        """Deliver one envelope, sending it again until an attempt is acknowledged; return the delivery."""
        delivery = Delivery(kind, payload)
        self.deliveries.append(delivery)
        for attempt in range(self.max_attempts):
            connection = self._pick(delivery)
            if connection is None:
                raise AckTimeoutError("no Socket Mode connection is open")
            eid = envelope_id if attempt == 0 and envelope_id else uuid.uuid4().hex
            await self._attempt(delivery, connection, eid, timeout_s or self.ack_timeout_s)
            if delivery.is_acked:
                return delivery
        raise AckTimeoutError(f"the app acknowledged none of {self.max_attempts} attempts")

    def _pick(self, delivery: Delivery) -> Connection | None:
        """Return the next open connection in turn, preferring those this envelope has not been sent to."""
        tried = {a.connection for a in delivery.attempts}
        fresh = [c for c in self._open if c.number not in tried] or self._open
        return fresh[next(self._turn) % len(fresh)] if fresh else None

    async def _attempt(self, delivery: Delivery, connection: Connection, envelope_id: str, timeout_s: float) -> None:
        waiter: asyncio.Future[dict[str, Any] | None] = asyncio.get_running_loop().create_future()
        self._waiting[envelope_id] = waiter
        connection.sent.add(envelope_id)
        try:
            envelope = _envelope(delivery.kind, delivery.payload, envelope_id, len(delivery.attempts))
            async with asyncio.timeout(timeout_s):  # a peer that reads nothing fills the socket: sending waits too
                await asyncio.shield(self._write(connection, envelope))
                delivery.ack = await waiter
        except TimeoutError:
            delivery.attempts.append(Attempt(envelope_id, connection.number, "timeout"))
        except ConnectionError:
            delivery.attempts.append(Attempt(envelope_id, connection.number, "closed"))
        else:
            outcome = "closed" if delivery.ack is None else "acked"
            delivery.attempts.append(Attempt(envelope_id, connection.number, outcome))
        finally:
            self._waiting.pop(envelope_id, None)
            connection.sent.discard(envelope_id)
            self._notify()

    def _write(self, connection: Connection, envelope: dict[str, Any]) -> asyncio.Task[None]:
        """Start writing an envelope; an attempt that gives up leaves the writing to finish, or fail, on its own."""
        writing = asyncio.ensure_future(connection.ws.send_str(json.dumps(envelope)))
        self._writes.add(writing)
        writing.add_done_callback(self._written)
        return writing

    def _written(self, writing: asyncio.Task[None]) -> None:
        self._writes.discard(writing)
        if not writing.cancelled():
            writing.exception()  # a write cut by a closed connection: its attempt, if still there, saw it

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        if len(self._open) >= MAX_CONNECTIONS:
            await self._refuse(ws)
            return ws
        await ws.send_str(json.dumps(_hello(len(self._open) + 1)))
        connection = Connection(next(self._numbers), ws)
        self._open.append(connection)
        self._notify()
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._acknowledge(message.data)
        finally:
            self._close(connection)
        return ws

    async def _refuse(self, ws: web.WebSocketResponse) -> None:
        """Turn away a connection beyond the tenth, as Slack does."""
        self.refused += 1
        disconnect = {"type": "disconnect", "reason": "too_many_websockets", "debug_info": {"host": "sandbox"}}
        await ws.send_str(json.dumps(disconnect))
        await ws.close()
        self._notify()

    def _acknowledge(self, text: str) -> None:
        """Settle the envelope an acknowledgement names, on whichever connection it arrives."""
        try:
            ack = json.loads(text)
        except ValueError:
            return
        waiter = self._waiting.get(str(ack.get("envelope_id"))) if isinstance(ack, dict) else None
        if waiter is not None and not waiter.done():
            waiter.set_result(ack)

    def _close(self, connection: Connection) -> None:
        """Forget a closed connection; what it had not acknowledged is sent again elsewhere."""
        self._open.remove(connection)
        for envelope_id in connection.sent:
            waiter = self._waiting.get(envelope_id)
            if waiter is not None and not waiter.done():
                waiter.set_result(None)
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def close(self) -> None:
        """Close every open connection."""
        for connection in list(self._open):
            await connection.ws.close()


def _envelope(kind: str, payload: dict[str, Any], envelope_id: str, retries: int) -> dict[str, Any]:
    """Return the envelope of one attempt; events carry retry_attempt always, other kinds once retried."""
    envelope = {
        "envelope_id": envelope_id,
        "type": kind,
        "payload": payload,
        "accepts_response_payload": kind != "events_api",
    }
    if kind == "events_api" or retries:
        envelope.update(retry_attempt=retries, retry_reason=RETRY_REASON if retries else "")
    return envelope


def _hello(num_connections: int) -> dict[str, Any]:
    return {
        "type": "hello",
        "num_connections": num_connections,
        "debug_info": {"host": "sandbox"},
        "connection_info": {"app_id": "A0SIGNOFF"},
    }
