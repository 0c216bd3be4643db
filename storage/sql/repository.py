"""The repository of both backends: every read and write of Signoff's state, inside one transaction."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from engine.actions import ReminderState
from engine.approvals import ApprovalRequest, RequestStatus, Step, Vote
from engine.records import Contact, Record
from engine.workflows import STORED, Workflow
from storage.errors import ConcurrentUpdateError, NotFoundError, StorageError
from storage.models import AuditEntry, ReminderTask, SlackMessageRef
from storage.ports import VoteReads
from storage.sql.archive_repo import History
from storage.sql.clock_repo import ClockQueries
from storage.sql.codec import dumps, loads, parse_ts, ts
from storage.sql.connection import Row, SqlConnection
from storage.sql.delegations_repo import DelegationQueries, principals_from, principals_queries
from storage.sql.home_repo import HomeQueries
from storage.sql.inbox_repo import InboxQueries
from storage.sql.links_repo import LinksQueries
from storage.sql.outbox_repo import OutboxQueries
from storage.sql.rows import RECORD_COLUMNS, StoredRequests, moment, record_data, record_of, request_of, vote_of
from storage.sql.rules_repo import RulesQueries
from storage.sql.runs_repo import WORKFLOWS_VERSION, RunsQueries
from storage.sql.scheduler_repo import SchedulerQueries
from storage.sql.tokens_repo import TokensQueries


def _record_row(record: Record) -> tuple[str, str, str, str, str, str]:
    data = record_data(record)
    return (record.type.value, record.id, record.approval_status.value, data,
            ts(record.created_at), ts(record.updated_at))


def task_of(row: Row) -> ReminderTask:
    """Return a reminder task from its row."""
    return ReminderTask(row["id"], row["run_id"], row["assignee"], row["workflow_id"], row["record_type"],
                        row["record_id"], row["text"], moment(row["created_at"]), parse_ts(row["done_at"]))


def _steps_json(steps: Iterable[Step]) -> str:
    return dumps([{"index": s.index, "approvers": list(s.approvers),
                   "min_approvers": s.min_approvers, "name": s.name} for s in steps])


def _asked(request: ApprovalRequest) -> tuple[str, ...]:
    """Return who `request_approvers` lists for a request: its current step's approvers while it is pending."""
    return request.step().approvers if request.status is RequestStatus.PENDING else ()


def _audit_entry(row: Row | dict[str, Any]) -> AuditEntry:
    return AuditEntry(row["seq"], moment(row["at"]), row["actor"], row["action"], row["subject_type"],
                      row["subject_id"], row["from_state"], row["to_state"], loads(row["detail"]))


def _archived_requests(history: History) -> list[ApprovalRequest]:
    """Return the requests of an archived history with their votes."""
    votes: dict[str, list[Vote]] = {}
    for row in history.votes:
        votes.setdefault(row["request_id"], []).append(vote_of(row))
    return [request_of(r, votes.get(r["id"], [])) for r in history.requests]


class WorkflowCache:
    """Validated workflows of one version of the table, shared by the snapshots and transactions of one database.

    It holds only committed state, where a version number always names the same rows (every write to the table
    bumps it, in any process, through a trigger): a write transaction that changed workflows sees a version
    that may still roll back, so it neither fills the cache nor finds its own version there.
    """

    def __init__(self) -> None:
        self._version = -1
        self._workflows: list[Workflow] = []

    def get(self, version: int) -> list[Workflow] | None:
        """Return the workflows of this version, when they are the ones held."""
        return self._workflows if version == self._version else None

    def put(self, version: int, workflows: list[Workflow]) -> list[Workflow]:
        """Hold the workflows of a version; return them."""
        if version >= self._version:
            self._version, self._workflows = version, workflows
        return workflows


_VOTE_FIELDS = ("step_index", "approver", "decision", "reason", "acted_by", "at")
#: A request and its votes in one statement (one row per vote, or one with no vote), votes in the order cast.
_REQUEST_WITH_VOTES = (
    "SELECT r.*, " + ", ".join(f"v.{k} AS vote_{k}" for k in _VOTE_FIELDS) + " FROM approval_requests r "
    "LEFT JOIN votes v ON v.request_id = r.id WHERE r.id=? ORDER BY v.at, v.rowid"
)


