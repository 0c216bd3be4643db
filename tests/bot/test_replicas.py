"""Three `signoff run` replicas on one PostgreSQL database: work spread across them, one killed or restarted.

Documents are created through all three; every approval DM is posted once. Signed Approve clicks are sent to
the three in turn, and one replica is killed at a seeded random moment of the burst. The two survivors take
over what it had accepted: every click any replica answered 200 is counted as exactly one vote, and no
message is posted twice (counted at the sandbox Slack). Then Slack answers 429 beyond one post every two
seconds per conversation while the replicas post hundreds of asks, and one replica is restarted in the middle:
every ask is posted exactly once. Last, a sweep makes hundreds of reminders and escalations due at once and the
replica holding deliveries is killed halfway through: the survivors leave its leased messages alone until the
clock passes their lease, then deliver them, each message once (counted at the sandbox Slack).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest

from bot.runtime import build_runtime
from bot.sandbox.webapi import WebApiServer, start_webapi
from tests.bot.test_crash import (
    APPROVERS,
    REMIND_AT,
    REQUESTS,
    Bot,
    bot_process,
    crash_workspace,
    pending_approvals,
    store_pending,
)
from tests.bot.test_crash_clicks import (
    CLICKS,
    PER_TEAM,
    RECORDS_PER_TEAM,
    TEAMS,
    Burst,
    approval_dms,
    approver,
    click_workspace,
    covered_keys,
    fire_at,
    posted_keys,
    requester,
    until,
)
from tests.support.harness import settings_for
from tests.support.postgres import fresh_database

REPLICAS = 3
MANAGERS = [f"U0MG{i:02d}" for i in range(20)]
ESCALATING = 60


@contextlib.asynccontextmanager
async def replicas(database: str, webapi: WebApiServer, workdir: Path) -> AsyncIterator[list[Bot]]:
    """Run REPLICAS bot processes on one database."""
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(bot_process(database, webapi, workdir)) for _ in range(REPLICAS)]


async def create_spread(bots: list[Bot], per_team: int = RECORDS_PER_TEAM) -> None:
    """Create a workflow per team, then `per_team` invoices each, each through the next replica in turn."""
    turn = 0
    for team in range(TEAMS):
        workflow = {"name": f"Team {team}", "record_type": "invoice", "trigger": "created",
                    "conditions": [{"field": "department", "op": "eq", "value": f"team-{team}"}],
                    "actions": [{"type": "approval", "steps": [
                        {"approvers": [approver(team, s) for s in range(PER_TEAM)], "min_approvers": PER_TEAM}]}]}
        assert (await bots[team % REPLICAS].api.post("/api/v1/workflows", json=workflow)).status_code == 201
    for team in range(TEAMS):
        for n in range(per_team):
            record = {"amount": "100.00", "currency": "EUR", "department": f"team-{team}", "source": "import",
                      "created_by": requester(team)}
            saved = await bots[turn % REPLICAS].api.put(f"/api/v1/records/invoice/INV-{team:02d}-{n}", json=record)
            assert saved.json()["approval_status"] == "pending", saved.text
            turn += 1


async def acknowledged_by(burst: Burst, then_s: float, timeout_s: float = 30.0) -> bool:
    """Wait (polling every millisecond) until a replica acknowledged a click, then `then_s` more; tell if it did."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not burst.acknowledged and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.001)
    await asyncio.sleep(then_s)
    return bool(burst.acknowledged)


def counted(database: str) -> tuple[Counter[tuple[str, str]], set[tuple[str, str]]]:
    """Return the votes stored by (approver, request), and (approver, channel:ts) of the DMs whose vote is stored."""
    with psycopg.connect(database) as conn:
        votes = Counter((str(a), str(r)) for a, r in conn.execute("SELECT approver, request_id FROM votes"))
        copies = conn.execute("SELECT request_id, user_id, channel, ts FROM slack_messages WHERE user_id IS NOT NULL")
        voted = {(str(u), f"{c}:{t}") for r, u, c, t in copies if votes[(str(u), str(r))]}
    return votes, voted


