"""Benchmark: one scheduler tick over 10k, 100k and 1M records with the same 1,000 due reminders.

Each size gets a fresh database, filled straight with SQL: half invoices, half bills; a tenth of the
records have a pending approval that is not due yet, and 1,000 more have a pending approval whose
first reminder is due now (two approvers each, so 2,000 reminder DMs are queued). The tick is one
`Scheduler.sweep()`: find what is due, plan it, claim each action by key and queue its messages and
audit lines, store the next due times. It must cost the same whatever the size of the tables (target:
under 250 ms at 1M records). Each size runs the tick five times (the same reminders made due again in
between) and reports the median; a tick with nothing due shows the fixed cost. The largest size is then
run again on PostgreSQL (a throwaway cluster, the rows copied in with COPY), against the same target.

Run with `python -m bench scheduler`; `SIGNOFF_BENCH_QUICK=1` stops at 100k records.
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import Row, format_value, is_quick
from bot.runtime import Runtime, build_runtime, freeze_startup_heap
from bot.sandbox.state.model import DEFAULT_TOKEN
from bot.settings import Settings
from engine.records import Record
from storage.sql.codec import dumps, ts

NAME = "scheduler"
DUE = 1_000
TARGET_MS = 250.0
REPEAT = 5
CHUNK = 50_000
WORKFLOW: dict[str, Any] = {
    "name": "Approvals with daily reminders", "record_type": "invoice", "trigger": "created",
    "actions": [{"type": "approval", "steps": [{"approvers": ["U0BENCH1", "U0BENCH2"], "min_approvers": 1}],
                 "remind_every": "P1D"}],
}


def sizes() -> list[int]:
    """Return the record counts to measure."""
    return [10_000, 100_000] if is_quick() else [10_000, 100_000, 1_000_000]


def bench_settings(db_path: Path | str) -> Settings:
    """Return settings for an offline Signoff (no Slack call is made during a sweep)."""
    values: dict[str, Any] = {
        "slack_bot_token": DEFAULT_TOKEN, "slack_signing_secret": "bench", "slack_api_url": "http://127.0.0.1:9/api/",
        "database": str(db_path), "api_token": "bench", "port": 0, "tick_seconds": 3600,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def record_json(kind: str, record_id: str, now: datetime) -> str:
    """Return the stored JSON of one record."""
    contact = {"customer": "C-1"} if kind == "invoice" else {"vendor": "V-1"}
    record = Record.model_validate({"type": kind, "id": record_id, "amount": "1250.00", "currency": "EUR",
                                    "due_date": "2026-12-20", "created_by": "U0REQ", **contact,
                                    "created_at": now, "updated_at": now})
    return dumps(record.model_dump(by_alias=True))


def record_rows(count: int, now: datetime) -> Iterator[tuple[str, str, str, str, str, str]]:
    """Yield `count` record rows: invoices and bills in turn."""
    stamp = ts(now)
    templates = {kind: record_json(kind, "ID", now) for kind in ("invoice", "bill")}
    for i in range(count):
        kind = "invoice" if i % 2 == 0 else "bill"
        record_id = f"{kind[0].upper()}-{i:07d}"
        data = templates[kind].replace('"id":"ID"', f'"id":"{record_id}"')
        yield kind, record_id, "pending" if i % 10 == 0 or i < 2 * DUE else "none", data, stamp, stamp


def request_rows(count: int, workflow_id: str, now: datetime) -> Iterator[tuple[Any, ...]]:
    """Yield the pending approvals: DUE whose first reminder is due now, then a tenth of the rest, not due."""
    steps = dumps([{"index": 0, "approvers": ["U0BENCH1", "U0BENCH2"], "min_approvers": 1, "name": None}])
    due_start, fresh_start = ts(now - timedelta(days=1, hours=1)), ts(now - timedelta(hours=1))
    for i in range(0, count, 2):
        is_due = i < 2 * DUE
        if not is_due and i % 10 != 0:
            continue
        start = due_start if is_due else fresh_start
        yield (f"AR-{'A' if is_due else 'B'}{i:07d}", "invoice", f"I-{i:07d}", workflow_id, "U0REQ", "pending", 0,
               steps, start, start)


def insert_documents(conn: sqlite3.Connection, records: Iterator[tuple[Any, ...]],
                     requests: Iterator[tuple[Any, ...]]) -> None:
    """Insert records (in chunks) and approvals with plain SQL, and who each pending approval waits on."""
    while chunk := [row for _, row in zip(range(CHUNK), records, strict=False)]:
        conn.executemany("INSERT INTO records (type, id, approval_status, data, created_at, updated_at) "
                         "VALUES (?,?,?,?,?,?)", chunk)
    conn.executemany(
        "INSERT INTO approval_requests (id, record_type, record_id, workflow_id, requester, status, current_step, "
        "steps, created_at, step_started_at) VALUES (?,?,?,?,?,?,?,?,?,?)", requests)
    conn.execute(
        "INSERT INTO request_approvers (approver, request_id) SELECT a.value, r.id FROM approval_requests r, "
        "json_each(r.steps) s, json_each(s.value, '$.approvers') a WHERE r.status = 'pending'")


def fill(db_path: Path, count: int, workflow_id: str, now: datetime) -> None:
    """Insert the records and approvals with plain SQL, give every watched subject its planned time, checkpoint."""
    conn = sqlite3.connect(db_path, timeout=60)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        insert_documents(conn, record_rows(count, now), request_rows(count, workflow_id, now))
        later = ts(now + timedelta(hours=23))
        conn.execute("UPDATE due_work SET next_due_at=? WHERE kind='approval' AND subject_id >= 'AR-B'", (later,))
        conn.execute("UPDATE due_work SET next_due_at=NULL WHERE kind='invoice'")
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def fill_postgres(url: str, count: int, workflow_id: str, now: datetime) -> None:
    """The same rows as `fill`, copied into PostgreSQL (COPY), then analysed."""
    import psycopg

    with psycopg.connect(url) as conn:
        with conn.cursor().copy("COPY records (type, id, approval_status, data, created_at, updated_at) "
                                "FROM STDIN") as copy:
            for row in record_rows(count, now):
                copy.write_row(row)
        with conn.cursor().copy("COPY approval_requests (id, record_type, record_id, workflow_id, requester, status, "
                                "current_step, steps, created_at, step_started_at) FROM STDIN") as copy:
            for row in request_rows(count, workflow_id, now):
                copy.write_row(row)
        conn.execute(
            "INSERT INTO request_approvers (approver, request_id) SELECT a.value, r.id FROM approval_requests r, "
            "jsonb_array_elements(r.steps::jsonb) s, jsonb_array_elements_text(s.value -> 'approvers') a "
            "WHERE r.status = 'pending'")
        later = ts(now + timedelta(hours=23))
        conn.execute("UPDATE due_work SET next_due_at=%s WHERE kind='approval' AND subject_id >= 'AR-B'", (later,))
        conn.execute("UPDATE due_work SET next_due_at=NULL WHERE kind='invoice'")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


async def rearm(runtime: Runtime, now: datetime) -> None:
    """Make the same reminders due again: forget they were performed and drop their messages.

    On PostgreSQL the tables are then vacuumed, so each tick starts from the same tables, not from the dead rows
    of the ticks before it.
    """
    async with runtime.db.unit_of_work() as repo:
        await repo.conn.execute("DELETE FROM performed_actions")
        await repo.conn.execute("DELETE FROM outbox")
        await repo.conn.execute("UPDATE due_work SET next_due_at=? WHERE kind='approval' AND subject_id < 'AR-B'",
                                (ts(now - timedelta(minutes=1)),))
    if runtime.settings.database.startswith("postgresql"):
        await asyncio.to_thread(vacuum, runtime.settings.database)


def vacuum(url: str) -> None:
    """Vacuum the tables a tick writes."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM performed_actions, outbox, due_work, audit")


