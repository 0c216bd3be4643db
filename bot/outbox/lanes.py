"""The lanes of delivery: each Slack conversation (a channel, the DM with one person) is served by its own task.

Lanes run side by side, each at Slack's `chat.postMessage` pace (about one message per second, short bursts
allowed; `Pacer`), so a slow or throttled channel never holds the others; `Gate` bounds the posts in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from storage.models import ClaimedItem, OutboxItem

POST_RATE_PER_S = 1.0
POST_BURST = 2
MAX_IN_FLIGHT = 128
POSTING_KINDS = frozenset({"ask", "channel_copy", "outcome", "message", "remind", "escalate"})


def lane_of(item: OutboxItem) -> str:
    """Return the lane an item is delivered in: its Slack conversation, or its kind and target."""
    return item.target if item.kind in POSTING_KINDS else f"{item.kind}:{item.target}"


@dataclass
class Lane:
    """One lane: the items claimed for it, in order, and the task delivering them."""

    name: str
    queue: deque[ClaimedItem] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None

    def is_running(self) -> bool:
        """Tell whether the lane's task is still delivering."""
        return self.task is not None and not self.task.done()


class Pacer:
    """Per-lane pacing at Slack's posting limit (a token bucket: `per_s` a second, bursts of `burst`).

    Slack counts a post when it arrives, which is after we send it and before its answer: spacing the
    next send from the earlier answers (never from the sends) keeps every lane under the limit whatever
    the network does, with no margin to tune. After a 429 the lane is held for Retry-After.
    """

    def __init__(self, per_s: float = POST_RATE_PER_S, burst: int = POST_BURST,
                 clock: Callable[[], float] = time.monotonic, memory: int = 32) -> None:
        self.per_s = per_s
        self.burst = burst
        self.clock = clock
        self.memory = memory
        self._answered: dict[str, deque[float]] = {}
        self._paused_until: dict[str, float] = {}

    def earliest(self, lane: str) -> float:
        """Return the first moment the lane's next post may be sent."""
        answered = self._answered.get(lane, ())
        count = len(answered)
        spaced = (at + (count - i + 2 - self.burst) / self.per_s for i, at in enumerate(answered, start=1))
        return max([self._paused_until.get(lane, 0.0), *spaced])

    def delay_s(self, lane: str) -> float:
        """Return how long the lane must wait before its next post (0: post now)."""
        return max(0.0, self.earliest(lane) - self.clock())

    async def acquire(self, lane: str) -> None:
        """Wait until the lane may post."""
        while (wait_s := self.delay_s(lane)) > 0:
            await asyncio.sleep(wait_s)

    def settle(self, lane: str) -> None:
        """Note that Slack answered the lane's post (now)."""
        answered = self._answered.setdefault(lane, deque(maxlen=self.memory))
        answered.append(self.clock())

    def pause(self, lane: str, seconds: float) -> None:
        """Hold a lane for `seconds` (Slack said Retry-After)."""
        self._paused_until[lane] = self.clock() + seconds

    def is_paused(self, lane: str) -> bool:
        """Tell whether a lane is held after a 429."""
        return self._paused_until.get(lane, 0.0) > self.clock()

    def is_fresh(self, lane: str) -> bool:
        """Tell whether the lane has posted nothing lately (its next post opens a burst)."""
        answered = self._answered.get(lane)
        return not answered or self.clock() - answered[-1] >= self.burst / self.per_s


class Gate:
    """At most `size` posts in flight; a conversation's first post goes ahead of the rest of other bursts.

    Each conversation's pace counts from its first answer, so answering every conversation's first post
    early lets all of them finish early; the second post of a burst can wait without delaying anything.
    """

    def __init__(self, size: int = MAX_IN_FLIGHT) -> None:
        self.free = size
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    async def acquire(self, is_first: bool) -> None:
        """Wait for a slot, first posts before the others."""
        if self.free > 0 and not self._waiting:
            self.free -= 1
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (0 if is_first else 1, next(self._order), future))
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()
            raise

    def release(self) -> None:
        """Give a slot back, to the most urgent waiter."""
        while self._waiting:
            _, _, future = heapq.heappop(self._waiting)
            if not future.done():
                future.set_result(None)
                return
        self.free += 1

    @contextlib.asynccontextmanager
    async def slot(self, is_first: bool) -> AsyncIterator[None]:
        """Hold a slot for the duration of the block."""
        await self.acquire(is_first)
        try:
            yield
        finally:
            self.release()
