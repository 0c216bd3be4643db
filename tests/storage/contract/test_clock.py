"""The shared test clock: one offset from real time for every process on the store."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from storage.ports import Store
from tests.storage.contract.backends import Backend


async def offset(store: Store) -> timedelta:
    async with store.read() as repo:
        return await repo.clock_offset()


async def test_the_clock_offset_is_shared_by_two_stores_on_one_database(backend: Backend) -> None:
    first, second = await backend.open(), await backend.open()
    try:
        assert await offset(first) == timedelta(0)
        async with first.unit_of_work() as repo:
            await repo.set_clock_offset(timedelta(days=-2, microseconds=7))
        assert await offset(second) == timedelta(days=-2, microseconds=7)
        async with second.unit_of_work() as repo:
            assert await repo.advance_clock_offset(timedelta(days=3)) == timedelta(days=1, microseconds=7)
        assert await offset(first) == timedelta(days=1, microseconds=7)

        async def advance(store: Store) -> None:
            async with store.unit_of_work() as repo:
                await repo.advance_clock_offset(timedelta(minutes=1))

        await asyncio.gather(*(advance(s) for s in (first, second) * 5))
        assert await offset(second) == timedelta(days=1, minutes=10, microseconds=7)
    finally:
        await first.close()
        await second.close()


async def test_an_advance_rolled_back_is_not_kept(store: Store) -> None:
    try:
        async with store.unit_of_work() as repo:
            await repo.advance_clock_offset(timedelta(hours=1))
            raise RuntimeError("crash")
    except RuntimeError:
        pass
    assert await offset(store) == timedelta(0)