@pytest.mark.parametrize("seed", [5, 17, 29])
async def test_a_replica_killed_mid_burst_loses_no_vote_and_posts_nothing_twice(
    tmp_path: Path, pg_cluster: str, seed: int,
) -> None:
    database = fresh_database(pg_cluster, f"replicas_{seed}_{tmp_path.name.lower()}")
    workspace = click_workspace()
    async with await start_webapi(workspace) as webapi, replicas(database, webapi, tmp_path) as bots:
        await create_spread(bots)
        assert await until(lambda: len(approval_dms(workspace)) >= CLICKS, 60)
        dms = approval_dms(workspace)
        random.Random(seed).shuffle(dms)
        bursts = [Burst() for _ in bots]
        firing = asyncio.gather(*fire_at([str(b.api.base_url) for b in bots], workspace, dms, bursts))
        assert await acknowledged_by(bursts[-1], random.Random(seed).uniform(0.0, 0.05))
        bots[-1].process.send_signal(signal.SIGKILL)
        await firing
        acknowledged = set().union(*(b.acknowledged for b in bursts))
        assert sum(len(b.acknowledged) + b.refused + b.unanswered for b in bursts) == CLICKS
        assert bursts[-1].acknowledged, "the replica killed had acknowledged clicks the others had to finish"
        assert await until(lambda: acknowledged <= counted(database)[1], 60), "an acknowledged vote was lost"
    votes, _ = counted(database)
    assert set(votes.values()) == {1}
    assert [key for key, n in posted_keys(workspace).items() if n > 1] == []


async def test_a_replica_restarted_during_a_storm_of_429s_posts_every_message_once(
    tmp_path: Path, pg_cluster: str,
) -> None:
    database = fresh_database(pg_cluster, f"storm_{tmp_path.name.lower()}")
    workspace = click_workspace()
    workspace.enforce_post_rate(per_channel_per_s=0.5, burst=1)  # stricter than Signoff paces itself: 429s
    per_team = 5
    expected = TEAMS * PER_TEAM * per_team
    async with await start_webapi(workspace) as webapi, replicas(database, webapi, tmp_path) as bots:
        await create_spread(bots, per_team)
        assert await until(lambda: workspace.ratelimited_count() > 0 and len(approval_dms(workspace)) >= 40, 60)
        bots[-1].process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(bots[-1].process.wait(), timeout=20) == 0
        posted_while_down = len(approval_dms(workspace))
        async with bot_process(database, webapi, tmp_path):
            assert await until(lambda: len(approval_dms(workspace)) >= expected, 90), (
                f"{len(approval_dms(workspace))} of {expected} asks posted")
    assert posted_while_down < expected, "the replica was restarted while messages were still being posted"
    assert workspace.ratelimited_count() > 0
    assert len(approval_dms(workspace)) == expected
    assert [key for key, n in posted_keys(workspace).items() if n > 1] == []


async def escalating_approvals(database: str, api_url: str) -> None:
    """Store ESCALATING more pending approvals, reminded daily and escalated to one of MANAGERS every 10 hours."""
    runtime = await build_runtime(settings_for(database, api_url))
    try:
        workflows = [await runtime.service.workflows.create({
            "name": f"Escalated to {manager}", "record_type": "invoice", "trigger": "created",
            "actions": [{"type": "approval", "steps": [{"approvers": [APPROVERS[0]]}], "remind_every": "P1D",
                         "escalate_after": "PT10H", "escalate_to": [manager]}]}) for manager in MANAGERS]
        async with runtime.db.unit_of_work() as repo:
            for i in range(ESCALATING):
                approver, workflow = APPROVERS[i * 7 % len(APPROVERS)], workflows[i % len(MANAGERS)]
                await store_pending(repo, f"E{i:03d}", approver, workflow.id)
    finally:
        await runtime.close()


def outbox_rows(database: str) -> list[tuple[str, str, str, str | None]]:
    """Return (key, conversation, status, pid of the lease holder) of every outbox item."""
    with psycopg.connect(database) as conn:
        rows = conn.execute("SELECT coalesce(key, 'outbox:' || id), target, status, lease_owner FROM outbox")
        return [(str(k), str(t), str(s), str(o).split(":")[1] if o else None) for k, t, s, o in rows]


def left_to(database: str, pid: str) -> bool:
    """Tell whether every undelivered item is the dead replica's: leased to it, or queued behind its lease."""
    rows = outbox_rows(database)
    held = {target for _, target, status, owner in rows if status == "sending" and owner == pid}
    return all(target in held and (status == "queued" or owner == pid)
               for _, target, status, owner in rows if status != "sent")


