"""The outbox worker: claims due messages and delivers them, paced per Slack conversation, exactly once.

Each conversation (a channel, or the DM with one person) is a lane served by its own task, at Slack's
`chat.postMessage` pace (about one message per second, short bursts allowed); lanes run side by side,
so a slow or throttled channel never holds the others. A 429 pauses only its lane for `Retry-After`.
Any other failure (a server error, a body that is not JSON, a timeout, an outage, a bug in a handler) is
retried with exponential backoff capped at a minute, so delivery resumes within a minute of recovery,
until the item is older than the delivery horizon (`SIGNOFF_DELIVERY_HORIZON`); only then, or when Slack
says retrying cannot help (`channel_not_found`…), is it dead-lettered: logged, counted, listed, retryable.

Clicks come first: while the inbox has Slack requests in hand, a lane waits (at most `YIELD_MAX_S` per
item) before its next delivery, so a burst of votes is counted before the messages it changes are
refreshed, and those refreshes coalesce.

Posts carry Slack message metadata naming their outbox key. An item whose earlier attempt may have
reached Slack (the process died, or the call timed out) is looked up in `conversations.history`
before it is posted again, so it is delivered once.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from aiosmtplib import SMTPException
from slack_sdk.errors import SlackApiError

from bot.core import asking
from bot.core.service import Signoff
from bot.errors import UndeliverableError
from bot.senders.email import Email, SmtpConfig, send_email
from bot.senders.slack import Posted, SlackOut
from engine.notify import is_slack_user
from storage.models import ClaimedItem, OutboxItem

log = logging.getLogger(__name__)

Handler = Callable[[OutboxItem], Awaitable[dict[str, Any] | None]]
MAX_BACKOFF_S = 60
LEASE_S = 60.0
BATCH_LIMIT = 500
PER_LANE_CLAIM = 8
DRAIN_WAIT_S = 10.0
POLL_S = 0.2
MIN_SLEEP_S = 0.05
POST_RATE_PER_S = 1.0
POST_BURST = 2
MAX_IN_FLIGHT = 128
YIELD_MAX_S = 1.0
COMPACT_EVERY_S = 300.0
DEFAULT_RETRY_AFTER_S = 1.0
HISTORY_PAGES = 10
CLOCK_SKEW_S = 5.0
METADATA_EVENT = "signoff_outbox"
# Without the history scopes (im:history, channels:history, groups:history) a post whose fate is unknown
# cannot be checked: it is posted again rather than never (at least once instead of exactly once).
UNREADABLE_HISTORY = frozenset({"missing_scope", "not_in_channel", "channel_not_found", "not_allowed_token_type"})
POSTING_KINDS = frozenset({"ask", "channel_copy", "outcome", "message", "remind", "escalate"})
PERMANENT_SLACK_ERRORS = frozenset({
    "channel_not_found", "user_not_found", "invalid_blocks", "msg_too_long", "no_text", "not_in_channel",
    "is_archived", "invalid_arguments", "cannot_dm_bot", "user_disabled", "message_not_found",
})


def backoff_s(attempts: int) -> float:
    """Return the wait before retry number `attempts` (exponential, capped at a minute)."""
    return float(min(MAX_BACKOFF_S, 2 ** min(max(0, attempts - 1), 16)))


def slack_error(exc: SlackApiError) -> str | None:
    """Return Slack's `error` code of a failed call, or None when the answer was not Slack's JSON."""
    data = getattr(exc.response, "data", None)
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, str) else None


def lane_of(item: OutboxItem) -> str:
    """Return the lane an item is delivered in: its Slack conversation, or its kind and target."""
    return item.target if item.kind in POSTING_KINDS else f"{item.kind}:{item.target}"


def outbox_key(item: OutboxItem) -> str:
    """Return the key a delivered message carries in its metadata."""
    return item.key or f"outbox:{item.id}"


def retry_after_s(exc: SlackApiError) -> float | None:
    """Return Slack's Retry-After of a 429 answer (None when the error is not a rate limit)."""
    if getattr(exc.response, "status_code", None) != 429:
        return None
    headers = getattr(exc.response, "headers", None) or {}
    raw = (headers.get("Retry-After") or headers.get("retry-after")) if hasattr(headers, "get") else None
    try:
        wait_s = float(raw) if raw is not None else DEFAULT_RETRY_AFTER_S
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER_S
    return min(max(0.0, wait_s), float(MAX_BACKOFF_S)) if wait_s == wait_s else DEFAULT_RETRY_AFTER_S


def is_permanent(exc: Exception) -> bool:
    """Tell whether retrying cannot help: we said so, or Slack did."""
    if isinstance(exc, UndeliverableError):
        return True
    return isinstance(exc, SlackApiError) and slack_error(exc) in PERMANENT_SLACK_ERRORS


