"""Replicas share a backlog: rows a busy process has not started go to a ready peer, each processed once."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest

from bot.slack.inbox import SHARE_MIN, Inbox, InboxWorker
from storage import open_store
from storage.models import InboxEntry, InboxRow
from storage.ports import Store
from tests.support.postgres import fresh_database

DEADLINE_S = 10.0


@dataclass
class Processing:
    """A fake click processor: records which worker processed which row; rows of a held worker wait."""

    done: list[tuple[str, int]] = field(default_factory=list)
    held: dict[str, asyncio.Event] = field(default_factory=dict)

    def for_worker(self, name: str, *, is_held: bool = False) -> Callable[[InboxRow], Awaitable[bool]]:
        """Return the process function of worker `name` (waiting for `release(name)` when held)."""
        self.held[name] = asyncio.Event()
        if not is_held:
            self.held[name].set()

        async def process(row: InboxRow) -> bool:
            await self.held[name].wait()
            self.done.append((name, row.id))
            return True
        return process

    def release(self, name: str) -> None:
        """Let worker `name`'s rows go through."""
        self.held[name].set()

    def rows_of(self, name: str) -> list[int]:
        """Return the rows worker `name` processed."""
        return sorted(row_id for who, row_id in self.done if who == name)


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    """Poll `condition` until it holds, or fail at the deadline."""
    deadline = time.monotonic() + DEADLINE_S
    while not await condition():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.01)


async def accepted(worker: InboxWorker, count: int) -> list[int]:
    """Have `worker`'s inbox accept `count` clicks and submit them, as the Slack front does; return their ids."""
    ids = []
    for _ in range(count):
        identity = f"sig:{uuid.uuid4().hex}"
        row_id = await worker.inbox.accept(InboxEntry(identity, "click", "{}"))
        assert row_id is not None
        worker.submit(InboxRow(row_id, identity, "click", "{}", 1, time.time()))
        ids.append(row_id)
    return ids


async def in_line(worker: InboxWorker, count: int, *, started: int = 2) -> list[int]:
    """Accept `count` clicks on a worker whose `started` slots are taken; return their ids once the rest are in
    line for a slot."""
    ids = await accepted(worker, count)
    await until(lambda: _async(worker.rows_in_line() == count - started))
    return ids


async def statuses(db: Store) -> dict[str, int]:
    async with db.read() as repo:
        return await repo.inbox_counts()


async def attempts_of(db: Store, owner: str, ids: list[int]) -> list[int]:
    """Return the attempts counted by a claim of these rows now (then hand them back)."""
    async with db.unit_of_work() as repo:
        rows = await repo.claim_inbox(owner, time.time(), 30.0, len(ids))
        await repo.share_inbox(owner, [r.id for r in rows])
    return [r.attempts for r in rows if r.id in ids]


@contextlib.asynccontextmanager
async def workers(*dbs: Store, processing: Processing, held: tuple[str, ...] = ("a",),
                  concurrency: int = 2) -> AsyncIterator[list[InboxWorker]]:
    """One worker per store ("a", "b", …; those `held` wait until released), sharing backlogs with their peers."""
    found = []
    for name, db in zip("abc", dbs, strict=False):
        worker = InboxWorker(Inbox(db, f"owner-{name}"), processing.for_worker(name, is_held=name in held),
                             concurrency)
        worker.share_with_peers()
        found.append(worker)
    try:
        yield found
    finally:
        for name in processing.held:
            processing.release(name)
        for worker in found:
            await worker.close(5.0)


@pytest.fixture
async def sqlite(tmp_path: Path) -> AsyncIterator[Store]:
    db = await open_store(str(tmp_path / "s.db"))
    yield db
    await db.close()


async def test_the_newest_half_of_the_rows_in_line_goes_to_a_ready_peer_and_each_is_processed_once(
    sqlite: Store,
) -> None:
    processing = Processing()
    async with workers(sqlite, sqlite, processing=processing) as (a, b):
        ids = await in_line(a, 2 + 10)  # two started, ten in line
        a.share()
        await until(lambda: _is_claimable(sqlite, 5))
        b.take_shared()
        await until(lambda: _async(len(processing.rows_of("b")) == 5))
        assert processing.rows_of("b") == ids[-5:] and a.counts["shared"] == 5
        processing.release("a")
        await until(lambda: _async(len(processing.done) == 12))
        await until(lambda: _async(not a.is_busy() and not b.is_busy()))
        assert processing.rows_of("a") == ids[:7]
        assert await statuses(sqlite) == {"done": 12}


async def test_fewer_rows_waiting_than_are_worth_sharing_stay(sqlite: Store) -> None:
    processing = Processing()
    async with workers(sqlite, sqlite, processing=processing) as (a, _):
        await in_line(a, 2 + SHARE_MIN - 1)  # two started, the rest in line
        a.share()
        await asyncio.sleep(0.1)
        assert "shared" not in a.counts and not await _is_claimable(sqlite, 1)


