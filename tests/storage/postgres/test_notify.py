"""On PostgreSQL a store hears of other processes' commits (a burst a few times), never of its own nor a rollback."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from storage import open_store
from storage.ports import Store
from storage.postgres.db import CHANNEL

QUIET_S = 0.3


@pytest.fixture
async def two(pg_url: str) -> AsyncIterator[tuple[Store, Store]]:
    first, second = await open_store(pg_url), await open_store(pg_url)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


async def heard_within(heard: list[int], count: int, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while len(heard) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return len(heard) >= count


async def listening(store: Store) -> list[int]:
    heard: list[int] = []
    store.on_committed_elsewhere(lambda: heard.append(1))
    probe = await open_store(store.path)  # type: ignore[attr-defined]
    try:
        while not heard:
            async with probe.unit_of_work() as repo:
                await repo.set_company_name("")
            await asyncio.sleep(0.01)
    finally:
        await probe.close()
    await asyncio.sleep(QUIET_S)
    heard.clear()
    return heard


async def nothing_heard(heard: list[int]) -> bool:
    """Tell whether nothing was heard within a while (notices take milliseconds; this waits far longer)."""
    await asyncio.sleep(QUIET_S)
    return not heard


async def test_a_commit_elsewhere_is_heard_and_ones_own_is_not(two: tuple[Store, Store]) -> None:
    first, second = two
    heard = await asyncio.wait_for(listening(first), timeout=10)
    async with first.unit_of_work() as repo:
        await repo.set_clock_offset(timedelta(seconds=1))
    assert await nothing_heard(heard)
    async with second.unit_of_work() as repo:
        await repo.set_clock_offset(timedelta(seconds=2))
    assert await heard_within(heard, 1)


async def test_a_burst_of_commits_elsewhere_wakes_a_store_a_few_times_not_once_each(
    two: tuple[Store, Store],
) -> None:
    first, second = two
    heard = await asyncio.wait_for(listening(first), timeout=10)
    for n in range(40):
        async with second.unit_of_work() as repo:
            await repo.set_company_name(f"Company {n}")
    assert await heard_within(heard, 1)
    await asyncio.sleep(QUIET_S)
    assert 1 <= len(heard) < 40


async def test_a_unit_of_work_that_changed_nothing_wakes_no_one(two: tuple[Store, Store]) -> None:
    first, second = two
    heard = await asyncio.wait_for(listening(first), timeout=10)
    async with second.unit_of_work():
        pass
    async with second.unit_of_work() as repo:
        assert not await repo.complete_reminder(404, datetime.now(UTC))
    assert await nothing_heard(heard)
    async with second.unit_of_work() as repo:
        await repo.set_company_name("")
    assert await heard_within(heard, 1)


async def test_a_rolled_back_unit_of_work_is_not_heard(two: tuple[Store, Store]) -> None:
    first, second = two
    heard = await asyncio.wait_for(listening(first), timeout=10)
    with pytest.raises(RuntimeError):
        async with second.unit_of_work() as repo:
            await repo.set_clock_offset(timedelta(seconds=2))
            raise RuntimeError("changed my mind")
    assert await nothing_heard(heard)
    async with second.unit_of_work() as repo:
        await repo.set_company_name("")
    assert await heard_within(heard, 1)



async def test_a_burst_of_commits_sends_a_few_notifications_the_last_after_the_last_commit(pg_url: str) -> None:
    store = await open_store(pg_url)
    received_at: list[float] = []

    async def listen(ready: asyncio.Event) -> None:
        async with await psycopg.AsyncConnection.connect(pg_url, autocommit=True) as conn:
            await conn.execute(f"LISTEN {CHANNEL}")
            ready.set()
            async for _ in conn.notifies():
                received_at.append(time.monotonic())

    ready = asyncio.Event()
    listener = asyncio.create_task(listen(ready))
    try:
        await asyncio.wait_for(ready.wait(), timeout=10)
        for n in range(40):
            async with store.unit_of_work() as repo:
                await repo.set_company_name(f"Company {n}")
        last_commit_at = time.monotonic()
        deadline = last_commit_at + 5
        while not (received_at and received_at[-1] >= last_commit_at) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert received_at and received_at[-1] >= last_commit_at
        assert len(received_at) < 40
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        await store.close()


async def test_news_is_heard_by_the_other_stores_subscribed_to_it_and_never_as_a_commit(
    two: tuple[Store, Store],
) -> None:
    first, second = two
    heard = await asyncio.wait_for(listening(first), timeout=10)
    ready: list[int] = []
    first.on_peer_news("ready", lambda: ready.append(1))
    second.on_peer_news("ready", lambda: ready.append(2))
    await second.tell_peers("ready")
    await second.tell_peers("other-news")
    assert await heard_within(ready, 1)
    assert await nothing_heard(heard)
    assert ready == [1]
