"""Benchmark: votes/s and acknowledgement p99 of a 200-click burst, on SQLite (one process) and on PostgreSQL
with one, two and three `signoff` replicas, in one run.

Each configuration gets a fresh database (a SQLite file, or a database of a throwaway PostgreSQL cluster
started for the run with Debian's `initdb` / `pg_ctl`), a fresh sandbox Slack workspace process, and its
Signoff server processes (`bench.ack_latency serve signoff DATABASE API_URL`). The workspace creates the
pending invoices through the first replica's REST API and signs the clicks. Twenty warm-up clicks go to the
replicas in turn, one at a time; then 200 clicks are sent at once, to the replicas in turn. A click's
acknowledgement is its HTTP answer (each replica commits a click to its inbox before answering); votes/s is
200 ÷ (first click sent → the 200th vote committed), the votes counted in the database every 2 ms.

Targets (issue: several replicas): two PostgreSQL replicas at least 1.3× the votes/s of one, three no slower
than two, and acknowledgement p99 under 100 ms in every configuration. On this 2-core machine the workspace,
the client, PostgreSQL and every replica share the same two cores.

Run with `python -m bench replicas`; `SIGNOFF_BENCH_QUICK=1` sends the same burst (it is already small).
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp

from bench.ack_latency import Server, VoteCounter, click, open_connections, server_process
from bench.common import Row, percentile
from tests.support.postgres import cluster, fresh_database

NAME = "replicas"
WARMUP = 20
BURST = 200
CONFIGS: tuple[tuple[str, int], ...] = (("sqlite", 1), ("postgresql", 1), ("postgresql", 2), ("postgresql", 3))
TARGET_SCALE_2 = 1.3
TARGET_ACK_P99_MS = 100.0
COUNT_POLL_S = 0.002
WAIT_S = 120.0


@contextlib.asynccontextmanager
async def replicas(database: str, count: int, tmp: Path, api_url: str) -> AsyncIterator[list[Server]]:
    """Start `count` Signoff server processes on one database."""
    async with contextlib.AsyncExitStack() as stack:
        servers = []
        for index in range(count):
            log_dir = tmp / f"replica-{index}"
            log_dir.mkdir()
            servers.append(await stack.enter_async_context(server_process("signoff", log_dir, database, api_url)))
        yield servers


async def votes_reached(counter: VoteCounter, expected: int) -> float:
    """Poll until `expected` votes are committed; return when (perf_counter), or raise after WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    while (await asyncio.to_thread(counter.votes)) < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {counter.votes()} of {expected} votes were committed")
        await asyncio.sleep(COUNT_POLL_S)
    return time.perf_counter()


async def signed(sandbox: Server, n: int) -> list[tuple[bytes, dict[str, str]]]:
    """Have the workspace sign the next `n` clicks."""
    answer = await sandbox.ask({"cmd": "prepare", "n": n})
    return [(body.encode(), headers) for body, headers in answer["requests"]]


async def fire(session: aiohttp.ClientSession, urls: Sequence[str],
               requests: Sequence[tuple[bytes, dict[str, str]]]) -> list[tuple[float, float]]:
    """Send every click at once, to the replicas in turn; return (sent, answered) of each."""
    return list(await asyncio.gather(*(click(session, f"{urls[i % len(urls)]}/slack/events", request)
                                       for i, request in enumerate(requests))))


async def measure(database: str, count: int, tmp: Path) -> dict[str, float]:
    """Run one configuration; return its votes/s and acknowledgement p99 (ms)."""
    async with server_process("sandbox", tmp) as sandbox, replicas(database, count, tmp, sandbox.url) as servers:
        await sandbox.ask({"cmd": "populate", "signoff_url": servers[0].url, "clicks": WARMUP + BURST})
        urls, counter = [s.url for s in servers], VoteCounter(database)
        connector = aiohttp.TCPConnector(limit=BURST + 20)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:
            for index, request in enumerate(await signed(sandbox, WARMUP)):
                await click(session, f"{urls[index % count]}/slack/events", request)
            await votes_reached(counter, WARMUP)
            requests = await signed(sandbox, BURST)
            for url in urls:
                await open_connections(session, url, BURST // count + 2)
            timings = await fire(session, urls, requests)
            done_s = await votes_reached(counter, WARMUP + BURST)
        counter.conn.close()
    first_s = min(sent for sent, _ in timings)
    return {"votes_per_s": BURST / (done_s - first_s),
            "ack_p99_ms": percentile([(answered - sent) * 1000 for sent, answered in timings], 99)}


async def measure_all() -> dict[tuple[str, int], dict[str, float]]:
    """Measure every configuration, PostgreSQL ones on one throwaway cluster."""
    results: dict[tuple[str, int], dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="signoff-bench-replicas-") as tmp_dir, cluster() as cluster_url:
        for kind, count in CONFIGS:
            tmp = Path(tmp_dir) / f"{kind}-{count}"
            tmp.mkdir()
            database = str(tmp / "signoff.db") if kind == "sqlite" else fresh_database(cluster_url, f"bench_{count}")
            results[(kind, count)] = await measure(database, count, tmp)
    return results


def rows_of(results: dict[tuple[str, int], dict[str, float]]) -> list[Row]:
    """Report each configuration, with the scaling targets on the PostgreSQL ones."""
    one = results[("postgresql", 1)]["votes_per_s"]
    two = results[("postgresql", 2)]["votes_per_s"]
    rows: list[Row] = []
    for (kind, count), found in results.items():
        case = f"{BURST}-click burst, {kind}, {count} process{'es' if count > 1 else ''}"
        rows.append(_votes_row(case, found["votes_per_s"], kind, count, one, two))
        p99_ms = found["ack_p99_ms"]
        rows.append({"benchmark": NAME, "case": f"{case}: acknowledgement p99", "value": round(p99_ms, 1),
                     "unit": "ms", "target": f"< {TARGET_ACK_P99_MS:g} ms", "ok": p99_ms < TARGET_ACK_P99_MS})
    return rows


def _votes_row(case: str, value: float, kind: str, count: int, one: float, two: float) -> Row:
    row: dict[str, Any] = {"benchmark": NAME, "case": f"{case}: votes/s", "value": round(value, 1), "unit": "votes/s",
                           "ratio": f"{value / one:.2f}× one PostgreSQL replica"}
    if kind == "postgresql" and count == 2:
        row.update(target=f"≥ {TARGET_SCALE_2}× one replica", ok=value >= TARGET_SCALE_2 * one)
    if kind == "postgresql" and count == 3:
        row.update(target="no slower than two", ok=value >= two)
    return row


async def abench() -> list[Row]:
    """Run the replicas benchmark."""
    return rows_of(await measure_all())


if __name__ == "__main__":
    from bench.common import table_lines

    print("\n".join(table_lines(asyncio.run(abench()))))
