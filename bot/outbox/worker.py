"""The outbox worker: claims due messages under a lease and delivers them, paced per Slack conversation, exactly once.

Claimed items go to their lane (`bot.outbox.lanes`), one task per conversation; the handler of each kind
(`bot.outbox.handlers`) delivers it through Slack posts tagged with its key (`bot.outbox.posts`). A failure
is classified once (`bot.outbox.errors`): a 429 pauses only its lane for `Retry-After`; any other failure (a
server error, a body that is not JSON, a timeout, an outage, a bug in a handler) is retried with exponential
backoff capped at a minute, so delivery resumes within a minute of recovery, until the item is older than
the delivery horizon (`SIGNOFF_DELIVERY_HORIZON`); only then, or when retrying cannot help
(`channel_not_found`…), is it dead-lettered: logged, counted, listed, retryable.

Clicks come first: while the inbox has Slack requests in hand, a lane waits (at most `YIELD_MAX_S` per
item) before its next delivery, and a refresh (which renders the request as it is when sent) stays queued
for up to `HOLD_BACK_MAX_S` while any process counts clicks, so a burst of votes (spread over replicas or
not) is counted before the messages it changes are refreshed, and the refreshes of one request coalesce
into one. Meanwhile every commit wakes the worker, and every lane that ends has it claim again, so it claims at
most every `CLICKING_CLAIM_EVERY_S`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from bot.core.reminders import PAYMENT_REMINDER_KIND
from bot.core.service import Signoff
from bot.errors import log_failure
from bot.outbox.errors import Permanent, Retry, Throttled, classify
from bot.outbox.handlers import Bookkeeping, Handler
from bot.outbox.lanes import MAX_IN_FLIGHT, Gate, Lane, Pacer, lane_of
from bot.outbox.posts import Mark, delivering, outbox_key
from engine.notify import NoticeKind
from storage.errors import LeaseLostError
from storage.models import THROTTLED_ERROR, ClaimedItem, OutboxHold, OutboxItem
from storage.owners import is_gone_process, new_owner
from storage.ports import Repository

log = logging.getLogger(__name__)

LEASE_S = 60.0
BATCH_LIMIT = 500
PER_LANE_CLAIM = 8
DRAIN_WAIT_S = 10.0
POLL_S = 0.2
MIN_SLEEP_S = 0.05
YIELD_MAX_S = 1.0
HOLD_BACK_MAX_S = 2.0
CLICKING_CLAIM_EVERY_S = 0.1
COALESCED_KINDS = frozenset({NoticeKind.REFRESH.value})
# What nothing can look up after a crash, unlike a Slack post (found again by its metadata): an e-mail, a webhook.
# At most UNCHECKABLE_IN_FLIGHT are sent at once, each recorded sent as soon as it is delivered, so that a crash
# sends again only those few, not the ones delivered since the last batch was recorded.
UNCHECKABLE_KINDS = frozenset({"email", NoticeKind.APPROVAL_EMAIL.value, NoticeKind.APPROVAL_EMAIL_DIGEST.value,
                               NoticeKind.CLOSED_EMAIL.value, PAYMENT_REMINDER_KIND, "webhook"})
UNCHECKABLE_IN_FLIGHT = 4
UNKNOWN_KIND_WAIT_S = 60.0
COMPACT_EVERY_S = 300.0
TAKE_OVER_EVERY_S = 10.0
GIVE_UP_AFTER = 3


class Deliverer:
    """Drains the outbox; one per process, woken when work is queued."""

    def __init__(self, service: Signoff, handlers: Mapping[str, Handler], batch_size: int = BATCH_LIMIT,
                 bookkeeping: Bookkeeping | None = None) -> None:
        self.service = service
        self.batch_size = batch_size
        self.handlers = dict(handlers)
        self.bookkeeping = bookkeeping or Bookkeeping()
        self._kept: dict[int, OutboxItem] = {}  # delivered items whose kind writes more when recorded sent
        self.pacer = Pacer()
        self.metrics: Any = None
        self.lease_s = LEASE_S
        self.owner = new_owner()
        self._renewed_s = time.monotonic()
        self._wake = asyncio.Event()
        self._drain_lock = asyncio.Lock()
        self._gate = Gate(MAX_IN_FLIGHT)
        self._uncheckable_slots = asyncio.Semaphore(UNCHECKABLE_IN_FLIGHT)
        self._held: set[int] = set()
        self._lanes: dict[str, Lane] = {}
        self._progress = asyncio.Event()
        self._delivered: list[tuple[int, datetime, dict[str, Any] | None]] = []
        self._stopping = False
        self.yield_to: Callable[[float], Awaitable[None]] | None = None
        self.is_clicking: Callable[[], bool] | None = None
        self._held_back_until: datetime | None = None
        self._clicking_seen_s: float | None = None
        self._took_over_s = -TAKE_OVER_EVERY_S
        self._failed_n = 0
        self._sent_n = 0

    def kick(self) -> None:
        """Wake the worker: new work was queued."""
        self._wake.set()

    async def run_forever(self, idle_s: float = 1.0) -> None:
        """Deliver due work whenever woken, and at least every `idle_s`; delete old deliveries now and then."""
        compacted_s = 0.0
        while not self._stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._wait_s(idle_s))
            await self._paced()
            self._wake.clear()
            try:
                await self.drain(wait_s=0.0)
                if time.monotonic() - compacted_s >= COMPACT_EVERY_S:
                    compacted_s = time.monotonic()
                    await self.compact()
            except Exception:
                log_failure(log, "outbox drain failed")

    async def _paced(self) -> None:
        """While clicks are being counted, claim at most every CLICKING_CLAIM_EVERY_S: every commit wakes this
        worker, and what those commits queue waits for the clicks anyway (held back, or behind a yielding lane)."""
        if self._clicking_seen_s is None or self._stopping:
            return
        wait_s = self._clicking_seen_s + CLICKING_CLAIM_EVERY_S - time.monotonic()
        if wait_s > 0:
            await asyncio.sleep(wait_s)

    async def _take_over_dead(self) -> None:
        """End the leases of processes of this host that died while sending (at most every TAKE_OVER_EVERY_S), so
        their items go now rather than when their leases run out; a doubtful one is reconciled before a re-post."""
        if time.monotonic() - self._took_over_s < TAKE_OVER_EVERY_S:
            return
        self._took_over_s = time.monotonic()
        now = self.service.clock.now()
        async with self.service.db.read() as repo:
            dead = [owner for owner in await repo.outbox_owners(now) if is_gone_process(owner)]
        if not dead:
            return
        async with self.service.db.unit_of_work() as repo:
            ended = await repo.end_outbox_leases(dead, now)
        log.info("took over %d outbox items from %d processes that died while sending", ended, len(dead))

    async def compact(self) -> int:
        """Delete the items delivered longer ago than the retention; return how many."""
        sent_before = self.service.clock.now() - timedelta(seconds=self.service.settings.outbox_retention_s)
        deleted = 0
        while True:
            async with self.service.db.unit_of_work() as repo:
                done = await repo.compact_outbox(sent_before)
            deleted += done
            if done == 0:
                break
        if deleted:
            log.info("deleted %d outbox items delivered before %s", deleted, sent_before.isoformat())
        return deleted

    async def retry_now(self) -> int:
        """Make the items waiting to be retried after a failure due now (not those Slack asked to wait); return how
        many."""
        async with self.service.db.unit_of_work() as repo:
            return await repo.retry_outbox_now(self.service.clock.now())

    async def drain(self, wait_s: float = DRAIN_WAIT_S) -> int:
        """Deliver every item due now, and those due within `wait_s` (pauses, retries); return how many.

        Retries are waited for only while they may succeed: once GIVE_UP_AFTER attempts of this drain failed and
        none succeeded (Slack or the mail server is down), the drain ends and the items wait for their retry.
        """
        handled, failed_from, sent_from = 0, self._failed_n, self._sent_n
        async with self._drain_lock:
            await self._follow_clock()
            await self._take_over_dead()
            try:
                while not self._stopping:
                    await self._record_delivered()
                    await self._renew()
                    handled += await self._claim()
                    if self._is_busy():
                        await self._await_progress()
                        await self._paced()
                        continue
                    delay_s = await self._next_due_in_s()
                    is_down = self._failed_n - failed_from >= GIVE_UP_AFTER and self._sent_n == sent_from
                    if delay_s is None or delay_s > wait_s or (delay_s > 0 and is_down):
                        break
                    await asyncio.sleep(min(max(delay_s, MIN_SLEEP_S), POLL_S))
            finally:
                await self._settle()
                await self._record_delivered()
        return handled

    async def _follow_clock(self) -> None:
        """Read the test clock another process may have moved: leases are only comparable on one shared time."""
        if self.service.clock.is_test:
            try:
                await self.service.clock.sync(self.service.db)
            except Exception:
                log.warning("could not read the shared test clock; this drain uses the time known here", exc_info=True)

    async def close(self, timeout_s: float) -> None:
        """Stop claiming; let posts in flight finish within `timeout_s`; the drain hands back the items not yet tried.

        An item cut short stays leased (its post may have reached Slack: it is checked when claimed again); one
        never tried is given back at once, so another process delivers it without waiting for the lease to end.
        """
        self._stopping = True
        self._wake.set()
        lanes = [lane.task for lane in self._lanes.values() if lane.task is not None and not lane.task.done()]
        if lanes:
            _, unfinished = await asyncio.wait(lanes, timeout=max(0.0, timeout_s))
            for task in unfinished:
                task.cancel()
            await asyncio.wait(lanes)
        await self._drain_ended(max(0.1, timeout_s))
        with contextlib.suppress(Exception):
            await self._record_delivered()

    async def _drain_ended(self, timeout_s: float) -> None:
        """Wait (at most `timeout_s`) for a drain under way to settle its lanes."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drain_lock.acquire(), timeout=timeout_s)
            self._drain_lock.release()


    async def _hand_back(self, untried: list[ClaimedItem]) -> None:
        """Give back items claimed here and never tried (not counted as attempts), for any process to take now."""
        try:
            async with self.service.db.unit_of_work() as repo:
                await repo.release_outbox(untried, self.service.clock.now(), None, self.owner)
        except Exception:
            log.exception("could not hand back %d outbox items; they return when their lease ends", len(untried))
            return
        log.info("handed back %d outbox items not yet tried", len(untried))

    def _is_busy(self) -> bool:
        return any(lane.is_running() for lane in self._lanes.values())

    async def _await_progress(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._progress.wait(), timeout=POLL_S)
        self._progress.clear()

    async def _settle(self) -> None:
        """Wait for every lane. When stopping, what they never tried is handed back; items a failed lane left
        behind go back to the store after their lease."""
        untried: list[ClaimedItem] = []
        for lane in self._lanes.values():
            if lane.task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await lane.task
            self._held.difference_update(entry.item.id for entry in lane.queue)
            untried += lane.queue
        self._lanes = {}
        if self._stopping and untried:
            await self._hand_back(untried)

    async def _next_due_in_s(self) -> float | None:
        """Return the seconds until the next item is due (a refresh held back: until its hold ends)."""
        async with self.service.db.read() as repo:
            due = await repo.next_outbox_due()
        if due is not None and self._held_back_until is not None:
            due = max(due, self._held_back_until)
        return None if due is None else (due - self.service.clock.now()).total_seconds()

    def _wait_s(self, idle_s: float) -> float:
        """Return how long to sleep when not woken: `idle_s`, or until a held-back refresh may go."""
        if self._held_back_until is None:
            return idle_s
        return min(idle_s, max(MIN_SLEEP_S, (self._held_back_until - self.service.clock.now()).total_seconds()))

    def _accepts(self) -> Callable[[OutboxItem], bool]:
        counts = {name: len(lane.queue) for name, lane in self._lanes.items()}

        def accept(item: OutboxItem) -> bool:
            """Tell whether to lease an item now: not held here, its lane neither paused nor full."""
            lane = lane_of(item)
            if item.id in self._held or self.pacer.is_paused(lane) or counts.get(lane, 0) >= PER_LANE_CLAIM:
                return False
            counts[lane] = counts.get(lane, 0) + 1
            return True

        return accept

    async def _held_back(self, repo: Repository, now: datetime, is_clicking: bool) -> OutboxHold | None:
        """While clicks are counted, hold back refreshes queued within HOLD_BACK_MAX_S (a claim does not even read
        them), and note when the first of them may go."""
        if not is_clicking:
            return None
        hold = OutboxHold(tuple(sorted(COALESCED_KINDS)), now - timedelta(seconds=HOLD_BACK_MAX_S))
        first = await repo.first_held_outbox(hold)
        if first is not None:
            self._hold_back(first + timedelta(seconds=HOLD_BACK_MAX_S))
        return hold

    def _hold_back(self, until: datetime) -> None:
        if self._held_back_until is None or until < self._held_back_until:
            self._held_back_until = until

    async def _is_clicking(self, repo: Repository) -> bool:
        """Tell whether clicks are being counted, here or (as the inbox's live leases say) by another process:
        refreshes queued within HOLD_BACK_MAX_S then stay queued, and absorb the later votes."""
        if self.is_clicking is None:
            return False
        return self.is_clicking() or await repo.is_inbox_in_hand(time.time())

    async def _claim(self) -> int:
        """Lease due items into their lanes and start the lanes; return how many were leased."""
        now, self._held_back_until = self.service.clock.now(), None
        async with self.service.db.unit_of_work() as repo:
            is_clicking = await self._is_clicking(repo)
            hold = await self._held_back(repo, now, is_clicking)
            claimed = await repo.claim_outbox(now, time.time(), self.lease_s, PER_LANE_CLAIM, self.batch_size,
                                              self._accepts(), self.owner, hold)
        self._clicking_seen_s = time.monotonic() if is_clicking else None
        if claimed and not self._held:
            self._renewed_s = time.monotonic()
        for entry in claimed:
            self._held.add(entry.item.id)
            lane = self._lanes.setdefault(lane_of(entry.item), Lane(lane_of(entry.item)))
            lane.queue.append(entry)
            if lane.task is None or lane.task.done():
                lane.task = asyncio.create_task(self._run_lane(lane))
        return len(claimed)

    async def _run_lane(self, lane: Lane) -> None:
        try:
            while lane.queue and not self._stopping:
                if self.yield_to is not None:
                    await self.yield_to(YIELD_MAX_S)
                entry = lane.queue.popleft()
                try:
                    await self._perform(entry, lane)
                except LeaseLostError:
                    log.warning("outbox item %s was taken over by another process; it is left to it", entry.item.id)
                    self._held.discard(entry.item.id)
                except Exception:
                    # Bookkeeping failed (the database?): the item's lease expires and it is claimed again.
                    log.exception("outbox item %s could not be recorded; it will be retried", entry.item.id)
                    self._held.discard(entry.item.id)
        finally:
            self._progress.set()

    async def _perform(self, entry: ClaimedItem, lane: Lane) -> None:
        """Deliver an item; one nothing can look up after a crash is recorded sent before its slot is freed."""
        if entry.item.kind not in UNCHECKABLE_KINDS:
            await self._deliver(entry, lane)
            return
        async with self._uncheckable_slots:
            await self._deliver(entry, lane)
            await self._record_delivered()

    async def _deliver(self, entry: ClaimedItem, lane: Lane) -> None:
        item = entry.item
        mark = Mark(outbox_key(item), entry.uncertain_since, lane.name, self.pacer, self._gate,
                    tuple(item.payload.get("covers") or ()))
        try:
            with delivering(mark):
                result = await self._handle(item)
        except Exception as exc:
            await self._not_delivered(entry, lane, exc)
            return
        self._delivered.append((item.id, self.service.clock.now(), result))
        if item.kind in self.bookkeeping.sent:
            self._kept[item.id] = item
        self._sent_n += 1
        self._count("signoff_outbox_delivered_total")

    async def _handle(self, item: OutboxItem) -> dict[str, Any] | None:
        handler = self.handlers.get(item.kind)
        if handler is None:  # queued by a newer Signoff during a rolling deploy: one of its replicas delivers it
            raise Retry(f"no handler for outbox kind {item.kind!r} in this version", defer_s=UNKNOWN_KIND_WAIT_S)
        return await handler(item)

    async def _not_delivered(self, entry: ClaimedItem, lane: Lane, exc: Exception) -> None:
        verdict = classify(exc)
        if isinstance(verdict, Throttled):
            await self._throttled(entry, lane, verdict)
        else:
            self._failed_n += 1
            await self._failed(entry.item, exc, verdict)
            self._held.discard(entry.item.id)

    async def _record_delivered(self) -> None:
        """Mark delivered items sent, in one transaction (a crash before it is covered by the history check), with
        what their kinds write too; a bookkeeping failure never keeps them unrecorded, and what could not be
        recorded at all is kept for the next try (never dropped while its lease is renewed)."""
        done, self._delivered = self._delivered, []
        if not done:
            return
        kept = {item_id: self._kept.pop(item_id) for item_id, _, _ in done if item_id in self._kept}
        try:
            lost = await asyncio.shield(self._record(done, kept))
        except Exception:
            log.exception("the bookkeeping of outbox items %s failed; they are recorded sent without it",
                          sorted(kept))
            try:
                lost = await asyncio.shield(self._record(done, {}))
            except BaseException:
                self._delivered[:0] = done
                self._kept.update(kept)
                raise
        self._held.difference_update(item_id for item_id, _, _ in done)
        if lost:
            log.warning("outbox items %s were delivered here after another process took them over", lost)

    async def _record(self, done: list[tuple[int, datetime, dict[str, Any] | None]],
                      kept: Mapping[int, OutboxItem]) -> list[int]:
        """Mark items sent and run their kinds' bookkeeping, in one transaction; return those taken over."""
        async with self.service.db.unit_of_work() as repo:
            lost = await repo.mark_sent_many(done, self.owner)
            for item_id, at, result in done:
                if item_id in kept and item_id not in lost:
                    await self.bookkeeping.sent[kept[item_id].kind](repo, kept[item_id], result, at)
        return lost

    async def _renew(self) -> None:
        """Every third of a lease, extend the leases of the items in hand; drop those another process took over."""
        if not self._held or time.monotonic() - self._renewed_s < self.lease_s / 3:
            return
        self._renewed_s, held = time.monotonic(), set(self._held)
        until = self.service.clock.now() + timedelta(seconds=self.lease_s)
        async with self.service.db.unit_of_work() as repo:
            lost = held - set(await repo.renew_outbox(sorted(held), until, self.owner))
        if not lost:
            return
        for lane in self._lanes.values():
            kept = [entry for entry in lane.queue if entry.item.id not in lost]
            lane.queue.clear()
            lane.queue.extend(kept)
        self._held -= lost
        log.warning("outbox items %s were taken over by another process; they are left to it", sorted(lost))

    async def _throttled(self, entry: ClaimedItem, lane: Lane, throttled: Throttled) -> None:
        """Slack said 429: pause this lane only, and put its items back until Retry-After has passed."""
        wait_s = throttled.defer_s
        self.pacer.pause(lane.name, wait_s)
        held = [entry, *lane.queue]
        lane.queue.clear()
        later = self.service.clock.now() + timedelta(seconds=wait_s)
        async with self.service.db.unit_of_work() as repo:
            await repo.release_outbox(held, later, f"{THROTTLED_ERROR}: retry after {wait_s:g} s ({throttled})",
                                      self.owner)
        for other in held:
            self._held.discard(other.item.id)
        self._count("signoff_outbox_ratelimited_total")
        log.info("lane %s rate-limited by Slack: paused %.1f s (%d items)", lane.name, wait_s, len(held))

    async def _failed(self, item: OutboxItem, exc: Exception, verdict: Permanent | Retry | None) -> None:
        """Dead-letter the item when retrying cannot help or its horizon has passed, else retry it later."""
        error = f"{type(exc).__name__}: {str(exc)[:1000]}"
        now = self.service.clock.now()
        is_too_old = (now - item.retried_from).total_seconds() > self.service.settings.delivery_horizon_s
        if verdict is None:
            log.error("outbox item %s (%s) failed unexpectedly on attempt %d", item.id, item.kind, item.attempts,
                      exc_info=exc)
        async with self.service.db.unit_of_work() as repo:
            if isinstance(verdict, Permanent) or is_too_old:
                log.error("outbox item %s (%s to %s) dead-lettered after %d attempts: %s", item.id, item.kind,
                          item.target, item.attempts, error)
                await repo.mark_dead(item.id, error, self.owner)
                if (dead := self.bookkeeping.dead.get(item.kind)) is not None:
                    await dead(repo, item, error, now)
                self._count("signoff_outbox_dead_lettered_total")
            else:
                wait_s = (verdict or Retry()).wait_s(item.attempts)
                await repo.mark_retry(item.id, now + timedelta(seconds=wait_s), error, self.owner)
                self._count("signoff_outbox_retried_total")

    def _count(self, name: str) -> None:
        if self.metrics is not None:
            self.metrics.inc(name)
