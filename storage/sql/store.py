"""The store shared by both backends: units of work on writer connections, snapshots on readers, after-commit
hooks and the hook a task carries into its first write transaction, over the repositories of storage.sql."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar

from storage.errors import StorageError
from storage.owners import new_owner
from storage.ports import AfterCommit, CommitHook, Repository
from storage.sql.connection import SqlConnection
from storage.sql.repository import SqlRepository, WorkflowCache

_CARRIED: ContextVar[CommitHook | None] = ContextVar("signoff_commit_hook", default=None)
_AFTER_COMMIT: ContextVar[list[AfterCommit] | None] = ContextVar("signoff_after_commit", default=None)


class SqlStore:
    """An open Signoff database: writer connections, each running one unit of work at a time, and readers.

    A backend opens the connections and says how a commit is announced; how a unit of work, a snapshot and the
    hooks run is the same on every backend.
    """

    def __init__(self, conn: SqlConnection, path: str) -> None:
        self._conn = conn
        self._writers: asyncio.Queue[SqlConnection] = asyncio.LifoQueue()  # the last used first: its server is warm
        self._writers.put_nowait(conn)
        self._writer_conns: list[SqlConnection] = [conn]
        self._workflows = WorkflowCache()
        self._readers: asyncio.Queue[SqlConnection] = asyncio.Queue()
        self._reader_conns: list[SqlConnection] = []
        self._pinger: SqlConnection | None = None
        self.path = path
        self.owner = new_owner()

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
    async def unit_of_work(self) -> AsyncIterator[SqlRepository]:
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
                    repo = SqlRepository(conn, self._workflows, self.owner, is_writing=True)
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

    async def _before_commit(self, repo: SqlRepository) -> None:
        """Run as the last statement of every unit of work that commits (a backend may announce the commit)."""

    def on_committed_elsewhere(self, callback: Callable[[], None]) -> None:
        """Call `callback` when another process commits, on a backend that can tell (others' work is polled for)."""

    async def tell_peers(self, news: str) -> None:
        """Tell the other processes `news`, on a backend that can (this one cannot: they poll)."""

    def on_peer_news(self, news: str, callback: Callable[[], None]) -> None:
        """Call `callback` when another process tells `news`, on a backend that can hear it."""

    def on_commit(self, callback: AfterCommit) -> None:
        """Run `callback` after the current task's write transaction commits (never if it rolls back)."""
        after = _AFTER_COMMIT.get()
        if after is None:
            raise StorageError("on_commit is only possible inside a unit of work")
        after.append(callback)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[SqlRepository]:
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
        """Tell whether the database answers a trivial query (on a connection kept for it, so it never waits)."""
        rows = await (self._pinger or self._conn).execute_fetchall("SELECT max(version) FROM schema_version")
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


@asynccontextmanager
async def _snapshot(conn: SqlConnection, workflows: WorkflowCache) -> AsyncIterator[SqlRepository]:
    try:
        await conn.begin_snapshot()
        yield SqlRepository(conn, workflows)
    finally:
        await conn.rollback()
