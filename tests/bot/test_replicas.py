"""Three `signoff run` replicas on one PostgreSQL database: work spread across them, one killed or restarted.

Documents are created through all three; every approval DM is posted once. Signed Approve clicks are sent to
the three in turn, and one replica is killed at a seeded random moment of the burst. The two survivors take
over what it had accepted: every click any replica answered 200 is counted as exactly one vote, and no
message is posted twice (counted at the sandbox Slack). Then Slack answers 429 beyond one post every two
seconds per conversation while the replicas post hundreds of asks, and one replica is restarted in the middle:
every ask is posted exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

from bot.sandbox.webapi import WebApiServer, start_webapi
from tests.bot.test_crash import Bot, bot_process
from tests.bot.test_crash_clicks import (
    CLICKS,
    PER_TEAM,
    RECORDS_PER_TEAM,
    TEAMS,
    Burst,
    approval_dms,
    approver,
    click_workspace,
    fire_at,
    posted_keys,
    requester,
    until,
)
from tests.support.postgres import fresh_database

REPLICAS = 3


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
