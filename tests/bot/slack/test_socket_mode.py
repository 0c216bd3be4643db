"""Socket Mode: with SLACK_APP_TOKEN set, Slack's requests arrive over a WebSocket instead of HTTP.

The sandbox's hub behaves as Slack does with several connections: envelopes in turn over the open
connections, at most 10 of them, and an envelope not acknowledged (or whose connection closed) sent again
to another connection, with a new envelope_id and the same payload.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest

from bot.runtime import Runtime, build_runtime
from bot.sandbox.app_link.events import slash_command_fields
from bot.sandbox.app_link.payloads import block_actions_payload
from bot.sandbox.errors import AckTimeoutError
from bot.sandbox.socket_mode import APP_TOKEN, MAX_CONNECTIONS, SOCKET_PATH, SocketModeHub
from bot.sandbox.state.model import Message
from bot.sandbox.webapi import start_webapi
from bot.sandbox.workspace import Workspace
from bot.slack.socket_mode import PatientSocketModeClient
from tests.bot.core.test_approval_flow import INVOICE, WORKFLOW
from tests.support.harness import API_TOKEN, make_workspace, settings_for


@contextlib.asynccontextmanager
async def asked_over_socket_mode(
    tmp_path: Path, hub: SocketModeHub, record_id: str,
) -> AsyncIterator[tuple[Workspace, Runtime, httpx.AsyncClient, Message]]:
    """Run Signoff in Socket Mode on `hub`, submit one invoice; yield once its approver has the DM."""
    workspace = make_workspace()
    webapi = await start_webapi(workspace, socket_mode=hub)
    settings = settings_for(tmp_path / "s.db", webapi.url, slack_app_token=APP_TOKEN, slack_signing_secret=None)
    runtime = await build_runtime(settings)
    await runtime.serve()
    try:
        await hub.wait_connected()
        async with httpx.AsyncClient(base_url=runtime.url, headers={"Authorization": f"Bearer {API_TOKEN}"}) as api:
            assert (await api.post("/api/v1/workflows", json=WORKFLOW)).status_code == 201
            await api.put(f"/api/v1/records/invoice/{record_id}", json=INVOICE)
            await api.post(f"/api/v1/records/invoice/{record_id}/submit")
            dm = (await workspace.wait_for(lambda: workspace.dm_messages("U01AAA")))[0]
            yield workspace, runtime, api, dm
    finally:
        await runtime.close()
        await hub.close()
        await webapi.close()


async def test_approval_click_and_command_over_socket_mode(tmp_path: Path) -> None:
    hub = SocketModeHub()
    async with asked_over_socket_mode(tmp_path, hub, "INV-S") as (workspace, runtime, api, dm):
        click = block_actions_payload(workspace, "U01AAA", dm.channel, dm.ts, "approve")
        await hub.send("interactive", click, envelope_id="env-click-1")
        async with runtime.db.read() as repo:
            assert (await repo.inbox_counts()).get("queued", 0) + (await repo.inbox_counts()).get("done", 0) == 1
        await workspace.wait_for(lambda: workspace.message(dm.channel, dm.ts).edited)
        await hub.send("interactive", click, envelope_id="env-click-1")
        await hub.send("interactive", click, envelope_id="env-click-1-resent")
        body = (await api.get("/api/v1/records/invoice/INV-S")).json()
        assert [v["approver"] for v in body["approval"]["votes"]] == ["U01AAA"]
        async with runtime.db.read() as repo:
            assert await repo.inbox_counts() == {"done": 1}
        assert not workspace.ephemerals("U01AAA"), "the redelivered envelopes were not run again"
        ack = await hub.send("slash_commands", slash_command_fields(workspace, "U0OUT", "/signoff", "help"))
        assert ack is not None and "/signoff" in str(ack)


async def test_a_click_whose_store_fails_is_left_unacknowledged_and_counted_once_when_resent(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hub = SocketModeHub(ack_timeout_s=1.0)
    async with asked_over_socket_mode(tmp_path, hub, "INV-F") as (workspace, runtime, api, dm):
        inbox, accept = runtime.inbox.inbox, runtime.inbox.inbox.accept
        failures = [OSError("the database is unreachable")]

        async def failing_once(entry: Any) -> int | None:
            if failures:
                raise failures.pop()
            return await accept(entry)

        monkeypatch.setattr(inbox, "accept", failing_once)
        click = block_actions_payload(workspace, "U01AAA", dm.channel, dm.ts, "approve")
        delivery = await hub.deliver("interactive", click)
        assert [a.outcome for a in delivery.attempts] == ["timeout", "acked"]
        await workspace.wait_for(lambda: workspace.message(dm.channel, dm.ts).edited)
        body = (await api.get("/api/v1/records/invoice/INV-F")).json()
        assert [v["approver"] for v in body["approval"]["votes"]] == ["U01AAA"]


async def test_wrong_app_token_is_refused(tmp_path: Path) -> None:
    hub = SocketModeHub()
    assert hub.open_connection("xapp-wrong") == (200, {"ok": False, "error": "invalid_auth"})
    assert hub.open_connection(None)[1]["error"] == "not_authed"


@dataclass
class Peer:
    """An app's end of one Socket Mode connection: records what it receives, acknowledges it or not."""

    ws: aiohttp.ClientWebSocketResponse
    acks: bool = True
    closes_on_envelope: bool = False
    received: list[dict[str, Any]] = field(default_factory=list, init=False)

    async def run(self) -> None:
        """Read until the connection closes, acknowledging envelopes if it does."""
        async for message in self.ws:
            body = json.loads(message.data)
            self.received.append(body)
            if "envelope_id" not in body:
                continue
            if self.closes_on_envelope:
                await self.ws.close()
            elif self.acks:
                await self.ws.send_str(json.dumps({"envelope_id": body["envelope_id"]}))

    def envelopes(self) -> list[dict[str, Any]]:
        """Return the envelopes received (not hello or disconnect)."""
        return [m for m in self.received if "envelope_id" in m]


