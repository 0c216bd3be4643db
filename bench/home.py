"""Benchmark: the App Home of a person with 500 tasks, and a page of the record list, at 10k, 100k and 1M records.

Each size gets a fresh database filled straight with SQL: half invoices, half bills; a tenth of the records
wait for other approvers, 500 more wait for the viewer, who also created 50 documents. The Home case is
what a Home tab costs Signoff: `load_home` (tasks, the 40 shown with their documents and contacts, the
reminded ones, the viewer's own documents, reminders, delegations) and rendering the view. Its floor,
in the same run, is the least any Home must read: the viewer's 500 task rows and the 40 shown documents,
with plain `sqlite3`. Target: under 100 ms at 1M records, flat from 10k to 1M (within 20 %).

The list case is `GET /api/v1/records?approval_status=pending&after=…`'s query half way through the
pending documents (`Repository.list_records` with a cursor), against the same SQL run with plain
`sqlite3`. Target: under 20 ms at 1M records, at any depth.

Run with `python -m bench home`; `SIGNOFF_BENCH_QUICK=1` stops at 100k records.
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import Row, format_value, is_quick
from bench.scheduler import bench_settings, insert_documents, record_json
from bot.runtime import Runtime, build_runtime
from bot.slack.home_render import home_view
from bot.slack.home_tasks import load_home
from storage.sql.codec import dumps, ts

NAME = "home"
VIEWER = "U0VIEW"
TASKS = 500
OWN = 50
SHOWN = 40
PAGE = 100
REPEAT = 7
TARGET_HOME_MS = 100.0
FLAT_WITHIN = 0.20
TARGET_PAGE_MS = 20.0
WORKFLOW: dict[str, Any] = {
    "name": "Invoice approval", "record_type": "invoice", "trigger": "created",
    "actions": [{"type": "approval", "steps": [{"approvers": [VIEWER, "U0OTHER1"], "min_approvers": 1}]}],
}
TASK_SQL = ("SELECT r.* FROM request_approvers a CROSS JOIN approval_requests r ON r.id = a.request_id "
            "WHERE a.approver = ? AND r.status = 'pending'")
PAGE_SQL = ("SELECT data FROM records WHERE approval_status = ? AND (type, id) > (?, ?) "
            "ORDER BY type, id LIMIT ?")


def sizes() -> list[int]:
    """Return the record counts to measure."""
    return [10_000, 100_000] if is_quick() else [10_000, 100_000, 1_000_000]


def record_rows(count: int, now: datetime) -> Iterator[tuple[str, str, str, str, str, str]]:
    """Yield the records: invoices and bills in turn; the viewer's tasks and a tenth of the rest pending."""
    templates = {kind: record_json(kind, "ID", now) for kind in ("invoice", "bill")}
    for i in range(count):
        kind = "invoice" if i % 2 == 0 else "bill"
        record_id = f"{kind[0].upper()}-{i:07d}"
        data = templates[kind].replace('"id":"ID"', f'"id":"{record_id}"')
        if i >= count - OWN:
            data = data.replace('"created_by":"U0REQ"', f'"created_by":"{VIEWER}"')
        is_pending = i % 10 == 0 or is_task(i)
        stamp = ts(now - timedelta(seconds=count - i))
        yield kind, record_id, "pending" if is_pending else "none", data, stamp, stamp


def is_task(i: int) -> bool:
    """Tell whether record number `i` waits for the viewer (the first TASKS invoices not pending otherwise)."""
    return i % 2 == 0 and i % 10 != 0 and i < TASKS * 10 // 4


def request_rows(count: int, workflow_id: str, now: datetime) -> Iterator[tuple[Any, ...]]:
    """Yield the pending approvals of invoices: the viewer's tasks, and others' for a tenth of the records."""
    theirs = dumps([{"index": 0, "approvers": ["U0OTHER1", "U0OTHER2"], "min_approvers": 1, "name": None}])
    mine = dumps([{"index": 0, "approvers": [VIEWER, "U0OTHER1"], "min_approvers": 1, "name": None}])
    started = ts(now - timedelta(hours=5))
    for i in range(0, count, 2):
        if is_task(i) or i % 10 == 0:
            yield (f"AR-{i:07d}", "invoice", f"I-{i:07d}", workflow_id, "U0REQ", "pending", 0,
                   mine if is_task(i) else theirs, started, started)


