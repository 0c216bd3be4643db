"""SQLite connections for asyncio: the writer runs each statement at once on the event loop, a reader in its thread.

SQLite in WAL mode answers a statement of a held write transaction in microseconds and never waits for a
lock inside it, so the writer runs statements directly: a thread hop per statement would cost more than
the statement, and a transaction holding the write lock across hops would hold it for that much longer.
Only starting a write transaction can wait (for another process holding the lock); that wait is spent in
`asyncio.sleep`, never in SQLite's busy handler, so the loop keeps serving. A long unit of work lets other
tasks run every `YIELD_EVERY` statements. Readers may run long queries (lists, exports), so each has its
own thread, as a unit of work on the writer never does.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from storage.errors import StorageError
from storage.sql.connection import BUSY_TIMEOUT_S, Cursor, Params, Result, SqlConnection

T = TypeVar("T")

YIELD_EVERY = 64
_FIRST_WAIT_S = 0.001
_MAX_WAIT_S = 0.05


class DatabaseBusyError(StorageError):
    """Another process held the database's write lock for longer than the busy timeout."""


def _cursor_of(cursor: sqlite3.Cursor) -> Cursor:
    """Fetch what a sqlite3 cursor holds."""
    return Cursor(cursor.fetchall(), cursor.rowcount)


class Connection(SqlConnection):
    """One SQLite connection: statements run on the loop (`direct`) or in the connection's own thread."""

    def __init__(self, raw: sqlite3.Connection, executor: ThreadPoolExecutor | None) -> None:
        self.raw = raw
        self._executor = executor
        self._statements = 0

    @classmethod
    async def open(cls, path: str | Path, pragmas: Iterable[str], *, is_direct: bool) -> Connection:
        """Open a connection in autocommit mode with rows by name, and apply `pragmas` (in a thread: they may wait)."""
        executor = None if is_direct else ThreadPoolExecutor(max_workers=1, thread_name_prefix="signoff-sqlite")

        def connect() -> sqlite3.Connection:
            raw = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
            raw.row_factory = sqlite3.Row
            for pragma in pragmas:
                raw.execute(f"PRAGMA {pragma}")
            return raw

        opened = await asyncio.get_running_loop().run_in_executor(executor, connect)
        if is_direct:
            opened.execute("PRAGMA busy_timeout=0")
        return cls(opened, executor)

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        if self._executor is not None:
            return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        self._statements += 1
        if self._statements % YIELD_EVERY == 0:
            await asyncio.sleep(0)
        return fn(*args)

    async def _control(self, statement: str) -> None:
        """Run BEGIN, COMMIT or ROLLBACK so that a cancellation cannot cut it short: on the loop with no suspension
        point, or in the connection's thread shielded (its work queue keeps the order of what follows)."""
        if self._executor is not None:
            await self._in_thread(self.raw.execute, statement)
        else:
            self.raw.execute(statement)

    async def _in_thread(self, fn: Callable[..., Any], *args: Any) -> None:
        await asyncio.shield(asyncio.get_running_loop().run_in_executor(self._executor, fn, *args))

    async def commit(self) -> None:
        """Commit the transaction."""
        await self._control("COMMIT")

    async def rollback(self) -> None:
        """Roll the transaction back; nothing happens when none is open (its start was cut short)."""
        if self._executor is not None:
            await self._in_thread(self._rollback_if_open)
        else:
            self._rollback_if_open()

    def _rollback_if_open(self) -> None:
        if self.raw.in_transaction:
            self.raw.execute("ROLLBACK")

    def _run(self, sql: str, parameters: Params) -> Cursor:
        return _cursor_of(self.raw.execute(sql, parameters))

    def _run_many(self, sql: str, seq: Iterable[Params]) -> Cursor:
        return _cursor_of(self.raw.executemany(sql, seq))

    def execute(self, sql: str, parameters: Params = ()) -> Result:
        """Run one statement."""
        return Result(lambda: self._call(self._run, sql, parameters))

    async def executemany(self, sql: str, seq: Iterable[Params]) -> Cursor:
        """Run one statement for each set of parameters."""
        return await self._call(self._run_many, sql, list(seq))

    async def begin_immediate(self, timeout_s: float = BUSY_TIMEOUT_S) -> None:
        """Start a write transaction, waiting (without blocking the loop) while another process holds the lock."""
        deadline_s, wait_s = time.monotonic() + timeout_s, _FIRST_WAIT_S
        while True:
            try:
                await self._control("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc):
                    raise
                if time.monotonic() >= deadline_s:
                    raise DatabaseBusyError(f"the database stayed locked for {timeout_s:.0f} s") from exc
            await asyncio.sleep(wait_s)
            wait_s = min(wait_s * 2, _MAX_WAIT_S)

    async def begin_snapshot(self) -> None:
        """Start a read transaction (WAL: it reads the last commit until it ends)."""
        await self._control("BEGIN")

    async def close(self) -> None:
        """Close the connection (and its thread)."""
        await self._call(self.raw.close)
        if self._executor is not None:
            self._executor.shutdown(wait=False)


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or \
        "locked" in str(exc)