def is_expected(exc: Exception) -> bool:
    """Tell whether a failure is an outage Slack or the mail server may recover from (no traceback needed)."""
    return isinstance(exc, SlackApiError | SMTPException | OSError | TimeoutError | UndeliverableError)


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


@dataclass(frozen=True)
class _Mark:
    key: str
    uncertain_since: float | None
    lane: str
    pacer: Pacer
    gate: Gate


_CURRENT: ContextVar[_Mark | None] = ContextVar("signoff_outbox_item", default=None)


class OutboxSlack(SlackOut):
    """Slack for the outbox: posts carry their outbox key, and a post that may have been made is found first."""

    async def post(self, channel: str, message: dict[str, Any]) -> Posted:
        """Post a message; during outbox delivery tag it, and reuse the earlier post of a retried item."""
        mark = _CURRENT.get()
        if mark is None:
            return await super().post(channel, message)
        if mark.uncertain_since is not None:
            found = await self.find_posted(channel, mark.key, mark.uncertain_since)
            if found is not None:
                log.info("outbox %s was already delivered as %s %s", mark.key, found.channel, found.ts)
                return found
        metadata = {"event_type": METADATA_EVENT, "event_payload": {"key": mark.key}}
        await mark.pacer.acquire(mark.lane)
        try:
            async with mark.gate.slot(mark.pacer.is_fresh(mark.lane)):
                return await super().post(channel, {**message, "metadata": metadata})
        finally:
            mark.pacer.settle(mark.lane)

    async def dm(self, user_id: str, message: dict[str, Any]) -> Posted:
        """DM a user; during outbox delivery post to the user id straight away (no `conversations.open` first)."""
        if _CURRENT.get() is None:
            return await super().dm(user_id, message)
        posted = await self.post(user_id, message)
        self._dm_channels.setdefault(user_id, posted.channel)
        return posted

    async def find_posted(self, channel: str, key: str, since_wall_s: float) -> Posted | None:
        """Return the message posted to a conversation since a moment with this outbox key, if any."""
        if is_slack_user(channel):
            channel = await self.dm_channel(channel)
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            try:
                page = await self.client.conversations_history(
                    channel=channel, oldest=f"{since_wall_s - CLOCK_SKEW_S:.6f}", include_all_metadata=True,
                    limit=200, cursor=cursor,
                )
            except SlackApiError as exc:
                if exc.response.get("error") not in UNREADABLE_HISTORY:
                    raise
                log.warning("cannot read %s to check outbox %s (%s); posting it again", channel, key,
                            exc.response.get("error"))
                return None
            for message in page.get("messages") or []:
                metadata = message.get("metadata") or {}
                payload = metadata.get("event_payload") or {}
                if metadata.get("event_type") == METADATA_EVENT and payload.get("key") == key:
                    return Posted(channel, str(message["ts"]))
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return None
        return None


@dataclass
class _Lane:
    name: str
    queue: deque[ClaimedItem] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None