def fill(db_path: Path, count: int, workflow_id: str, now: datetime) -> None:
    """Insert the records and approvals with plain SQL, and who each approval waits on; checkpoint."""
    conn = sqlite3.connect(db_path, timeout=60)
    try:
        conn.execute("PRAGMA synchronous=OFF")
        insert_documents(conn, record_rows(count, now), request_rows(count, workflow_id, now))
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def floor_home(db_path: Path) -> int:
    """Read what any Home must: the viewer's task rows and the documents of the first 40; return the tasks."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        tasks = conn.execute(TASK_SQL, (VIEWER,)).fetchall()
        ids = [row[2] for row in tasks[:SHOWN]]
        conn.execute(f"SELECT data FROM records WHERE type = 'invoice' AND id IN ({','.join('?' * len(ids))})",
                     ids).fetchall()
        return len(tasks)
    finally:
        conn.close()


def floor_page(db_path: Path, after: tuple[str, str]) -> int:
    """Run the list page's SQL with plain sqlite3; return how many rows it read."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return len(conn.execute(PAGE_SQL, ("pending", *after, PAGE)).fetchall())
    finally:
        conn.close()


async def median_ms(run: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    """Time `run` REPEAT times after one warm-up; return the median milliseconds and its last answer."""
    answer = await run()
    spent = []
    for _ in range(REPEAT):
        started_s = time.perf_counter()
        answer = await run()
        spent.append((time.perf_counter() - started_s) * 1000)
    return statistics.median(spent), answer


async def measure(runtime: Runtime, db_path: Path, count: int) -> dict[str, Any]:
    """Time the Home, its floor, a list page half way through the pending documents, and its floor."""
    service = runtime.service

    async def home() -> int:
        data = await load_home(service, VIEWER)
        home_view(service, data)
        return data.tasks_total

    home_ms, tasks = await median_ms(home)
    floor_ms, floor_tasks = await median_ms(lambda: asyncio.to_thread(floor_home, db_path))
    middle = ("bill", f"B-{count // 2 + 1:07d}")

    async def page() -> int:
        async with service.db.read() as repo:
            return len(await repo.list_records(approval_status="pending", limit=PAGE, after=middle))

    page_ms, rows = await median_ms(page)
    page_floor_ms, floor_rows = await median_ms(lambda: asyncio.to_thread(floor_page, db_path, middle))
    return {"count": count, "home_ms": home_ms, "tasks": tasks, "floor_ms": floor_ms, "floor_tasks": floor_tasks,
            "page_ms": page_ms, "rows": rows, "page_floor_ms": page_floor_ms, "floor_rows": floor_rows}


async def one_size(count: int) -> dict[str, Any]:
    """Build a database of `count` records and measure it."""
    with tempfile.TemporaryDirectory(prefix="signoff-bench-home-") as tmp:
        db_path = Path(tmp) / "home.db"
        runtime = await build_runtime(bench_settings(db_path))
        try:
            workflow = await runtime.service.workflows.create(WORKFLOW)
            await asyncio.to_thread(fill, db_path, count, workflow.id, runtime.service.clock.now())
            return await measure(runtime, db_path, count)
        finally:
            await runtime.close()


def rows_of(results: list[dict[str, Any]]) -> list[Row]:
    """Turn the measurements into report rows, with the targets at the largest size."""
    base = results[0]["home_ms"]
    largest = results[-1]["count"]
    rows: list[Row] = []
    for r in results:
        size, spread = format_value(r["count"]), r["home_ms"] / base
        home: Row = {"benchmark": NAME, "case": f"App Home, {r['tasks']} tasks, {size} records", "unit": "ms",
                     "value": round(r["home_ms"], 1),
                     "ratio": f"median of {REPEAT}; {spread:.2f}× the 10k Home; floor {r['floor_ms']:.1f} ms "
                              f"({r['floor_tasks']} task rows + {SHOWN} documents, plain sqlite3)"}
        page: Row = {"benchmark": NAME, "case": f"list page of {PAGE}, pending, mid-depth, {size} records",
                     "unit": "ms", "value": round(r["page_ms"], 2),
                     "ratio": f"median of {REPEAT}; {r['rows']} rows; same SQL in plain sqlite3 "
                              f"{r['page_floor_ms']:.2f} ms ({r['page_ms'] / max(r['page_floor_ms'], 1e-6):.1f}×)"}
        if r["count"] == largest and largest >= 1_000_000:
            home.update(target=f"< {TARGET_HOME_MS:g} ms and within ±{FLAT_WITHIN:.0%} of 10k",
                        ok=r["home_ms"] < TARGET_HOME_MS and abs(spread - 1) <= FLAT_WITHIN and r["tasks"] == TASKS)
            page.update(target=f"< {TARGET_PAGE_MS:g} ms", ok=r["page_ms"] < TARGET_PAGE_MS and r["rows"] == PAGE)
        rows += [home, page]
    return rows


async def abench() -> list[Row]:
    """Run the Home and list benchmark."""
    return rows_of([await one_size(count) for count in sizes()])


if __name__ == "__main__":
    from bench.common import table_lines

    print("\n".join(table_lines(asyncio.run(abench()))))
