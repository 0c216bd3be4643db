"""Faults a test can inject into Web API calls, and Slack's per-channel posting rate limit."""

from __future__ import annotations

import math
from collections import Counter, defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from bot.sandbox.errors import SlackCallError, UnknownConversationError, UnknownUserError
from bot.sandbox.params import Params
from bot.sandbox.state.directory import Directory


@dataclass
class _Bucket:
    tokens: float
    updated_at_s: float


@dataclass
class _RateLimit:
    per_channel_per_s: float
    burst: int
    buckets: dict[str, _Bucket] = field(default_factory=dict)


class Faults(Directory):
    """Refusals, HTTP failures and 429 answers waiting for the next calls, and the posting rate enforced."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._throttles: dict[str, deque[float]] = defaultdict(deque)
        self._failures: dict[str, deque[tuple[int, str | None]]] = defaultdict(deque)
        self._refusals: dict[str, deque[str]] = defaultdict(deque)
        self._rate_limit: _RateLimit | None = None
        self._ratelimited: Counter[str] = Counter()

    def throttle_channel(self, channel: str, retry_after_s: float, times: int = 1) -> None:
        """Answer the next ``times`` chat.postMessage calls to a channel with HTTP 429."""
        channel_id = self.post_target(channel).id
        self._throttles[channel_id].extend([retry_after_s] * times)

    def enforce_post_rate(self, per_channel_per_s: float = 1.0, burst: int = 2) -> None:
        """Answer 429 when a conversation is posted to faster than Slack allows."""
        self._rate_limit = _RateLimit(per_channel_per_s, burst)

    def relax_post_rate(self) -> None:
        """Stop enforcing the per-channel posting rate."""
        self._rate_limit = None

    def fail_next(self, method: str, status: int = 500, times: int = 1, text: str | None = None) -> None:
        """Answer the next ``times`` calls to a method with an HTTP error status (and a plain `text` body)."""
        self._failures[method].extend([(status, text)] * times)

    def refuse_next(self, method: str, error: str, times: int = 1) -> None:
        """Answer the next ``times`` calls to a method with ``{"ok": false, "error": error}`` (HTTP 200)."""
        self._refusals[method].extend([error] * times)

    def ratelimited_count(self, channel: str | None = None) -> int:
        """Return how many 429 answers were given, for one conversation or in total."""
        if channel is None:
            return sum(self._ratelimited.values())
        return self._ratelimited[self.post_target(channel).id]

    def _check_faults(self, method: str, params: Params) -> None:
        refusals = self._refusals.get(method)
        if refusals:
            raise SlackCallError(refusals.popleft())
        failures = self._failures.get(method)
        if failures:
            status, text = failures.popleft()
            headers = {"Retry-After": "1"} if status == 429 else {}
            raise SlackCallError(_failure_code(status), status=status, headers=headers, plain_text=text)
        if method != "chat.postMessage":
            return
        channel_id = self._try_post_target(params.text("channel"))
        if channel_id is not None:
            self._check_post_rate(channel_id)

    def _try_post_target(self, ref: str | None) -> str | None:
        if ref is None:
            return None
        try:
            return self.post_target(ref).id
        except (UnknownConversationError, UnknownUserError):
            return None

    def _check_post_rate(self, channel_id: str) -> None:
        throttled = self._throttles.get(channel_id)
        if throttled:
            self._refuse_rate(channel_id, throttled.popleft())
        if self._rate_limit is not None:
            wait_s = self._take_token(self._rate_limit, channel_id)
            if wait_s > 0:
                self._refuse_rate(channel_id, wait_s)

    def _take_token(self, limit: _RateLimit, channel_id: str) -> float:
        now_s = self.clock()
        bucket = limit.buckets.setdefault(channel_id, _Bucket(float(limit.burst), now_s))
        refill = (now_s - bucket.updated_at_s) * limit.per_channel_per_s
        bucket.tokens = min(float(limit.burst), bucket.tokens + refill)
        bucket.updated_at_s = now_s
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / limit.per_channel_per_s

    def _refuse_rate(self, channel_id: str, retry_after_s: float) -> None:
        self._ratelimited[channel_id] += 1
        headers = {"Retry-After": str(max(1, math.ceil(retry_after_s)))}
        raise SlackCallError("ratelimited", status=429, headers=headers)


def _failure_code(status: int) -> str:
    codes = {429: "ratelimited", 500: "internal_error", 503: "service_unavailable"}
    return codes.get(status, "fatal_error")
