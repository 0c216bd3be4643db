"""On PostgreSQL a claim skips the rows another transaction holds (FOR UPDATE SKIP LOCKED) instead of waiting."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from storage import open_store
from storage.models import InboxEntry
from storage.ports import Store
from storage.postgres.connection import translate

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@pytest.fixture
async def store(pg_url: str) -> AsyncIterator[Store]:
    opened = await open_store(pg_url)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.mark.parametrize(("sql", "expected"), [
    ("UPDATE t SET a=? WHERE id IN (SELECT id FROM t WHERE b=? ORDER BY id LIMIT ?) RETURNING *",
     "UPDATE t SET a=%s WHERE id IN (SELECT id FROM t WHERE b=%s ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED) "
     "RETURNING *"),
    ("SELECT * FROM t WHERE id=? LIMIT ?", "SELECT * FROM t WHERE id=%s LIMIT %s"),
    ("SELECT data FROM r WHERE json_extract(data, '$.created_by') = ? AND memo LIKE '50%'",
     "SELECT data FROM r WHERE (data::jsonb ->> 'created_by') = %s AND memo LIKE '50%%'"),
    ("SELECT r.* FROM (SELECT x FROM a) a CROSS JOIN requests r ON r.id = a.x",
     "SELECT r.* FROM (SELECT x FROM a) a JOIN requests r ON r.id = a.x"),
    ("INSERT INTO t (a, b) SELECT * FROM unnest(?::text[], ?::bigint[]) WHERE c = ?",
     "INSERT INTO t (a, b) SELECT * FROM unnest(%b::text[], %b::bigint[]) WHERE c = %s"),
])
def test_statements_are_translated(sql: str, expected: str) -> None:
    assert translate(sql) == expected


async def test_an_inbox_claim_skips_a_row_another_transaction_holds(store: Store, pg_url: str) -> None:
    async with store.unit_of_work() as repo:
        entries = [InboxEntry(f"click:{n}", "click", b"{}") for n in range(3)]
        stored = await repo.accept_inbox(entries, "gone", NOW.timestamp() - 100, 1.0)
    first = min(stored.values())
    async with await psycopg.AsyncConnection.connect(pg_url) as other:
        await other.execute("SELECT id FROM inbox WHERE id = %s FOR UPDATE", (first,))
        async with store.unit_of_work() as repo:
            claimed = await asyncio.wait_for(repo.claim_inbox("me", NOW.timestamp(), 30.0, 10), timeout=5)
        await other.rollback()
    assert sorted(row.id for row in claimed) == sorted(set(stored.values()) - {first})


async def test_a_due_work_claim_skips_a_row_another_transaction_holds(store: Store, pg_url: str) -> None:
    async with store.unit_of_work() as repo:
        for n in range(3):
            await repo.schedule_subject("workflow", f"wf_{n}", NOW - timedelta(minutes=n), None)
    async with await psycopg.AsyncConnection.connect(pg_url) as other:
        await other.execute("SELECT 1 FROM due_work WHERE subject_id = 'wf_0' FOR UPDATE")
        async with store.unit_of_work() as repo:
            claimed = await asyncio.wait_for(repo.claim_due_rows(NOW, 10, "me", 60.0), timeout=5)
        await other.rollback()
    assert sorted(row.subject_id for row in claimed) == ["wf_1", "wf_2"]
