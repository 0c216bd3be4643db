"""Running a unit of work again when another one changed what it read (a lost compare-and-set of the store)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from storage.errors import ConcurrentUpdateError

log = logging.getLogger(__name__)

T = TypeVar("T")
ATTEMPTS = 5
PAUSE_S = 0.005


async def retrying(run: Callable[[], Awaitable[T]], attempts: int = ATTEMPTS) -> T:
    """Await `run()` (a whole unit of work: it reads, decides and writes), again while it loses a compare-and-set.

    Each attempt was rolled back whole, so running it again reads the new state and decides anew. After
    `attempts` lost races the last ConcurrentUpdateError is raised.
    """
    for attempt in range(1, attempts + 1):
        try:
            return await run()
        except ConcurrentUpdateError as exc:
            if attempt == attempts:
                raise
            log.info("unit of work lost a race (attempt %d of %d), running it again: %s", attempt, attempts, exc)
            await asyncio.sleep(random.uniform(0, PAUSE_S * attempt))
    raise AssertionError("unreachable")
