"""The scheduler's tables: due times per subject, performed actions by key, settings, and outbox claims."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import aiosqlite

from engine.approvals import ApprovalRequest, Vote
from engine.planning import DueAction
from engine.records import Contact, Record
from storage.models import QUEUED, SENDING, ClaimedItem, DueRow, NewMessage, OutboxItem
from storage.sqlite.codec import dumps, loads, parse_ts, ts
from storage.sqlite.rows import request_of, vote_of

CHUNK = 500


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


def _marks(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


def _moment(text: str) -> datetime:
    moment = parse_ts(text)
    assert moment is not None
    return moment




def _outbox_item(row: aiosqlite.Row, attempts: int) -> OutboxItem:
    return OutboxItem(
        row["id"], row["key"], row["kind"], row["target"], loads(row["payload"]), SENDING, attempts,
        _moment(row["not_before"]), _moment(row["created_at"]), row["last_error"],
        loads(row["result"]) if row["result"] else None, parse_ts(row["requeued_at"]),
    )


class SchedulerQueries:
    """Repository methods of the scheduler and of outbox delivery."""

    conn: aiosqlite.Connection

    async def _fetch(self, sql: str, args: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        return list(await self.conn.execute_fetchall(sql, tuple(args)))

    # due times
    async def due_rows(self, now: datetime, limit: int) -> list[DueRow]:
        """Return the subjects due by `now`, earliest first."""
        rows = await self._fetch(
            "SELECT * FROM due_work WHERE next_due_at IS NOT NULL AND next_due_at <= ? "
            "ORDER BY next_due_at LIMIT ?", (ts(now), limit),
        )
        return [DueRow(r["kind"], r["subject_id"], parse_ts(r["next_due_at"]), r["spec"]) for r in rows]

    async def set_next_due(self, plans: Iterable[tuple[str, str, datetime | None]]) -> None:
        """Store the next due time of planned subjects (None: nothing planned)."""
        await self.conn.executemany(
            "UPDATE due_work SET next_due_at=? WHERE kind=? AND subject_id=?",
            [(ts(at) if at else None, kind, subject_id) for kind, subject_id, at in plans],
        )

    async def schedule_subject(self, kind: str, subject_id: str, at: datetime | None, spec: str | None) -> None:
        """Set (or create) a subject's next due time and what it was planned from."""
        await self.conn.execute(
            "INSERT INTO due_work (kind, subject_id, next_due_at, spec) VALUES (?,?,?,?) "
            "ON CONFLICT (kind, subject_id) DO UPDATE SET next_due_at=excluded.next_due_at, spec=excluded.spec",
            (kind, subject_id, ts(at) if at else None, spec),
        )

    async def forget_subject(self, kind: str, subject_id: str) -> None:
        """Stop watching a subject."""
        await self.conn.execute("DELETE FROM due_work WHERE kind=? AND subject_id=?", (kind, subject_id))

    async def subjects_of(self, kind: str) -> list[DueRow]:
        """Return every watched subject of a kind."""
        rows = await self._fetch("SELECT * FROM due_work WHERE kind=?", (kind,))
        return [DueRow(r["kind"], r["subject_id"], parse_ts(r["next_due_at"]), r["spec"]) for r in rows]

    async def count_subjects(self) -> dict[str, int]:
        """Count watched subjects by kind."""
        rows = await self._fetch("SELECT kind, count(*) FROM due_work GROUP BY kind")
        return {str(r[0]): int(r[1]) for r in rows}

    async def replan_all(self, kind: str, now: datetime) -> int:
        """Make every subject of a kind due for planning again; return how many."""
        cursor = await self.conn.execute("UPDATE due_work SET next_due_at=? WHERE kind=?", (ts(now), kind))
        return cursor.rowcount

    # loading what is due, in bulk
    async def requests_by_id(self, ids: Sequence[str]) -> dict[str, ApprovalRequest]:
        """Return approval requests with their votes, by id."""
        found: dict[str, ApprovalRequest] = {}
        for chunk in _chunks(ids):
            rows = await self._fetch(f"SELECT * FROM approval_requests WHERE id IN ({_marks(chunk)})", chunk)
            votes = await self._fetch(
                f"SELECT * FROM votes WHERE request_id IN ({_marks(chunk)}) ORDER BY at, rowid", chunk
            )
            by_request: dict[str, list[Vote]] = {}
            for vote in votes:
                by_request.setdefault(vote["request_id"], []).append(vote_of(vote))
            found.update({r["id"]: request_of(r, by_request.get(r["id"], ())) for r in rows})
        return found

    async def records_by_id(self, record_type: str, ids: Sequence[str]) -> dict[str, Record]:
        """Return records of one type, by id."""
        found: dict[str, Record] = {}
        for chunk in _chunks(ids):
            rows = await self._fetch(f"SELECT id, data FROM records WHERE type=? AND id IN ({_marks(chunk)})",
                                    (record_type, *chunk))
            found.update({r["id"]: Record.model_validate(loads(r["data"])) for r in rows})
        return found

    async def contacts_by_id(self, kind: str, ids: Sequence[str]) -> dict[str, Contact]:
        """Return contacts of one kind, by id."""
        found: dict[str, Contact] = {}
        for chunk in _chunks(ids):
            rows = await self._fetch(f"SELECT id, data FROM contacts WHERE kind=? AND id IN ({_marks(chunk)})",
                                    (kind, *chunk))
            found.update({r["id"]: Contact.model_validate(loads(r["data"])) for r in rows})
        return found

    # performed actions
    async def claim_actions(self, actions: Sequence[DueAction], now: datetime) -> list[DueAction]:
        """Claim the actions not performed yet (with the keys they cover); return those to perform now.

        Call inside a write transaction: the claim, the action's effects and its messages commit together.
        """
        keys = [a.key for a in actions]
        done: set[str] = set()
        for chunk in _chunks(keys):
            rows = await self._fetch(f"SELECT key FROM performed_actions WHERE key IN ({_marks(chunk)})", chunk)
            done |= {r["key"] for r in rows}
        fresh = [a for a in dict((a.key, a) for a in actions).values() if a.key not in done]
        stamp = ts(now)
        await self.conn.executemany(
            "INSERT OR IGNORE INTO performed_actions (key, kind, subject_type, subject_id, due_at, performed_at) "
            "VALUES (?,?,?,?,?,?)",
            [(key, a.kind.value, a.subject[0], a.subject[1], ts(a.due_at), stamp)
             for a in fresh for key in (a.key, *a.covers)],
        )
        return fresh

    async def is_performed(self, key: str) -> bool:
        """Tell whether an action was performed."""
        return bool(await self._fetch("SELECT 1 FROM performed_actions WHERE key=?", (key,)))

    async def count_performed(self, kind: str | None = None) -> int:
        """Count performed actions, optionally of one kind."""
        sql = "SELECT count(*) FROM performed_actions" + (" WHERE kind=?" if kind else "")
        rows = await self._fetch(sql, (kind,) if kind else ())
        return int(rows[0][0])

    # bulk writes
    async def enqueue_many(self, messages: Sequence[NewMessage], now: datetime) -> None:
        """Queue many outbox items at once (repeated keys are ignored; a payload shared by several is encoded once)."""
        encoded: dict[int, str] = {}
        for message in messages:
            if id(message.payload) not in encoded:
                encoded[id(message.payload)] = dumps(message.payload)
        stamp = ts(now)
        await self.conn.executemany(
            "INSERT OR IGNORE INTO outbox (key, kind, target, payload, not_before, created_at) VALUES (?,?,?,?,?,?)",
            [(m.key, m.kind, m.target, encoded[id(m.payload)], stamp, stamp) for m in messages],
        )

    # settings
    async def get_setting(self, name: str) -> dict[str, Any] | None:
        """Return a stored settings document, or None."""
        rows = await self._fetch("SELECT data FROM scheduler_settings WHERE name=?", (name,))
        return loads(rows[0]["data"]) if rows else None

    async def put_setting(self, name: str, data: dict[str, Any], now: datetime) -> None:
        """Store a settings document."""
        await self.conn.execute(
            "INSERT INTO scheduler_settings (name, data, updated_at) VALUES (?,?,?) ON CONFLICT (name) "
            "DO UPDATE SET data=excluded.data, updated_at=excluded.updated_at", (name, dumps(data), ts(now)),
        )

    # outbox delivery
    async def claim_outbox(
        self, now: datetime, wall_s: float, lease_s: float, per_target: int, limit: int,
        accept: Callable[[OutboxItem], bool] | None = None,
    ) -> list[ClaimedItem]:
        """Lease due items, at most `per_target` per target; `accept(item)` may refuse some (left queued)."""
        rows = await self._fetch(
            "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY target ORDER BY not_before, id) AS lane_rank "
            "FROM outbox WHERE (status=? AND not_before<=?) OR (status=? AND lease_until<=?)) "
            "WHERE lane_rank<=? ORDER BY not_before, id LIMIT ?",
            (QUEUED, ts(now), SENDING, ts(now), per_target, limit),
        )
        claimed = [ClaimedItem(_outbox_item(r, r["attempts"] + 1), r["claimed_wall_s"]) for r in rows]
        claimed = [c for c in claimed if accept is None or accept(c.item)]
        lease = ts(now + timedelta(seconds=lease_s))
        await self.conn.executemany(
            "UPDATE outbox SET status=?, attempts=attempts+1, lease_until=?, "
            "claimed_wall_s=coalesce(claimed_wall_s, ?) WHERE id=?",
            [(SENDING, lease, wall_s, c.item.id) for c in claimed],
        )
        return claimed

    async def release_outbox(
        self, claimed: Sequence[ClaimedItem], not_before: datetime, error: str | None = None,
    ) -> None:
        """Give claimed items back, untried (or refused by a rate limit): not counted as attempts.

        An item keeps the doubt it was claimed with (`uncertain_since`): this claim did not post it.
        """
        await self.conn.executemany(
            "UPDATE outbox SET status=?, attempts=max(0, attempts-1), not_before=?, lease_until=NULL, "
            "claimed_wall_s=?, last_error=coalesce(?, last_error) WHERE id=? AND status=?",
            [(QUEUED, ts(not_before), c.uncertain_since, error, c.item.id, SENDING) for c in claimed],
        )

    async def mark_sent_many(self, deliveries: Sequence[tuple[int, datetime, dict[str, Any] | None]]) -> None:
        """Record many successful deliveries at once."""
        await self.conn.executemany(
            "UPDATE outbox SET status='sent', sent_at=?, result=?, lease_until=NULL, claimed_wall_s=NULL WHERE id=?",
            [(ts(at), dumps(result or {}), item_id) for item_id, at, result in deliveries],
        )

    async def next_outbox_due(self) -> datetime | None:
        """Return when the next queued or leased item becomes claimable."""
        rows = await self._fetch(
            "SELECT min(t) FROM (SELECT min(not_before) AS t FROM outbox WHERE status=? "
            "UNION ALL SELECT min(lease_until) FROM outbox WHERE status=?)", (QUEUED, SENDING),
        )
        return parse_ts(rows[0][0]) if rows and rows[0][0] else None
