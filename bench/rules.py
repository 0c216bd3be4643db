"""Benchmark: publishing and unpublishing a pre-fill rule over 10,000 not-yet-approved documents.

Each run stores the documents in a fresh SQLite file (a quarter approved, so untouched), then
times `publish` (every matching open document gets its pre-fills, provenance and an audit line
in one transaction) and `unpublish` (every pre-fill removed, the previous values restored).

Run with `python -m bench.rules`; `SIGNOFF_BENCH_QUICK=1` uses 1,000 documents.
"""

from __future__ import annotations

import asyncio
import gc
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import Row, is_quick, table_lines
from bot.clock import SystemClock
from bot.core.rules import RulesService
from bot.core.service import Signoff
from bot.senders.slack import SlackOut, make_client
from bot.settings import Settings
from engine.records import Record
from engine.rules import RuleStatus
from storage.ports import Repository
from storage.sqlite import Database

TARGET_S = 2.0
STATUSES = ("none", "approval_required", "rejected", "approved")
RULE: dict[str, Any] = {
    "name": "Air travel",
    "conditions": [{"field": "vendor", "op": "in", "value": ["V-AIR", "V-RAIL"]},
                   {"field": "amount", "op": "gte", "value": "10"}],
    "results": {"category": "Travel", "department": "Ops", "fields.vat_code": "FR20"},
}


def record_count() -> int:
    """Return how many documents to store: 10,000, or 1,000 when SIGNOFF_BENCH_QUICK=1."""
    return 1_000 if is_quick() else 10_000


def make_records(n: int, now: datetime) -> list[Record]:
    """Return n bills of matching vendors, with a spread of approval statuses and some person values."""
    return [
        Record.model_validate({
            "type": "bill", "id": f"B-{i:06d}", "amount": f"{10 + i % 5000}.50", "currency": "EUR",
            "vendor": "V-AIR" if i % 2 else "V-RAIL", "approval_status": STATUSES[i % len(STATUSES)],
            "department": "Sales" if i % 10 == 0 else None, "fields": {"po": f"PO-{i}"},
            "created_by": "U0REQ", "created_at": now, "updated_at": now,
        })
        for i in range(n)
    ]


async def _seed(repo: Repository, records: list[Record]) -> None:
    for record in records:
        await repo.save_record(record)


def _service(db: Database, path: Path) -> Signoff:
    settings = Settings(_env_file=None, database=str(path), slack_bot_token="xoxb-bench")  # type: ignore[call-arg]
    return Signoff(db, settings, SlackOut(make_client("xoxb-bench", "http://127.0.0.1:9/")), SystemClock())


async def measure(n: int) -> dict[str, float]:
    """Return the seconds publish and unpublish took on n documents, and how many changed."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        db = await Database.open(path)
        try:
            async with db.unit_of_work() as repo:
                await _seed(repo, make_records(n, datetime.now(UTC)))
            rules = RulesService(_service(db, path).deps)
            rule = (await rules.create_rule(RULE)).rule
            assert rule is not None
            gc.collect()
            started = time.perf_counter()
            published = await rules.set_status(rule.id, RuleStatus.PUBLISHED)
            publish_s = time.perf_counter() - started
            gc.collect()
            started = time.perf_counter()
            unpublished = await rules.set_status(rule.id, RuleStatus.DRAFT)
            unpublish_s = time.perf_counter() - started
        finally:
            await db.close()
    return {"publish_s": publish_s, "unpublish_s": unpublish_s,
            "published": published.records_changed, "unpublished": unpublished.records_changed}


def _row(case: str, seconds: float, changed: int, n: int) -> Row:
    return {
        "benchmark": "rules", "case": f"{case} over {n:,} documents", "value": round(seconds, 3), "unit": "s",
        "ratio": f"{changed:,} open documents changed; {seconds / TARGET_S:.2f}× the target",
        "target": f"< {TARGET_S:g} s", "ok": seconds < TARGET_S,
    }


def bench() -> list[dict[str, Any]]:
    """Run publish and unpublish on a fresh database and return report rows."""
    n = record_count()
    result = asyncio.run(measure(n))
    return [
        _row("publish", result["publish_s"], int(result["published"]), n),
        _row("unpublish", result["unpublish_s"], int(result["unpublished"]), n),
    ]


if __name__ == "__main__":
    print("\n".join(table_lines(bench())))
