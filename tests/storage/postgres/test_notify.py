"""On PostgreSQL a store hears of other processes' commits (LISTEN/NOTIFY), never of its own nor of a rollback."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from storage import open_store
from storage.ports import Store


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
    heard.clear()
    return heard


async def test_a_commit_elsewhere_is_heard_and_ones_own_is_not(two: tuple[Store, Store]) -> None:
    first, second = two
    heard = await asyncio.wait_for(listening(first), timeout=10)
    async with first.unit_of_work() as repo:
        await repo.set_clock_offset(timedelta(seconds=1))
    async with second.unit_of_work() as repo:
        await repo.set_clock_offset(timedelta(seconds=2))
    async with second.unit_of_work() as repo:
        await repo.set_company_name("")
    assert await heard_within(heard, 2)
    assert heard == [1, 1], "notices arrive in commit order: one's own commit, first, was not heard"


async def test_a_unit_of_work_that_changed_nothing_wakes_no_one(two: tuple[Store, Store]) -> None:
    first, second = two
    heard = await asyncio.wait_for(listening(first), timeout=10)
    async with second.unit_of_work():
        pass
    async with second.unit_of_work() as repo:
        assert not await repo.complete_reminder(404, datetime.now(UTC))
    async with second.unit_of_work() as repo:
        await repo.set_company_name("")
    assert await heard_within(heard, 1)
    assert heard == [1], "notices arrive in commit order: the two units of work that changed nothing were not heard"


async def test_a_rolled_back_unit_of_work_is_not_heard(two: tuple[Store, Store]) -> None:
    first, second = two
    heard = await asyncio.wait_for(listening(first), timeout=10)
    with pytest.raises(RuntimeError):
        async with second.unit_of_work() as repo:
            await repo.set_clock_offset(timedelta(seconds=2))
            raise RuntimeError("changed my mind")
    async with second.unit_of_work() as repo:
        await repo.set_company_name("")
    assert await heard_within(heard, 1)
    assert heard == [1], "notices arrive in commit order: the rollback, first, was not heard"