@contextlib.asynccontextmanager
async def hub_and_peers(*peers: dict[str, bool], **hub_options: Any) -> AsyncIterator[tuple[SocketModeHub, list[Peer]]]:
    """A hub on a sandbox Web API and one connected peer per options given, in that order."""
    hub = SocketModeHub(**hub_options)
    async with await start_webapi(Workspace(), socket_mode=hub), aiohttp.ClientSession() as session:
        url = hub.open_connection(APP_TOKEN)[1]["url"]
        connected: list[Peer] = []
        tasks: list[asyncio.Task[None]] = []
        for options in peers:
            connected.append(Peer(await session.ws_connect(url), **options))
            tasks.append(asyncio.create_task(connected[-1].run()))
            await hub.wait_connected(count=len(connected))
        try:
            yield hub, connected
        finally:
            await hub.close()
            await asyncio.gather(*tasks, return_exceptions=True)


async def test_envelopes_go_to_the_open_connections_in_turn() -> None:
    async with hub_and_peers({}, {}, {}) as (hub, peers):
        deliveries = [await hub.deliver("events_api", {"event_id": f"Ev{i}"}) for i in range(6)]
        assert [d.acked_on for d in deliveries] == [0, 1, 2, 0, 1, 2]
        assert [len(p.envelopes()) for p in peers] == [2, 2, 2]
        first = peers[0].envelopes()[0]
        assert (first["retry_attempt"], first["retry_reason"], first["accepts_response_payload"]) == (0, "", False)
        assert [p.received[0]["num_connections"] for p in peers] == [1, 2, 3]


async def test_an_eleventh_connection_is_turned_away_with_too_many_websockets() -> None:
    async with hub_and_peers(*({} for _ in range(MAX_CONNECTIONS))) as (hub, _):
        async with aiohttp.ClientSession() as session:
            extra = Peer(await session.ws_connect(hub.open_connection(APP_TOKEN)[1]["url"]))
            await asyncio.wait_for(extra.run(), timeout=5)
        assert extra.received == [
            {"type": "disconnect", "reason": "too_many_websockets", "debug_info": {"host": "sandbox"}}
        ]
        assert len(hub.connections) == MAX_CONNECTIONS and hub.refused == 1
        assert (await hub.deliver("events_api", {"event_id": "Ev1"})).is_acked


async def test_an_envelope_not_acknowledged_in_time_is_sent_again_to_another_connection() -> None:
    async with hub_and_peers({"acks": False}, {}, ack_timeout_s=0.2) as (hub, (silent, acking)):
        click = {"type": "block_actions", "trigger_id": "1.2.abc"}
        delivery = await hub.deliver("interactive", click)
        assert [(a.connection, a.outcome) for a in delivery.attempts] == [(0, "timeout"), (1, "acked")]
        first, retry = silent.envelopes()[0], acking.envelopes()[0]
        assert "retry_attempt" not in first and first["accepts_response_payload"] is True
        assert (retry["retry_attempt"], retry["retry_reason"]) == (1, "timeout")
        assert retry["payload"] == first["payload"] == click
        assert retry["envelope_id"] != first["envelope_id"] == delivery.attempts[0].envelope_id


