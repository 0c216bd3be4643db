"""On PostgreSQL too, units of work and reads cut short by a cancellation anywhere leave no transaction open."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from storage import open_store


async def test_work_cut_short_anywhere_leaves_the_store_usable(pg_url: str) -> None:
    store = await open_store(pg_url)
    try:
        async def write() -> None:
            async with store.unit_of_work() as repo:
                for n in range(5):
                    await repo.set_clock_offset(timedelta(seconds=n))

        async def read() -> None:
            async with store.read() as repo:
                for _ in range(3):
                    await repo.clock_offset()

        for steps in range(0, 30):
            for job in (write, read):
                task = asyncio.create_task(job())
                for _ in range(steps):
                    await asyncio.sleep(0)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        async with store.unit_of_work() as repo:
            await repo.set_clock_offset(timedelta(seconds=7))
        for _ in range(4):
            async with store.read() as repo:
                assert await repo.clock_offset() == timedelta(seconds=7)
    finally:
        await store.close()
