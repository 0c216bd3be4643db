"""Benchmark: why the PostgreSQL store speaks psycopg 3 (async, its C build) and not asyncpg.

On a throwaway cluster (Debian's `initdb` / `pg_ctl`, as the tests start it), on loopback TCP, each driver
runs, in turns (ROUNDS rounds, the order swapped every round, so that a drift of the machine's speed weighs on
both alike):
- one statement, one round trip: a primary-key SELECT of a row shaped like an approval request, STATEMENTS
  times one after the other (asyncpg is the peer: it is the fastest Python driver for a single statement);
- a vote's unit of work, VOTES times: BEGIN, lock the request `FOR UPDATE` and read it with its votes, then
  update it, insert the vote, an audit line and an outbox message, COMMIT. Through the store's own connection
  (`PgConnection` over psycopg) the BEGIN and the reads go in one pipeline and the writes with the COMMIT in
  another: two round trips. asyncpg has no pipeline of different statements: one round trip per statement
  inside `conn.transaction()`, seven in all.
Reported per statement or per unit of work: the wall time, the client's CPU, the PostgreSQL server's CPU
(its processes' CPU seconds from /proc), and the round trips. The store needs the fewest round trips per unit
of work more than the cheapest single round trip: every exchange wakes both processes.

Run with `python -m bench pg_driver`; `SIGNOFF_BENCH_QUICK=1` runs fewer iterations.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import psycopg

from bench.common import Row, is_quick
from bench.replicas import cpu_s, postgres_pids
from storage.postgres.connection import PgConnection
from tests.support.postgres import cluster, fresh_database

NAME = "pg_driver"
ROUNDS = 3
STATEMENTS = 4000
VOTES = 1000
WARMUP = 200
SCHEMA = (
    "CREATE TABLE requests (id text PRIMARY KEY, status text NOT NULL, current_step integer NOT NULL, "
    "steps text NOT NULL, version integer NOT NULL)",
    "CREATE TABLE votes (request_id text NOT NULL, approver text NOT NULL, decision text NOT NULL, at text NOT NULL)",
    "CREATE INDEX votes_request ON votes (request_id)",
    "CREATE TABLE audit (id bigserial PRIMARY KEY, at text NOT NULL, actor text NOT NULL, action text NOT NULL, "
    "subject text NOT NULL)",
    "CREATE TABLE outbox (id bigserial PRIMARY KEY, kind text NOT NULL, target text NOT NULL, payload text NOT NULL)",
    "INSERT INTO requests SELECT 'AR-' || g, 'pending', 0, repeat('s', 400), 0 FROM generate_series(1, 1000) g",
)
READ = "SELECT * FROM requests WHERE id = ?"
LOCK = "SELECT * FROM requests WHERE id = ? FOR UPDATE"
VOTES_OF = "SELECT approver, decision, at FROM votes WHERE request_id = ?"
WRITES = (
    ("UPDATE requests SET status = ?, version = version + 1 WHERE id = ?", ("pending", "{id}")),
    ("INSERT INTO votes (request_id, approver, decision, at) VALUES (?, ?, ?, ?)",
     ("{id}", "UA", "approve", "2026-11-26T09:00:00+00:00")),
    ("INSERT INTO audit (at, actor, action, subject) VALUES (?, ?, ?, ?)",
     ("2026-11-26T09:00:00+00:00", "UA", "voted", "{id}")),
    ("INSERT INTO outbox (kind, target, payload) VALUES (?, ?, ?)", ("chat.update", "D0UA", "{\"ts\": \"1.2\"}")),
)


def _request_id(n: int) -> str:
    return f"AR-{n % 1000 + 1}"


def _writes(request_id: str) -> list[tuple[str, tuple[Any, ...]]]:
    return [(sql, tuple(request_id if v == "{id}" else v for v in values)) for sql, values in WRITES]


def _numbered(sql: str) -> str:
    """Return a statement with asyncpg's `$1, $2…` parameters instead of `?`."""
    parts = sql.split("?")
    return "".join(part + (f"${i + 1}" if i < len(parts) - 1 else "") for i, part in enumerate(parts))


async def psycopg_reads(conn: PgConnection, n: int) -> int:
    """Read one request by its key, `n` times; return the round trips."""
    before = conn.round_trips
    for i in range(n):
        await (await conn.execute(READ, (_request_id(i),))).fetchall()
    return conn.round_trips - before


async def asyncpg_reads(conn: asyncpg.Connection, n: int) -> int:
    """Read one request by its key, `n` times; return the round trips."""
    sql = _numbered(READ)
    for i in range(n):
        await conn.fetch(sql, _request_id(i))
    return n


