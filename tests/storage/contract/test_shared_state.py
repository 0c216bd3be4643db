"""State every process on the store shares: the test clock's offset, the people who have a Home tab."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from storage.ports import Store
from tests.storage.contract.backends import Backend

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


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


async def test_people_with_a_home_tab_are_known_to_every_store(backend: Backend) -> None:
    first, second = await backend.open(), await backend.open()
    try:
        async with first.unit_of_work() as repo:
            await repo.add_home_users(["U1", "U2", "U1"], NOW)
            await repo.add_home_users(["U2"], NOW)
        async with second.read() as repo:
            assert await repo.home_users_among(["U2", "U3", "U1"]) == {"U1", "U2"}
            assert await repo.home_users_among([f"U{n}" for n in range(2000)]) == {"U1", "U2"}
            assert await repo.home_users_among([]) == set()
    finally:
        await first.close()
        await second.close()
