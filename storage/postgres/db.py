"""The PostgreSQL store: the same units of work, snapshots and repositories as SQLite's, over psycopg connections.

Every unit of work that changed rows ends with a NOTIFY on one channel, which PostgreSQL delivers only if it
commits; each store LISTENs on its own connection and tells its subscribers when another process committed (its
own commits it already knows of). Polling stays the fallback: a lost connection only delays work until the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import psycopg

from storage.postgres.connection import PgConnection
from storage.postgres.schema import migrate as apply_migrations
from storage.sqlite.db import READERS, Database
from storage.sqlite.repository import SqliteRepository

log = logging.getLogger(__name__)

CHANNEL = "signoff_committed"
WRITERS = 4
TELL_EVERY_S = 0.025


class PgDatabase(Database):
    """An open PostgreSQL database: WRITERS connections running units of work side by side, readers, a pinger.

    Units of work of one process are as independent as those of several: they lock rows, not the database.
    """

    _listener: asyncio.Task[None] | None = None
    _subscribers: list[Callable[[], None]]
    _telling: asyncio.TimerHandle | None = None
    _missed = False

    @classmethod
    async def open_url(cls, url: str, *, migrate: bool = True) -> PgDatabase:
        """Connect to the database at `url`: a new one is created, an older one migrated if `migrate`, else refused."""
        async with await psycopg.AsyncConnection.connect(url) as migrating:
            await apply_migrations(migrating, migrate=migrate)
        db = cls(await PgConnection.connect(url), url)
        db._subscribers = []
        try:
            for _ in range(WRITERS - 1):
                db._add_writer(await PgConnection.connect(url))
            for _ in range(READERS):
                reader = await PgConnection.connect(url)
                db._reader_conns.append(reader)
                db._readers.put_nowait(reader)
            db._pinger = await PgConnection.connect(url)
            db._reader_conns.append(db._pinger)
        except BaseException:
            await db.close()
            raise
        return db

    async def _before_commit(self, repo: SqliteRepository) -> None:
        """Tell the other processes, at commit, that this one changed rows.

        A unit of work that changed nothing (a claim that found nothing due) wakes no one: replicas woken by each
        other's empty claims would otherwise wake each other forever.
        """
        if isinstance(repo.conn, PgConnection) and repo.conn.has_changes:
            repo.conn.notify_at_commit(CHANNEL, self.owner)

    def on_committed_elsewhere(self, callback: Callable[[], None]) -> None:
        """Call `callback` when another process commits (LISTEN on a connection of its own, opened now)."""
        self._subscribers.append(callback)
        if self._listener is None:
            self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        try:
            async with await psycopg.AsyncConnection.connect(self.path, autocommit=True) as conn:
                await conn.execute(f"LISTEN {CHANNEL}")
                async for notice in conn.notifies():
                    if notice.payload != self.owner:
                        self._heard()
        except (psycopg.Error, OSError):
            log.warning("stopped listening for other processes' commits; their work is found by polling",
                        exc_info=True)

    def _heard(self) -> None:
        """Tell the subscribers at once, then at most every TELL_EVERY_S while other processes' commits keep coming.

        A burst of commits elsewhere wakes this process a few times, not once per commit.
        """
        if self._telling is not None:
            self._missed = True
            return
        self._tell_subscribers()
        self._telling = asyncio.get_running_loop().call_later(TELL_EVERY_S, self._told)

    def _told(self) -> None:
        self._telling = None
        if self._missed:
            self._missed = False
            self._heard()

    def _tell_subscribers(self) -> None:
        for callback in self._subscribers:
            try:
                callback()
            except Exception:
                log.exception("a subscriber to other processes' commits failed")

    async def close(self) -> None:
        """Stop listening, then close every connection."""
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await super().close()