async def set_clock(bot: Bot, moment: datetime) -> None:
    """Set a replica's test clock (stored in the database for all)."""
    assert (await bot.api.post("/api/v1/clock", json={"now": moment.isoformat()})).status_code == 200


@pytest.mark.parametrize("seed", [3])
async def test_a_replica_killed_mid_sweep_leaves_its_messages_to_the_others_once_its_leases_expire(
    tmp_path: Path, pg_cluster: str, seed: int,
) -> None:
    draw = random.Random(seed)
    database = fresh_database(pg_cluster, f"sweep_{seed}_{tmp_path.name.lower()}")
    workspace = crash_workspace()
    for manager in MANAGERS:
        workspace.add_user(manager.lower(), user_id=manager)
    async with await start_webapi(workspace) as webapi:
        await pending_approvals(database, webapi.url)
        await escalating_approvals(database, webapi.url)
        async with replicas(database, webapi, tmp_path) as bots:
            for bot in bots:  # a replica reads a move made through another only when it sweeps: set all three
                await set_clock(bot, REMIND_AT)
            sweeper, moment = draw.choice(bots), draw.randint(100, 300)
            sweeping = asyncio.create_task(sweeper.tick_at(REMIND_AT))
            assert await until(lambda: sum(covered_keys(workspace).values()) >= moment, 30)
            holding = Counter(owner for _, _, status, owner in outbox_rows(database) if status == "sending")
            victim = max(bots, key=lambda b: holding[str(b.process.pid)])  # the one holding most deliveries
            victim.process.send_signal(signal.SIGKILL)
            await victim.process.wait()
            survivors, dead = [b for b in bots if b is not victim], str(victim.process.pid)
            held = {key for key, _, status, owner in outbox_rows(database) if status == "sending" and owner == dead}
            assert await until(lambda: left_to(database, dead), 30), "the survivors left other work undelivered"
            rows, posted_before = outbox_rows(database), posted_keys(workspace)
            assert held == {key for key, _, status, owner in rows if status == "sending" and owner == dead}, (
                "a message leased to the dead replica was taken before its lease ended")
            unposted = {key for key, *_ in rows} - set(posted_before)
            print(f"sweep by replica {bots.index(sweeper)}; killed replica {bots.index(victim)} after {moment} posts, "
                  f"holding {[holding[str(b.process.pid)] for b in bots]}: {len(rows)} messages, "
                  f"{len(posted_before)} posted, {len(held)} leased to the dead replica, {len(unposted)} not posted")
            assert unposted, "the replica killed was still delivering"
            assert unposted <= held | {key for key, _, status, _ in rows if status == "queued"}
            assert set(posted_before.values()) == {1}
            later = REMIND_AT + timedelta(minutes=10)  # past every lease the dead replica took
            for bot in survivors:  # both on the new time before either claims: their leases on one clock
                await set_clock(bot, later)
            summaries = await asyncio.gather(*(bot.tick_at(later) for bot in survivors))
            assert await until(lambda: len(posted_keys(workspace)) >= len(rows), 30), "the dead one's work was lost"
            with contextlib.suppress(httpx.HTTPError):
                await sweeping
            outbox = (await survivors[0].api.get("/api/v1/outbox")).json()["counts"]
            performed = (await survivors[0].api.get("/api/v1/scheduler")).json()["performed"]
    keys = posted_keys(workspace)
    assert keys == Counter({key: 1 for key, *_ in rows}), "a message was posted twice, or never"
    assert outbox == {"sent": len(rows)}
    assert performed == REQUESTS + 2 * ESCALATING, "each reminder and escalation was performed once"
    assert [s["remind"] + s["escalate"] for s in summaries] == [0, 0], "the sweep's actions were done before"
    covered = covered_keys(workspace)
    assert set(covered.values()) == {1}, "a reminder was delivered twice"
    assert sum(key.startswith("remind:") for key in covered) == REQUESTS + ESCALATING
    assert sum(key.startswith("escalate:") for key in covered) == 2 * ESCALATING
    assert any(key.startswith("remind_digest:") for key in keys), "an approver's reminders came as one message"
    if held & set(posted_before):
        logs = "".join(p.read_text() for p in tmp_path.glob("bot-*.log"))
        assert "was already delivered" in logs, "a message posted before the kill was looked up, not posted again"
