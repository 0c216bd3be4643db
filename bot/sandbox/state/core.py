"""What every part of the workspace shares: its settings, change notification and identifiers."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

from bot.sandbox.blockkit.elements import NON_INTERACTIVE, block_elements
from bot.sandbox.state.model import DEFAULT_TOKEN, TEAM_DOMAIN, Change

T = TypeVar("T")

TRIGGER_TTL_S = 3.0


class WorkspaceCore:
    """The workspace's settings, the changes it announces and the identifiers it hands out."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        team_name: str = "Signoff Sandbox",
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        trigger_ttl_s: float | None = TRIGGER_TTL_S,
        web_url: str = f"https://{TEAM_DOMAIN}.slack.com/",
    ) -> None:
        self.token = token
        self.team_name = team_name
        self.clock = clock
        self.wall_clock = wall_clock
        self.trigger_ttl_s = trigger_ttl_s
        self.web_url = web_url
        self.base_url: str | None = None
        self.version = 0
        self._subscribers: list[asyncio.Queue[Change]] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._sequence = itertools.count(1)
        self._last_ts_us = 0

    # Change notification

    def subscribe(self) -> asyncio.Queue[Change]:
        """Return a queue that receives every later change."""
        queue: asyncio.Queue[Change] = asyncio.Queue()
        self._subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Change]) -> None:
        """Stop sending changes to a queue from ``subscribe``."""
        if queue in self._subscribers:
            self._subscribers.remove(queue)

    async def wait_for(self, predicate: Callable[[], T], timeout_s: float = 5.0) -> T:
        """Wait until ``predicate()`` is truthy after some change, and return its value."""
        async with asyncio.timeout(timeout_s):
            while not (result := predicate()):
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                try:
                    await waiter
                finally:
                    if waiter in self._waiters:
                        self._waiters.remove(waiter)
        return result

    def notify(self, kind: str) -> None:
        """Tell live subscribers that something outside Slack's own state changed (a mail arrived…)."""
        self._notify(kind)

    def _notify(self, kind: str, **ids: str | None) -> None:
        self.version += 1
        change = Change(self.version, kind, **ids)
        for queue in self._subscribers:
            queue.put_nowait(change)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # Identifiers

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._sequence):08X}"

    def next_ts(self) -> str:
        """Return a new message timestamp, later than every one handed out before."""
        now_us = max(int(self.wall_clock() * 1_000_000), self._last_ts_us + 1)
        self._last_ts_us = now_us
        return f"{now_us // 1_000_000}.{now_us % 1_000_000:06d}"

    def _with_ids(self, blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        filled: list[dict[str, Any]] = json.loads(json.dumps(blocks))
        for block in filled:
            block.setdefault("block_id", self._short_id())
            for element in block_elements(block):
                if element.get("type") not in NON_INTERACTIVE and block.get("type") != "context":
                    element.setdefault("action_id", self._short_id())
        return filled

    def _short_id(self) -> str:
        raw = next(self._sequence).to_bytes(4, "big")
        return base64.b32encode(raw).decode().rstrip("=")[-5:]
