"""Clicks and real bot processes: an acknowledged vote survives SIGKILL and SIGTERM, and is counted once.

A burst of signed Approve clicks is fired at `python -m bot.cli run`; the process is killed at a seeded
random moment during the burst (or asked to stop with SIGTERM right after it), then started again.
Every click it answered 200 must be a vote in the database, no vote twice, no message posted twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import sqlite3
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from bot.outbox.posts import METADATA_EVENT
from bot.sandbox.app_link.factory import RequestFactory
from bot.sandbox.webapi import WebApiServer, start_webapi
from bot.sandbox.workspace import Workspace
from tests.bot.test_crash import Bot, bot_process
from tests.support.harness import SIGNING_SECRET

TEAMS = 10
PER_TEAM = 4
RECORDS_PER_TEAM = 3
CLICKS = TEAMS * PER_TEAM * RECORDS_PER_TEAM


def approver(team: int, seat: int) -> str:
    """Return the Slack id of one approver of a team."""
    return f"U0T{team:02d}{seat}"


def requester(team: int) -> str:
    """Return the Slack id of a team's requester."""
    return f"U0RQ{team:02d}"


def click_workspace() -> Workspace:
    """A workspace with TEAMS teams: a requester and PER_TEAM approvers each."""
    workspace = Workspace()
    for team in range(TEAMS):
        workspace.add_user(f"req{team}", user_id=requester(team))
        for seat in range(PER_TEAM):
            workspace.add_user(f"ap{team}x{seat}", user_id=approver(team, seat))
    return workspace


async def create_approvals(bot: Bot) -> None:
    """Create a workflow per team needing all its approvers, and RECORDS_PER_TEAM imported invoices each."""
    for team in range(TEAMS):
        workflow = {"name": f"Team {team}", "record_type": "invoice", "trigger": "created",
                    "conditions": [{"field": "department", "op": "eq", "value": f"team-{team}"}],
                    "actions": [{"type": "approval", "steps": [
                        {"approvers": [approver(team, s) for s in range(PER_TEAM)], "min_approvers": PER_TEAM}]}]}
        assert (await bot.api.post("/api/v1/workflows", json=workflow)).status_code == 201
    for team in range(TEAMS):
        for n in range(RECORDS_PER_TEAM):
            record = {"amount": "100.00", "currency": "EUR", "department": f"team-{team}", "source": "import",
                      "created_by": requester(team)}
            saved = await bot.api.put(f"/api/v1/records/invoice/INV-{team:02d}-{n}", json=record)
            assert saved.json()["approval_status"] == "pending", saved.text


def approval_dms(workspace: Workspace) -> list[tuple[str, str, str]]:
    """Return (approver, channel, ts) of every DM with an Approve button."""
    return [(approver(t, s), m.channel, m.ts) for t in range(TEAMS) for s in range(PER_TEAM)
            for m in workspace.dm_messages(approver(t, s)) if "approve" in m.action_ids()]


@dataclass
class Burst:
    """What the clicks of one burst got back."""

    acknowledged: set[tuple[str, str]] = field(default_factory=set)
    refused: int = 0
    unanswered: int = 0


def fire_at(
    urls: list[str], workspace: Workspace, dms: list[tuple[str, str, str]], bursts: list[Burst],
) -> list[asyncio.Task[None]]:
    """Send one signed Approve click per DM at once, to the servers in turn (tallied in `bursts`, one per server);
    return the tasks sending them."""
    factory = RequestFactory(workspace, SIGNING_SECRET)
    clients = [httpx.AsyncClient(base_url=url, timeout=10, limits=httpx.Limits(max_connections=CLICKS))
               for url in urls]

    async def click(index: int, user: str, channel: str, ts: str) -> None:
        body, headers = factory.block_actions(user, channel, ts, "approve")
        burst = bursts[index % len(urls)]
        try:
            reply = await clients[index % len(urls)].post("/slack/events", content=body, headers=headers)
        except httpx.HTTPError:
            burst.unanswered += 1
            return
        if reply.status_code == 200:
            burst.acknowledged.add((user, f"{channel}:{ts}"))
        else:
            burst.refused += 1

    clicks = [asyncio.create_task(click(i, *dm)) for i, dm in enumerate(dms)]
    return [*clicks, asyncio.create_task(_close_after(clients, clicks))]


async def fire(
    url: str, workspace: Workspace, dms: list[tuple[str, str, str]],
) -> tuple[Burst, list[asyncio.Task[None]]]:
    """Send one signed Approve click per DM at once; return the burst's tally and the tasks sending them."""
    burst = Burst()
    return burst, fire_at([url], workspace, dms, [burst])


async def _close_after(clients: list[httpx.AsyncClient], tasks: list[asyncio.Task[None]]) -> None:
    await asyncio.gather(*tasks, return_exceptions=True)
    for client in clients:
        await client.aclose()


def stored_votes(database: Path) -> Counter[tuple[str, str]]:
    """Count the votes stored, by (approver, request)."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)) as conn:
        return Counter((str(a), str(r)) for a, r in conn.execute("SELECT approver, request_id FROM votes"))


def voted_messages(workspace: Workspace, database: Path) -> set[tuple[str, str]]:
    """Return (approver, channel:ts) of the approval DMs whose approver's vote on that request is stored."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=30)) as conn:
        copies = {(str(u), f"{c}:{t}"): str(r) for r, u, c, t in
                  conn.execute("SELECT request_id, user_id, channel, ts FROM slack_messages WHERE user_id IS NOT NULL")}
    votes = stored_votes(database)
    return {key for key, request in copies.items() if votes[(key[0], request)]}


