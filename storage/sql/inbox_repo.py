"""The inbox: identities as a UNIQUE column, leases as owner and expiry columns (see ports.InboxRepo)."""

from __future__ import annotations

from collections.abc import Sequence

from storage.errors import LeaseLostError, StorageError
from storage.models import INBOX_DONE as DONE
from storage.models import INBOX_FAILED as FAILED
from storage.models import INBOX_QUEUED as QUEUED
from storage.models import INBOX_SEEN as SEEN
from storage.models import InboxEntry, InboxRow
from storage.sql.connection import Row, SqlConnection

CHUNK = 200


def _row(row: Row) -> InboxRow:
    return InboxRow(row["id"], row["identity"], row["kind"], row["body"], row["attempts"], row["received_s"])


class InboxQueries:
    """Repository methods of the inbox."""

    conn: SqlConnection
    doomed: StorageError | None

    async def accept_inbox(
        self, entries: Sequence[InboxEntry], owner: str, now_s: float, lease_s: float,
    ) -> dict[str, int]:
        """Store new requests (work leased to `owner`); return the row id of each identity stored now."""
        stored: dict[str, int] = {}
        for start in range(0, len(entries), CHUNK):
            chunk = entries[start:start + CHUNK]
            values = ",".join("(?,?,?,?,?,?,?,?)" for _ in chunk)
            args: list[object] = []
            for entry in chunk:
                has_work = entry.body is not None
                args += [entry.identity, entry.kind, entry.body, QUEUED if has_work else SEEN, now_s,
                         owner if has_work else None, now_s + lease_s if has_work else None, 1 if has_work else 0]
            rows = await self.conn.execute_fetchall(
                "INSERT INTO inbox (identity, kind, body, status, received_s, lease_owner, lease_until, attempts) "
                f"VALUES {values} ON CONFLICT (identity) DO NOTHING RETURNING id, identity", args,
            )
            stored.update({str(r[1]): int(r[0]) for r in rows})
        return stored

    async def claim_inbox(
        self, owner: str, now_s: float, lease_s: float, limit: int, dead_owners: Sequence[str] = (),
    ) -> list[InboxRow]:
        """Lease up to `limit` queued rows whose lease expired or whose owner is dead, oldest first."""
        marks = ",".join("?" * len(dead_owners))
        dead = f" OR lease_owner IN ({marks})" if dead_owners else ""
        rows = await self.conn.execute_fetchall(
            f"UPDATE inbox SET lease_owner=?, lease_until=?, attempts=attempts+1 WHERE id IN ("
            f"SELECT id FROM inbox WHERE status=? AND (lease_until IS NULL OR lease_until<=?{dead}) "
            "ORDER BY id LIMIT ?) RETURNING *",
            (owner, now_s + lease_s, QUEUED, now_s, *dead_owners, limit),
        )
        return sorted((_row(r) for r in rows), key=lambda r: r.id)

    async def claimable_inbox(self, now_s: float, dead_owners: Sequence[str] = ()) -> int:
        """Count the queued rows `claim_inbox` would take now."""
        dead = f" OR lease_owner IN ({','.join('?' * len(dead_owners))})" if dead_owners else ""
        rows = await self.conn.execute_fetchall(
            f"SELECT count(*) FROM inbox WHERE status=? AND (lease_until IS NULL OR lease_until<=?{dead})",
            (QUEUED, now_s, *dead_owners),
        )
        return int(next(iter(rows))[0])

    async def is_inbox_in_hand(self, now_s: float) -> bool:
        """Tell whether some process holds a queued row under a live lease."""
        rows = await self.conn.execute_fetchall(
            "SELECT 1 FROM inbox WHERE status=? AND lease_until>? AND lease_owner IS NOT NULL LIMIT 1", (QUEUED, now_s))
        return bool(rows)

    async def inbox_owners(self) -> list[str]:
        """Return the owners holding queued rows."""
        rows = await self.conn.execute_fetchall(
            "SELECT DISTINCT lease_owner FROM inbox WHERE status=? AND lease_owner IS NOT NULL", (QUEUED,))
        return [str(r[0]) for r in rows]

    async def renew_inbox(self, owner: str, ids: Sequence[int], until_s: float) -> None:
        """Extend the leases `owner` holds on these rows."""
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            marks = ",".join("?" * len(chunk))
            await self.conn.execute(
                f"UPDATE inbox SET lease_until=? WHERE lease_owner=? AND status=? AND id IN ({marks})",
                (until_s, owner, QUEUED, *chunk),
            )

    async def complete_inbox(self, row_id: int, owner: str, now_s: float) -> bool:
        """Mark a row done if `owner` still holds it; tell whether it did (compare-and-set)."""
        cursor = await self.conn.execute(
            "UPDATE inbox SET status=?, done_s=?, lease_owner=NULL, lease_until=NULL "
            "WHERE id=? AND status=? AND lease_owner=?", (DONE, now_s, row_id, QUEUED, owner),
        )
        return cursor.rowcount == 1

    async def finish_inbox(self, row_id: int, owner: str, now_s: float) -> None:
        """Mark a row done in this unit of work if `owner` still holds it; else the unit of work raises
        LeaseLostError (no later than its commit) and rolls back."""
        def lost() -> Exception:
            error = LeaseLostError(f"inbox row {row_id} is no longer held by {owner}")
            self.doomed = self.doomed or error
            return error
        await self.conn.write(
            "UPDATE inbox SET status=?, done_s=?, lease_owner=NULL, lease_until=NULL "
            "WHERE id=? AND status=? AND lease_owner=?", (DONE, now_s, row_id, QUEUED, owner),
            expect_rows=1, fail=lost,
        )

    async def retry_inbox(self, row_id: int, owner: str, at_s: float, error: str) -> None:
        """Hand a row back after a failed attempt, to be claimed again from `at_s`."""
        await self.conn.execute(
            "UPDATE inbox SET lease_owner=NULL, lease_until=?, last_error=? WHERE id=? AND status=? AND lease_owner=?",
            (at_s, error[:2000], row_id, QUEUED, owner),
        )

    async def fail_inbox(self, row_id: int, owner: str, error: str) -> None:
        """Give up on a row after its last attempt; it stays visible as failed."""
        await self.conn.execute(
            "UPDATE inbox SET status=?, lease_owner=NULL, lease_until=NULL, last_error=? "
            "WHERE id=? AND status=? AND lease_owner=?", (FAILED, error[:2000], row_id, QUEUED, owner),
        )

    async def release_inbox(self, owner: str) -> int:
        """Hand back every row `owner` still holds, claimable at once; return how many."""
        cursor = await self.conn.execute(
            "UPDATE inbox SET lease_owner=NULL, lease_until=NULL WHERE lease_owner=? AND status=?", (owner, QUEUED))
        return cursor.rowcount

    async def share_inbox(self, owner: str, ids: Sequence[int]) -> int:
        """Hand back these rows `owner` holds, claimable at once, their attempt uncounted; return how many."""
        shared = 0
        for start in range(0, len(ids), CHUNK):
            chunk = ids[start:start + CHUNK]
            cursor = await self.conn.execute(
                "UPDATE inbox SET lease_owner=NULL, lease_until=NULL, "
                "attempts=CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END "
                f"WHERE lease_owner=? AND status=? AND id IN ({','.join('?' * len(chunk))})", (owner, QUEUED, *chunk),
            )
            shared += cursor.rowcount
        return shared

    async def purge_inbox(self, before_s: float) -> int:
        """Forget finished rows received before `before_s` (older than any replay Slack would sign)."""
        cursor = await self.conn.execute(
            "DELETE FROM inbox WHERE received_s<? AND status IN (?,?)", (before_s, DONE, SEEN))
        return cursor.rowcount

    async def inbox_counts(self) -> dict[str, int]:
        """Count inbox rows by status."""
        rows = await self.conn.execute_fetchall("SELECT status, count(*) FROM inbox GROUP BY status")
        return {str(r[0]): int(r[1]) for r in rows}
