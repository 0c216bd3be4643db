"""Where the bot gets `now`: the system clock, or a test clock that can be set and advanced."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from storage.ports import Repository, Store

log = logging.getLogger(__name__)

Change = Callable[[Repository], Awaitable[timedelta]]
# The test clock's range: every date the engine computes from it (expiries, archives, schedules) stays valid.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


class SystemClock:
    """The real time, always timezone-aware (UTC)."""

    is_test = False

    def now(self) -> datetime:
        """Return the current time."""
        return datetime.now(UTC)

    async def sync(self, store: Store) -> None:
        """Follow the time every process on `store` shares (the real time needs nothing)."""


class TestClock(SystemClock):
    """A clock that follows real time from an offset that tests and the sandbox can move.

    Once it follows a store (`sync`), the offset lives there, shared by every process on the database: a move
    is stored at once (in the background: `now()`, `advance()` and `set()` stay synchronous) and `sync` reads
    it again (every sweep). Moves made before it follows a store are replayed there when it starts to.
    """

    is_test = True

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._store: Store | None = None
        self._changes: list[Change] = []
        self._moves = 0
        self._writer: asyncio.Task[bool] | None = None

    def now(self) -> datetime:
        """Return the shifted current time."""
        return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by `delta` and return the new time; raise ValueError backwards or out of range."""
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        try:
            moved = self.now() + delta
        except OverflowError:
            moved = datetime.max.replace(tzinfo=UTC)
        _check_range(moved)
        self._offset += delta
        self._moved(lambda repo: repo.advance_clock_offset(delta))
        return moved

    def set(self, moment: datetime) -> datetime:
        """Jump to an aware moment and return it; raise ValueError when it is naive or out of range."""
        if moment.tzinfo is None:
            raise ValueError("the time must include a UTC offset")
        _check_range(moment)
        offset = self._offset = moment - datetime.now(UTC)
        self._moved(lambda repo: _set(repo, offset))
        return moment

    async def sync(self, store: Store) -> None:
        """Follow the offset stored in `store` (first storing the moves made here), then read it again."""
        self._store = store
        await self.flush()
        moves = self._moves
        async with store.read() as repo:
            offset = await repo.clock_offset()
        if moves == self._moves and not self._changes:
            self._offset = offset

    async def flush(self) -> None:
        """Wait until every move made here is stored (when the clock follows a store)."""
        while self._store is not None and self._changes:
            if not await asyncio.shield(self._start_writer()):
                return

    def _moved(self, change: Change) -> None:
        self._moves += 1
        self._changes.append(change)
        if self._store is None:
            return
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return  # stored by the next `sync` or `flush`
        self._start_writer()

    def _start_writer(self) -> asyncio.Task[bool]:
        """Return the task storing the moves, started if none runs (one at a time: each move is stored once)."""
        if self._writer is None or self._writer.done():
            # A context of its own: the write must never carry work of the task that moved the clock (an inbox row).
            self._writer = asyncio.get_running_loop().create_task(self._write(), context=contextvars.Context())
        return self._writer

    async def _write(self) -> bool:
        """Store the moves in order; tell whether all were stored."""
        store = self._store
        while store is not None and self._changes:
            change, moves = self._changes[0], self._moves
            try:
                with store.carrying_nothing():
                    async with store.unit_of_work() as repo:
                        offset = await change(repo)
            except Exception:
                log.warning("could not store the test clock's offset; it is stored at the next sweep", exc_info=True)
                return False
            self._changes.pop(0)
            if moves == self._moves and not self._changes:
                self._offset = offset
        return True


def _check_range(moment: datetime) -> None:
    """Raise ValueError unless the test clock may show `moment`."""
    if not EARLIEST <= moment <= LATEST:
        raise ValueError(f"the test clock stays between {EARLIEST.year} and {LATEST.year}")


async def _set(repo: Repository, offset: timedelta) -> timedelta:
    await repo.set_clock_offset(offset)
    return offset