def posted_keys(workspace: Workspace) -> Counter[str]:
    """Count every message the bot posted, by the outbox key its metadata carries."""
    keys: Counter[str] = Counter()
    for call in workspace.calls("chat.postMessage"):
        metadata = call.params.get("metadata") or {}
        if call.status == 200 and isinstance(metadata, dict) and metadata.get("event_type") == METADATA_EVENT:
            keys[metadata["event_payload"]["key"]] += 1
    return keys


def covered_keys(workspace: Workspace) -> Counter[str]:
    """Count what the bot's messages delivered, by outbox key: a message standing for several (a reminder listing
    documents) counts the keys it covers instead of its own."""
    keys: Counter[str] = Counter()
    for call in workspace.calls("chat.postMessage"):
        metadata = call.params.get("metadata") or {}
        if call.status == 200 and isinstance(metadata, dict) and metadata.get("event_type") == METADATA_EVENT:
            keys.update(metadata["event_payload"].get("covers") or [metadata["event_payload"]["key"]])
    return keys


async def until(predicate: object, timeout_s: float) -> bool:
    """Poll `predicate()` until it holds or the deadline passes; tell whether it held."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        await asyncio.sleep(0.1)
    return False


async def prepared(tmp_path: Path, workspace: Workspace, webapi: WebApiServer) -> list[tuple[str, str, str]]:
    """Create the approvals with a first bot process and wait for every approval DM."""
    async with bot_process(tmp_path / "clicks.db", webapi, tmp_path) as bot:
        await create_approvals(bot)
        await until(lambda: len(approval_dms(workspace)) >= CLICKS, 60)
    dms = approval_dms(workspace)
    assert len(dms) == CLICKS
    random.Random(7).shuffle(dms)
    return dms


async def check_after_restart(tmp_path: Path, workspace: Workspace, webapi: WebApiServer, burst: Burst) -> None:
    """Restart the bot; every acknowledged click becomes a vote, none twice, no message posted twice."""
    database = tmp_path / "clicks.db"
    counted_before = len(burst.acknowledged & voted_messages(workspace, database))
    print(f"clicks={CLICKS} acknowledged={len(burst.acknowledged)} refused={burst.refused} "
          f"unanswered={burst.unanswered} counted_before_restart={counted_before}")
    async with bot_process(database, webapi, tmp_path):
        assert await until(lambda: burst.acknowledged <= voted_messages(workspace, database), 30), (
            f"lost {len(burst.acknowledged - voted_messages(workspace, database))} acknowledged votes")
        await asyncio.sleep(0.5)
    votes = stored_votes(database)
    assert set(votes.values()) <= {1}
    assert [key for key, n in posted_keys(workspace).items() if n > 1] == []


@pytest.mark.parametrize("seed", [11, 23, 37])
async def test_votes_acknowledged_before_a_sigkill_are_all_counted_after_restart(tmp_path: Path, seed: int) -> None:
    workspace = click_workspace()
    async with await start_webapi(workspace) as webapi:
        dms = await prepared(tmp_path, workspace, webapi)
        async with bot_process(tmp_path / "clicks.db", webapi, tmp_path) as bot:
            burst, tasks = await fire(str(bot.api.base_url), workspace, dms)
            await asyncio.sleep(random.Random(seed).uniform(0.02, 0.4))
            bot.process.send_signal(signal.SIGKILL)
            await bot.process.wait()
            await asyncio.gather(*tasks)
        assert len(burst.acknowledged) + burst.refused + burst.unanswered == CLICKS
        await check_after_restart(tmp_path, workspace, webapi, burst)


async def test_sigterm_after_a_burst_exits_0_and_loses_no_acknowledged_vote(tmp_path: Path) -> None:
    workspace = click_workspace()
    async with await start_webapi(workspace) as webapi:
        dms = await prepared(tmp_path, workspace, webapi)
        async with bot_process(tmp_path / "clicks.db", webapi, tmp_path) as bot:
            burst, tasks = await fire(str(bot.api.base_url), workspace, dms)
            await asyncio.gather(*tasks)
            bot.process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(bot.process.wait(), timeout=20) == 0
        assert len(burst.acknowledged) == CLICKS
        await check_after_restart(tmp_path, workspace, webapi, burst)


async def test_a_draining_bot_answers_every_click_and_closes_the_connections_it_kept_alive(tmp_path: Path) -> None:
    workspace = click_workspace()
    async with await start_webapi(workspace) as webapi:
        dms = await prepared(tmp_path, workspace, webapi)
        async with bot_process(tmp_path / "clicks.db", webapi, tmp_path, SIGNOFF_DRAIN_S="60") as bot:
            assert (await bot.api.get("/healthz")).headers.get("connection") != "close"
            bot.process.send_signal(signal.SIGTERM)
            while (health := await bot.api.get("/healthz")).status_code == 200:  # on the connection kept alive
                await asyncio.sleep(0.05)
            assert (health.status_code, health.json()) == (503, {"ok": False, "draining": True})
            assert health.headers["connection"] == "close"
            burst, tasks = await fire(str(bot.api.base_url), workspace, dms)
            await asyncio.gather(*tasks)
            assert (len(burst.acknowledged), burst.refused, burst.unanswered) == (CLICKS, 0, 0)
            assert bot.process.returncode is None, "the bot stopped before its drain ended"
            bot.process.send_signal(signal.SIGTERM)  # a second signal cuts the drain short
            assert await asyncio.wait_for(bot.process.wait(), timeout=20) == 0
        await check_after_restart(tmp_path, workspace, webapi, burst)
