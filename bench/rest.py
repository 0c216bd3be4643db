"""Benchmark: `PUT /api/v1/records/…` sequential and 20 at a time, and `GET /healthz`, against a bare floor.

Signoff runs as `signoff run` does (uvicorn on a loopback port, SQLite in a temporary directory) with 50
enabled approval workflows, none of which the documents match (each PUT evaluates all of them, commits
the record, its audit line and its automation runs). The floor, in the same process and run, is a bare
FastAPI app on the same uvicorn settings whose PUT parses the same JSON and commits one INSERT into a
SQLite file (WAL, `synchronous=NORMAL`, like Signoff's) through aiosqlite. One httpx client times every
request. Target: sequential PUTs at 25 % or more of the floor's rate; `/healthz` under 2 ms.

Run with `python -m bench rest`; `SIGNOFF_BENCH_QUICK=1` sends fewer requests.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiosqlite
import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from bench.ack_latency import serving
from bench.common import Row, is_quick
from bench.scheduler import bench_settings
from bot.runtime import build_runtime

NAME = "rest"
WORKFLOWS = 50
CONCURRENCY = 20
TARGET_SHARE = 0.25
TARGET_HEALTH_MS = 2.0
DOCUMENT = {"amount": "100.00", "currency": "EUR", "customer": "C-1", "created_by": "U0REQ", "memo": "bench"}
HEADERS = {"Authorization": "Bearer bench"}


def counts() -> tuple[int, int]:
    """Return how many sequential and concurrent PUTs to send."""
    return (150, 200) if is_quick() else (600, 1000)


def workflow(n: int) -> dict[str, Any]:
    """Return an enabled approval workflow that no benchmark document matches."""
    return {"name": f"Large invoices {n}", "record_type": "invoice", "trigger": "created",
            "conditions": [{"field": "amount", "op": "gt", "value": str(100_000 + n)}],
            "actions": [{"type": "approval", "steps": [{"approvers": ["U0APPROVER"]}]}]}


async def floor_app(db_path: Path) -> tuple[FastAPI, aiosqlite.Connection]:
    """Return the floor: FastAPI whose PUT commits one INSERT (upsert) of the JSON body."""
    conn = await aiosqlite.connect(db_path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL"):
        await conn.execute(f"PRAGMA {pragma}")
    await conn.execute("CREATE TABLE records (type TEXT, id TEXT, data TEXT, PRIMARY KEY (type, id))")
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    lock = asyncio.Lock()

    @app.put("/api/v1/records/{record_type}/{record_id}")
    async def put(record_type: str, record_id: str, request: Request) -> JSONResponse:
        body = await request.json()
        async with lock:
            await conn.execute("BEGIN IMMEDIATE")
            await conn.execute("INSERT INTO records VALUES (?,?,?) ON CONFLICT (type, id) DO UPDATE SET data="
                               "excluded.data", (record_type, record_id, json.dumps(body)))
            await conn.execute("COMMIT")
        return JSONResponse({**body, "type": record_type, "id": record_id})

    return app, conn


async def put_rate(client: httpx.AsyncClient, prefix: str, count: int, concurrency: int) -> float:
    """PUT `count` new documents, `concurrency` at a time; return documents per second."""
    slots = asyncio.Semaphore(concurrency)

    async def one(n: int) -> None:
        async with slots:
            answer = await client.put(f"/api/v1/records/invoice/{prefix}-{n}", json=DOCUMENT)
            assert answer.status_code == 200, answer.text

    started_s = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(count)))
    return count / (time.perf_counter() - started_s)


async def timed_ms(call: Callable[[], Awaitable[Any]], times: int = 200) -> float:
    """Return the median milliseconds of a call."""
    spent = []
    for _ in range(times):
        started_s = time.perf_counter()
        await call()
        spent.append((time.perf_counter() - started_s) * 1000)
    return statistics.median(spent)


async def measure(url: str, label: str, sequential: int, concurrent: int) -> dict[str, float]:
    """Warm up, then time sequential and concurrent PUTs (and /healthz when there is one)."""
    async with httpx.AsyncClient(base_url=url, headers=HEADERS, timeout=30) as client:
        await put_rate(client, f"{label}-warm", 50, 1)
        found = {"sequential": await put_rate(client, f"{label}-seq", sequential, 1),
                 "concurrent": await put_rate(client, f"{label}-par", concurrent, CONCURRENCY)}
        if label == "signoff":
            found["health_ms"] = await timed_ms(lambda: client.get("/healthz"))
    return found


async def abench() -> list[Row]:
    """Run the REST benchmark."""
    sequential, concurrent = counts()
    with tempfile.TemporaryDirectory(prefix="signoff-bench-rest-") as tmp:
        runtime = await build_runtime(bench_settings(Path(tmp) / "signoff.db"))
        try:
            for n in range(WORKFLOWS):
                await runtime.service.workflows.create(workflow(n))
            await runtime.serve()
            mine = await measure(runtime.url, "signoff", sequential, concurrent)
        finally:
            await runtime.close()
        app, conn = await floor_app(Path(tmp) / "floor.db")
        try:
            async with serving(app) as url:
                floor = await measure(url, "floor", sequential, concurrent)
        finally:
            await conn.close()
    return rows_of(mine, floor, sequential, concurrent)


def rows_of(mine: dict[str, float], floor: dict[str, float], sequential: int, concurrent: int) -> list[Row]:
    """Turn the rates into report rows."""
    rows: list[Row] = []
    for mode, count in (("sequential", sequential), ("concurrent", concurrent)):
        share = mine[mode] / floor[mode]
        label = "sequential" if mode == "sequential" else f"{CONCURRENCY} at a time"
        row: Row = {"benchmark": NAME, "case": f"PUT /records, {label} ({count:,}), {WORKFLOWS} workflows",
                    "value": round(mine[mode], 1), "unit": "PUT/s",
                    "ratio": f"floor (FastAPI + one INSERT) {floor[mode]:.0f} PUT/s; {share:.0%} of it"}
        if mode == "sequential":
            row.update(target=f"≥ {TARGET_SHARE:.0%} of the floor", ok=share >= TARGET_SHARE)
        rows.append(row)
    rows.append({"benchmark": NAME, "case": "GET /healthz, median of 200", "value": round(mine["health_ms"], 2),
                 "unit": "ms", "target": f"< {TARGET_HEALTH_MS:g} ms", "ok": mine["health_ms"] < TARGET_HEALTH_MS})
    return rows


if __name__ == "__main__":
    from bench.common import table_lines

    print("\n".join(table_lines(asyncio.run(abench()))))
