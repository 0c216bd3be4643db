"""The writer runs statements on the loop and waits for another process's write lock without blocking the loop."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from storage.sqlite import Database
from storage.sqlite.connection import Connection, DatabaseBusyError


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "signoff.db")
    yield database
    await database.close()


@contextmanager
def write_lock_elsewhere(path: Path) -> Iterator[sqlite3.Connection]:
    """Hold the database's write lock from another connection (as another process would)."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield other
    finally:
        other.execute("ROLLBACK")
        other.close()


async def test_a_unit_of_work_waits_for_the_lock_while_the_loop_goes_on(db: Database, tmp_path: Path) -> None:
    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    ticker = asyncio.create_task(ticking())
    with write_lock_elsewhere(tmp_path / "signoff.db") as other:
        async def write() -> None:
            async with db.unit_of_work() as repo:
                await repo.set_clock_offset(timedelta(seconds=42))

        writing = asyncio.create_task(write())
        await asyncio.sleep(0.2)
        assert not writing.done()
        assert ticks >= 10
        other.execute("ROLLBACK")
        other.execute("BEGIN")
        await asyncio.wait_for(writing, timeout=5)
    ticker.cancel()
    async with db.read() as repo:
        assert await repo.clock_offset() == timedelta(seconds=42)


async def test_the_lock_held_too_long_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    sqlite3.connect(path).close()
    conn = await Connection.open(path, ("journal_mode=WAL",), is_direct=True)
    try:
        with write_lock_elsewhere(path):
            started_s = time.monotonic()
            with pytest.raises(DatabaseBusyError):
                await conn.begin_immediate(timeout_s=0.2)
            assert time.monotonic() - started_s < 2
    finally:
        await conn.close()


async def test_other_errors_are_not_taken_for_a_busy_database(tmp_path: Path) -> None:
    conn = await Connection.open(tmp_path / "plain.db", (), is_direct=True)
    try:
        await conn.begin_immediate()
        with pytest.raises(sqlite3.OperationalError):
            await conn.begin_immediate()
    finally:
        await conn.close()


@pytest.mark.parametrize("is_direct", [True, False])
async def test_statements_answer_alike_on_the_loop_and_in_a_thread(tmp_path: Path, is_direct: bool) -> None:
    conn = await Connection.open(tmp_path / "alike.db", ("journal_mode=WAL",), is_direct=is_direct)
    try:
        await conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
        many = await conn.executemany("INSERT INTO t (name) VALUES (?)", [("a",), ("b",), ("c",)])
        assert many.rowcount == 3
        async with conn.execute("SELECT id, name FROM t ORDER BY id") as cursor:
            first = await cursor.fetchone()
            rest = await cursor.fetchall()
        assert first is not None and first["name"] == "a"
        assert [row["name"] for row in rest] == ["b", "c"]
        returned = await conn.execute_fetchall("UPDATE t SET name=upper(name) WHERE id>1 RETURNING id")
        assert sorted(row[0] for row in returned) == [2, 3]
        deleted = await conn.execute("DELETE FROM t WHERE name=?", ("a",))
        assert deleted.rowcount == 1
    finally:
        await conn.close()


async def test_units_of_work_and_reads_cut_short_anywhere_leave_no_transaction_open(db: Database) -> None:
    async def write() -> None:
        async with db.unit_of_work() as repo:
            for n in range(150):
                await repo.set_clock_offset(timedelta(seconds=n))

    async def read() -> None:
        async with db.read() as repo:
            for _ in range(5):
                await repo.clock_offset()

    for steps in range(0, 40):
        for job in (write, read):
            task = asyncio.create_task(job())
            for _ in range(steps):
                await asyncio.sleep(0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    async with db.unit_of_work() as repo:
        await repo.set_clock_offset(timedelta(seconds=7))
    for _ in range(4):
        async with db.read() as repo:
            assert await repo.clock_offset() == timedelta(seconds=7)


async def test_a_read_cut_short_while_its_rollback_waits_for_the_thread_still_rolls_back(db: Database) -> None:
    ending = asyncio.Event()

    async def read() -> None:
        async with db.read() as repo:
            await repo.clock_offset()
            repo.conn._executor.submit(time.sleep, 0.3)  # type: ignore[attr-defined]  # the thread is busy
            ending.set()

    task = asyncio.create_task(read())
    await ending.wait()
    await asyncio.sleep(0.05)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    for _ in range(4):
        async with db.read() as repo:
            assert await repo.clock_offset() == timedelta(0)

