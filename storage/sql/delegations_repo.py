"""Delegations while away, and the task queries that follow them (who must decide what)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from engine.approvals import ApprovalRequest, Vote
from engine.delegation import Delegation
from engine.records import Contact, Record
from storage.sql.codec import loads, parse_ts, ts
from storage.sql.connection import Params, Row, SqlConnection
from storage.sql.rows import RECORD_COLUMNS, StoredRequests, record_of, request_of, vote_of

MAX_SQL_ARGS = 500

_ACTIVE = "starts_at <= ? AND ends_at > ? AND (ended_at IS NULL OR ended_at > ?)"


def _moment(text: str) -> datetime:
    moment = parse_ts(text)
    assert moment is not None
    return moment


def _delegation(row: Row) -> Delegation:
    return Delegation(row["principal"], row["delegate"], _moment(row["starts_at"]), _moment(row["ends_at"]),
                      parse_ts(row["ended_at"]))


def _chunks(items: Sequence[Any], size: int = MAX_SQL_ARGS) -> Iterable[Sequence[Any]]:
    return (items[i:i + size] for i in range(0, len(items), size))


def _marks(count: int) -> str:
    return ",".join("?" * count)


class DelegationQueries:
    """Repository methods of delegations and of the tasks people see."""

    conn: SqlConnection
    _stored: StoredRequests

    async def _delegation_rows(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        async with self.conn.execute(sql, tuple(args)) as cursor:
            return list(await cursor.fetchall())

    async def start_delegation(self, delegation: Delegation) -> None:
        """Store a delegation, ending the principal's earlier ones from its start."""
        await self.end_delegations(delegation.principal, delegation.starts_at)
        await self.conn.execute(
            "INSERT INTO delegations (principal, delegate, starts_at, ends_at) VALUES (?,?,?,?)",
            (delegation.principal, delegation.delegate, ts(delegation.starts_at), ts(delegation.ends_at)),
        )

    async def end_delegations(self, principal: str, now: datetime) -> list[Delegation]:
        """End the principal's active delegations at `now`; return those that were active."""
        active = await self.delegations_active_at(now, principal=principal)
        await self.conn.execute(
            f"UPDATE delegations SET ended_at=? WHERE principal=? AND {_ACTIVE}",
            (ts(now), principal, ts(now), ts(now), ts(now)),
        )
        return active

    async def delegations_active_at(
        self, now: datetime, *, principal: str | None = None, delegate: str | None = None
    ) -> list[Delegation]:
        """Return the delegations active at `now`, optionally of one principal or delegate."""
        sql, args = f"SELECT * FROM delegations WHERE {_ACTIVE}", [ts(now)] * 3
        if principal is not None:
            sql, args = sql + " AND principal=?", [*args, principal]
        if delegate is not None:
            sql, args = sql + " AND delegate=?", [*args, delegate]
        return [_delegation(r) for r in await self._delegation_rows(sql + " ORDER BY starts_at, seq", args)]

    async def principals_of(self, delegate: str, now: datetime) -> tuple[str, ...]:
        """Return whom a person acts for at `now`: the approver e-mails Slack says are theirs, then the people away."""
        return principals_from(*await self.conn.fetch_each(principals_queries(delegate, now)))

    async def emails_of(self, people: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """Return the e-mails Slack said are each person's, oldest answer first (those with none left out)."""
        found: dict[str, list[str]] = {}
        for chunk in _chunks(sorted(set(people))):
            async with self.conn.execute(
                f"SELECT user_id, email FROM slack_identities WHERE user_id IN ({_marks(len(chunk))}) "
                "ORDER BY checked_at, email", tuple(chunk),
            ) as cursor:
                for row in await cursor.fetchall():
                    found.setdefault(str(row["user_id"]), []).append(str(row["email"]))
        return {person: tuple(emails) for person, emails in found.items()}

    async def delegates_of(self, principals: Iterable[str], now: datetime) -> dict[str, str]:
        """Return the active delegate of each principal who has one."""
        return {d.principal: d.delegate for d in await self.delegations_of(principals, now)}

    async def delegations_of(self, principals: Iterable[str], now: datetime) -> list[Delegation]:
        """Return the delegations of these principals active at `now`, oldest first."""
        found: list[Delegation] = []
        for chunk in _chunks(sorted(set(principals))):
            rows = await self._delegation_rows(
                f"SELECT * FROM delegations WHERE {_ACTIVE} AND principal IN ({_marks(len(chunk))}) "
                "ORDER BY starts_at, seq", [ts(now)] * 3 + list(chunk),
            )
            found += [_delegation(r) for r in rows]
        return sorted(found, key=lambda d: d.starts_at)

    async def latest_delegations(self, principals: Iterable[str]) -> list[Delegation]:
        """Return each principal's delegation started last, active or not."""
        latest: dict[str, Delegation] = {}
        for chunk in _chunks(sorted(set(principals))):
            rows = await self._delegation_rows(
                f"SELECT * FROM delegations WHERE principal IN ({_marks(len(chunk))}) ORDER BY starts_at, seq",
                list(chunk))
            latest |= {d.principal: d for d in map(_delegation, rows)}
        return list(latest.values())

    async def open_requests_awaiting(self, people: Sequence[str]) -> list[ApprovalRequest]:
        """Return pending requests whose current step lists any of these people, longest waiting first."""
        if not people:
            return []
        rows = await self._delegation_rows(
            # CROSS JOIN keeps the person's own rows as the outer loop: the cost follows their tasks, not the table.
            "SELECT r.* FROM (SELECT DISTINCT request_id FROM request_approvers "
            f"WHERE approver IN ({_marks(len(people))})) a CROSS JOIN approval_requests r ON r.id = a.request_id "
            "WHERE r.status='pending' "
            "ORDER BY r.step_started_at, r.created_at, r.id",
            list(people),
        )
        votes = await self._task_votes([r["id"] for r in rows])
        return [request_of(r, votes.get(r["id"], []), self._stored) for r in rows]

    async def _task_votes(self, request_ids: Sequence[str]) -> dict[str, list[Vote]]:
        found: dict[str, list[Vote]] = {}
        for chunk in _chunks(request_ids):
            rows = await self._delegation_rows(
                f"SELECT * FROM votes WHERE request_id IN ({_marks(len(chunk))}) ORDER BY at, rowid", chunk
            )
            for row in rows:
                found.setdefault(row["request_id"], []).append(vote_of(row))
        return found

    async def records_by_key(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Record]:
        """Return the stored records among these (type, id) keys (read through the primary key)."""
        rows = await self._by_key(f"SELECT {RECORD_COLUMNS} FROM records WHERE type=? AND id IN ({{}})", keys)
        records = (record_of(row) for row in rows)
        return {record.key(): record for record in records}

    async def contacts_by_key(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Contact]:
        """Return the stored customers and vendors among these (kind, id) keys."""
        rows = await self._by_key("SELECT data FROM contacts WHERE kind=? AND id IN ({})", keys)
        contacts = (Contact.model_validate(loads(row["data"])) for row in rows)
        return {(contact.kind.value, contact.id): contact for contact in contacts}

    async def _by_key(self, sql: str, keys: Iterable[tuple[str, str]]) -> list[Row]:
        """Run `sql` (its first `?` a kind, `{}` the ids) for each kind and chunk of ids among the keys."""
        by_kind: dict[str, list[str]] = {}
        for kind, key in sorted(set(keys)):
            by_kind.setdefault(kind, []).append(key)
        found: list[Row] = []
        for kind, ids in by_kind.items():
            for chunk in _chunks(ids):
                found += await self._delegation_rows(sql.format(_marks(len(chunk))), [kind, *chunk])
        return found

    async def records_created_by(self, user: str, limit: int, offset: int = 0) -> tuple[list[Record], int]:
        """Return a person's records waiting for them to submit, then their latest (newest first; at most `limit`
        after `offset`), and how many they created."""
        where = "WHERE json_extract(data, '$.created_by') = ?"
        rows = await self._delegation_rows(
            f"SELECT {RECORD_COLUMNS} FROM records {where} ORDER BY CASE WHEN approval_status = ? THEN 0 ELSE 1 END, "
            "created_at DESC, id DESC LIMIT ? OFFSET ?", [user, "approval_required", limit, offset]
        )
        count = await self._delegation_rows(f"SELECT count(*) FROM records {where}", [user])
        return [record_of(r) for r in rows], int(count[0][0])

    async def last_audit_of(
        self, subject_type: str, subject_ids: Sequence[str], actions: Sequence[str]
    ) -> dict[str, datetime]:
        """Return when each subject last had one of these audit actions (subjects without any are left out)."""
        found: dict[str, datetime] = {}
        for chunk in _chunks(list(subject_ids), MAX_SQL_ARGS - len(actions) - 1):
            rows = await self._delegation_rows(
                f"SELECT subject_id, max(at) AS at FROM audit WHERE subject_type=? "
                f"AND action IN ({_marks(len(actions))}) AND subject_id IN ({_marks(len(chunk))}) GROUP BY subject_id",
                [subject_type, *actions, *chunk],
            )
            found.update({r["subject_id"]: _moment(r["at"]) for r in rows})
        return found


def principals_queries(delegate: str, now: datetime) -> list[tuple[str, Params]]:
    """Return the two reads of `principals_of`: the person's approver e-mails, then whom they stand in for."""
    return [
        ("SELECT email FROM slack_identities WHERE user_id=? ORDER BY checked_at, email", (delegate,)),
        (f"SELECT principal FROM delegations WHERE {_ACTIVE} AND delegate=? ORDER BY starts_at, seq",
         (*[ts(now)] * 3, delegate)),
    ]


def principals_from(emails: list[Row], away: list[Row]) -> tuple[str, ...]:
    """Return the principals the rows of `principals_queries` name, e-mails first, each once."""
    return tuple(dict.fromkeys([*(str(r["email"]) for r in emails), *(str(r["principal"]) for r in away)]))