class Deliverer:
    """Drains the outbox; one per process, woken when work is queued."""

    def __init__(self, service: Signoff, batch_size: int = BATCH_LIMIT) -> None:
        self.service = service
        self.batch_size = batch_size
        self.handlers: dict[str, Handler] = {
            "ask": self._ask, "channel_copy": self._channel_copy, "refresh": self._refresh,
            "outcome": self._outcome, "message": self._message, "email": self._email,
            "webhook": service.automation.webhooks.deliver,
        }
        asking.register(self.handlers, service.deps)
        self.pacer = Pacer()
        self.metrics: Any = None
        self.lease_s = LEASE_S
        self._wake = asyncio.Event()
        self._drain_lock = asyncio.Lock()
        self._gate = Gate(MAX_IN_FLIGHT)
        self._held: set[int] = set()
        self._lanes: dict[str, _Lane] = {}
        self._progress = asyncio.Event()
        self._delivered: list[tuple[int, datetime, dict[str, Any] | None]] = []
        self._stopping = False
        self.yield_to: Callable[[float], Awaitable[None]] | None = None

    def kick(self) -> None:
        """Wake the worker: new work was queued."""
        self._wake.set()

    async def run_forever(self, idle_s: float = 1.0) -> None:
        """Deliver due work whenever woken, and at least every `idle_s`; delete old deliveries now and then."""
        compacted_s = 0.0
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=idle_s)
            self._wake.clear()
            try:
                await self.drain(wait_s=0.0)
                if time.monotonic() - compacted_s >= COMPACT_EVERY_S:
                    compacted_s = time.monotonic()
                    await self.compact()
            except Exception:
                log.exception("outbox drain failed")

    async def compact(self) -> int:
        """Delete the items delivered longer ago than the retention; return how many."""
        sent_before = self.service.clock.now() - timedelta(seconds=self.service.settings.outbox_retention_s)
        deleted = 0
        while True:
            async with self.service.db.transaction() as repo:
                done = await repo.compact_outbox(sent_before)
            deleted += done
            if done == 0:
                break
        if deleted:
            log.info("deleted %d outbox items delivered before %s", deleted, sent_before.isoformat())
        return deleted

    async def drain(self, wait_s: float = DRAIN_WAIT_S) -> int:
        """Deliver every item due now, and those due within `wait_s` (pauses, retries); return how many."""
        handled = 0
        async with self._drain_lock:
            try:
                while not self._stopping:
                    await self._record_delivered()
                    handled += await self._claim()
                    if self._is_busy():
                        await self._await_progress()
                        continue
                    delay_s = await self._next_due_in_s()
                    if delay_s is None or delay_s > wait_s:
                        break
                    await asyncio.sleep(min(max(delay_s, MIN_SLEEP_S), POLL_S))
            finally:
                await self._settle()
                await self._record_delivered()
        await self._publish_counts()
        return handled

    async def close(self, timeout_s: float) -> None:
        """Stop claiming; let posts in flight finish within `timeout_s` (the others are checked when claimed again)."""
        self._stopping = True
        self._wake.set()
        lanes = [lane.task for lane in self._lanes.values() if lane.task is not None and not lane.task.done()]
        if lanes:
            _, unfinished = await asyncio.wait(lanes, timeout=max(0.0, timeout_s))
            for task in unfinished:
                task.cancel()
            await asyncio.wait(lanes)
        with contextlib.suppress(Exception):
            await self._record_delivered()

    def _is_busy(self) -> bool:
        return any(lane.task is not None and not lane.task.done() for lane in self._lanes.values())

    async def _await_progress(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._progress.wait(), timeout=POLL_S)
        self._progress.clear()

    async def _settle(self) -> None:
        """Wait for every lane; items a failed lane left behind go back to the store (after their lease)."""
        for lane in self._lanes.values():
            if lane.task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await lane.task
            self._held.difference_update(entry.item.id for entry in lane.queue)
        self._lanes = {}

    async def _next_due_in_s(self) -> float | None:
        async with self.service.db.read() as repo:
            due = await repo.next_outbox_due()
        return None if due is None else (due - self.service.clock.now()).total_seconds()

    def _accepts(self) -> Callable[[OutboxItem], bool]:
        counts = {name: len(lane.queue) for name, lane in self._lanes.items()}

        def accept(item: OutboxItem) -> bool:
            lane = lane_of(item)
            if item.id in self._held or self.pacer.is_paused(lane) or counts.get(lane, 0) >= PER_LANE_CLAIM:
                return False
            counts[lane] = counts.get(lane, 0) + 1
            return True

        return accept

    async def _claim(self) -> int:
        """Lease due items into their lanes and start the lanes; return how many were leased."""
        now = self.service.clock.now()
        async with self.service.db.transaction() as repo:
            claimed = await repo.claim_outbox(now, time.time(), self.lease_s, PER_LANE_CLAIM, self.batch_size,
                                              self._accepts())
        for entry in claimed:
            self._held.add(entry.item.id)
            lane = self._lanes.setdefault(lane_of(entry.item), _Lane(lane_of(entry.item)))
            lane.queue.append(entry)
            if lane.task is None or lane.task.done():
                lane.task = asyncio.create_task(self._run_lane(lane))
        return len(claimed)

    async def _run_lane(self, lane: _Lane) -> None:
        try:
            while lane.queue:
                if self.yield_to is not None:
                    await self.yield_to(YIELD_MAX_S)
                entry = lane.queue.popleft()
                try:
                    await self._perform(entry, lane)
                except Exception:
                    # Bookkeeping failed (the database?): the item's lease expires and it is claimed again.
                    log.exception("outbox item %s could not be recorded; it will be retried", entry.item.id)
                    self._held.discard(entry.item.id)
        finally:
            self._progress.set()

    async def _perform(self, entry: ClaimedItem, lane: _Lane) -> None:
        item = entry.item
        token = _CURRENT.set(_Mark(outbox_key(item), entry.uncertain_since, lane.name, self.pacer, self._gate))
        try:
            result = await self._handle(item)
        except Exception as exc:
            await self._not_delivered(entry, lane, exc)
            return
        finally:
            _CURRENT.reset(token)
        self._delivered.append((item.id, self.service.clock.now(), result))
        self._count("signoff_outbox_delivered_total")

    async def _handle(self, item: OutboxItem) -> dict[str, Any] | None:
        handler = self.handlers.get(item.kind)
        if handler is None:
            raise UndeliverableError(f"no handler for outbox kind {item.kind!r}")
        return await handler(item)

    async def _not_delivered(self, entry: ClaimedItem, lane: _Lane, exc: Exception) -> None:
        wait_s = retry_after_s(exc) if isinstance(exc, SlackApiError) else None
        if wait_s is not None:
            await self._throttled(entry, lane, wait_s)
        else:
            await self._failed(entry.item, exc)
            self._held.discard(entry.item.id)

    async def _record_delivered(self) -> None:
        """Mark delivered items sent, in one transaction (a crash before it is covered by the history check)."""
        done, self._delivered = self._delivered, []
        if not done:
            return
        async with self.service.db.transaction() as repo:
            await repo.mark_sent_many(done)
        self._held.difference_update(item_id for item_id, _, _ in done)

    async def _throttled(self, entry: ClaimedItem, lane: _Lane, wait_s: float) -> None:
        """Slack said 429: pause this lane only, and put its items back until Retry-After has passed."""
        self.pacer.pause(lane.name, wait_s)
        held = [entry, *lane.queue]
        lane.queue.clear()
        later = self.service.clock.now() + timedelta(seconds=wait_s)
        async with self.service.db.transaction() as repo:
            await repo.release_outbox(held, later, f"ratelimited: retry after {wait_s:g} s")
        for other in held:
            self._held.discard(other.item.id)
        self._count("signoff_outbox_ratelimited_total")
        log.info("lane %s rate-limited by Slack: paused %.1f s (%d items)", lane.name, wait_s, len(held))

    async def _failed(self, item: OutboxItem, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {str(exc)[:1000]}"
        now = self.service.clock.now()
        is_too_old = (now - item.retried_from).total_seconds() > self.service.settings.delivery_horizon_s
        if not is_expected(exc):
            log.error("outbox item %s (%s) failed unexpectedly on attempt %d", item.id, item.kind, item.attempts,
                      exc_info=exc)
        async with self.service.db.transaction() as repo:
            if is_permanent(exc) or is_too_old:
                log.error("outbox item %s (%s to %s) dead-lettered after %d attempts: %s", item.id, item.kind,
                          item.target, item.attempts, error)
                await repo.mark_dead(item.id, error)
                self._count("signoff_outbox_dead_lettered_total")
            else:
                await repo.mark_retry(item.id, now + timedelta(seconds=backoff_s(item.attempts)), error)
                self._count("signoff_outbox_retried_total")

    def _count(self, name: str) -> None:
        if self.metrics is not None:
            self.metrics.inc(name)

    async def _publish_counts(self) -> None:
        if self.metrics is None:
            return
        async with self.service.db.read() as repo:
            counts = await repo.outbox_counts()
        for status in ("queued", "sending", "sent", "dead"):
            self.metrics.set(f"signoff_outbox_{status}", counts.get(status, 0))

    # handlers
    async def _ask(self, item: OutboxItem) -> dict[str, Any]:
        payload = item.payload
        messages = self.service.messages
        posted = await messages.post_request_copy(payload["request_id"], payload["step_index"], user=item.target)
        return {"channel": posted.channel, "ts": posted.ts}

    async def _channel_copy(self, item: OutboxItem) -> dict[str, Any]:
        posted = await self.service.messages.post_request_copy(item.payload["request_id"], None, channel=item.target)
        return {"channel": posted.channel, "ts": posted.ts}

    async def _refresh(self, item: OutboxItem) -> None:
        await self.service.messages.refresh_messages(item.payload["request_id"])

    async def _outcome(self, item: OutboxItem) -> dict[str, Any]:
        posted = await self.service.messages.tell_requester(item.payload["request_id"])
        return {"channel": posted.channel, "ts": posted.ts} if posted else {}

    async def _message(self, item: OutboxItem) -> dict[str, Any]:
        message = item.payload["message"]
        slack = self.service.slack
        posted = await (slack.dm(item.target, message) if is_slack_user(item.target) else
                        slack.post(item.target, message))
        return {"channel": posted.channel, "ts": posted.ts}

    async def _email(self, item: OutboxItem) -> dict[str, Any]:
        smtp_url = self.service.settings.smtp_url
        if not smtp_url:
            raise UndeliverableError("e-mail is off: SIGNOFF_SMTP_URL is not set")
        message_id = await send_email(Email.from_json(item.payload), SmtpConfig.from_url(smtp_url))
        return {"message_id": message_id}
