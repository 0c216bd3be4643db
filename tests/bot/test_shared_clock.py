"""The test clock is the same in every process on one database: its offset is stored and read again."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import clock as clocks
from storage import open_store
from storage.ports import Store
from tests.support.harness import running_signoff


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[Store, Store]]:
    first, second = await open_store(tmp_path / "clock.db"), await open_store(tmp_path / "clock.db")
    yield first, second
    await first.close()
    await second.close()


def close_to(moment: datetime, other: datetime) -> bool:
    return abs((moment - other).total_seconds()) < 5


async def test_a_move_in_one_process_is_seen_by_another_at_its_next_sync(stores: tuple[Store, Store]) -> None:
    here, there = clocks.TestClock(), clocks.TestClock()
    await here.sync(stores[0])
    await there.sync(stores[1])
    moved = here.advance(timedelta(days=3))
    await here.flush()
    assert close_to(there.now(), datetime.now(UTC))
    await there.sync(stores[1])
    assert close_to(there.now(), moved)
    target = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
    there.set(target)
    there.advance(timedelta(hours=1))
    await there.flush()
    await here.sync(stores[0])
    assert close_to(here.now(), target + timedelta(hours=1))


async def test_moves_made_before_following_the_store_are_stored_then(stores: tuple[Store, Store]) -> None:
    early = clocks.TestClock()
    early.set(datetime(2030, 5, 1, tzinfo=UTC))
    early.advance(timedelta(days=1))
    await early.sync(stores[0])
    later = clocks.TestClock()
    await later.sync(stores[1])
    assert close_to(later.now(), datetime(2030, 5, 2, tzinfo=UTC))
    assert close_to(early.now(), later.now())


async def test_advances_of_two_processes_add_up(stores: tuple[Store, Store]) -> None:
    here, there = clocks.TestClock(), clocks.TestClock()
    await here.sync(stores[0])
    await there.sync(stores[1])
    for _ in range(3):
        here.advance(timedelta(hours=1))
        there.advance(timedelta(hours=1))
    await here.flush()
    await there.flush()
    await here.sync(stores[0])
    await there.sync(stores[1])
    expected = datetime.now(UTC) + timedelta(hours=6)
    assert close_to(here.now(), expected) and close_to(there.now(), expected)


async def test_the_system_clock_shares_nothing(stores: tuple[Store, Store]) -> None:
    clock = clocks.SystemClock()
    await clock.sync(stores[0])
    assert close_to(clock.now(), datetime.now(UTC))


async def test_an_outbox_worker_follows_a_move_made_elsewhere_before_it_claims(tmp_path: Path) -> None:
    async with running_signoff(tmp_path / "one.db") as here, running_signoff(tmp_path / "one.db") as there:
        target = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
        assert (await here.post("/api/v1/clock", {"now": target.isoformat()})).status_code == 200
        assert close_to(there.runtime.service.clock.now(), datetime.now(UTC))
        await there.runtime.deliverer.drain(wait_s=0.0)
        assert close_to(there.runtime.service.clock.now(), target)


async def test_a_tick_or_a_move_right_after_a_move_elsewhere_starts_from_it(tmp_path: Path) -> None:
    async with running_signoff(tmp_path / "one.db") as here, running_signoff(tmp_path / "one.db") as there:
        for n in range(1, 4):
            moved = (await here.api.post("/api/v1/clock", json={"advance": "PT1M"})).json()["now"]
            ticked = (await there.api.post("/api/v1/scheduler/tick")).json()["now"]
            assert datetime.fromisoformat(ticked) >= datetime.fromisoformat(moved), f"move {n}"
        after = (await there.api.post("/api/v1/clock", json={"advance": "PT1H"})).json()["now"]
        assert datetime.fromisoformat(after) >= datetime.fromisoformat(moved) + timedelta(hours=1)
