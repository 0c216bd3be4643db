"""A PostgreSQL connection the repositories use as they use SQLite's: the same statements, translated once each.

The repositories write portable SQL with SQLite's `?` parameters; what differs is rewritten here: parameters
become `%s` (a literal `%` is doubled), `json_extract(col, '$.key')` becomes `(col::jsonb ->> 'key')`, a
`CROSS JOIN … ON` (SQLite's way to fix the loop order) a plain join, a claim (`UPDATE … WHERE key IN (SELECT …
LIMIT ?) RETURNING`) takes its rows `FOR UPDATE SKIP LOCKED` (so two processes claiming at once take different
rows, neither waiting for the other), and booleans are sent as integers, as SQLite stores them. So that one
statement serves any number of values (PostgreSQL plans and prepares it once, the driver converts it once), a
long `IN (?, …)` of strings becomes `= ANY(?)` with one array, and a many-row `VALUES` (or a one-row INSERT run
for many rows) becomes `SELECT * FROM unnest(?::type[], …)`, one array per column. The connection is in
autocommit mode: the store opens and ends its transactions with explicit statements, as it does on SQLite.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import re
import socket
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, cast

import psycopg

from storage.errors import ConcurrentUpdateError, DatabaseUnavailableError
from storage.sql.connection import BUSY_TIMEOUT_S, Cursor, Params, Result, Row, SqlConnection, UnexpectedRowsError

log = logging.getLogger(__name__)

_JSON_FIELD = re.compile(r"json_extract\((\w+), '\$\.(\w+)'\)")
_JOIN_ORDERED = re.compile(r"\bCROSS JOIN (\w+ \w+) ON\b")
_CLAIM = re.compile(r"\bLIMIT \?\) RETURNING\b")
_VALUES = re.compile(r"\bVALUES\s*(\(\?(?:\s*,\s*\?)*\)(?:\s*,\s*\(\?(?:\s*,\s*\?)*\))+)")
_ONE_ROW = re.compile(r"\bVALUES\s*\(\?(?:\s*,\s*\?)*\)")
_IN_LIST = re.compile(r"(\bNOT )?\bIN \((\?(?:\s*,\s*\?){7,})\)")
_ARRAY = re.compile(r"(?<!%)%s(::\w+\[\])")


@functools.lru_cache(maxsize=2048)
def translate(sql: str) -> str:
    """Return a statement in SQLite's dialect as PostgreSQL reads it.

    An array parameter cast to its type (`?::text[]`) is sent in binary: in text each element is searched for
    characters to quote and escaped, which costs about 150 µs per 3 KB click body.
    """
    sql = _JSON_FIELD.sub(r"(\1::jsonb ->> '\2')", sql.replace("%", "%%"))
    sql = _JOIN_ORDERED.sub(r"JOIN \1 ON", sql)
    sql = _CLAIM.sub("LIMIT ? FOR UPDATE SKIP LOCKED) RETURNING", sql)
    return _ARRAY.sub(r"%b\1", sql.replace("?", "%s"))


@functools.lru_cache(maxsize=1024)
def _text_lists(sql: str) -> tuple[tuple[int, int, int, int, bool], ...]:
    """Return (start, end, first parameter, parameters, is negated) of each long `IN (?, ?, …)` of a statement."""
    return tuple((m.start(), m.end(), sql.count("?", 0, m.start()), m.group(2).count("?"), bool(m.group(1)))
                 for m in _IN_LIST.finditer(sql))


def packed(sql: str, values: Sequence[Any]) -> tuple[str, Sequence[Any]]:
    """Turn each long `IN (?, ?, …)` of strings into `= ANY(?)` with one array: one statement whatever the count.

    PostgreSQL then plans and prepares it once, and the driver converts it once, instead of once per length.
    """
    spans = _text_lists(sql)
    if not spans or not all(isinstance(v, str) for *_, first, count, _ in spans for v in values[first:first + count]):
        return sql, values
    parts: list[str] = []
    out: list[Any] = []
    at_char = at_value = 0
    for start, end, first, count, is_negated in spans:
        parts += [sql[at_char:start], "<> ALL(?)" if is_negated else "= ANY(?)"]
        out += [*values[at_value:first], list(values[first:first + count])]
        at_char, at_value = end, first + count
    return "".join([*parts, sql[at_char:]]), [*out, *values[at_value:]]


@functools.lru_cache(maxsize=1024)
def _rows_list(sql: str) -> tuple[int, int, int, int, int] | None:
    """Return (start, end, first parameter, rows, columns) of a statement's many-row `VALUES (?, …), (?, …)`."""
    found = _VALUES.search(sql)
    if found is None:
        return None
    rows = found.group(1).count("(")
    columns = found.group(1).count("?") // rows
    return found.start(), found.end(), sql.count("?", 0, found.start()), rows, columns


