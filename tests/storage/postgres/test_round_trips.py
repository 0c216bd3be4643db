"""On PostgreSQL a transaction's BEGIN and its unread writes travel with the next statement or the COMMIT."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, cast

import psycopg
import pytest

from engine.approvals import ApprovalRequest, Decision, Step, decide
from storage import open_store
from storage.errors import ConcurrentUpdateError
from storage.ports import Repository
from storage.postgres.connection import END_IDLE_SNAPSHOT_S, PgConnection
from storage.postgres.db import READERS, PgDatabase

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
async def store(pg_url: str) -> AsyncIterator[PgDatabase]:
    opened = await open_store(pg_url)
    assert isinstance(opened, PgDatabase)
    async with opened.unit_of_work() as repo:
        await repo.insert_request(ApprovalRequest("AR-1", "invoice", "INV-1", "wf", "U0REQ",
                                                  (Step(0, ("UA", "UB"), 2),), NOW, NOW))
    yield opened
    await opened.close()


def trips(repo: Repository) -> int:
    conn = cast(Any, repo).conn
    assert isinstance(conn, PgConnection)
    return conn.round_trips


async def test_writes_checked_or_not_wait_for_the_commit_and_go_with_it(store: PgDatabase) -> None:
    async with store.unit_of_work() as repo:
        before = trips(repo)
        request = await repo.get_request("AR-1")  # BEGIN, the request locked, then its votes: one round trip
        assert request is not None and trips(repo) == before + 1
        await repo.update_request(decide(request, "UA", Decision.APPROVE, NOW).request)
        await repo.audit(NOW, "UA", "voted", ("approval_request", "AR-1"))
        assert trips(repo) == before + 1
    assert trips(repo) == before + 2  # the writes (one checked in SQL), the notification and COMMIT
    async with store.read() as repo:
        stored = await repo.get_request("AR-1")
        assert stored is not None and [v.approver for v in stored.votes] == ["UA"]


async def test_a_vote_reads_in_one_round_trip_and_commits_in_another(store: PgDatabase) -> None:
    async with store.read() as repo:
        listed = await repo.list_workflows()  # the cache now holds this version
    async with store.unit_of_work() as repo:
        before = trips(repo)
        reads = await repo.read_vote("AR-1", "UA", NOW)
        assert reads.request is not None and await repo.list_workflows() == listed
        await repo.update_request(decide(reads.request, "UA", Decision.APPROVE, NOW).request)
        await repo.audit(NOW, "UA", "voted", ("approval_request", "AR-1"))
        await repo.enqueue_coalesced("refresh", "AR-1", {"request_id": "AR-1"}, NOW)
        assert trips(repo) == before + 1
    assert trips(repo) == before + 2
    async with store.read() as repo:
        assert [i.target for i in await repo.outbox_items("queued")] == ["AR-1"]


async def test_unchecked_writes_go_with_the_commit(store: PgDatabase) -> None:
    async with store.unit_of_work() as repo:
        before = trips(repo)
        await repo.audit(NOW, "UA", "one", ("approval_request", "AR-1"))
        await repo.audit(NOW, "UA", "two", ("approval_request", "AR-1"))
    assert trips(repo) == before + 1  # BEGIN, both writes, NOTIFY and COMMIT in one pipeline
    async with store.read() as repo:
        assert [e.action for e in await repo.audit_trail("approval_request", "AR-1")][-2:] == ["one", "two"]


async def test_a_transaction_that_ran_nothing_sends_nothing(store: PgDatabase) -> None:
    async with store.read() as repo:
        before = trips(repo)
    assert trips(repo) == before
    async with store.unit_of_work() as repo:
        before = trips(repo)
    assert trips(repo) == before


async def test_a_failed_check_sent_with_the_commit_rolls_everything_back(store: PgDatabase, pg_url: str) -> None:
    with pytest.raises(ConcurrentUpdateError):
        async with store.unit_of_work() as repo:
            [read] = await repo.requests_for_record("invoice", "INV-1")
            async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as other:
                await other.execute("UPDATE approval_requests SET version = version + 1 WHERE id = 'AR-1'")
            await repo.audit(NOW, "UA", "lost", ("approval_request", "AR-1"))
            await repo.update_request(decide(read, "UA", Decision.APPROVE, NOW).request)
    async with store.read() as repo:
        stored = await repo.get_request("AR-1")
        assert stored is not None and stored.votes == ()
        assert "lost" not in [e.action for e in await repo.audit_trail("approval_request", "AR-1")]
    async with store.unit_of_work() as repo:
        await repo.audit(NOW, "UA", "after", ("approval_request", "AR-1"))


class Failed(Exception):
    """The error a test's checked write raises."""


