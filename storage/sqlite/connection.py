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
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Generator, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from storage.errors import StorageError

Row = sqlite3.Row
Params = Sequence[Any] | dict[str, Any]
T = TypeVar("T")

YIELD_EVERY = 64
BUSY_TIMEOUT_S = 30.0
_FIRST_WAIT_S = 0.001
_MAX_WAIT_S = 0.05


class DatabaseBusyError(StorageError):
    """Another process held the database's write lock for longer than the busy timeout."""


class UnexpectedRowsError(StorageError):
    """A checked write changed another number of rows than expected."""


def _unexpected_rows() -> Exception:
    return UnexpectedRowsError("a checked write changed another number of rows than expected")


class Cursor:
    """The outcome of one statement: its rows (all fetched) and how many rows it changed."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Row], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    @classmethod
    def of(cls, cursor: sqlite3.Cursor) -> Cursor:
        """Fetch what a sqlite3 cursor holds."""
        return cls(cursor.fetchall(), cursor.rowcount)

    async def fetchone(self) -> Row | None:
        """Return the next row, or None."""
        return self._rows.pop(0) if self._rows else None

    async def fetchall(self) -> list[Row]:
        """Return the remaining rows."""
        rows, self._rows = self._rows, []
        return rows


class Result:
    """A statement to run: await it for its cursor, or use it as `async with`."""

    __slots__ = ("_run",)

    def __init__(self, run: Callable[[], Awaitable[Cursor]]) -> None:
        self._run = run

    def __await__(self) -> Generator[Any, None, Cursor]:
        return self._run().__await__()

    async def __aenter__(self) -> Cursor:
        return await self._run()

    async def __aexit__(self, *exc_info: object) -> None:
        return None


class SqlConnection(ABC):
    """What the repositories need of a connection: statements in SQLite's dialect with `?` parameters."""

    #: What a write transaction appends to a SELECT of a row it will change, to hold it until commit (nothing
    #: where the transaction already holds the whole database).
    lock_rows = ""

    @abstractmethod
    def execute(self, sql: str, parameters: Params = ()) -> Result:
        """Run one statement."""

    async def execute_fetchall(self, sql: str, parameters: Params = ()) -> list[Row]:
        """Run one statement and return its rows."""
        return await (await self.execute(sql, parameters)).fetchall()

    @abstractmethod
    async def executemany(self, sql: str, seq: Iterable[Params]) -> Cursor:
        """Run one statement for each set of parameters."""

    async def write(self, sql: str, parameters: Params = (), *, expect_rows: int | None = None,
                    fail: Callable[[], Exception] | None = None) -> None:
        """Run a write whose outcome the caller does not read, no later than the transaction's next statement or
        its commit (a backend reached over the network sends such writes together, in one round trip).

        With `expect_rows`, a write that changes another number of rows raises `fail()` (a compare-and-set): at
        once, or from the statement or the commit that sent it, and then the transaction does not commit.
        """
        cursor = await self.execute(sql, parameters)
        if expect_rows is not None and cursor.rowcount != expect_rows:
            raise (fail or _unexpected_rows)()

    async def fetch_each(self, statements: Sequence[tuple[str, Params]]) -> list[list[Row]]:
        """Run statements one after the other (each sees what the ones before it did); return the rows of each.

        A backend reached over the network sends them together, in one round trip.
        """
        return [await self.execute_fetchall(sql, parameters) for sql, parameters in statements]

    async def write_many(self, sql: str, seq: Iterable[Params]) -> None:
        """Run a write for each set of parameters, as `write` does (at once, or with the next statement)."""
        await self.executemany(sql, seq)

    @abstractmethod
    async def begin_immediate(self, timeout_s: float = BUSY_TIMEOUT_S) -> None:
        """Start a write transaction."""

    @abstractmethod
    async def begin_snapshot(self) -> None:
        """Start a read-only transaction on a consistent snapshot."""

    async def commit(self) -> None:
        """Commit the transaction."""
        await self.execute("COMMIT")

    async def rollback(self) -> None:
        """Roll the transaction back; nothing happens when none is open (its start was cut short)."""
        await self.execute("ROLLBACK")

    @abstractmethod
    async def close(self) -> None:
        """Close the connection."""


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
        return Cursor.of(self.raw.execute(sql, parameters))

    def _run_many(self, sql: str, seq: Iterable[Params]) -> Cursor:
        return Cursor.of(self.raw.executemany(sql, seq))

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