def columnar(sql: str, values: Sequence[Any]) -> tuple[str, Sequence[Any]]:
    """Turn a many-row `VALUES (?, …), …` into `SELECT * FROM unnest(?::type[], …)`: one array per column.

    One statement whatever the number of rows, so PostgreSQL plans it once and the driver converts it once. Only
    when every column holds text, integers or numbers (and is not all NULL); otherwise the statement is unchanged.
    """
    shape = _rows_list(sql)
    if shape is None:
        return sql, values
    start, end, first, rows, columns = shape
    cells = values[first:first + rows * columns]
    typed = _typed_arrays([list(cells[c::columns]) for c in range(columns)])
    if typed is None:
        return sql, values
    types, arrays = typed
    unnest = "SELECT * FROM unnest(" + ", ".join(f"?::{t}[]" for t in types) + ")"
    return sql[:start] + unnest + sql[end:], [*values[:first], *arrays, *values[first + rows * columns:]]


@functools.lru_cache(maxsize=256)
def _one_row(sql: str) -> tuple[int, int] | None:
    """Return where the `VALUES (?, …)` of a one-row INSERT is (None for any other statement, or an upsert)."""
    found = _ONE_ROW.search(sql)
    is_insert = sql.lstrip().upper().startswith("INSERT") and "DO UPDATE" not in sql.upper()
    return (found.start(), found.end()) if found is not None and is_insert else None


def as_one_statement(sql: str, batch: Sequence[Sequence[Any]]) -> tuple[str, Sequence[Any]] | None:
    """Return a one-row INSERT run for many rows as one `INSERT … SELECT * FROM unnest(…)`, or None when it is not
    one (or a column holds values of no single type)."""
    where = _one_row(sql)
    if where is None or len(batch) < 2:
        return None
    typed = _typed_arrays([list(column) for column in zip(*batch, strict=True)])
    if typed is None:
        return None
    types, arrays = typed
    unnest = "SELECT * FROM unnest(" + ", ".join(f"?::{t}[]" for t in types) + ")"
    return sql[:where[0]] + unnest + sql[where[1]:], arrays


def _typed_arrays(columns: list[list[Any]]) -> tuple[list[str], list[list[Any]]] | None:
    """Return the PostgreSQL type of each column's array and the arrays (integers among floats as floats, as the
    server would cast them; binary arrays hold one type), or None when a column has no single type."""
    types = [_array_type(column) for column in columns]
    if None in types:
        return None
    arrays = [[float(v) if isinstance(v, int) else v for v in column] if kind == "float8" else column
              for kind, column in zip(types, columns, strict=True)]
    return cast(list[str], types), arrays


def _array_type(column: Sequence[Any]) -> str | None:
    """Return the PostgreSQL type of an array holding a column's values, or None when there is no single one."""
    kinds = {type(v) for v in column if v is not None}
    return {frozenset({str}): "text", frozenset({int}): "bigint", frozenset({float}): "float8",
            frozenset({int, float}): "float8"}.get(frozenset(kinds))


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
_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "NOTIFY")
END_IDLE_SNAPSHOT_S = 0.2
RECONNECT_TIMEOUT_S = 5
RECONNECT_EVERY_S = 0.5
TUPLES_OK = psycopg.pq.ExecStatus.TUPLES_OK
EXPECT_ROWS_FAILED = "SG001"


@contextlib.contextmanager
def _deadlock_as_conflict() -> Iterator[None]:
    try:
        yield
    except psycopg.errors.DeadlockDetected as exc:
        raise ConcurrentUpdateError(f"two transactions waited on each other's rows: {exc}") from exc


