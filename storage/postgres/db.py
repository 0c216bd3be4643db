"""The PostgreSQL store: the same units of work, snapshots and repositories as SQLite's, over psycopg connections.

A unit of work that changed rows ends with a NOTIFY on one channel, which PostgreSQL delivers only if it
commits; each store LISTENs on its own connection and tells its subscribers when another process committed (its
own commits it already knows of). The same channel carries news a process tells its peers ("<news> <owner>"),
heard at once by those subscribed to it. A process notifies at most every NOTIFY_EVERY_S: a commit within that time of
the last notification is announced by one notification at its end (every listener, this process's own included,
wakes for each notification, so a burst of commits would otherwise cost each replica a wake-up per commit).
Polling stays the fallback: a lost connection only delays work until the next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import time
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit, urlunsplit

import psycopg

from storage.errors import DatabaseMissingError, DatabaseUnavailableError
from storage.postgres.connection import RECONNECT_TIMEOUT_S, PgConnection, first_line
from storage.postgres.schema import has_schema
from storage.postgres.schema import migrate as apply_migrations
from storage.sql.repository import SqlRepository
from storage.sql.store import SqlStore

log = logging.getLogger(__name__)

CHANNEL = "signoff_committed"
WRITERS = 2
READERS = 2
TELL_EVERY_S = 0.25
NOTIFY_EVERY_S = 0.25
LISTEN_AGAIN_S = 1.0
LISTEN_AGAIN_MAX_S = 30.0


class PgDatabase(SqlStore):
    """An open PostgreSQL database: WRITERS connections running units of work side by side, readers, a pinger.

    Units of work of one process are as independent as those of several: they lock rows, not the database. Two
    writers let one unit of work go on while another waits for a row; more would only add server processes
    contending for the same hot pages and cores.
    """

    _listener: asyncio.Task[None] | None = None
    _subscribers: list[Callable[[], None]]
    _news: dict[str, list[Callable[[], None]]]
    _telling: asyncio.TimerHandle | None = None
    _missed = False
    _notified_at = -math.inf
    _owed: asyncio.TimerHandle | None = None
    _owing: asyncio.Task[None] | None = None

    @classmethod
    async def open_url(cls, url: str, *, migrate: bool = True, create: bool = True) -> PgDatabase:
        """Connect to the database at `url`: a new one gets the schema (unless not `create`: refused, unchanged), an
        older one is migrated if `migrate`, else refused."""
        try:
            migrating = await psycopg.AsyncConnection.connect(url)
        except psycopg.Error as exc:
            where = _without_password(url)
            raise DatabaseUnavailableError(f"cannot connect to PostgreSQL at {where}: {first_line(exc)}") from exc
        async with migrating:
            if not create and not await has_schema(migrating):
                raise DatabaseMissingError(f"no Signoff schema in the PostgreSQL database at {_without_password(url)} "
                                           "(`signoff migrate` or `signoff run` creates it)")
            await apply_migrations(migrating, migrate=migrate)
        db = cls(await PgConnection.connect(url), url)
        db._subscribers, db._news = [], {}
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

    async def _before_commit(self, repo: SqlRepository) -> None:
        """Tell the other processes, at commit, that this one changed rows.

        A unit of work that changed nothing (a claim that found nothing due) wakes no one: replicas woken by each
        other's empty claims would otherwise wake each other forever.
        """
        if not (isinstance(repo.conn, PgConnection) and repo.conn.has_changes):
            return
        now = time.monotonic()
        if now - self._notified_at >= NOTIFY_EVERY_S:
            self._notified_at = now
            repo.conn.notify_at_commit(CHANNEL, self.owner)
        else:
            self.on_commit(self._owe_notification)

    def _owe_notification(self) -> None:
        """Announce, once NOTIFY_EVERY_S has passed since the last notification, the commits made meanwhile."""
        if self._owed is None:
            self._owed = asyncio.get_running_loop().call_at(
                self._notified_at + NOTIFY_EVERY_S, self._notify_owed)

    def _notify_owed(self) -> None:
        self._owed = None
        self._notified_at = time.monotonic()
        self._owing = asyncio.get_running_loop().create_task(self._send_notification())

    async def _send_notification(self) -> None:
        try:
            if self._pinger is not None:
                await self._pinger.execute("SELECT pg_notify(?, ?)", (CHANNEL, self.owner))
        except (psycopg.Error, OSError, DatabaseUnavailableError) as exc:
            log.warning("could not tell the other processes of this one's commits (%s); they find them by polling",
                        first_line(exc))

    @property
    def round_trips(self) -> int:
        """Return how many exchanges with the server this store's connections have had."""
        conns = [*self._writer_conns, *self._reader_conns]
        return sum(c.round_trips for c in conns if isinstance(c, PgConnection))

    def on_committed_elsewhere(self, callback: Callable[[], None]) -> None:
        """Call `callback` when another process commits (LISTEN on a connection of its own, opened now)."""
        self._subscribers.append(callback)
        self._start_listening()

    def on_peer_news(self, news: str, callback: Callable[[], None]) -> None:
        """Call `callback` as soon as another process tells `news` (LISTEN on a connection of its own)."""
        self._news.setdefault(news, []).append(callback)
        self._start_listening()

    async def tell_peers(self, news: str) -> None:
        """Tell the other processes `news` at once, in a notification of its own."""
        try:
            if self._pinger is not None:
                await self._pinger.execute("SELECT pg_notify(?, ?)", (CHANNEL, f"{news} {self.owner}"))
        except (psycopg.Error, OSError, DatabaseUnavailableError) as exc:
            log.warning("could not tell the other processes %r (%s); they find the work by polling", news,
                        first_line(exc))

    def _start_listening(self) -> None:
        if self._listener is None:
            self._listener = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        """LISTEN for other processes' commits and news; when the connection is lost, find the work by polling and
        LISTEN again (after LISTEN_AGAIN_S, doubled while it fails, at most LISTEN_AGAIN_MAX_S)."""
        wait_s, is_lost = LISTEN_AGAIN_S, False
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self.path, autocommit=True,
                                                                 connect_timeout=RECONNECT_TIMEOUT_S) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    if is_lost:
                        log.warning("listening for other processes' commits again")
                        self._tell_subscribers()  # what they committed meanwhile was not heard of
                    wait_s, is_lost = LISTEN_AGAIN_S, False
                    async for notice in conn.notifies():
                        self._notified(notice.payload)
            except (psycopg.Error, OSError) as exc:
                log.warning("stopped listening for other processes' commits (%s); their work is found by polling "
                            "until this listens again, in %g s", first_line(exc), wait_s)
            is_lost = True
            await asyncio.sleep(wait_s)
            wait_s = min(2 * wait_s, LISTEN_AGAIN_MAX_S)

    def _notified(self, payload: str) -> None:
        news, _, owner = payload.rpartition(" ")
        if owner == self.owner:
            return
        if news:
            _call_all(self._news.get(news, ()), f"a subscriber to {news!r}")
        else:
            self._heard()

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
        _call_all(self._subscribers, "a subscriber to other processes' commits")

    async def close(self) -> None:
        """Stop listening, then close every connection."""
        if self._owed is not None:
            self._owed.cancel()
        if self._owing is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._owing
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await super().close()


def _call_all(callbacks: Iterable[Callable[[], None]], what: str) -> None:
    """Call every callback; one that fails is logged and the others still run."""
    for callback in callbacks:
        try:
            callback()
        except Exception:
            log.exception("%s failed", what)


def _without_password(url: str) -> str:
    """Return a connection URL fit for a log line: its password, in the user part or the query, as `***`."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
    query = re.sub(r"(^|&)password=[^&]*", r"\1password=***", parts.query)
    return urlunsplit(parts._replace(netloc=netloc, query=query))
