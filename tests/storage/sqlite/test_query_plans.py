"""On SQLite, the Home tab's and a vote's queries read an index (EXPLAIN QUERY PLAN), never every row of a table."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.sqlite import Database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "signoff.db")
    yield database
    await database.close()


@pytest.mark.parametrize(
    ("sql", "index"),
    [
        ("SELECT r.* FROM (SELECT DISTINCT request_id FROM request_approvers WHERE approver IN (?)) a "
         "CROSS JOIN approval_requests r ON r.id = a.request_id WHERE r.status='pending'", "request_approvers"),
        ("SELECT data FROM records WHERE json_extract(data, '$.created_by') = ? "
         "ORDER BY created_at DESC, id DESC LIMIT 40",
         "records_by_creator"),
        ("SELECT data FROM records WHERE type=? AND id IN (?,?)", "sqlite_autoindex_records"),
        ("SELECT data FROM contacts WHERE kind=? AND id IN (?,?)", "sqlite_autoindex_contacts"),
    ],
)
async def test_home_queries_read_an_index_not_every_row(db: Database, sql: str, index: str) -> None:
    async with db.read() as repo:
        rows = await repo.conn.execute_fetchall(f"EXPLAIN QUERY PLAN {sql}", ["U1"] * sql.count("?"))
    plan = " ".join(str(tuple(row)) for row in rows)
    assert index in plan and "SCAN" not in plan.replace("SCAN a", "") and "requests_by_status" not in plan, plan


async def test_a_coalesced_refresh_finds_one_queued_through_its_index_not_every_due_item(db: Database) -> None:
    sql = ("EXPLAIN QUERY PLAN SELECT 1 FROM outbox WHERE kind=? AND target=? AND status='queued' "
           "AND not_before<=?")
    async with db.read() as repo:
        rows = await repo.conn.execute_fetchall(sql, ["refresh", "AR-1", "2026-11-26T00:00:00"])
    plan = " ".join(str(tuple(row)) for row in rows)
    assert "outbox_queued_by_target (kind=? AND target=? AND not_before<?)" in plan, plan