def first_line(exc: BaseException) -> str:
    """Return the first line of an error's message (psycopg's run over several), or its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _prepare(sql: str) -> bool | None:
    """Return whether to prepare a statement: never BEGIN, COMMIT, ROLLBACK or NOTIFY, else as the connection says."""
    return False if sql.startswith(_CONTROL) else None


def _unexpected() -> Exception:
    return UnexpectedRowsError("a checked write changed another number of rows than expected")


def _literal(text: str) -> str:
    """Return `text` as a PostgreSQL string literal."""
    return "'" + text.replace("'", "''") + "'"


_TCP_CORK: int | None = getattr(socket, "TCP_CORK", None)


def tcp_family(fd: int) -> int | None:
    """Return the address family of the TCP socket `fd` when the system can cork it (None for a Unix socket, or
    where corking does not exist)."""
    if _TCP_CORK is None:
        return None
    try:
        sock = socket.socket(fileno=fd)
    except OSError:
        return None
    try:
        return sock.family if sock.family in (socket.AF_INET, socket.AF_INET6) else None
    finally:
        sock.detach()


def set_corked(fd: int, family: int, is_corked: bool) -> None:
    """Hold back (or release) what is written to the TCP socket `fd` until it is uncorked: the statements of a
    pipeline then reach the server together, waking it once rather than once per statement."""
    try:
        sock = socket.socket(family, socket.SOCK_STREAM, 0, fd)
    except OSError:
        return  # a closed connection: the pipeline reports it
    try:
        sock.setsockopt(socket.IPPROTO_TCP, cast(int, _TCP_CORK), int(is_corked))
    except OSError:
        pass
    finally:
        sock.detach()


class _Write:
    """A write waiting to be sent with the next statement or the commit; `is_checked_in_sql` when it counts its
    rows in SQL (signoff_expect_rows) rather than here."""

    __slots__ = ("expect_rows", "fail", "is_checked_in_sql", "sql", "values")

    def __init__(self, sql: str, values: Sequence[Any] | None = None, expect_rows: int | None = None,
                 fail: Callable[[], Exception] | None = None) -> None:
        self.sql, self.values, self.expect_rows, self.fail = sql, values, expect_rows, fail
        self.is_checked_in_sql = False

    @classmethod
    def checked(cls, sql: str, values: Sequence[Any], expect_rows: int, fail: Callable[[], Exception] | None,
                tag: int) -> _Write:
        """Return a write that fails in SQL, naming `tag`, when it changes another number of rows than expected
        (an INSERT, UPDATE or DELETE without RETURNING; any other is checked here, once sent)."""
        if not _is_countable(sql):
            return cls(sql, values, expect_rows, fail)
        write = cls(f"WITH w AS ({sql} RETURNING 1) SELECT signoff_expect_rows(count(*), %s, %s) FROM w",
                    [*values, expect_rows, tag], expect_rows, fail)
        write.is_checked_in_sql = True
        return write


@functools.lru_cache(maxsize=256)
def _is_countable(sql: str) -> bool:
    """Tell whether a statement is an INSERT, UPDATE or DELETE that a CTE can count the rows of."""
    return sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")) and "RETURNING" not in sql.upper()


def _failed_write(exc: psycopg.Error, writes: Sequence[_Write]) -> _Write | None:
    """Return the write whose check in SQL raised `exc`, if it is one."""
    if exc.sqlstate != EXPECT_ROWS_FAILED or not (exc.diag.message_detail or "").isdigit():
        return None
    tag = int(exc.diag.message_detail or "")
    return writes[tag] if 0 <= tag < len(writes) else None


class PgConnection(SqlConnection):
    """One PostgreSQL connection (psycopg 3, autocommit) answering the repositories' statements.

    Every exchange with the server costs both processes a wake-up, more than a small statement itself; so a
    transaction's BEGIN and its writes whose outcome nobody reads wait, and go with the next statement, or the
    COMMIT, in one pipeline: one round trip, its statements written to a corked TCP socket so that they arrive
    together (the driver writes each as it comes; each write would wake the server). A transaction that ran no
    statement sends nothing at all. The end of a read-only snapshot, or of a unit of work that only read (no row
    changed or locked), goes with the connection's next statement, or after END_IDLE_SNAPSHOT_S idle (until then
    it holds back only the cleanup of rows deleted meanwhile); a transaction that changed or locked rows ends at
    once.
    """

    lock_rows = " FOR UPDATE"
    url: str | None = None
    _retry_at_s = 0.0

    def __init__(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self.pg = conn
        self.rows_changed = 0
        self._notice: bytes | None = None
        self._waiting: list[_Write] = []
        self._tagged: list[_Write] = []
        self._unsent_begin: str | None = None
        self._is_open = False
        self._busy = asyncio.Lock()
        self.round_trips = 0
        self._is_snapshot = False
        self._holds_locks = False
        self._unsent_rollback = False
        self._ending: asyncio.Task[None] | None = None
        self._family = tcp_family(conn.pgconn.socket)

    @classmethod
    async def connect(cls, url: str) -> PgConnection:
        """Open a connection to the database at `url` (opened again there whenever the server drops it)."""
        conn = cls(await psycopg.AsyncConnection.connect(url, autocommit=True))
        conn.url = url
        return conn

    @property
    def is_dropped(self) -> bool:
        """Tell whether the server is gone from this connection (restarted, failed over, or the session killed)."""
        return bool(self.pg.closed or self.pg.broken)

    async def _reopened(self) -> None:
        """Between transactions, replace a connection the server dropped by a new one; raise
        DatabaseUnavailableError while the server cannot be reached."""
        if not self.is_dropped or self.url is None:
            return
        if time.monotonic() < self._retry_at_s:
            raise DatabaseUnavailableError("PostgreSQL cannot be reached (tried again in a moment)")
        try:
            pg = await psycopg.AsyncConnection.connect(self.url, autocommit=True, connect_timeout=RECONNECT_TIMEOUT_S)
        except psycopg.Error as exc:
            self._retry_at_s = time.monotonic() + RECONNECT_EVERY_S
            raise DatabaseUnavailableError(f"PostgreSQL cannot be reached: {first_line(exc)}") from exc
        with contextlib.suppress(psycopg.Error):
            await self.pg.close()
        self.pg, self._family, self._unsent_rollback = pg, tcp_family(pg.pgconn.socket), False
        log.warning("connected to PostgreSQL again after losing the connection")

    @contextlib.contextmanager
    def _dropped_as_unavailable(self) -> Iterator[None]:
        """Raise DatabaseUnavailableError when the server drops the connection during a statement."""
        try:
            yield
        except psycopg.OperationalError as exc:
            if not self.is_dropped:
                raise
            raise DatabaseUnavailableError(f"the connection to PostgreSQL was lost: {first_line(exc)}") from exc

    @property
    def has_changes(self) -> bool:
        """Tell whether the transaction changed rows, or has writes waiting to be sent."""
        return bool(self.rows_changed or self._waiting)

    async def _run(self, sql: str, parameters: Params) -> Cursor:
        statement, values = columnar(*packed(sql, adapt(parameters)))
        if self._waiting or self._unsent_begin or self._unsent_rollback:
            return (await self._send_waiting([_Write(translate(statement), values)]))[0]
        if self._is_open:
            return await self._run_now(statement, values)
        await self._reopened()
        try:
            return await self._run_now(statement, values)
        except DatabaseUnavailableError:  # outside a transaction: found dropped, run again on a new connection
            await self._reopened()
            return await self._run_now(statement, values)

    async def _run_now(self, statement: str, values: Sequence[Any]) -> Cursor:
        with self._dropped_as_unavailable():
            async with self._busy, self.pg.cursor(row_factory=cast(Any, _row_maker)) as cursor:
                self.round_trips += 1
                self._note_locks(statement)
                with _deadlock_as_conflict():
                    await cursor.execute(translate(statement), values, prepare=_prepare(statement))
                return await self._answer(cursor)

    async def _answer(self, cursor: psycopg.AsyncCursor[Any]) -> Cursor:
        result = cursor.pgresult
        rows = await cursor.fetchall() if result is not None and result.status == TUPLES_OK else []
        self._count_changes(cursor)
        return Cursor(cast(list[Row], rows), cursor.rowcount)

    async def _send_waiting(self, lasts: Sequence[_Write] = ()) -> list[Cursor]:
        """Send the waiting BEGIN and writes, then `lasts` (whose answers are returned), in one pipeline; check the
        writes."""
        ending = [_Write("ROLLBACK")] if self._unsent_rollback else []
        begin = [_Write(self._unsent_begin)] if self._unsent_begin else []
        writes = [*ending, *begin, *self._waiting]
        self._waiting, self._unsent_begin, self._unsent_rollback = [], None, False
        try:
            cursors = await self._sent([*writes, *lasts], is_first=bool(begin))
        except psycopg.Error as exc:
            failed = _failed_write(exc, self._tagged)
            if failed is None:
                raise
            raise (failed.fail or _unexpected)() from None
        finally:
            self._tagged = []
        for write, cursor in zip(writes, cursors, strict=False):
            if write.is_checked_in_sql:
                self.rows_changed += write.expect_rows or 0
                continue
            self._count_changes(cursor)
            if write.expect_rows is not None and cursor.rowcount != write.expect_rows:
                raise (write.fail or _unexpected)()
        return [await self._answer(cursor) for cursor in cursors[len(writes):]]

    async def _sent(self, statements: list[_Write], *, is_first: bool) -> list[psycopg.AsyncCursor[Any]]:
        """Run a pipeline; the first of a transaction that commits nothing is run again on a new connection when
        the server had dropped this one (nothing of it can have been kept)."""
        try:
            return await asyncio.shield(self._pipeline(statements))
        except DatabaseUnavailableError:
            if not is_first or any(w.sql == "COMMIT" for w in statements):
                raise
        await self._reopened()
        return await asyncio.shield(self._pipeline(statements))

    async def fetch_each(self, statements: Sequence[tuple[str, Params]]) -> list[list[Row]]:
        """Run statements one after the other, in one round trip; return the rows of each."""
        queries = [_Write(translate(sql), values)
                   for sql, values in (columnar(*packed(sql, adapt(p))) for sql, p in statements)]
        return [await cursor.fetchall() for cursor in await self._send_waiting(queries)]

    async def _pipeline(self, writes: Sequence[_Write]) -> list[psycopg.AsyncCursor[Any]]:
        """Run the writes in one pipeline, to its end even when the caller is cancelled: what follows on this
        connection (the caller's ROLLBACK) waits for it."""
        cursors = []
        with self._dropped_as_unavailable(), _deadlock_as_conflict():
            async with self._busy, self.pg.pipeline():
                self.round_trips += 1
                with self._corked():
                    for write in writes:
                        self._note_locks(write.sql)
                        cursor = self.pg.cursor(row_factory=cast(Any, _row_maker))
                        await cursor.execute(write.sql, write.values, prepare=_prepare(write.sql))
                        cursors.append(cursor)
        return cursors

    @contextlib.contextmanager
    def _corked(self) -> Iterator[None]:
        """Cork the connection's socket while a pipeline is written (the driver writes each statement as it comes);
        uncork it once the pipeline's end is written too, at the driver's first wait for the answers."""
        if self._family is None:
            yield
            return
        fd = self.pg.pgconn.socket
        set_corked(fd, self._family, True)
        try:
            yield
        finally:
            asyncio.get_running_loop().call_soon(set_corked, fd, self._family, False)

    def _note_locks(self, sql: str) -> None:
        if " FOR UPDATE" in sql:
            self._holds_locks = True

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
        single = as_one_statement(sql, batch)
        if single is not None:
            return await self._run(*single)
        if self._waiting or self._unsent_begin or self._unsent_rollback:
            await self._send_waiting()
        async with self._busy, self.pg.cursor() as cursor:
            self.round_trips += 1
            await cursor.executemany(translate(sql), batch)
            self._count_changes(cursor)
            return Cursor([], cursor.rowcount)

    async def write(self, sql: str, parameters: Params = (), *, expect_rows: int | None = None,
                    fail: Callable[[], Exception] | None = None) -> None:
        """Keep a write to send with the transaction's next statement or its commit (one round trip for all); in a
        snapshot, or outside a transaction, it runs at once (a snapshot's refusal is raised here)."""
        if not self._is_open or self._is_snapshot:
            await super().write(sql, parameters, expect_rows=expect_rows, fail=fail)
            return
        statement, values = columnar(*packed(sql, adapt(parameters)))
        if expect_rows is None:
            self._waiting.append(_Write(translate(statement), values))
            return
        write = _Write.checked(translate(statement), values, expect_rows, fail, len(self._tagged))
        self._tagged.append(write)
        self._waiting.append(write)

    async def write_many(self, sql: str, seq: Iterable[Params]) -> None:
        """Keep a write for each set of parameters (one statement for all when they fit in arrays)."""
        batch = [adapt(p) for p in seq]
        single = as_one_statement(sql, batch)
        for statement, values in [single] if single is not None else [(sql, p) for p in batch]:
            await self.write(statement, values)

    async def _control(self, statement: str) -> None:
        """Run BEGIN, COMMIT or ROLLBACK to its end even when the caller is cancelled (the connection's lock keeps
        whatever follows after it)."""
        await asyncio.shield(self._run(statement, ()))

    def _begin(self, statement: str, *, is_snapshot: bool = False) -> None:
        self.rows_changed = 0
        self._notice, self._waiting, self._unsent_begin, self._is_open = None, [], statement, True
        self._tagged = []
        self._is_snapshot, self._holds_locks = is_snapshot, False

    async def begin_immediate(self, timeout_s: float = BUSY_TIMEOUT_S) -> None:
        """Start a write transaction (READ COMMITTED: the repositories compare and set what they change); its BEGIN
        goes with the first statement."""
        await self._reopened()
        self._begin("BEGIN")

    async def begin_snapshot(self) -> None:
        """Start a read-only transaction on one snapshot of the last commits; its BEGIN goes with the first
        statement (the snapshot is taken there)."""
        await self._reopened()
        self._begin("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", is_snapshot=True)

    def notify_at_commit(self, channel: str, payload: str) -> None:
        """Have the transaction's COMMIT send a notification (in the same round trip)."""
        self._notice = f"NOTIFY {channel}, {_literal(payload)}".encode()

    async def commit(self) -> None:
        """Send the waiting writes, the notification if any, and COMMIT, in one round trip (a write checked here,
        not in SQL, is sent first, on its own).

        A failed write or check rolls the transaction back and raises; nothing is committed.
        """
        notice, self._notice, self._is_open = self._notice, None, False
        if self._unsent_begin and not self._waiting:
            self._unsent_begin = None
            return
        if not (self._waiting or self.rows_changed or self._holds_locks or notice):
            self._end_later()  # it read, and holds nothing: ended like a snapshot
            return
        try:
            if any(w.expect_rows is not None and not w.is_checked_in_sql for w in self._waiting):
                await self._send_waiting()
            if self._waiting or self._unsent_begin:
                self._waiting += [*([_Write(notice.decode())] if notice else []), _Write("COMMIT")]
                await self._send_waiting()
            elif notice is not None:
                await asyncio.shield(self._commit_telling(notice + b"; COMMIT"))
            else:
                await self._control("COMMIT")
        except BaseException:
            await self.rollback()
            raise

    async def _commit_telling(self, statements: bytes) -> None:
        with self._dropped_as_unavailable():
            async with self._busy, self.pg.cursor() as cursor:
                self.round_trips += 1
                await cursor.execute(statements, prepare=False)

    async def rollback(self) -> None:
        """Roll the transaction back (nothing is sent when it never reached the server; PostgreSQL only warns when
        none is open)."""
        never_sent = self._unsent_begin is not None
        self._notice, self._waiting, self._unsent_begin, self._is_open = None, [], None, False
        self._tagged = []
        if self.is_dropped:  # a dropped connection's transactions ended with it
            self._unsent_rollback = False
            return
        if never_sent:
            return
        if self._is_snapshot:
            self._end_later()
            return
        await self._control("ROLLBACK")

    def _end_later(self) -> None:
        """End the transaction with the connection's next statement, or once idle for END_IDLE_SNAPSHOT_S."""
        self._unsent_rollback = True
        asyncio.get_running_loop().call_later(END_IDLE_SNAPSHOT_S, self._end_idle_snapshot)

    def _end_idle_snapshot(self) -> None:
        if self._unsent_rollback and (self._ending is None or self._ending.done()):
            self._ending = asyncio.get_running_loop().create_task(self._send_unsent_rollback())

    async def _send_unsent_rollback(self) -> None:
        """End a snapshot left open since its read, unless the connection's next statement already did."""
        async with self._busy:
            if not self._unsent_rollback:
                return
            self._unsent_rollback = False
            self.round_trips += 1
            with contextlib.suppress(psycopg.Error):
                await self.pg.execute("ROLLBACK")

    async def close(self) -> None:
        """Close the connection (which ends any snapshot left open)."""
        self._unsent_rollback = False
        if self._ending is not None:
            await self._ending
        await self.pg.close()