async def psycopg_votes(conn: PgConnection, n: int) -> int:
    """Run `n` votes' units of work as the store sends them; return the round trips."""
    before = conn.round_trips
    for i in range(n):
        request_id = _request_id(i)
        await conn.begin_immediate()
        await conn.fetch_each([(LOCK, (request_id,)), (VOTES_OF, (request_id,))])
        for sql, values in _writes(request_id):
            await conn.write(sql, values)
        await conn.commit()
    return conn.round_trips - before


async def asyncpg_votes(conn: asyncpg.Connection, n: int) -> int:
    """Run `n` votes' units of work, one statement at a time in a transaction; return the round trips."""
    trips = 0
    for i in range(n):
        request_id = _request_id(i)
        async with conn.transaction():
            await conn.fetchrow(_numbered(LOCK), request_id)
            await conn.fetch(_numbered(VOTES_OF), request_id)
            for sql, values in _writes(request_id):
                await conn.execute(_numbered(sql), *values)
        trips += 3 + len(WRITES)
    return trips


Workload = Callable[[Any, int], Awaitable[int]]


async def timed(conn: Any, work: Workload, n: int) -> dict[str, float]:
    """Run a workload `n` times after a warm-up; return per run the wall, client and server CPU (µs), and round
    trips."""
    await work(conn, WARMUP)
    server_s, client_s, wall_s = sum(cpu_s(p) for p in postgres_pids()), time.process_time(), time.perf_counter()
    trips = await work(conn, n)
    wall_s, client_s = time.perf_counter() - wall_s, time.process_time() - client_s
    server_s = sum(cpu_s(p) for p in postgres_pids()) - server_s
    return {"wall_us": 1e6 * wall_s / n, "client_us": 1e6 * client_s / n, "server_us": 1e6 * server_s / n,
            "round_trips": trips / n}


async def measure(url: str) -> dict[tuple[str, str], list[dict[str, float]]]:
    """Run both drivers' workloads ROUNDS times, in alternating order."""
    with psycopg.connect(url, autocommit=True) as setup:
        for statement in SCHEMA:
            setup.execute(statement)
    store_conn = await PgConnection.connect(url)
    peer_conn = await asyncpg.connect(url)
    quick = is_quick()
    cases: list[tuple[str, str, Any, Workload, int]] = [
        ("one statement", "psycopg", store_conn, psycopg_reads, STATEMENTS // (4 if quick else 1)),
        ("one statement", "asyncpg", peer_conn, asyncpg_reads, STATEMENTS // (4 if quick else 1)),
        ("a vote's unit of work", "psycopg", store_conn, psycopg_votes, VOTES // (4 if quick else 1)),
        ("a vote's unit of work", "asyncpg", peer_conn, asyncpg_votes, VOTES // (4 if quick else 1)),
    ]
    found: dict[tuple[str, str], list[dict[str, float]]] = {(case, driver): [] for case, driver, *_ in cases}
    try:
        for round_index in range(1 if quick else ROUNDS):
            for case, driver, conn, work, n in cases if round_index % 2 == 0 else cases[::-1]:
                found[(case, driver)].append(await timed(conn, work, n))
    finally:
        await store_conn.close()
        await peer_conn.close()
    return found


def _median(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def rows_of(found: dict[tuple[str, str], list[dict[str, float]]]) -> list[Row]:
    """Report each driver's costs per statement and per unit of work, asyncpg's as the peer."""
    rows: list[Row] = []
    for case in ("one statement", "a vote's unit of work"):
        ours, peer = _median(found[(case, "psycopg")]), _median(found[(case, "asyncpg")])
        for driver, costs in (("psycopg (the store's connection)", ours), ("asyncpg (peer)", peer)):
            rows.append({
                "benchmark": NAME, "case": f"{case}, {driver}: wall", "value": round(costs["wall_us"], 1),
                "unit": "µs",
                "ratio": f"client CPU {costs['client_us']:.0f} µs, server CPU {costs['server_us']:.0f} µs, "
                         f"{costs['round_trips']:.0f} round trip{'s' if costs['round_trips'] != 1 else ''}"})
        total_ours = ours["client_us"] + ours["server_us"]
        total_peer = peer["client_us"] + peer["server_us"]
        rows.append({"benchmark": NAME, "case": f"{case}: CPU (client + server), psycopg ÷ asyncpg",
                     "value": round(total_ours / total_peer, 2), "unit": "×",
                     "ratio": f"{total_ours:.0f} µs vs {total_peer:.0f} µs; wall "
                              f"{ours['wall_us'] / peer['wall_us']:.2f}×"})
    return rows


async def abench() -> list[Row]:
    """Run the driver benchmark on a throwaway cluster."""
    with cluster() as cluster_url:
        return rows_of(await measure(fresh_database(cluster_url, "bench_driver")))


if __name__ == "__main__":
    from bench.common import table_lines

    print("\n".join(table_lines(asyncio.run(abench()))))
