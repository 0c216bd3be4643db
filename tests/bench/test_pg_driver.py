"""The driver benchmark runs the same units of work on both drivers, and counts their round trips right."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from bench import pg_driver
from tests.support.postgres import fresh_database


@pytest.mark.parametrize(("sql", "numbered"), [
    ("SELECT 1", "SELECT 1"),
    ("SELECT * FROM t WHERE a = ? AND b = ?", "SELECT * FROM t WHERE a = $1 AND b = $2"),
    ("INSERT INTO t VALUES (?, ?, ?)", "INSERT INTO t VALUES ($1, $2, $3)"),
])
def test_parameters_are_numbered_for_asyncpg(sql: str, numbered: str) -> None:
    assert pg_driver._numbered(sql) == numbered


async def test_both_drivers_commit_every_vote_the_store_in_two_round_trips_asyncpg_in_seven(
        pg_cluster: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNOFF_BENCH_QUICK", "1")
    monkeypatch.setattr(pg_driver, "WARMUP", 3)
    monkeypatch.setattr(pg_driver, "STATEMENTS", 20)
    monkeypatch.setattr(pg_driver, "VOTES", 8)
    url = fresh_database(pg_cluster, f"test_{uuid.uuid4().hex}")
    found = await pg_driver.measure(url)
    trips = {key: runs[0]["round_trips"] for key, runs in found.items()}
    assert trips == {("one statement", "psycopg"): 1, ("one statement", "asyncpg"): 1,
                     ("a vote's unit of work", "psycopg"): 2, ("a vote's unit of work", "asyncpg"): 7}
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT request_id) FROM votes").fetchone()
        audit = conn.execute("SELECT count(*) FROM audit").fetchone()
    assert row == (2 * (3 + 2), 3) and audit == (10,)  # warm-up (3) and run (8 ÷ 4), each driver
    rows = pg_driver.rows_of(found)
    assert [r["unit"] for r in rows] == ["µs", "µs", "×"] * 2
    assert all(r["value"] > 0 for r in rows)
