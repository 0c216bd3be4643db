"""What the repositories need of a connection, on either backend: statements in SQLite's dialect with `?`
parameters, rows read by position or by column name, writes a networked backend may send later, in one round trip."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Generator, Iterable, Iterator, Sequence
from typing import Any, Protocol

from storage.errors import StorageError

Params = Sequence[Any] | dict[str, Any]

BUSY_TIMEOUT_S = 30.0


class Row(Protocol):
    """A row read by position or by column name (sqlite3.Row, or its PostgreSQL twin)."""

    def __getitem__(self, key: int | str, /) -> Any:
        """Return a column by position or by name."""

    def __len__(self) -> int:
        """Return how many columns the row has."""

    def __iter__(self) -> Iterator[Any]:
        """Iterate over the columns' values, in order."""

    def keys(self) -> list[str]:
        """Return the column names, in order."""


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
