"""The replicas benchmark's raw floor: its processes do every unit they are given, on PostgreSQL."""

from __future__ import annotations

import uuid

import psycopg

from bench import pg_floor
from tests.support.postgres import fresh_database


async def test_a_burst_is_shared_among_the_processes_and_every_unit_commits(pg_cluster: str) -> None:
    url = fresh_database(pg_cluster, f"test_{uuid.uuid4().hex}")
    pg_floor.prepare(url)
    async with pg_floor.floor(url, 3) as the_floor:
        assert await the_floor.burst(10) > 0
        assert await the_floor.burst(5) > 0
        pids = the_floor.pids()
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT count(*) FROM floor_log").fetchone() == (15,)
        assert conn.execute("SELECT sum(n) FROM floor_counters").fetchone() == (15,)
    assert len(set(pids)) == 3