async def timed_sweep(runtime: Runtime) -> tuple[float, dict[str, int]]:
    """Run one sweep; return its milliseconds and summary."""
    assert runtime.scheduler is not None
    started_s = time.perf_counter()
    summary = await runtime.scheduler.sweep()
    return (time.perf_counter() - started_s) * 1000, summary


async def one_size(count: int, postgres_url: str | None = None) -> dict[str, Any]:
    """Build a database of `count` records (SQLite, or PostgreSQL at `postgres_url`); time REPEAT ticks with DUE
    reminders due, then an idle tick."""
    with tempfile.TemporaryDirectory(prefix="signoff-bench-scheduler-") as tmp:
        database: Path | str = postgres_url or Path(tmp) / "scheduler.db"
        runtime: Runtime = await build_runtime(bench_settings(database))
        try:
            workflow = await runtime.service.workflows.create(WORKFLOW)
            now = runtime.service.clock.now()
            filler = fill if postgres_url is None else fill_postgres
            await asyncio.to_thread(filler, database, count, workflow.id, now)  # type: ignore[arg-type]
            freeze_startup_heap()  # as `signoff run` does once it serves
            ticks, summaries = [], []
            for _ in range(REPEAT):
                tick_ms, summary = await timed_sweep(runtime)
                ticks.append(tick_ms)
                summaries.append(summary)
                async with runtime.db.read() as repo:
                    queued = (await repo.outbox_counts()).get("queued", 0)
                idle_ms, idle = await timed_sweep(runtime)
                await rearm(runtime, now)
        finally:
            await runtime.close()
    return {"count": count, "ticks": sorted(ticks), "idle_ms": idle_ms, "summaries": summaries, "idle": idle,
            "queued": queued, "backend": "SQLite" if postgres_url is None else "PostgreSQL"}


def rows_of(results: list[dict[str, Any]]) -> list[Row]:
    """Turn the measurements into report rows: the median tick of each size."""
    base = statistics.median(results[0]["ticks"])  # SQLite at 10k
    rows: list[Row] = []
    for r in results:
        size, median = format_value(r["count"]), statistics.median(r["ticks"])
        done = min(s["remind"] for s in r["summaries"])
        where = "" if r["backend"] == "SQLite" else ", PostgreSQL"
        row: Row = {"benchmark": NAME, "case": f"tick, {done:,} due reminders, {size} records{where}", "unit": "ms",
                    "value": round(median, 1),
                    "ratio": f"median of {REPEAT} (best {r['ticks'][0]:.0f} ms); {median / base:.2f}× the 10k tick; "
                             f"{r['queued']:,} DMs queued"}
        if r["count"] == 1_000_000:
            row.update(target=f"< {TARGET_MS:g} ms", ok=median < TARGET_MS and done == DUE)
        rows.append(row)
        rows.append({"benchmark": NAME, "case": f"idle tick, {size} records{where}", "value": round(r["idle_ms"], 1),
                     "unit": "ms", "ratio": f"{sum(r['idle'].values())} actions"})
    return rows


async def abench() -> list[Row]:
    """Run the scheduler benchmark on SQLite at every size, then on PostgreSQL at the largest."""
    results = [await one_size(count) for count in sizes()]
    from tests.support.postgres import cluster, fresh_database

    with cluster() as cluster_url:
        results.append(await one_size(sizes()[-1], fresh_database(cluster_url, "bench_scheduler")))
    return rows_of(results)


if __name__ == "__main__":
    from bench.common import table_lines

    print("\n".join(table_lines(asyncio.run(abench()))))
