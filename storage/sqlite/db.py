"""The SQLite database: its connections, WAL, and numbered migrations."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from pathlib import Path

from storage.errors import DatabaseUnavailableError, MigrationError
from storage.schema import check_schema_version, numbered_migrations
from storage.sql.connection import SqlConnection
from storage.sql.store import SqlStore
from storage.sqlite.connection import Connection

log = logging.getLogger(__name__)


def migrations() -> list[tuple[int, str]]:
    """Return the numbered migration scripts shipped with the package, in order."""
    return numbered_migrations("storage.sqlite.migrations")


READERS = 2
CHECKPOINT_EVERY_S = 1.0
_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON", "busy_timeout=30000")


class Database(SqlStore):
    """An open SQLite database: one writer connection on the event loop, readers in threads, a pinger.

    SQLite has one writer (its transactions lock the whole database). In WAL mode a reader works on the last
    committed snapshot while the writer goes on, so reads (rendering messages, the Home tab, the API) never wait
    for a vote being counted, nor votes for them. The writer never checkpoints (copying the WAL into the
    database file waits for the disk to sync it, and the writer runs on the event loop): a connection in its
    own thread does, every CHECKPOINT_EVERY_S after a commit, without blocking the writer or the readers.
    """

    _checkpointing: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, path: str | Path, *, migrate: bool = True) -> Database:
        """Open the database at `path`: a new one is created; an older one is migrated when `migrate`, else refused.

        Raises SchemaTooNewError for a database of a newer Signoff, MigrationNeededError for an older one when
        not told to migrate, MigrationError when a migration fails (it is rolled back whole).
        """
        try:
            first = await _connect(path, is_direct=True)
        except (sqlite3.Error, OSError) as exc:
            raise DatabaseUnavailableError(f"cannot open the SQLite database {path}: {exc}") from exc
        db = cls(first, str(path))
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
        checkpointer = await _connect(self.path, is_direct=False)
        self._reader_conns.append(checkpointer)
        await self._conn.execute("PRAGMA wal_autocheckpoint=0")
        self._checkpointing = asyncio.get_running_loop().create_task(self._checkpoint_forever(checkpointer))

    async def _checkpoint_forever(self, checkpointer: SqlConnection) -> None:
        """Copy committed WAL frames into the database file, in the checkpointer's thread, after each commit (and
        once at first, for what the migrations wrote)."""
        checkpointed = -1
        while True:
            await asyncio.sleep(CHECKPOINT_EVERY_S)
            if self._changes() != checkpointed:
                checkpointed = self._changes()
                try:
                    await checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:
                    log.exception("the WAL checkpoint failed; the next one tries again")

    def _changes(self) -> int:
        """Return how many rows the writer has changed since it opened."""
        return self._conn.raw.total_changes if isinstance(self._conn, Connection) else 0

    async def close(self) -> None:
        """Stop checkpointing, then close every connection (the last to close checkpoints what is left)."""
        if self._checkpointing is not None:
            self._checkpointing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpointing
        await super().close()

    async def _migrate(self, migrate: bool) -> None:
        scripts = migrations()
        async with self.unit_of_work() as repo:
            await repo.conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            current = await repo.schema_version()
            check_schema_version(current, scripts[-1][0], migrate)
            for number, script in scripts:
                if number > current:
                    await _apply(repo.conn, number, script)

    async def ping(self) -> bool:
        """Tell whether the database answers a trivial query (on the loop, so a health check costs microseconds)."""
        try:
            rows = await (self._pinger or self._conn).execute_fetchall("SELECT max(version) FROM schema_version")
        except sqlite3.OperationalError:
            async with self.read() as repo:
                return await repo.schema_version() > 0
        return bool(rows and rows[0][0])


async def _connect(path: str | Path, *, is_direct: bool) -> Connection:
    return await Connection.open(path, _PRAGMAS, is_direct=is_direct)


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
