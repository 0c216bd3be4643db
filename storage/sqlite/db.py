"""The SQLite database: connections, WAL, numbered migrations and the one place transactions live."""

from __future__ import annotations

import asyncio
import inspect
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from pathlib import Path

from storage.errors import MigrationError, StorageError
from storage.owners import new_owner
from storage.ports import AfterCommit, CommitHook, Repository
from storage.schema import check_schema_version, numbered_migrations
from storage.sqlite.connection import Connection, SqlConnection
from storage.sqlite.repository import SqliteRepository, WorkflowCache


def migrations() -> list[tuple[int, str]]:
    """Return the numbered migration scripts shipped with the package, in order."""
    return numbered_migrations("storage.sqlite.migrations")


_CARRIED: ContextVar[CommitHook | None] = ContextVar("signoff_commit_hook", default=None)
_AFTER_COMMIT: ContextVar[list[AfterCommit] | None] = ContextVar("signoff_after_commit", default=None)

READERS = 2
_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000")


class Database:
    """An open Signoff database: writer connections, each running one unit of work at a time, and readers.

    SQLite has one writer (its transactions lock the whole database). In WAL mode a reader works on the last
    committed snapshot while the writer goes on, so reads (rendering messages, the Home tab, the API) never wait
    for a vote being counted, nor votes for them.
    """

    def __init__(self, conn: SqlConnection, path: str) -> None:
        self._conn = conn
        self._writers: asyncio.Queue[SqlConnection] = asyncio.Queue()
        self._writers.put_nowait(conn)
        self._writer_conns: list[SqlConnection] = [conn]
        self._workflows = WorkflowCache()
        self._readers: asyncio.Queue[SqlConnection] = asyncio.Queue()
        self._reader_conns: list[SqlConnection] = []
        self._pinger: SqlConnection | None = None
        self.path = path
        self.owner = new_owner()

    @classmethod
    async def open(cls, path: str | Path, *, migrate: bool = True) -> Database:
        """Open the database at `path`: a new one is created; an older one is migrated when `migrate`, else refused.

        Raises SchemaTooNewError for a database of a newer Signoff, MigrationNeededError for an older one when
        not told to migrate, MigrationError when a migration fails (it is rolled back whole).
        """
        db = cls(await _connect(path, is_direct=True), str(path))
        try:
            await db._migrate(migrate)
            await db._open_readers()
        except BaseException:
            await db.close()
            raise
        return db

    async def _open_readers(self) -> None:
        if self.path == ":memory:" or self.path.startswith("file::memory:"):
            return
        for _ in range(READERS):
            reader = await _connect(self.path, is_direct=False)
            await reader.execute("PRAGMA query_only=ON")
            self._reader_conns.append(reader)
            self._readers.put_nowait(reader)
        self._pinger = await _connect(self.path, is_direct=True)
        await self._pinger.execute("PRAGMA query_only=ON")
        self._reader_conns.append(self._pinger)

    async def _migrate(self, migrate: bool) -> None:
        scripts = migrations()
        async with self.unit_of_work() as repo:
            await repo.conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            current = await repo.schema_version()
            check_schema_version(current, scripts[-1][0], migrate)
            for number, script in scripts:
                if number > current:
                    await _apply(repo.conn, number, script)

    @contextmanager
    def carrying(self, run: Callable[[Repository], Awaitable[None]]) -> Iterator[CommitHook]:
        """Within the block, the first write transaction of this task runs `run` before it commits.

        `run` may raise to roll that transaction back (e.g. LeaseLostError): then nothing of it is kept.
        The returned hook tells, after the block, whether it was committed with some transaction.
        """
        hook = CommitHook(run)
        token = _CARRIED.set(hook)
        try:
            yield hook
        finally:
            _CARRIED.reset(token)

    @contextmanager
    def carrying_nothing(self) -> Iterator[None]:
        """Within the block, no write transaction carries the task's hook (for work done in several steps).

        Work whose steps are each idempotent (a vote counted twice is not counted) can be re-run whole
        after a crash, so its inbox row is completed after the last step rather than with the first.
        """
        token = _CARRIED.set(None)
        try:
            yield
        finally:
            _CARRIED.reset(token)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[SqliteRepository]:
        """Run a write transaction (BEGIN IMMEDIATE); commit on success, roll back on error, then run `on_commit`s.

        A unit of work whose compare-and-set failed (ConcurrentUpdateError, LeaseLostError) never commits: its
        error is raised from the block's end even when the block caught it.
        """
        hook = _CARRIED.get()
        hook = None if hook is None or hook.is_committed else hook
        after: list[AfterCommit] = []
        token = _AFTER_COMMIT.set(after)
        try:
            async with self._writer() as conn:
                await conn.begin_immediate()
                try:
                    repo = SqliteRepository(conn, self._workflows, self.owner, is_writing=True)
                    yield repo
                    if repo.doomed is not None:
                        raise repo.doomed
                    if hook is not None:
                        await hook.run(repo)
                    if repo.doomed is not None:
                        raise repo.doomed
                    await self._before_commit(repo)
                except BaseException:
                    await conn.rollback()
                    raise
                await conn.commit()
                if hook is not None:
                    hook.is_committed = True
        finally:
            _AFTER_COMMIT.reset(token)
        await _run_after_commit(after)


    @asynccontextmanager
    async def _writer(self) -> AsyncIterator[SqlConnection]:
        """Hold a writer connection for one transaction (waiting while all are busy)."""
        conn = await self._writers.get()
        try:
            yield conn
        finally:
            self._writers.put_nowait(conn)

    def _add_writer(self, conn: SqlConnection) -> None:
        """Let units of work also run on another connection (a backend whose rows lock, not its whole database)."""
        self._writer_conns.append(conn)
        self._writers.put_nowait(conn)

    async def _before_commit(self, repo: SqliteRepository) -> None:
        """Run as the last statement of every unit of work that commits (nothing on SQLite)."""

    def on_committed_elsewhere(self, callback: Callable[[], None]) -> None:
        """SQLite cannot tell when another process commits: others' work is found by polling."""

    def on_commit(self, callback: AfterCommit) -> None:
        """Run `callback` after the current task's write transaction commits (never if it rolls back)."""
        after = _AFTER_COMMIT.get()
        if after is None:
            raise StorageError("on_commit is only possible inside a unit of work")
        after.append(callback)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[SqliteRepository]:
        """Run a read-only snapshot (BEGIN DEFERRED) of the last commit, on a reader connection."""
        if not self._reader_conns:
            async with self._writer() as conn, _snapshot(conn, self._workflows) as repo:
                yield repo
            return
        reader = await self._readers.get()
        try:
            async with _snapshot(reader, self._workflows) as repo:
                yield repo
        finally:
            self._readers.put_nowait(reader)

    async def ping(self) -> bool:
        """Tell whether the database answers a trivial query (on the loop, so a health check costs microseconds)."""
        try:
            rows = await (self._pinger or self._conn).execute_fetchall("SELECT max(version) FROM schema_version")
        except sqlite3.OperationalError:
            async with self.read() as repo:
                return await repo.schema_version() > 0
        return bool(rows and rows[0][0])

    async def close(self) -> None:
        """Close every connection."""
        for conn in (*self._reader_conns, *self._writer_conns):
            await conn.close()
        self._reader_conns.clear()
        self._writer_conns.clear()


async def _run_after_commit(callbacks: list[AfterCommit]) -> None:
    """Run every callback in order; raise the first error once all have run."""
    error: BaseException | None = None
    for callback in callbacks:
        try:
            result = callback()
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            error = error or exc
    if error is not None:
        raise error


async def _connect(path: str | Path, *, is_direct: bool) -> Connection:
    return await Connection.open(path, _PRAGMAS, is_direct=is_direct)


@asynccontextmanager
async def _snapshot(conn: SqlConnection, workflows: WorkflowCache) -> AsyncIterator[SqliteRepository]:
    try:
        await conn.begin_snapshot()
        yield SqliteRepository(conn, workflows)
    finally:
        await conn.rollback()


async def _apply(conn: SqlConnection, number: int, script: str) -> None:
    try:
        for statement in _statements(script):
            await conn.execute(statement)
    except Exception as exc:
        raise MigrationError(f"migration {number:04d} failed: {exc}") from exc
    await conn.execute("DELETE FROM schema_version")
    await conn.execute("INSERT INTO schema_version (version) VALUES (?)", (number,))


def _statements(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line
        if current.strip() and sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        statements.append(current.strip())
    return statements