@pytest.mark.parametrize("failing", [0, 1, 2])
async def test_the_write_whose_check_failed_raises_its_own_error_and_nothing_commits(
    store: PgDatabase, failing: int,
) -> None:
    with pytest.raises(Failed, match=f"write {failing}"):
        async with store.unit_of_work() as repo:
            before = trips(repo)
            for n in range(3):
                await repo.conn.write("UPDATE approval_requests SET reason=? WHERE id=?", (f"w{n}", "AR-1"),
                                      expect_rows=0 if n == failing else 1,
                                      fail=functools.partial(Failed, f"write {n}"))
    assert trips(repo) == before + 2  # every write with the COMMIT, then the ROLLBACK of the failed transaction
    async with store.read() as repo:
        stored = await repo.get_request("AR-1")
        assert stored is not None and stored.reason is None


async def test_a_write_sql_cannot_count_is_checked_once_sent(store: PgDatabase) -> None:
    with pytest.raises(Failed):
        async with store.unit_of_work() as repo:
            await repo.conn.write("UPDATE approval_requests SET reason='x' WHERE id=? RETURNING id", ("AR-1",),
                                  expect_rows=2, fail=lambda: Failed("two rows"))
    async with store.read() as repo:
        stored = await repo.get_request("AR-1")
        assert stored is not None and stored.reason is None


async def test_a_read_after_a_commit_sees_it_though_the_last_snapshot_ended_late(store: PgDatabase) -> None:
    for n in range(READERS * 3):
        async with store.read() as repo:
            before = await repo.company_name()
        async with store.unit_of_work() as repo:
            await repo.set_company_name(f"Company {n}")
        async with store.read() as repo:
            assert await repo.company_name() == f"Company {n}" != before


async def test_an_idle_reader_ends_its_snapshot_soon(store: PgDatabase, pg_url: str) -> None:
    async with store.read() as repo:
        await repo.company_name()
    deadline = time.monotonic() + 10 * END_IDLE_SNAPSHOT_S + 5
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as watcher:
        while True:
            cursor = await watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND state = 'idle in transaction'")
            row = await cursor.fetchone()
            if row is not None and row[0] == 0:
                break
            assert time.monotonic() < deadline, "a snapshot stayed open on an idle connection"
            await asyncio.sleep(0.02)


async def test_a_unit_of_work_that_only_read_ends_with_the_next_statement(store: PgDatabase) -> None:
    async with store.unit_of_work() as repo:
        before = trips(repo)
        assert await repo.company_name() is not None
    assert trips(repo) == before + 1  # BEGIN with the read; nothing to commit
    conn = cast(Any, repo).conn
    async with store.unit_of_work() as repo:
        assert cast(Any, repo).conn is conn  # the last used writer first
        await repo.set_company_name("Next")  # the last one's end goes with this one's first statement
    with_end = trips(repo) - before - 1
    async with store.unit_of_work() as repo:
        await repo.set_company_name("Again")  # nothing left to end
    assert trips(repo) - before - 1 - with_end == with_end
    async with store.read() as repo:
        assert await repo.company_name() == "Again"


async def test_a_unit_of_work_that_locked_a_row_releases_it_at_once(store: PgDatabase, pg_url: str) -> None:
    async with store.unit_of_work() as repo:
        assert await repo.get_request("AR-1") is not None  # locks the request, changes nothing
    async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as other:
        await other.execute("SET lock_timeout = '100ms'")
        await other.execute("UPDATE approval_requests SET version = version + 1 WHERE id = 'AR-1'")