async def test_a_row_handed_back_counts_no_attempt_and_its_owner_may_claim_it_again(sqlite: Store) -> None:
    processing = Processing()
    async with workers(sqlite, sqlite, processing=processing) as (a, _):
        ids = await in_line(a, 2 + SHARE_MIN)
        a.share()
        given = SHARE_MIN - SHARE_MIN // 2
        await until(lambda: _is_claimable(sqlite, given))
        assert await attempts_of(sqlite, "someone", ids[-given:]) == [1] * given
        assert await a.sweep() == given  # its own process takes them back, as any would
        processing.release("a")
        await until(lambda: _async(len(processing.done) == len(ids)))
        await until(lambda: _async(not a.is_busy()))
        assert sorted(row_id for _, row_id in processing.done) == ids
        assert await statuses(sqlite) == {"done": len(ids)}


async def test_a_busy_process_can_take_nothing_handed_back(sqlite: Store) -> None:
    processing = Processing()
    async with workers(sqlite, sqlite, processing=processing, held=("a", "b")) as (a, b):
        await in_line(b, 6)  # b has rows in line of its own
        await in_line(a, 2 + SHARE_MIN)
        a.share()
        await until(lambda: _is_claimable(sqlite, SHARE_MIN // 2))
        b.take_shared()
        await asyncio.sleep(0.1)
        assert await _is_claimable(sqlite, SHARE_MIN // 2)


class RefusingShares:
    """A store whose units of work fail while they hand rows back (a connection lost at that moment)."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @contextlib.asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[Any]:
        async with self.inner.unit_of_work() as repo:
            yield _Refusing(repo)


class _Refusing:
    def __init__(self, repo: Any) -> None:
        self.repo = repo

    def __getattr__(self, name: str) -> Any:
        return getattr(self.repo, name)

    async def share_inbox(self, owner: str, ids: Any) -> int:
        raise OSError("connection lost")


async def test_rows_a_failed_hand_back_left_are_processed_once_when_their_lease_ends(
    sqlite: Store, caplog: pytest.LogCaptureFixture,
) -> None:
    processing = Processing()
    a = InboxWorker(Inbox(cast(Store, RefusingShares(sqlite)), "owner-a", lease_s=0.3),
                    processing.for_worker("a", is_held=True), 2)
    try:
        ids = await in_line(a, 2 + SHARE_MIN)
        given = SHARE_MIN - SHARE_MIN // 2
        a.share()
        await until(lambda: _async(f"could not hand {given} waiting requests" in caplog.text))
        processing.release("a")
        await until(lambda: _async(len(processing.done) == len(ids) - given))
        await until(lambda: _async(not a.is_busy()))
        claimed: list[int] = []

        async def swept() -> bool:  # once the lease of the rows left ends, a sweep takes them
            claimed.append(await a.sweep())
            return sum(claimed) >= given

        await until(swept)
        assert sum(claimed) == given
        await until(lambda: _async(len(processing.done) == len(ids)))
        assert sorted(row_id for _, row_id in processing.done) == ids
    finally:
        await a.close(5.0)


async def test_replicas_on_postgresql_trade_a_backlog_through_news(pg_cluster: str) -> None:
    url = fresh_database(pg_cluster, f"test_{uuid.uuid4().hex}")
    first, second = await open_store(url), await open_store(url)
    processing = Processing()
    try:
        async with workers(first, second, processing=processing) as (a, b):
            ids = await in_line(a, 2 + 10)  # two started and held, ten in line; a's commits tell b a peer is busy
            own = []
            deadline = time.monotonic() + DEADLINE_S
            while "shared" not in a.counts:  # b, having started all it holds, tells it is ready
                assert time.monotonic() < deadline, "a never shared its backlog"
                own += await accepted(b, 1)
                await asyncio.sleep(0.05)
            await until(lambda: _async(len(set(processing.rows_of("b")) & set(ids)) >= 5))
            processing.release("a")
            await until(lambda: _async(len(processing.done) == len(ids) + len(own)))
            taken = sorted(set(processing.rows_of("b")) & set(ids))
            assert taken == ids[-len(taken):]  # the newest: a works oldest first
            assert sorted(row_id for _, row_id in processing.done) == sorted(ids + own)
            await until(lambda: _async(not a.is_busy() and not b.is_busy()))
            assert await statuses(first) == {"done": len(ids) + len(own)}
    finally:
        await first.close()
        await second.close()


async def _is_claimable(db: Store, count: int) -> bool:
    async with db.read() as repo:
        return await repo.claimable_inbox(time.time()) >= count


async def _async(value: bool) -> bool:
    return value
