"""Slack's Socket Mode, server side: `apps.connections.open` and a WebSocket that pushes envelopes."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from bot.sandbox.errors import AckTimeoutError

APP_TOKEN = "xapp-1-sandbox"
SOCKET_PATH = "/socket-mode"
SOCKET_KEY = web.AppKey("socket_mode", object)


class SocketModeHub:
    """Hands the app a WebSocket URL and delivers envelopes over it, waiting for each ack."""

    def __init__(self, app_token: str = APP_TOKEN) -> None:
        self.app_token = app_token
        self.base_url = ""
        self._sockets: list[web.WebSocketResponse] = []
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._connected = asyncio.Event()

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

    async def wait_connected(self, timeout_s: float = 10.0) -> None:
        """Wait until the app has connected."""
        await asyncio.wait_for(self._connected.wait(), timeout=timeout_s)

    async def send(
        self, kind: str, payload: dict[str, Any], timeout_s: float = 3.0, envelope_id: str | None = None,
    ) -> dict[str, Any] | None:
        """Push one envelope (`interactive`, `slash_commands`, `events_api`); return the ack's payload."""
        if not self._sockets:
            raise AckTimeoutError("no Socket Mode connection is open")
        envelope_id = envelope_id or uuid.uuid4().hex
        waiter: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = waiter
        envelope = {"envelope_id": envelope_id, "type": kind, "payload": payload, "accepts_response_payload": True}
        await self._sockets[-1].send_str(json.dumps(envelope))
        try:
            ack = await asyncio.wait_for(waiter, timeout=timeout_s)
        except TimeoutError:
            raise AckTimeoutError(f"the app did not acknowledge within {timeout_s} s") from None
        finally:
            self._acks.pop(envelope_id, None)
        return ack.get("payload")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": len(self._sockets),
                                      "debug_info": {"host": "sandbox"}, "connection_info": {"app_id": "A0SIGNOFF"}}))
        self._connected.set()
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self._acknowledge(json.loads(message.data))
        finally:
            self._sockets.remove(ws)
        return ws

    def _acknowledge(self, ack: dict[str, Any]) -> None:
        waiter = self._acks.get(str(ack.get("envelope_id")))
        if waiter is not None and not waiter.done():
            waiter.set_result(ack)

    async def close(self) -> None:
        """Close every open connection."""
        for ws in list(self._sockets):
            await ws.close()
