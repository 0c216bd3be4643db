"""A PostgreSQL connection the repositories use as they use SQLite's: the same statements, translated once each.

The repositories write portable SQL with SQLite's `?` parameters; what differs is rewritten here: parameters
become `%s` (a literal `%` is doubled), `json_extract(col, '$.key')` becomes `(col::jsonb ->> 'key')`, a
`CROSS JOIN … ON` (SQLite's way to fix the loop order) a plain join, a claim (`UPDATE … WHERE key IN (SELECT …
LIMIT ?) RETURNING`) takes its rows `FOR UPDATE SKIP LOCKED` (so two processes claiming at once take different
rows, neither waiting for the other), and booleans are sent as integers, as SQLite stores them. The connection
is in autocommit mode: the store opens and ends its transactions with explicit statements, as it does on SQLite.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import psycopg

from storage.errors import ConcurrentUpdateError
from storage.sqlite.connection import BUSY_TIMEOUT_S, Cursor, Params, Result, Row, SqlConnection

_JSON_FIELD = re.compile(r"json_extract\((\w+), '\$\.(\w+)'\)")
_JOIN_ORDERED = re.compile(r"\bCROSS JOIN (\w+ \w+) ON\b")
_CLAIM = re.compile(r"\bLIMIT \?\) RETURNING\b")


@functools.lru_cache(maxsize=2048)
def translate(sql: str) -> str:
    """Return a statement in SQLite's dialect as PostgreSQL reads it."""
    sql = _JSON_FIELD.sub(r"(\1::jsonb ->> '\2')", sql.replace("%", "%%"))
    sql = _JOIN_ORDERED.sub(r"JOIN \1 ON", sql)
    sql = _CLAIM.sub("LIMIT ? FOR UPDATE SKIP LOCKED) RETURNING", sql)
    return sql.replace("?", "%s")


def adapt(parameters: Params) -> Sequence[Any]:
    """Return the parameters as PostgreSQL should receive them (booleans as the integers SQLite keeps)."""
    values = parameters.values() if isinstance(parameters, dict) else parameters
    return [int(v) if isinstance(v, bool) else v for v in values]


class PgRow(tuple[Any, ...]):
    """A row read by position or by column name, like sqlite3.Row."""

    _index: dict[str, int]

    def __new__(cls, values: Sequence[Any], index: dict[str, int]) -> PgRow:
        row = super().__new__(cls, values)
        row._index = index
        return row

    def __getitem__(self, key: Any) -> Any:
        return super().__getitem__(self._index[key] if isinstance(key, str) else key)

    def keys(self) -> list[str]:
        """Return the column names."""
        return list(self._index)


@functools.lru_cache(maxsize=1024)
def _column_index(names: tuple[bytes | None, ...]) -> dict[str, int]:
    """Return where each named column of a result is (one dict per shape of result, shared by its rows)."""
    return {(name or b"").decode(): i for i, name in enumerate(names)}


def _row_maker(cursor: Any) -> Callable[[Sequence[Any]], PgRow]:
    result = cursor.pgresult
    names = tuple(result.fname(i) for i in range(result.nfields)) if result is not None else ()
    index = _column_index(names)
    return lambda values: PgRow(values, index)


_CHANGES = frozenset(("INSERT", "UPDATE", "DELETE"))
TUPLES_OK = psycopg.pq.ExecStatus.TUPLES_OK


def _literal(text: str) -> str:
    """Return `text` as a PostgreSQL string literal."""
    return "'" + text.replace("'", "''") + "'"


class PgConnection(SqlConnection):
    """One PostgreSQL connection (psycopg 3, autocommit) answering the repositories' statements."""

    lock_rows = " FOR UPDATE"

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.pg = conn
        self.rows_changed = 0
        self._notice: bytes | None = None

    @classmethod
    async def connect(cls, url: str) -> PgConnection:
        """Open a connection to the database at `url`."""
        return cls(await psycopg.AsyncConnection.connect(url, autocommit=True))

    async def _run(self, sql: str, parameters: Params) -> Cursor:
        async with self.pg.cursor(row_factory=cast(Any, _row_maker)) as cursor:
            try:
                await cursor.execute(translate(sql), adapt(parameters))
            except psycopg.errors.DeadlockDetected as exc:
                raise ConcurrentUpdateError(f"two transactions waited on each other's rows: {exc}") from exc
            result = cursor.pgresult
            rows = await cursor.fetchall() if result is not None and result.status == TUPLES_OK else []
            self._count_changes(cursor)
            return Cursor(cast(list[Row], rows), cursor.rowcount)

    def _count_changes(self, cursor: psycopg.AsyncCursor[Any]) -> None:
        """Add the rows an INSERT, UPDATE or DELETE changed to those of the transaction."""
        verb = (cursor.statusmessage or "").partition(" ")[0]
        if verb in _CHANGES and cursor.rowcount > 0:
            self.rows_changed += cursor.rowcount

    def execute(self, sql: str, parameters: Params = ()) -> Result:
        """Run one statement."""
        return Result(lambda: self._run(sql, parameters))

    async def executemany(self, sql: str, seq: Iterable[Params]) -> Cursor:
        """Run one statement for each set of parameters."""
        batch = [adapt(p) for p in seq]
        if not batch:
            return Cursor([], 0)
        async with self.pg.cursor() as cursor:
            await cursor.executemany(translate(sql), batch)
            self._count_changes(cursor)
            return Cursor([], cursor.rowcount)

    async def _control(self, statement: str) -> None:
        """Run BEGIN, COMMIT or ROLLBACK to its end even when the caller is cancelled (the connection's lock keeps
        whatever follows after it)."""
        await asyncio.shield(self._run(statement, ()))

    async def begin_immediate(self, timeout_s: float = BUSY_TIMEOUT_S) -> None:
        """Start a write transaction (READ COMMITTED: the repositories compare and set what they change)."""
        self.rows_changed = 0
        await self._control("BEGIN")

    async def begin_snapshot(self) -> None:
        """Start a read-only transaction on one snapshot of the last commits."""
        await self._control("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def notify_at_commit(self, channel: str, payload: str) -> None:
        """Have the transaction's COMMIT send a notification (in the same round trip)."""
        self._notice = f"NOTIFY {channel}, {_literal(payload)}; ".encode()

    async def commit(self) -> None:
        """Commit the transaction (after its notification, if any)."""
        notice, self._notice = self._notice, None
        if notice is None:
            await self._control("COMMIT")
            return
        await asyncio.shield(self._commit_telling(notice))

    async def _commit_telling(self, notice: bytes) -> None:
        async with self.pg.cursor() as cursor:
            await cursor.execute(notice + b"COMMIT")

    async def rollback(self) -> None:
        """Roll the transaction back (PostgreSQL only warns when none is open)."""
        self._notice = None
        await self._control("ROLLBACK")

    async def close(self) -> None:
        """Close the connection."""
        await self.pg.close()
