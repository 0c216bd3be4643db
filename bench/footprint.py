"""Benchmark: database bytes per 100k documents approved through Slack, against the documents alone.

Signoff runs against the sandbox's Slack Web API with SQLite in a temporary directory and one workflow
that asks two approvers (both must approve) of every invoice. Each document is created and submitted
through the application service, both approvers decide, and the outbox delivers everything it queued
(two asks, the message refreshes, the requester's outcome) to the sandbox, unpaced (sizes are measured
here, not Slack's pace). The size is the bytes of the
pages in use (`page_count - freelist_count`, what a growing database keeps), measured once every
document is approved, then again in steady state: 31 days later, once the outbox retention
(`SIGNOFF_OUTBOX_RETENTION`, P30D) has emptied what the delivered messages said and the scheduler's sweeps
have archived the closed approvals (`SIGNOFF_ARCHIVE_AFTER`, P30D). Both are scaled to 100k
documents. The floor, in the same run, is the same documents' JSON, as the API returns them, in a plain SQLite
table keyed by (type, id). Target: at most 120 MB per 100k documents in steady state.

Run with `python -m bench footprint`; `SIGNOFF_BENCH_QUICK=1` approves fewer documents.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench.common import Row, is_quick
from bot.outbox.lanes import Pacer
from bot.runtime import Runtime, build_runtime
from bot.sandbox.state.model import DEFAULT_TOKEN
from bot.sandbox.webapi import start_webapi
from bot.sandbox.workspace import Workspace
from bot.settings import Settings
from engine.approvals import Decision
from engine.records import ApprovalStatus, RecordInput, RecordType
from storage.sql.rows import RECORD_COLUMNS, record_of

NAME = "footprint"
REQUESTER, APPROVERS = "U0REQ", ("U0APPROVE1", "U0APPROVE2")
PER_100K = 100_000
TARGET_MB = 120.0
DRAIN_EVERY = 100
WORKFLOW: dict[str, Any] = {
    "name": "Invoices need both approvers", "record_type": "invoice", "trigger": "created",
    "actions": [{"type": "approval", "steps": [{"approvers": list(APPROVERS), "min_approvers": 2}]}],
}
DOCUMENT: dict[str, Any] = {"amount": "1250.00", "currency": "EUR", "customer": "C-ACME", "due_date": "2026-12-20",
                            "memo": "Consulting, November", "created_by": REQUESTER, "source": "app"}


def documents() -> int:
    """Return how many documents to approve."""
    return 1_000 if is_quick() else 5_000


def workspace() -> Workspace:
    """Return a workspace with the requester and the two approvers."""
    found = Workspace()
    for user_id in (REQUESTER, *APPROVERS):
        found.add_user(user_id.lower(), user_id.capitalize(), email=f"{user_id.lower()}@example.com", user_id=user_id)
    return found


def settings(db_path: Path, api_url: str) -> Settings:
    """Return the settings of the Signoff under measure (nothing read from the environment)."""
    values: dict[str, Any] = {"slack_bot_token": DEFAULT_TOKEN, "slack_signing_secret": "bench", "api_token": "bench",
                              "slack_api_url": api_url, "database": str(db_path), "port": 0, "test_clock": True,
                              "tick_seconds": 3600}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def bytes_in_use(db_path: Path) -> int:
    """Return the bytes of the database pages in use (free pages left out)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        pages, free, size = (conn.execute(f"PRAGMA {p}").fetchone()[0]
                             for p in ("page_count", "freelist_count", "page_size"))
        return int((pages - free) * size)
    finally:
        conn.close()


async def approve_one(runtime: Runtime, n: int) -> None:
    """Create, submit and approve one invoice through the application service."""
    service = runtime.service
    record = await service.records.put_record(RecordType.INVOICE, f"INV-{n:06d}", RecordInput.model_validate(DOCUMENT))
    if record.approval_status is ApprovalStatus.APPROVAL_REQUIRED:
        record = await service.records.submit(RecordType.INVOICE, record.id, REQUESTER)
    async with runtime.db.read() as repo:
        [request] = [r for r in await repo.requests_for_record("invoice", record.id) if r.is_open()]
    for approver in APPROVERS:
        await service.approvals.decide(request.id, approver, Decision.APPROVE)


