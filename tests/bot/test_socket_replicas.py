"""Three `signoff run` replicas in Socket Mode on one database: one killed, or frozen, in a burst of clicks.

The replicas connect to the sandbox's Socket Mode hub with the same app-level token, one connection each. One
Approve click per approval DM goes to the hub, which sends each envelope to the next connection in turn (a
dozen in flight at once, as people click). One replica is killed with SIGKILL at a seeded random moment, while
envelopes sent to it wait for their ack; the hub sends those again to the survivors, as Slack does. Or one is
frozen (SIGSTOP) past the ack timeout, so that what it was sent is resent to the others and stored there, and
then resumed with those envelopes still to read: it acknowledges them as replays and does not run them again.
Either way every envelope acknowledged is exactly one vote in the database, every click is acknowledged in the
end and stored once, and no message is posted twice (counted at the sandbox Slack). On SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.sandbox.app_link.payloads import block_actions_payload
from bot.sandbox.errors import AckTimeoutError
from bot.sandbox.socket_mode import APP_TOKEN, Delivery, SocketModeHub
from bot.sandbox.webapi import WebApiServer, start_webapi
from bot.sandbox.workspace import Workspace
from tests.bot.test_crash import Bot, bot_process
from tests.bot.test_crash_clicks import (
    CLICKS,
    approval_dms,
    click_workspace,
    posted_keys,
    stored_votes,
    until,
    voted_messages,
)
from tests.bot.test_replicas import REPLICAS, counted, create_spread
from tests.support.postgres import fresh_database

IN_FLIGHT = 12


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the replicas keep their state: a SQLite file, or a database of the session's PostgreSQL cluster."""
    if request.param == "sqlite":
        return str(tmp_path / "replicas.db")
    return fresh_database(request.getfixturevalue("pg_cluster"), f"socket_{tmp_path.name.lower()}")


@contextlib.asynccontextmanager
async def socket_replicas(
    database: str,
    webapi: WebApiServer,
    hub: SocketModeHub,
    workdir: Path,
) -> AsyncIterator[list[Bot]]:
    """Run REPLICAS bot processes in Socket Mode, started one after the other: replica i holds connection i."""
    async with contextlib.AsyncExitStack() as stack:
        bots: list[Bot] = []
        for i in range(REPLICAS):
            bots.append(await stack.enter_async_context(bot_process(database, webapi, workdir, app_token=APP_TOKEN)))
            await hub.wait_connected(timeout_s=20, count=i + 1)
        assert hub.connections == list(range(REPLICAS))
        yield bots


def clicked(delivery: Delivery) -> tuple[str, str]:
    """Return (approver, channel:ts) of the DM a click envelope came from."""
    payload = delivery.payload
    return payload["user"]["id"], f"{payload['container']['channel_id']}:{payload['container']['message_ts']}"


async def stream(hub: SocketModeHub, payloads: list[dict[str, Any]]) -> None:
    """Deliver one interactive envelope per payload, IN_FLIGHT at a time (an envelope never acknowledged is let go)."""
    slots = asyncio.Semaphore(IN_FLIGHT)

    async def click(payload: dict[str, Any]) -> None:
        async with slots:
            with contextlib.suppress(AckTimeoutError):
                await hub.deliver("interactive", payload)

    await asyncio.gather(*(click(p) for p in payloads))


def tallies(database: str, workspace: Workspace) -> tuple[Counter[tuple[str, str]], set[tuple[str, str]]]:
    """Return the votes stored by (approver, request), and (approver, channel:ts) of the DMs whose vote is stored."""
    if database.startswith("postgresql://"):
        return counted(database)
    return stored_votes(Path(database)), voted_messages(workspace, Path(database))


def stored_clicks(database: str) -> int:
    """Count the clicks the inbox holds."""
    query = "SELECT count(*) FROM inbox WHERE kind = 'socket_click'"
    if database.startswith("postgresql://"):
        with psycopg.connect(database) as conn:
            return int(conn.execute(query).fetchone()[0])  # type: ignore[index]
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)) as conn:
        return int(conn.execute(query).fetchone()[0])


