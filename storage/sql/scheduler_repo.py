"""The scheduler's tables: due times per subject, performed actions by key, settings, and outbox claims."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from engine.approvals import ApprovalRequest, Vote
from engine.planning import DueAction
from engine.records import Contact, Record
from storage.models import QUEUED, SENDING, SENT, ClaimedItem, DueRow, NewMessage, OutboxHold, OutboxItem
from storage.sql.codec import dumps, loads, parse_ts, ts
from storage.sql.connection import Row, SqlConnection
from storage.sql.rows import RECORD_COLUMNS, StoredRequests, record_of, request_of, vote_of

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


def _due_row(row: Row) -> DueRow:
    return DueRow(row["kind"], row["subject_id"], parse_ts(row["next_due_at"]), row["spec"])


def _outbox_item(row: Row, attempts: int) -> OutboxItem:
    return OutboxItem(
        row["id"], row["key"], row["kind"], row["target"], loads(row["payload"]), SENDING, attempts,
        _moment(row["not_before"]), _moment(row["created_at"]), row["last_error"],
        loads(row["result"]) if row["result"] else None, parse_ts(row["requeued_at"]),
    )


def _held_clause(hold: OutboxHold | None) -> tuple[str, tuple[str, ...]]:
    """Return the SQL (and its arguments) leaving out the items `hold` holds back; nothing without a hold."""
    if hold is None or not hold.kinds:
        return "", ()
    return (f" AND NOT (kind IN ({_marks(hold.kinds)}) AND not_before>?)",
            (*hold.kinds, ts(hold.queued_after)))


def _step_of(key: str) -> int | None:
    """Return the step of a reminder's or an escalation's key (`remind:ID:STEP:N`), or None."""
    step = key.rsplit(":", 2)[-2] if key.count(":") >= 3 else ""
    return int(step) if step.isascii() and step.isdigit() else None


class SchedulerQueries:
    """Repository methods of the scheduler and of outbox delivery."""

    conn: SqlConnection
    owner: str
    _stored: StoredRequests

    async def _fetch(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        return list(await self.conn.execute_fetchall(sql, tuple(args)))

    # due times
    async def due_rows(self, now: datetime, limit: int) -> list[DueRow]:
        """Return the subjects due by `now` and not leased (or their lease ended by `now`), earliest first."""
        rows = await self._fetch(
            "SELECT * FROM due_work WHERE next_due_at IS NOT NULL AND next_due_at <= ? "
            "AND (lease_until IS NULL OR lease_until <= ?) ORDER BY next_due_at LIMIT ?", (ts(now), ts(now), limit),
        )
        return [_due_row(r) for r in rows]

    async def claim_due_rows(self, now: datetime, limit: int, owner: str, lease_s: float) -> list[DueRow]:
        """Lease to `owner` until now + lease_s the subjects `due_rows` lists; return them, earliest first."""
        rows = await self._fetch(
            "UPDATE due_work SET lease_owner=?, lease_until=? WHERE (kind, subject_id) IN ("
            "SELECT kind, subject_id FROM due_work WHERE next_due_at IS NOT NULL AND next_due_at <= ? "
            "AND (lease_until IS NULL OR lease_until <= ?) ORDER BY next_due_at LIMIT ?) RETURNING *",
            (owner, ts(now + timedelta(seconds=lease_s)), ts(now), ts(now), limit),
        )
        found = [_due_row(r) for r in rows]
        return sorted(found, key=lambda r: (r.next_due_at or now, r.kind, r.subject_id))

    async def set_next_due(
        self, plans: Iterable[tuple[str, str, datetime | None]], owner: str | None = None,
        forget: Collection[str] = (),
    ) -> None:
        """Store the next due time of planned subjects (None: nothing planned) and end their lease.

        With `owner`, only the rows that owner still holds change (compare-and-set on the lease); kinds in
        `forget` with nothing planned are deleted instead.
        """
        plans = list(plans)
        held = "" if owner is None else " AND lease_owner=?"
        mine = () if owner is None else (owner,)
        await self.conn.executemany(
            f"DELETE FROM due_work WHERE kind=? AND subject_id=?{held}",
            [(kind, subject_id, *mine) for kind, subject_id, at in plans if at is None and kind in forget],
        )
        await self.conn.executemany(
            "UPDATE due_work SET next_due_at=?, lease_owner=NULL, lease_until=NULL "
            f"WHERE kind=? AND subject_id=?{held}",
            [(ts(at) if at else None, kind, subject_id, *mine) for kind, subject_id, at in plans
             if at is not None or kind not in forget],
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
        return [_due_row(r) for r in rows]

    async def count_subjects(self) -> dict[str, int]:
        """Count watched subjects by kind."""
        rows = await self._fetch("SELECT kind, count(*) FROM due_work GROUP BY kind")
        return {str(r[0]): int(r[1]) for r in rows}

    async def replan_invoices(self, now: datetime) -> int:
        """Watch every invoice again, due at `now` (those forgotten too); return how many."""
        cursor = await self.conn.execute(
            "INSERT INTO due_work (kind, subject_id, next_due_at) SELECT 'invoice', id, ? FROM records "
            "WHERE type='invoice' ON CONFLICT (kind, subject_id) DO UPDATE SET next_due_at=excluded.next_due_at",
            (ts(now),))
        return cursor.rowcount

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
            found.update({r["id"]: request_of(r, by_request.get(r["id"], ()), self._stored) for r in rows})
        return found

    async def records_by_id(self, record_type: str, ids: Sequence[str]) -> dict[str, Record]:
        """Return records of one type, by id."""
        found: dict[str, Record] = {}
        for chunk in _chunks(ids):
            rows = await self._fetch(f"SELECT {RECORD_COLUMNS} FROM records WHERE type=? AND id IN ({_marks(chunk)})",
                                    (record_type, *chunk))
            found.update({r["id"]: record_of(r) for r in rows})
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

        Each key is inserted once (ON CONFLICT DO NOTHING) and an action is returned only when this call inserted
        its key: no window between reading and claiming. The keys the claimed actions cover are inserted next.
        Call inside a write transaction: the claim, the action's effects and its messages commit together.
        """
        unique = list(dict((a.key, a) for a in actions).values())
        inserted = await self._insert_performed([(a.key, a) for a in unique], now)
        fresh = [a for a in unique if a.key in inserted]
        await self._insert_performed([(key, a) for a in fresh for key in a.covers], now)
        return fresh

    async def _insert_performed(self, keyed: Sequence[tuple[str, DueAction]], now: datetime) -> set[str]:
        """Insert performed keys, existing ones left alone; return the keys inserted by this call.

        Keys go in sorted: two processes claiming the same keys lock them in the same order, so never wait on
        each other in a circle (a deadlock, on PostgreSQL).
        """
        keyed = sorted(keyed, key=lambda pair: pair[0])
        inserted: set[str] = set()
        stamp = ts(now)
        for start in range(0, len(keyed), CHUNK):
            chunk = keyed[start:start + CHUNK]
            args = [v for key, a in chunk for v in (key, a.kind.value, a.subject[0], a.subject[1], ts(a.due_at), stamp)]
            rows = await self._fetch(
                "INSERT INTO performed_actions (key, kind, subject_type, subject_id, due_at, performed_at) VALUES "
                + ",".join("(?,?,?,?,?,?)" for _ in chunk) + " ON CONFLICT (key) DO NOTHING RETURNING key", args,
            )
            inserted |= {str(r[0]) for r in rows}
        return inserted

    async def is_performed(self, key: str) -> bool:
        """Tell whether an action was performed."""
        return bool(await self._fetch("SELECT 1 FROM performed_actions WHERE key=?", (key,)))

    async def last_nudges(self, request_ids: Sequence[str]) -> dict[str, dict[int, datetime]]:
        """Return, by request and step, when a reminder or an escalation of it was last claimed."""
        found: dict[str, dict[int, datetime]] = {}
        for chunk in _chunks(list(request_ids)):
            rows = await self._fetch(
                "SELECT subject_id, key, performed_at FROM performed_actions WHERE subject_id IN ("
                + ",".join("?" for _ in chunk) + ") AND kind IN ('remind', 'escalate') AND subject_type='approval'",
                chunk)
            for subject_id, key, performed_at in rows:
                step = _step_of(str(key))
                if step is not None:
                    steps = found.setdefault(str(subject_id), {})
                    at = _moment(str(performed_at))
                    steps[step] = max(at, steps.get(step, at))
        return found

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
        await self.conn.write_many(
            "INSERT INTO outbox (key, kind, target, payload, not_before, created_at) VALUES (?,?,?,?,?,?) "
            "ON CONFLICT DO NOTHING",
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
        accept: Callable[[OutboxItem], bool] | None = None, owner: str | None = None, hold: OutboxHold | None = None,
    ) -> list[ClaimedItem]:
        """Lease due items to `owner` (default: this store's), at most `per_target` per target.

        Items `hold` holds back are not read. `accept(item)` may refuse some (left queued). A target with an item
        under another owner's live lease is left to that owner (its lane). The lease is taken by a compare-and-set:
        an item another claim took meanwhile is not returned.
        """
        owner = owner or self.owner
        stamp = ts(now)
        held, held_args = _held_clause(hold)
        rows = await self._fetch(
            "SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY target ORDER BY not_before, id) AS lane_rank "
            f"FROM outbox WHERE ((status=? AND not_before<=?) OR (status=? AND lease_until<=?)){held} "
            "AND target NOT IN (SELECT target FROM outbox WHERE status=? AND lease_until>? "
            "AND (lease_owner IS NULL OR lease_owner <> ?))) AS due WHERE lane_rank<=? ORDER BY not_before, id LIMIT ?",
            (QUEUED, stamp, SENDING, stamp, *held_args, SENDING, stamp, owner, per_target, limit),
        )
        claimed = [ClaimedItem(_outbox_item(r, r["attempts"] + 1), r["claimed_wall_s"]) for r in rows]
        claimed = [c for c in claimed if accept is None or accept(c.item)]
        taken: set[int] = set()
        lease = ts(now + timedelta(seconds=lease_s))
        for start in range(0, len(claimed), CHUNK):
            ids = [c.item.id for c in claimed[start:start + CHUNK]]
            rows = await self._fetch(
                "UPDATE outbox SET status=?, attempts=attempts+1, lease_until=?, lease_owner=?, "
                f"claimed_wall_s=coalesce(claimed_wall_s, ?) WHERE id IN ({_marks(ids)}) "
                "AND ((status=? AND not_before<=?) OR (status=? AND lease_until<=?)) RETURNING id",
                (SENDING, lease, owner, wall_s, *ids, QUEUED, stamp, SENDING, stamp),
            )
            taken |= {int(r[0]) for r in rows}
        return [c for c in claimed if c.item.id in taken]

    async def first_held_outbox(self, hold: OutboxHold) -> datetime | None:
        """Return the earliest `not_before` of the queued items `hold` holds back, or None."""
        rows = await self._fetch(
            f"SELECT min(not_before) FROM outbox WHERE status=? AND kind IN ({_marks(hold.kinds)}) AND not_before>?",
            (QUEUED, *hold.kinds, ts(hold.queued_after)),
        )
        return parse_ts(rows[0][0]) if rows and rows[0][0] else None

    async def release_outbox(
        self, claimed: Sequence[ClaimedItem], not_before: datetime, error: str | None = None,
        owner: str | None = None,
    ) -> None:
        """Give claimed items back, untried (or refused by a rate limit): not counted as attempts.

        An item keeps the doubt it was claimed with (`uncertain_since`): this claim did not post it. Only items
        `owner` (default: this store's) still holds are given back.
        """
        await self.conn.write_many(
            "UPDATE outbox SET status=?, attempts=CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, "
            "not_before=?, lease_until=NULL, "
            "lease_owner=NULL, claimed_wall_s=?, last_error=coalesce(?, last_error) "
            "WHERE id=? AND status=? AND lease_owner=?",
            [(QUEUED, ts(not_before), c.uncertain_since, error, c.item.id, SENDING, owner or self.owner)
             for c in claimed],
        )

    async def mark_sent_many(
        self, deliveries: Sequence[tuple[int, datetime, dict[str, Any] | None]], owner: str | None = None,
    ) -> list[int]:
        """Record many successful deliveries at once, of the items `owner` still holds; return the others' ids."""
        recorded: set[int] = set()
        for start in range(0, len(deliveries), CHUNK):
            chunk = deliveries[start:start + CHUNK]
            rows = await self._fetch(
                f"WITH d (id, at, result) AS (VALUES {','.join('(?,?,?)' for _ in chunk)}) "
                "UPDATE outbox SET status=?, sent_at=d.at, result=d.result, lease_until=NULL, lease_owner=NULL, "
                "claimed_wall_s=NULL FROM d WHERE outbox.id=d.id AND outbox.status=? AND outbox.lease_owner=? "
                "RETURNING outbox.id",
                [*(v for item_id, at, result in chunk for v in (item_id, ts(at), dumps(result or {}))),
                 SENT, SENDING, owner or self.owner],
            )
            recorded |= {int(r[0]) for r in rows}
        return [item_id for item_id, _, _ in deliveries if item_id not in recorded]

    async def renew_outbox(self, ids: Sequence[int], until: datetime, owner: str | None = None) -> list[int]:
        """Extend to `until` the leases `owner` (default: this store's) still holds on these items; return their ids."""
        renewed: list[int] = []
        for start in range(0, len(ids), CHUNK):
            chunk = list(ids[start:start + CHUNK])
            rows = await self._fetch(
                f"UPDATE outbox SET lease_until=? WHERE id IN ({_marks(chunk)}) AND status=? AND lease_owner=? "
                "RETURNING id", (ts(until), *chunk, SENDING, owner or self.owner),
            )
            renewed += sorted(int(r[0]) for r in rows)
        return renewed

    async def next_outbox_due(self) -> datetime | None:
        """Return when the next queued or leased item becomes claimable."""
        rows = await self._fetch(
            "SELECT min(t) FROM (SELECT min(not_before) AS t FROM outbox WHERE status=? "
            "UNION ALL SELECT min(lease_until) FROM outbox WHERE status=?) AS due", (QUEUED, SENDING),
        )
        return parse_ts(rows[0][0]) if rows and rows[0][0] else None