async def approve_all(runtime: Runtime, count: int) -> None:
    """Approve `count` invoices, delivering the outbox as it fills."""
    await runtime.service.workflows.create(WORKFLOW)
    for n in range(count):
        await approve_one(runtime, n)
        if n % DRAIN_EVERY == DRAIN_EVERY - 1:
            await runtime.deliverer.drain(wait_s=0.0)
    await runtime.deliverer.drain(wait_s=0.0)


async def steady_state(runtime: Runtime) -> None:
    """Move the clock past the outbox retention and the archive delay; run the retention and a sweep."""
    runtime.service.clock.advance(timedelta(days=31))  # type: ignore[attr-defined]
    await runtime.deliverer.compact()
    assert runtime.scheduler is not None
    while (await runtime.scheduler.sweep())["archived"]:
        pass


def floor_bytes(db_path: Path, source: Path) -> int:
    """Store the same documents, as the API returns them, in a plain (type, id) table; return its bytes in use."""
    read = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    read.row_factory = sqlite3.Row
    conn = sqlite3.connect(db_path)
    try:
        documents = [record_of(row) for row in read.execute(f"SELECT {RECORD_COLUMNS} FROM records")]
        conn.execute("CREATE TABLE records (type TEXT, id TEXT, data TEXT, PRIMARY KEY (type, id))")
        conn.executemany("INSERT INTO records VALUES (?,?,?)",
                         [(d.type.value, d.id, d.model_dump_json(by_alias=True)) for d in documents])
        conn.commit()
    finally:
        conn.close()
        read.close()
    return bytes_in_use(db_path)


async def measure(count: int) -> dict[str, int]:
    """Approve `count` documents; return the bytes in use when done, in steady state, and the floor's."""
    with tempfile.TemporaryDirectory(prefix="signoff-bench-footprint-") as tmp:
        db_path = Path(tmp) / "signoff.db"
        webapi = await start_webapi(workspace())
        runtime = await build_runtime(settings(db_path, webapi.url))
        runtime.deliverer.pacer = Pacer(per_s=1000, burst=100)  # sizes, not Slack's pace, are measured here
        try:
            await approve_all(runtime, count)
            done = bytes_in_use(db_path)
            await steady_state(runtime)
            steady = bytes_in_use(db_path)
        finally:
            await runtime.close()
            await webapi.close()
        floor = await asyncio.to_thread(floor_bytes, Path(tmp) / "floor.db", db_path)
    return {"done": done, "steady": steady, "floor": floor}


def rows_of(found: dict[str, int], count: int) -> list[Row]:
    """Scale the sizes to 100k documents and report them."""
    scale = PER_100K / count / 1e6
    done_mb, steady_mb, floor_mb = (found[k] * scale for k in ("done", "steady", "floor"))
    note = f"{count:,} approved, scaled; floor (the documents' API JSON alone, in a plain table) {floor_mb:.0f} MB"
    return [
        {"benchmark": NAME, "case": "MB per 100k documents approved through Slack, all delivered",
         "value": round(done_mb, 1), "unit": "MB", "ratio": f"{note}; {done_mb / floor_mb:.1f}× the floor"},
        {"benchmark": NAME, "case": "MB per 100k documents, steady state (outbox retention and archive done)",
         "value": round(steady_mb, 1), "unit": "MB", "ratio": f"{steady_mb / floor_mb:.1f}× the floor",
         "target": f"≤ {TARGET_MB:g} MB", "ok": steady_mb <= TARGET_MB},
    ]


async def abench() -> list[Row]:
    """Run the footprint benchmark."""
    count = documents()
    return rows_of(await measure(count), count)


if __name__ == "__main__":
    from bench.common import table_lines

    print("\n".join(table_lines(asyncio.run(abench()))))
