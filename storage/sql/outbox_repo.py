"""The persisted outbox: every Slack and e-mail message is queued in the transaction that decided it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from storage.errors import LeaseLostError, StorageError
from storage.models import DEAD, QUEUED, SENDING, SENT, THROTTLED_ERROR, OutboxItem
from storage.sql.codec import dumps, loads, parse_ts, ts
from storage.sql.connection import Row, SqlConnection


def _item(row: Row) -> OutboxItem:
    not_before, created_at = parse_ts(row["not_before"]), parse_ts(row["created_at"])
    assert not_before is not None and created_at is not None
    return OutboxItem(
        row["id"], row["key"], row["kind"], row["target"], loads(row["payload"]), row["status"],
        row["attempts"], not_before, created_at, row["last_error"],
        loads(row["result"]) if row["result"] else None, parse_ts(row["requeued_at"]),
    )


class OutboxQueries:
    """Repository methods of the outbox."""

    conn: SqlConnection
    owner: str
    doomed: StorageError | None

    def _lease_lost(self, item_id: int, owner: str) -> LeaseLostError:
        """Return the error of a lost lease, and doom the unit of work (it rolls back even if the error is caught)."""
        error = LeaseLostError(f"outbox item {item_id} is no longer held by {owner}")
        self.doomed = self.doomed or error
        return error

    async def enqueue(
        self, kind: str, target: str, payload: dict[str, Any], now: datetime,
        key: str | None = None, not_before: datetime | None = None,
    ) -> bool:
        """Queue a message; a repeated idempotency key is ignored. Tell whether it was queued."""
        cursor = await self.conn.execute(
            "INSERT INTO outbox (key, kind, target, payload, not_before, created_at) "
            "VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING",
            (key, kind, target, dumps(payload), ts(not_before or now), ts(now)),
        )
        return cursor.rowcount > 0

    async def enqueue_coalesced(self, kind: str, target: str, payload: dict[str, Any], now: datetime) -> None:
        """Queue an item that renders its target's state when sent, unless one due as soon is still queued."""
        await self.conn.write(
            # The status is written out so the partial index `outbox_queued_by_target` answers (not a parameter).
            f"INSERT INTO outbox (kind, target, payload, not_before, created_at) SELECT ?,?,?,?,? "
            f"WHERE NOT EXISTS (SELECT 1 FROM outbox WHERE kind=? AND target=? AND status='{QUEUED}' "
            f"AND not_before<=?)",
            (kind, target, dumps(payload), ts(now), ts(now), kind, target, ts(now)),
        )

    async def compact_outbox(self, sent_before: datetime, limit: int = 5000) -> int:
        """Delete up to `limit` items delivered before `sent_before`; return how many were deleted.

        Idempotency keys guard against crash recovery and replays, which end within a lease or Slack's
        five-minute replay window; every key names one event (a step asked, a run, a due time), queued once.
        Queued, sending and dead items are kept.
        """
        cursor = await self.conn.execute(
            f"DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE status='{SENT}' AND sent_at<? LIMIT ?)",
            (ts(sent_before), limit),
        )
        return max(0, cursor.rowcount)

    async def claim_due(
        self, now: datetime, lease_s: float, limit: int, owner: str | None = None,
    ) -> list[OutboxItem]:
        """Claim due items (queued, or sending with an expired lease) for `owner` (default: this store's).

        The lease is a compare-and-set on each item still due: an item another claim took meanwhile is left out.
        """
        async with self.conn.execute(
            "SELECT * FROM outbox WHERE (status=? AND not_before<=?) OR (status=? AND lease_until<=?) "
            "ORDER BY not_before, id LIMIT ?", (QUEUED, ts(now), SENDING, ts(now), limit),
        ) as cursor:
            rows = list(await cursor.fetchall())
        if not rows:
            return []
        taken = await self.conn.execute_fetchall(
            "UPDATE outbox SET status=?, attempts=attempts+1, lease_until=?, lease_owner=? "
            f"WHERE id IN ({','.join('?' * len(rows))}) AND ((status=? AND not_before<=?) OR "
            "(status=? AND lease_until<=?)) RETURNING id",
            (SENDING, ts(now + timedelta(seconds=lease_s)), owner or self.owner, *(r["id"] for r in rows),
             QUEUED, ts(now), SENDING, ts(now)),
        )
        ids = {int(r[0]) for r in taken}
        return [_item(r) for r in rows if r["id"] in ids]

    async def mark_sent(
        self, item_id: int, now: datetime, result: dict[str, Any] | None = None, owner: str | None = None,
    ) -> None:
        """Record a successful delivery, if `owner` (default: this store's) still holds the item."""
        owner = owner or self.owner
        await self.conn.write(
            "UPDATE outbox SET status=?, sent_at=?, result=?, lease_until=NULL, lease_owner=NULL "
            "WHERE id=? AND status=? AND lease_owner=?",
            (SENT, ts(now), dumps(result or {}), item_id, SENDING, owner),
            expect_rows=1, fail=lambda: self._lease_lost(item_id, owner),
        )

    async def mark_retry(self, item_id: int, not_before: datetime, error: str, owner: str | None = None) -> None:
        """Put an item `owner` (default: this store's) still holds back in the queue, to be tried again later."""
        owner = owner or self.owner
        await self.conn.write(
            "UPDATE outbox SET status=?, not_before=?, last_error=?, lease_until=NULL, lease_owner=NULL "
            "WHERE id=? AND status=? AND lease_owner=?",
            (QUEUED, ts(not_before), error[:2000], item_id, SENDING, owner),
            expect_rows=1, fail=lambda: self._lease_lost(item_id, owner),
        )

    async def mark_dead(self, item_id: int, error: str, owner: str | None = None) -> None:
        """Give up on an item `owner` (default: this store's) still holds; it stays visible as dead-lettered."""
        owner = owner or self.owner
        await self.conn.write(
            "UPDATE outbox SET status=?, last_error=?, lease_until=NULL, lease_owner=NULL "
            "WHERE id=? AND status=? AND lease_owner=?", (DEAD, error[:2000], item_id, SENDING, owner),
            expect_rows=1, fail=lambda: self._lease_lost(item_id, owner),
        )

    async def requeue_dead(self, item_id: int, now: datetime) -> bool:
        """Put a dead-lettered item back in the queue, due now; tell whether it was dead."""
        cursor = await self.conn.execute(
            "UPDATE outbox SET status=?, not_before=?, requeued_at=?, attempts=0, lease_until=NULL "
            "WHERE id=? AND status=?", (QUEUED, ts(now), ts(now), item_id, DEAD),
        )
        return cursor.rowcount == 1

    async def outbox_item(self, item_id: int) -> OutboxItem | None:
        """Return one outbox item."""
        async with self.conn.execute("SELECT * FROM outbox WHERE id=?", (item_id,)) as cursor:
            row = await cursor.fetchone()
        return _item(row) if row else None

    async def outbox_items(self, status: str | None = None, limit: int = 100) -> list[OutboxItem]:
        """List outbox items, newest first, optionally by status."""
        sql = "SELECT * FROM outbox" + (" WHERE status=?" if status else "") + " ORDER BY id DESC LIMIT ?"
        async with self.conn.execute(sql, (status, limit) if status else (limit,)) as cursor:
            return [_item(r) for r in await cursor.fetchall()]

    async def outbox_counts(self) -> dict[str, int]:
        """Count outbox items by status."""
        async with self.conn.execute("SELECT status, count(*) FROM outbox GROUP BY status") as cursor:
            return {row[0]: int(row[1]) for row in await cursor.fetchall()}

    async def outbox_owners(self, now: datetime) -> list[str]:
        """Return the owners holding SENDING items under a live lease."""
        rows = await self.conn.execute_fetchall(
            "SELECT DISTINCT lease_owner FROM outbox WHERE status=? AND lease_until>? AND lease_owner IS NOT NULL",
            (SENDING, ts(now)))
        return [str(r[0]) for r in rows]

    async def retry_outbox_now(self, now: datetime) -> int:
        """Make due at `now` the queued items waiting to be retried after a failed attempt; return how many."""
        cursor = await self.conn.execute(
            "UPDATE outbox SET not_before=? WHERE status=? AND attempts>0 AND not_before>? "
            "AND (last_error IS NULL OR last_error NOT LIKE ?)", (ts(now), QUEUED, ts(now), THROTTLED_ERROR + "%"))
        return max(0, cursor.rowcount)

    async def end_outbox_leases(self, owners: Sequence[str], now: datetime) -> int:
        """End at `now` the live leases these owners hold; return how many."""
        if not owners:
            return 0
        cursor = await self.conn.execute(
            f"UPDATE outbox SET lease_until=? WHERE status=? AND lease_until>? AND lease_owner IN "
            f"({','.join('?' * len(owners))})", (ts(now), SENDING, ts(now), *owners))
        return max(0, cursor.rowcount)

    async def next_due_at(self) -> datetime | None:
        """Return when the next queued item becomes due."""
        async with self.conn.execute("SELECT min(not_before) FROM outbox WHERE status=?", (QUEUED,)) as cursor:
            row = await cursor.fetchone()
        return parse_ts(row[0]) if row and row[0] else None