_RECORD_KEY_OF_REQUEST = "(SELECT record_type, record_id FROM approval_requests WHERE id=?)"
_RECORD_OF_REQUEST = f"SELECT {RECORD_COLUMNS} FROM records WHERE (type, id) = {_RECORD_KEY_OF_REQUEST}"
_CONTACTS_OF_REQUEST = (
    "SELECT kind, id, data FROM contacts WHERE (kind, id) IN ("
    f"SELECT 'customer', json_extract(data, '$.customer') FROM records WHERE (type, id) = {_RECORD_KEY_OF_REQUEST} "
    "UNION ALL SELECT 'vendor', json_extract(data, '$.vendor') FROM records "
    f"WHERE (type, id) = {_RECORD_KEY_OF_REQUEST})"
)


class SqlRepository(
    InboxQueries, OutboxQueries, DelegationQueries, RulesQueries, RunsQueries, SchedulerQueries, TokensQueries,
    LinksQueries, ClockQueries, HomeQueries,
):
    """The repositories of storage.ports over one connection; from `SqlStore.unit_of_work()` or `read()`.

    One instance lives as long as its unit of work: it remembers the version of each request read in it (the
    compare-and-set of `update_request`) and, once a compare-and-set failed, refuses to let it commit (`doomed`).
    """

    def __init__(
        self, conn: SqlConnection, workflows: WorkflowCache | None = None, owner: str = "", is_writing: bool = False,
    ) -> None:
        self.conn = conn
        self._lock_rows = conn.lock_rows if is_writing else ""
        self.owner = owner
        self.doomed: StorageError | None = None
        self._workflows = workflows
        self._wrote_workflows = False
        self._listed: list[Workflow] | None = None
        self._stored = StoredRequests()
        self._unpacked: dict[int, History] = {}

    def _doom(self, error: StorageError) -> StorageError:
        """Remember that this unit of work must roll back (even if the caller catches `error`); return it."""
        self.doomed = self.doomed or error
        return error

    async def _one(self, sql: str, args: tuple[Any, ...] = ()) -> Row | None:
        async with self.conn.execute(sql, args) as cursor:
            return await cursor.fetchone()

    async def _all(self, sql: str, args: tuple[Any, ...] = ()) -> list[Row]:
        async with self.conn.execute(sql, args) as cursor:
            return list(await cursor.fetchall())

    async def schema_version(self) -> int:
        """Return the applied schema version (0 for a new database)."""
        row = await self._one("SELECT max(version) FROM schema_version")
        return int(row[0]) if row and row[0] is not None else 0

    # records
    async def get_record(self, record_type: str, record_id: str) -> Record | None:
        """Return one record, or None."""
        row = await self._one(f"SELECT {RECORD_COLUMNS} FROM records WHERE type=? AND id=?", (record_type, record_id))
        return record_of(row) if row else None

    async def save_record(self, record: Record) -> None:
        """Insert or replace a record."""
        await self.conn.write(
            "INSERT INTO records (type, id, approval_status, data, created_at, updated_at) "
            "VALUES (?,?,?,?,?,?) ON CONFLICT (type, id) DO UPDATE SET "
            "approval_status=excluded.approval_status, data=excluded.data, updated_at=excluded.updated_at",
            _record_row(record),
        )

    async def list_records(
        self, record_type: str | None = None, approval_status: str | None = None,
        limit: int = 100, offset: int = 0, reminded: bool | None = None, after: tuple[str, str] | None = None,
    ) -> list[Record]:
        """List records, optionally filtered (reminded: sent a payment reminder or not), in (type, id) order.

        `after` (a type and id) starts the page after that record, read from the index at any depth (keyset).
        """
        sql, args = f"SELECT {RECORD_COLUMNS} FROM records WHERE 1=1", list[str]()
        if record_type:
            sql, args = sql + " AND type=?", [*args, record_type]
        if approval_status:
            sql, args = sql + " AND approval_status=?", [*args, approval_status]
        if after is not None:
            sql, args = sql + " AND (type, id) > (?, ?)", [*args, *after]
        if reminded is not None:
            count = "coalesce(CAST(json_extract(data, '$.reminder_count') AS INTEGER), 0)"
            sql += f" AND {count} {'>' if reminded else '='} 0"
        rows = await self._all(sql + " ORDER BY type, id LIMIT ? OFFSET ?", (*args, limit, offset))
        return [record_of(r) for r in rows]

    async def count_records(self) -> int:
        """Return how many records are stored."""
        row = await self._one("SELECT count(*) FROM records")
        return int(row[0]) if row else 0

    # reminder tasks: one live task per (workflow, document, person) until the document stops matching
    async def reminder_states(self, workflow_id: str, record_type: str, record_id: str) -> dict[str, ReminderState]:
        """Return who has a live reminder of a document by a workflow: open, or dismissed (Done)."""
        rows = await self._all(
            "SELECT assignee, done_at FROM reminder_tasks WHERE workflow_id=? AND record_type=? AND record_id=? "
            "AND ended_at IS NULL", (workflow_id, record_type, record_id))
        return {r["assignee"]: ReminderState.OPEN if r["done_at"] is None else ReminderState.DISMISSED for r in rows}

    async def retext_reminders(
        self, workflow_id: str, record: tuple[str, str], assignees: Iterable[str], text: str
    ) -> None:
        """Give people's open reminders of a document the text of the latest run."""
        await self.conn.executemany(
            "UPDATE reminder_tasks SET text=? WHERE workflow_id=? AND record_type=? AND record_id=? AND assignee=? "
            "AND ended_at IS NULL AND done_at IS NULL", [(text, workflow_id, *record, a) for a in assignees])

    async def reminded_documents(self, workflow_id: str) -> set[tuple[str, str]]:
        """Return the documents a workflow has live reminders of."""
        rows = await self._all("SELECT DISTINCT record_type, record_id FROM reminder_tasks "
                               "WHERE workflow_id=? AND ended_at IS NULL", (workflow_id,))
        return {(r["record_type"], r["record_id"]) for r in rows}

    async def end_reminders(self, workflow_id: str, records: Iterable[tuple[str, str]], now: datetime) -> None:
        """End the live reminders of documents that stopped matching a workflow (Done no longer holds)."""
        await self.conn.executemany(
            "UPDATE reminder_tasks SET ended_at=? WHERE workflow_id=? AND record_type=? AND record_id=? "
            "AND ended_at IS NULL", [(ts(now), workflow_id, *key) for key in records])

    async def open_reminders(
        self, assignee: str, limit: int = 50, offset: int = 0, workflow_id: str | None = None
    ) -> tuple[list[ReminderTask], int]:
        """Return one page of a person's open reminders (newest first), and how many are open in all."""
        where, args = "assignee=? AND done_at IS NULL AND ended_at IS NULL", [assignee]
        if workflow_id is not None:
            where, args = where + " AND workflow_id=?", [*args, workflow_id]
        rows = await self._all(f"SELECT * FROM reminder_tasks WHERE {where} ORDER BY id DESC LIMIT ? OFFSET ?",
                               (*args, limit, offset))
        total = await self._one(f"SELECT count(*) FROM reminder_tasks WHERE {where}", tuple(args))
        return [task_of(r) for r in rows], int(total[0]) if total else 0

    async def reminder_task(self, task_id: int) -> ReminderTask | None:
        """Return one reminder task, or None."""
        row = await self._one("SELECT * FROM reminder_tasks WHERE id=?", (task_id,))
        return task_of(row) if row else None

    async def mark_reminded(self, record_type: str, record_id: str, now: datetime) -> Record | None:
        """Stamp a document as reminded now (last time and count); return it, None when it is gone. Its row is
        locked from the read (PostgreSQL), so that a save committed meanwhile is not written over."""
        row = await self._one(f"SELECT {RECORD_COLUMNS} FROM records WHERE type=? AND id=?{self._lock_rows}",
                              (record_type, record_id))
        if row is None:
            return None
        record = record_of(row)
        stamped = record.model_copy(update={"reminded_at": now, "reminder_count": record.reminder_count + 1})
        await self.save_record(stamped)
        return stamped

    # contacts
    async def get_contact(self, kind: str, contact_id: str) -> Contact | None:
        """Return one customer or vendor, or None."""
        row = await self._one("SELECT data FROM contacts WHERE kind=? AND id=?", (kind, contact_id))
        return Contact.model_validate(loads(row["data"])) if row else None

    async def save_contact(self, contact: Contact, now: datetime) -> None:
        """Insert or replace a contact."""
        await self.conn.execute(
            "INSERT INTO contacts (kind, id, data, updated_at) VALUES (?,?,?,?) ON CONFLICT (kind, id) "
            "DO UPDATE SET data=excluded.data, updated_at=excluded.updated_at",
            (contact.kind.value, contact.id, dumps(contact.model_dump()), ts(now)),
        )

    async def contacts_of(self, record: Record) -> dict[str, Contact]:
        """Return the record's customer and vendor keyed `kind:id`."""
        found = {}
        for kind, cid in (("customer", record.customer), ("vendor", record.vendor)):
            contact = await self.get_contact(kind, cid) if cid else None
            if contact:
                found[f"{kind}:{cid}"] = contact
        return found

    # workflows
    async def list_workflows(self, record_type: str | None = None) -> list[Workflow]:
        """List workflows, oldest first (validated once per committed version of the table)."""
        return [w for w in await self._every_workflow() if record_type is None or w.record_type.value == record_type]

    async def _every_workflow(self) -> list[Workflow]:
        """Return every workflow: from the cache of the committed version, read once per unit of work."""
        if self._workflows is None or self._wrote_workflows:
            return await self._load_workflows()
        if self._listed is None:
            version = await self.workflows_version()
            every = self._workflows.get(version)
            self._listed = every if every is not None else self._workflows.put(version, await self._load_workflows())
        return self._listed

    async def _load_workflows(self) -> list[Workflow]:
        rows = await self._all("SELECT data FROM workflows ORDER BY created_at, id")
        return [Workflow.model_validate(loads(r["data"]), context=STORED) for r in rows]

    async def get_workflow(self, workflow_id: str) -> Workflow | None:
        """Return one workflow, or None."""
        return next((w for w in await self._every_workflow() if w.id == workflow_id), None)

    async def save_workflow(self, workflow: Workflow) -> None:
        """Insert or replace a workflow."""
        self._wrote_workflows = True
        await self.conn.execute(
            "INSERT INTO workflows (id, record_type, data, created_at, updated_at) VALUES (?,?,?,?,?) "
            "ON CONFLICT (id) DO UPDATE SET record_type=excluded.record_type, data=excluded.data, "
            "updated_at=excluded.updated_at",
            (workflow.id, workflow.record_type.value, dumps(workflow.model_dump(mode="json")),
             ts(workflow.created_at), ts(workflow.updated_at)),
        )

    async def delete_workflow(self, workflow_id: str) -> bool:
        """Delete a workflow; tell whether it existed."""
        self._wrote_workflows = True
        cursor = await self.conn.execute("DELETE FROM workflows WHERE id=?", (workflow_id,))
        return cursor.rowcount > 0

    # approval requests and votes
    async def insert_request(self, request: ApprovalRequest) -> None:
        """Store a new approval request."""
        await self.conn.execute(
            "INSERT INTO approval_requests (id, record_type, record_id, workflow_id, requester, status, "
            "current_step, steps, created_at, step_started_at, decided_at, reason) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (request.id, request.record_type, request.record_id, request.workflow_id, request.requester,
             request.status.value, request.current_step, _steps_json(request.steps),
             ts(request.created_at), ts(request.step_started_at),
             ts(request.decided_at) if request.decided_at else None, request.reason),
        )
        self._stored.wrote(0, request)
        await self._index_approvers(request)

    async def update_request(self, request: ApprovalRequest) -> None:
        """Store a request's new state and any vote not yet stored, if it is still the version read (CAS).

        The version compared is the one first read in this unit of work (the current one when it was not read);
        a request changed since raises ConcurrentUpdateError and the unit of work rolls back.
        """
        expected = self._stored.versions.get(request.id)
        if expected is None:
            expected = await self.request_version(request.id)
            if expected is None:
                raise self._doom(NotFoundError(f"approval request {request.id} is not stored"))
        await self.conn.write(
            "UPDATE approval_requests SET status=?, current_step=?, steps=?, step_started_at=?, "
            "decided_at=?, reason=?, version=version+1 WHERE id=? AND version=?",
            (request.status.value, request.current_step, _steps_json(request.steps),
             ts(request.step_started_at), ts(request.decided_at) if request.decided_at else None,
             request.reason, request.id, expected),
            expect_rows=1, fail=lambda: self._doom(ConcurrentUpdateError(
                f"approval request {request.id} changed since version {expected} was read")),
        )
        before = self._stored.states.get(request.id)
        self._stored.wrote(expected + 1, request)
        if before is None or _asked(before) != _asked(request):
            await self._index_approvers(request)
        stored = {(v.step_index, v.approver) for v in before.votes} if before is not None else set()
        new_votes = [v for v in request.votes if (v.step_index, v.approver) not in stored]
        if new_votes:
            await self.conn.write_many(
                "INSERT INTO votes (request_id, step_index, approver, decision, reason, "
                "acted_by, at) VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING",
                [(request.id, v.step_index, v.approver, v.decision.value, v.reason, v.acted_by, ts(v.at))
                 for v in new_votes],
            )

    async def _index_approvers(self, request: ApprovalRequest) -> None:
        """Keep `request_approvers` to the approvers of the current step of a pending request (none otherwise)."""
        await self.conn.write("DELETE FROM request_approvers WHERE request_id=?", (request.id,))
        if request.status is RequestStatus.PENDING:
            await self.conn.write_many(
                "INSERT INTO request_approvers (approver, request_id) VALUES (?,?) ON CONFLICT DO NOTHING",
                [(approver, request.id) for approver in request.step().approvers],
            )

    async def request_version(self, request_id: str) -> int | None:
        """Return the stored version of a request (0 when inserted, + 1 per update), or None."""
        row = await self._one("SELECT version FROM approval_requests WHERE id=?", (request_id,))
        if row:
            return int(row[0])
        archived = [r for r in (await self.archived("request", request_id)).requests if r["id"] == request_id]
        return int(archived[0]["version"]) if archived else None

    async def get_request(self, request_id: str) -> ApprovalRequest | None:
        """Return an approval request with its votes (live or archived), or None.

        In a unit of work the request's row stays locked until commit (on PostgreSQL): another process changing it
        waits for this one instead of losing the compare-and-set of `update_request` and starting over.
        """
        if self._lock_rows:
            # Locked first, then read: a vote committed while this waited for the lock is read too.
            rows, vote_rows = await self.conn.fetch_each([
                (f"SELECT * FROM approval_requests WHERE id=?{self._lock_rows}", (request_id,)),
                ("SELECT * FROM votes WHERE request_id=? ORDER BY at, rowid", (request_id,))])
            if rows:
                return request_of(rows[0], [vote_of(v) for v in vote_rows], self._stored)
        elif rows := await self._all(_REQUEST_WITH_VOTES, (request_id,)):
            votes = [vote_of({k: row[f"vote_{k}"] for k in _VOTE_FIELDS}) for row in rows if row["vote_approver"]]
            return request_of(rows[0], votes, self._stored)
        archived = _archived_requests(await self.archived("request", request_id))
        return next((r for r in archived if r.id == request_id), None)

    async def read_vote(self, request_id: str, voter: str, now: datetime) -> VoteReads:
        """Return the request (locked in a unit of work), the voter's principals, the record and its contacts, and
        learn the workflows' version: all in one round trip where the backend pipelines."""
        requests, votes, records, contacts, version, *principals = await self.conn.fetch_each([
            (f"SELECT * FROM approval_requests WHERE id=?{self._lock_rows}", (request_id,)),
            ("SELECT * FROM votes WHERE request_id=? ORDER BY at, rowid", (request_id,)),
            (_RECORD_OF_REQUEST, (request_id,)),
            (_CONTACTS_OF_REQUEST, (request_id, request_id)),
            (WORKFLOWS_VERSION, ()),
            *principals_queries(voter, now),
        ])
        self._learn_workflows_version(version)
        emails = tuple(str(r["email"]) for r in principals[0])
        if not requests:
            return await self._read_vote_archived(request_id, principals_from(*principals), emails)
        request = request_of(requests[0], [vote_of(v) for v in votes], self._stored)
        found = {f"{r['kind']}:{r['id']}": Contact.model_validate(loads(r["data"])) for r in contacts}
        return VoteReads(request, principals_from(*principals), record_of(records[0]) if records else None, found,
                         emails)

    async def _read_vote_archived(self, request_id: str, principals: tuple[str, ...],
                                  emails: tuple[str, ...]) -> VoteReads:
        request = await self.get_request(request_id)
        record = await self.get_record(request.record_type, request.record_id) if request else None
        return VoteReads(request, principals, record, await self.contacts_of(record) if record else {}, emails)

    def _learn_workflows_version(self, rows: list[Row]) -> None:
        """Take the cached workflows of the version just read, so this unit of work reads it no more."""
        if self._workflows is not None and not self._wrote_workflows and self._listed is None:
            self._listed = self._workflows.get(int(rows[0]["version"]) if rows else 0)

    async def requests_for_record(self, record_type: str, record_id: str) -> list[ApprovalRequest]:
        """Return every approval request of a record (archived ones too), oldest first."""
        rows = await self._all(
            "SELECT * FROM approval_requests WHERE record_type=? AND record_id=? ORDER BY created_at, id",
            (record_type, record_id),
        )
        live = [await self._request_of(r) for r in rows]
        archived = [r for r in _archived_requests(await self.archived(record_type, record_id))
                    if (r.record_type, r.record_id) == (record_type, record_id)]
        return sorted(live + archived, key=lambda r: (r.created_at, r.id))

    async def earlier_rejection(self, request: ApprovalRequest) -> Vote | None:
        """Return the vote that rejected the latest earlier live request of the same record (cancelled ones left
        out), or None when there is none or it was not rejected."""
        row = await self._one(
            "SELECT v.* FROM (SELECT id, status FROM approval_requests WHERE record_type=? AND record_id=? "
            "AND status<>'cancelled' AND (created_at < ? OR (created_at = ? AND id < ?)) "
            "ORDER BY created_at DESC, id DESC LIMIT 1) r JOIN votes v ON v.request_id = r.id "
            "WHERE r.status='rejected' AND v.decision='reject' ORDER BY v.at DESC LIMIT 1",
            (request.record_type, request.record_id, ts(request.created_at), ts(request.created_at), request.id),
        )
        return vote_of(row) if row else None

    async def open_request_for(self, record_type: str, record_id: str) -> ApprovalRequest | None:
        """Return the record's pending request, if any."""
        row = await self._one(
            "SELECT * FROM approval_requests WHERE record_type=? AND record_id=? AND status='pending'",
            (record_type, record_id),
        )
        return await self._request_of(row) if row else None

    async def open_requests(self, limit: int = 1000) -> list[ApprovalRequest]:
        """Return pending requests, oldest first."""
        rows = await self._all(
            "SELECT * FROM approval_requests WHERE status='pending' ORDER BY created_at LIMIT ?", (limit,)
        )
        return [await self._request_of(r) for r in rows]

    async def _request_of(self, row: Row) -> ApprovalRequest:
        votes = await self._all("SELECT * FROM votes WHERE request_id=? ORDER BY at, rowid", (row["id"],))
        return request_of(row, [vote_of(v) for v in votes], self._stored)

    async def count_votes(self, request_id: str) -> int:
        """Return how many votes a request has."""
        row = await self._one("SELECT count(*) FROM votes WHERE request_id=?", (request_id,))
        if row and row[0]:
            return int(row[0])
        request = await self.get_request(request_id)
        return len(request.votes) if request else 0

    # Slack message copies
    async def add_message(self, ref: SlackMessageRef) -> None:
        """Remember a Slack message that shows a request."""
        await self.conn.write("DELETE FROM slack_messages WHERE channel=? AND ts=?", (ref.channel, ref.ts))
        await self.conn.write(
            "INSERT INTO slack_messages (request_id, step_index, user_id, channel, ts) VALUES (?,?,?,?,?)",
            (ref.request_id, ref.step_index, ref.user_id, ref.channel, ref.ts),
        )

    async def messages_for(self, request_id: str) -> list[SlackMessageRef]:
        """Return every Slack message that shows a request."""
        rows = await self._all(
            "SELECT * FROM slack_messages WHERE request_id=? ORDER BY step_index, rowid", (request_id,)
        )
        return [SlackMessageRef(r["request_id"], r["step_index"], r["user_id"], r["channel"], r["ts"])
                for r in rows]

    # audit
    async def audit(
        self, at: datetime, actor: str | None, action: str, subject: tuple[str, str],
        from_state: str | None = None, to_state: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append one entry to the audit trail."""
        await self.conn.write(
            "INSERT INTO audit (at, actor, action, subject_type, subject_id, from_state, to_state, detail) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (ts(at), actor, action, subject[0], subject[1], from_state, to_state, dumps(detail or {})),
        )

    async def audit_trail(self, subject_type: str, subject_id: str) -> list[AuditEntry]:
        """Return the audit entries of one subject, oldest first."""
        rows = await self._all(
            "SELECT * FROM audit WHERE subject_type=? AND subject_id=? ORDER BY seq", (subject_type, subject_id)
        )
        archived = [_audit_entry(r) for r in (await self.archived(subject_type, subject_id)).audit
                    if r["subject_type"] == subject_type and r["subject_id"] == subject_id]
        return sorted([*map(_audit_entry, rows), *archived], key=lambda entry: entry.seq)