@contextlib.asynccontextmanager
async def bursting(
    tmp_path: Path,
    database: str,
    hub: SocketModeHub,
    seed: int,
) -> AsyncIterator[tuple[Workspace, list[Bot], asyncio.Task[None]]]:
    """Start the replicas, create the approvals, and start streaming one Approve click per approval DM."""
    workspace = click_workspace()
    async with (
        await start_webapi(workspace, socket_mode=hub) as webapi,
        socket_replicas(database, webapi, hub, tmp_path) as bots,
    ):
        await create_spread(bots)
        assert await until(lambda: len(approval_dms(workspace)) >= CLICKS, 40)
        dms = approval_dms(workspace)
        random.Random(seed).shuffle(dms)
        firing = asyncio.create_task(stream(hub, [block_actions_payload(workspace, *dm, "approve") for dm in dms]))
        try:
            yield workspace, bots, firing
        finally:
            firing.cancel()
            await asyncio.gather(firing, return_exceptions=True)


def acked_on(hub: SocketModeHub, number: int) -> int:
    """Count the envelopes acknowledged over connection `number`."""
    return sum(d.acked_on == number for d in hub.deliveries)


def resent_from(hub: SocketModeHub, number: int, outcome: str) -> list[Delivery]:
    """Return the deliveries with an attempt over connection `number` that ended with `outcome`."""
    return [d for d in hub.deliveries if any(a.connection == number and a.outcome == outcome for a in d.attempts)]


async def counted_once(database: str, workspace: Workspace, hub: SocketModeHub) -> None:
    """Every click was acknowledged and stored once, and each acknowledged click becomes one vote."""
    acknowledged = {clicked(d) for d in hub.deliveries if d.is_acked}
    assert len(hub.deliveries) == CLICKS and len(acknowledged) == CLICKS, "every click was acknowledged in the end"
    assert await until(lambda: acknowledged <= tallies(database, workspace)[1], 30), "an acknowledged vote was lost"
    assert stored_clicks(database) == CLICKS, "a click resent to another replica was stored once"
    votes, _ = tallies(database, workspace)
    assert len(votes) == CLICKS and set(votes.values()) == {1}


@pytest.mark.parametrize("seed", [41, 59])
async def test_a_socket_mode_replica_killed_mid_burst_has_its_envelopes_resent_and_counted_once(
    tmp_path: Path,
    database: str,
    seed: int,
) -> None:
    draw = random.Random(seed)
    victim, after_acks = draw.randrange(REPLICAS), draw.randint(3, 20)
    hub = SocketModeHub()
    async with bursting(tmp_path, database, hub, seed) as (workspace, bots, firing):
        await hub.wait_for(lambda: acked_on(hub, victim) >= after_acks and hub.in_flight(victim) >= 2, timeout_s=30)
        bots[victim].process.send_signal(signal.SIGKILL)
        await bots[victim].process.wait()
        await firing
        resent = resent_from(hub, victim, "closed")
        print(
            f"victim={victim} killed after {after_acks} acks: acknowledged={acked_on(hub, victim)} resent={len(resent)}"
        )
        assert resent, "envelopes the killed replica had not acknowledged were sent again"
        assert all(d.acked_on not in (None, victim) for d in resent), "each was acknowledged by a survivor"
        await counted_once(database, workspace, hub)
    assert [key for key, n in posted_keys(workspace).items() if n > 1] == []


async def test_a_socket_mode_replica_frozen_past_the_ack_timeout_does_not_run_the_resent_clicks_again(
    tmp_path: Path,
    database: str,
) -> None:
    draw = random.Random(83)
    frozen, after_acks = draw.randrange(REPLICAS), draw.randint(3, 20)
    hub = SocketModeHub(ack_timeout_s=1.5)
    async with bursting(tmp_path, database, hub, 83) as (workspace, bots, firing):
        await hub.wait_for(lambda: acked_on(hub, frozen) >= after_acks, timeout_s=30)
        bots[frozen].process.send_signal(signal.SIGSTOP)
        try:
            await hub.wait_for(lambda: len(resent_from(hub, frozen, "timeout")) >= 4, timeout_s=30)
        finally:
            bots[frozen].process.send_signal(signal.SIGCONT)
        await firing
        resent = resent_from(hub, frozen, "timeout")
        print(f"frozen={frozen} after {after_acks} acks: resent={len(resent)}")
        assert all(d.is_acked for d in resent), "what the frozen replica held was acknowledged by another"
        await counted_once(database, workspace, hub)
        # Another replica may reconnect when a loaded machine delays a heartbeat; the frozen one keeps its own.
        assert frozen in hub.connections, "the replica woke up on the connection it had"
        await hub.wait_for(lambda: len(hub.connections) == REPLICAS, timeout_s=20)
    assert [key for key, n in posted_keys(workspace).items() if n > 1] == []