async def test_a_closed_connections_unacknowledged_envelope_goes_to_the_others_at_once() -> None:
    async with hub_and_peers({"closes_on_envelope": True}, {}, ack_timeout_s=30.0) as (hub, (_, acking)):
        delivery = await asyncio.wait_for(hub.deliver("events_api", {"event_id": "Ev1"}), timeout=5)
        assert [(a.connection, a.outcome) for a in delivery.attempts] == [(0, "closed"), (1, "acked")]
        assert acking.envelopes()[0]["payload"] == {"event_id": "Ev1"}
        assert hub.connections == [1]


async def test_an_envelope_nobody_acknowledges_fails_after_the_last_attempt() -> None:
    async with hub_and_peers({"acks": False}, ack_timeout_s=0.05, max_attempts=3) as (hub, (silent,)):
        delivering = asyncio.create_task(hub.deliver("events_api", {"event_id": "Ev1"}))
        await hub.wait_for(lambda: bool(hub.deliveries) and len(hub.deliveries[0].attempts) == 2, timeout_s=5)
        with pytest.raises(AckTimeoutError):
            await delivering
        assert [m["retry_attempt"] for m in silent.envelopes()] == [0, 1, 2]
        assert [a.outcome for a in hub.deliveries[0].attempts] == ["timeout"] * 3
    with pytest.raises(AckTimeoutError, match="no Socket Mode connection"):
        await hub.deliver("events_api", {"event_id": "Ev2"})


async def test_an_envelope_to_a_connection_that_reads_nothing_times_out_while_still_being_sent() -> None:
    hub = SocketModeHub(ack_timeout_s=0.3, max_attempts=2)
    async with await start_webapi(Workspace(), socket_mode=hub) as webapi:
        with socket.socket() as frozen:  # a process stopped after its handshake: nothing is ever read again
            frozen.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            frozen.connect((webapi.host, webapi.port))
            frozen.sendall(
                f"GET {SOCKET_PATH} HTTP/1.1\r\nHost: {webapi.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
            )
            await hub.wait_connected()
            bulky = {"event_id": "Ev1", "blocks": "x" * 8_000_000}
            with pytest.raises(AckTimeoutError):
                await asyncio.wait_for(hub.deliver("events_api", bulky), timeout=5)
            assert [a.outcome for a in hub.deliveries[0].attempts] == ["timeout", "timeout"]
        await hub.wait_for(lambda: not hub.connections)


async def test_a_replica_turned_away_for_want_of_connections_waits_longer_each_time_then_connects(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(PatientSocketModeClient, "first_wait_s", 0.2)
    hub = SocketModeHub()
    async with await start_webapi(make_workspace(), socket_mode=hub) as webapi, aiohttp.ClientSession() as session:
        url = hub.open_connection(APP_TOKEN)[1]["url"]
        peers = [Peer(await session.ws_connect(url)) for _ in range(MAX_CONNECTIONS)]
        reading = [asyncio.create_task(peer.run()) for peer in peers]
        await hub.wait_connected(count=MAX_CONNECTIONS)
        settings = settings_for(tmp_path / "s.db", webapi.url, slack_app_token=APP_TOKEN, slack_signing_secret=None)
        runtime = await build_runtime(settings)
        try:
            started_s = time.monotonic()
            await runtime.serve()
            await hub.wait_for(lambda: hub.refused >= 3)
            assert time.monotonic() - started_s >= 0.2 + 0.4
            waits = [r.getMessage() for r in caplog.records if "Socket Mode connection away" in r.getMessage()]
            assert [w.rsplit(" ", 2)[-2] for w in waits[:3]] == ["0.2", "0.4", "0.8"]
            await peers[0].ws.close()
            client = runtime.socket_mode.client
            await hub.wait_for(lambda: len(hub.connections) == MAX_CONNECTIONS and client.refusals == 0)
            assert (await hub.deliver("events_api", {"event_id": "Ev1"})).is_acked
        finally:
            await runtime.close()
            await hub.close()
            await asyncio.gather(*reading, return_exceptions=True)
