"""The inbox of verified Slack requests: committed before they are acknowledged, then processed exactly once.

A request whose work runs after its acknowledgement (a button click) is stored first; requests arriving
together share one commit (group commit), so the acknowledgement costs one write for a whole burst, and
processing waits (at most `ACKS_FIRST_MAX_S`) while acknowledgements are being committed.
Its row is leased to this process, which processes it at once; the row becomes `done` in the transaction
that commits the work's effects (`Database.carrying`). A process that dies leaves its rows leased: a
process on the same host sees that the owner is gone and takes them at once, any other process when the
lease expires. Every stored identity refuses its replay, in any process, until it is purged.

Replicas share a backlog: a process that has started every row it holds tells its peers it is ready for
more; a peer with rows in line for a slot (past their acknowledgements' wait) hands the newest half back to
the inbox and tells its peers so; a ready process claims them. A request therefore waits behind the busiest
process only while every process has work waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from bot.errors import log_failure
from storage.errors import LeaseLostError
from storage.models import InboxEntry, InboxRow
from storage.owners import is_dead_owner
from storage.ports import Repository
from storage.ports import Store as Database

log = logging.getLogger(__name__)

LEASE_S = 30.0
RENEW_EVERY_S = 5.0
POLL_S = 0.5
PURGE_EVERY_S = 300.0
KEEP_S = 3600.0
MAX_ATTEMPTS = 5
CONCURRENCY = 8
IN_HAND = 64
ACKS_FIRST_MAX_S = 0.1
SHARE_MIN = 8
READY_TELL_EVERY_S = 0.05
PEER_BUSY_S = 1.0
READY = "inbox-ready"
SHARED = "inbox-shared"

Process = Callable[[InboxRow], Awaitable[bool]]


class Inbox:
    """Stores verified requests before they are acknowledged, many in one commit."""

    def __init__(self, db: Database, owner: str, lease_s: float = LEASE_S) -> None:
        self.db = db
        self.owner = owner
        self.lease_s = lease_s
        self._pending: list[tuple[InboxEntry, asyncio.Future[int | None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._is_quiet = asyncio.Event()
        self._is_quiet.set()

    async def accept(self, entry: InboxEntry) -> int | None:
        """Commit a request; return its row id, or None when its identity was stored before (a replay)."""
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._pending.append((entry, future))
        self._is_quiet.clear()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await asyncio.shield(future)

    async def until_quiet(self, max_wait_s: float) -> None:
        """Wait until no request waits for its commit (at most `max_wait_s`): acknowledgements go first."""
        if not self._is_quiet.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._is_quiet.wait(), timeout=max_wait_s)

    async def _flush(self) -> None:
        try:
            await self._flush_pending()
        finally:
            self._is_quiet.set()

    async def _flush_pending(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, []
            try:
                async with self.db.unit_of_work() as repo:
                    stored = await repo.accept_inbox([e for e, _ in _unique(batch)], self.owner, time.time(),
                                                     self.lease_s)
            except Exception as exc:
                log.exception("the inbox could not commit %d requests", len(batch))
                _settle_all(batch, exc)
                continue
            _answer(batch, stored)


def _unique(batch: list[tuple[InboxEntry, asyncio.Future[int | None]]]) -> list[tuple[InboxEntry, object]]:
    seen: dict[str, tuple[InboxEntry, object]] = {}
    for entry, future in batch:
        seen.setdefault(entry.identity, (entry, future))
    return list(seen.values())


def _answer(batch: list[tuple[InboxEntry, asyncio.Future[int | None]]], stored: dict[str, int]) -> None:
    """Give each waiter its row id; a second request with the same identity in one batch is a replay."""
    for entry, future in batch:
        row_id = stored.pop(entry.identity, None)
        if not future.done():
            future.set_result(row_id)


def _settle_all(batch: list[tuple[InboxEntry, asyncio.Future[int | None]]], exc: Exception) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(exc)


def backoff_s(attempts: int) -> float:
    """Return the wait before a failed request is tried again (exponential, capped at one minute)."""
    return float(min(60, 2 ** max(0, attempts - 1)))


class InboxWorker:
    """Processes inbox rows: those this process accepted at once, and those others left behind."""

    def __init__(self, inbox: Inbox, process: Process, concurrency: int = CONCURRENCY) -> None:
        self.inbox = inbox
        self.db = inbox.db
        self.owner = inbox.owner
        self.process = process
        self.slots = asyncio.Semaphore(concurrency)
        self.counts: dict[str, int] = {}
        self._held: dict[int, asyncio.Task[None]] = {}
        self._renewed_s = 0.0
        self._purged_s = 0.0
        self._stopping = False
        self._idle = asyncio.Event()
        self._idle.set()
        self.on_idle: Callable[[], None] | None = None
        self._unstarted: dict[int, InboxRow] = {}
        self._in_line: set[int] = set()
        self._chores: set[asyncio.Task[None]] = set()
        self._told_ready_s = -READY_TELL_EVERY_S
        self._peer_committed_s = -PEER_BUSY_S
        self._ready_owed: asyncio.TimerHandle | None = None

    def submit(self, row: InboxRow) -> None:
        """Process a row this process holds the lease of."""
        if self._stopping or row.id in self._held:
            return
        self._unstarted[row.id] = row
        self._held[row.id] = asyncio.get_running_loop().create_task(self._run(row))
        self._idle.clear()

    def share_with_peers(self) -> None:
        """Trade backlogs with the other processes on the store: hand rows to ready ones, take those handed back."""
        self.db.on_peer_news(READY, self.share)
        self.db.on_peer_news(SHARED, self.take_shared)
        self.db.on_committed_elsewhere(self._peer_committed)

    def _peer_committed(self) -> None:
        self._peer_committed_s = time.monotonic()

    def share(self) -> None:
        """Hand the newest half of the rows in line for a slot back to the inbox, for a ready peer to claim (when
        at least SHARE_MIN are in line)."""
        if self._stopping or len(self._in_line) < SHARE_MIN:
            return
        given = [self._unstarted.pop(row_id) for row_id in sorted(self._in_line)[len(self._in_line) // 2:]]
        for row in given:
            self._in_line.discard(row.id)
            self._held.pop(row.id).cancel()
        self._chore(self._hand_back(given))

    async def _hand_back(self, rows: list[InboxRow]) -> None:
        """Hand rows back; on failure leave them to the sweeps (whether the hand-back committed is then unknown, so
        processing them here could run them twice): any process claims them once handed back or once their lease
        ends."""
        try:
            async with self.db.unit_of_work() as repo:
                shared = await repo.share_inbox(self.owner, [row.id for row in rows])
        except Exception:
            log.exception("could not hand %d waiting requests to a peer; they are claimed when their lease ends",
                          len(rows))
            return
        self._count("shared", shared)
        await self.db.tell_peers(SHARED)

    def take_shared(self) -> None:
        """Claim rows a peer handed back, when this process has started every row it holds."""
        if not self._unstarted and not self._stopping:
            self._chore(self._claim_shared())

    def _chore(self, work: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(work)
        self._chores.add(task)
        task.add_done_callback(self._chores.discard)

    async def _claim_shared(self) -> None:
        """Claim what is claimable now, in one statement (rows handed back have no lease left to check)."""
        free = IN_HAND - len(self._held)
        if free <= 0:
            return
        try:
            async with self.db.unit_of_work() as repo:
                rows = await repo.claim_inbox(self.owner, time.time(), self.inbox.lease_s, free)
        except Exception:
            log.exception("could not claim the requests a peer handed back; the sweep will")
            return
        for row in rows:
            self.submit(row)

    def _tell_ready(self) -> None:
        """Tell the peers this process has started every row it holds, at most every READY_TELL_EVERY_S (within
        that time, at its end if it is still so); only while a peer commits, as one with work waiting does."""
        if self._ready_owed is not None or self._unstarted or self._stopping:
            return
        if time.monotonic() - self._peer_committed_s > PEER_BUSY_S:
            return
        wait_s = self._told_ready_s + READY_TELL_EVERY_S - time.monotonic()
        if wait_s > 0:
            self._ready_owed = asyncio.get_running_loop().call_later(wait_s, self._ready_due)
            return
        self._told_ready_s = time.monotonic()
        self._chore(self.db.tell_peers(READY))

    def _ready_due(self) -> None:
        self._ready_owed = None
        self._tell_ready()

    def rows_in_line(self) -> int:
        """Count the rows waiting for a slot (their acknowledgements' wait over): those `share` may hand back."""
        return len(self._in_line)

    def is_busy(self) -> bool:
        """Tell whether a request is in hand."""
        return not self._idle.is_set()

    async def until_idle(self, max_wait_s: float) -> None:
        """Wait until no request is in hand, or `max_wait_s` has passed (work behind it is delayed, never starved)."""
        if not self._idle.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout=max_wait_s)

    async def _run(self, row: InboxRow) -> None:
        try:
            await self.inbox.until_quiet(ACKS_FIRST_MAX_S)
            self._in_line.add(row.id)
            async with self.slots:
                self._in_line.discard(row.id)
                if self._unstarted.pop(row.id, None) is None:
                    return  # handed back while it waited
                self._tell_ready()
                await self._attempt(row)
        except LeaseLostError:
            self._count("lost")
            log.warning("inbox row %s was taken over by another process before it finished here", row.id)
        except Exception as exc:
            await self._failed(row, exc)
        finally:
            if self._held.get(row.id) is asyncio.current_task():
                del self._held[row.id]
            if not self._held:
                self._idle.set()
                if self.on_idle is not None:
                    self.on_idle()

    async def _attempt(self, row: InboxRow) -> None:
        with self.db.carrying(self._completion(row.id)) as hook:
            is_ok = await self.process(row)
        if hook.is_committed:
            self._count("done")
            return
        if not is_ok:
            raise RuntimeError("the request's processing failed; see the error logged above")
        async with self.db.unit_of_work() as repo:
            await self._completion(row.id)(repo)
        self._count("done")

    def _completion(self, row_id: int) -> Callable[[Repository], Awaitable[None]]:
        async def complete(repo: Repository) -> None:
            await repo.finish_inbox(row_id, self.owner, time.time())
        return complete

    async def _failed(self, row: InboxRow, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"
        is_last = row.attempts >= MAX_ATTEMPTS
        log.error("inbox row %s (%s) failed on attempt %d%s", row.id, row.kind, row.attempts,
                  ": giving up" if is_last else "; it will be tried again", exc_info=exc)
        async with self.db.unit_of_work() as repo:
            if is_last:
                await repo.fail_inbox(row.id, self.owner, error)
            else:
                await repo.retry_inbox(row.id, self.owner, time.time() + backoff_s(row.attempts), error)
        self._count("failed" if is_last else "retried")

    def _count(self, outcome: str, n: int = 1) -> None:
        self.counts[outcome] = self.counts.get(outcome, 0) + n

    async def run_forever(self, poll_s: float = POLL_S) -> None:
        """Keep leases alive, take over rows left behind, forget old rows; until cancelled."""
        while not self._stopping:
            try:
                await self.sweep()
            except Exception:
                log_failure(log, "the inbox sweep failed")
            await asyncio.sleep(poll_s)

    async def sweep(self) -> int:
        """Renew the leases in hand, claim rows left behind; return how many were claimed."""
        now_s = time.time()
        if self._held and now_s - self._renewed_s >= RENEW_EVERY_S:
            async with self.db.unit_of_work() as repo:
                await repo.renew_inbox(self.owner, list(self._held), now_s + self.inbox.lease_s)
            self._renewed_s = now_s
        if now_s - self._purged_s >= PURGE_EVERY_S:
            async with self.db.unit_of_work() as repo:
                await repo.purge_inbox(now_s - KEEP_S)
            self._purged_s = now_s
        return await self._claim(now_s)

    async def _claim(self, now_s: float) -> int:
        free = IN_HAND - len(self._held)
        if free <= 0 or self._stopping:
            return 0
        async with self.db.read() as repo:
            dead = [o for o in await repo.inbox_owners() if is_dead_owner(o, self.owner)]
            if not await repo.claimable_inbox(now_s, dead):
                return 0
        async with self.db.unit_of_work() as repo:
            rows = await repo.claim_inbox(self.owner, now_s, self.inbox.lease_s, free, dead)
        if rows:
            log.info("took over %d unfinished Slack requests from the inbox", len(rows))
        for row in rows:
            self.submit(row)
        return len(rows)

    async def close(self, timeout_s: float) -> None:
        """Stop taking work, let rows in hand finish within `timeout_s`, hand the others back."""
        self._stopping = True
        if self._ready_owed is not None:
            self._ready_owed.cancel()
        if self._chores:
            await asyncio.wait(set(self._chores), timeout=max(0.0, timeout_s))
        tasks = set(self._held.values())
        if tasks:
            _, unfinished = await asyncio.wait(tasks, timeout=max(0.0, timeout_s))
            for task in unfinished:
                task.cancel()
            if unfinished:
                log.warning("%d Slack requests were unfinished at shutdown; they stay in the inbox", len(unfinished))
                await asyncio.wait(unfinished)
        with contextlib.suppress(Exception):
            async with self.db.unit_of_work() as repo:
                await repo.release_inbox(self.owner)
