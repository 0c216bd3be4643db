"""The storage interface: a `Store` of units of work and snapshots, and the repositories they offer, as contracts.

Every backend (SQLite today) implements these protocols; code above storage/ types against them only. Times are
aware datetimes and come back as aware UTC datetimes equal to what was stored (microsecond precision); decimals,
dates and JSON payloads come back exactly as stored. Wall-clock `*_s` arguments are epoch seconds (floats).

Errors: the exceptions of storage.errors (one root, StorageError) are the ones a caller may handle. Writing a row
that breaks a stored constraint (a duplicate id, a role outside ROLES, a change to the append-only audit trail)
is a bug of the caller: the backend's own error is raised and the unit of work is rolled back.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from engine.actions import ReminderState
from engine.approvals import ApprovalRequest, Vote
from engine.delegation import Delegation
from engine.groups import Group, Membership
from engine.notify import EmailedSeat
from engine.planning import DueAction
from engine.records import Contact, Record
from engine.rules import AppliedPrefill, Rule
from engine.workflows import Workflow
from storage.models import (
    ApiToken,
    ApprovalLink,
    AuditEntry,
    AuditLine,
    ClaimedItem,
    DueRow,
    InboxEntry,
    InboxRow,
    NewMessage,
    OutboxHold,
    OutboxItem,
    RecordKey,
    ReminderTask,
    RunFilter,
    SlackIdentity,
    SlackMessageRef,
    WorkflowRun,
)

AfterCommit = Callable[[], Awaitable[None] | None]


@dataclass(frozen=True)
class VoteReads:
    """What counting a vote reads first: the request, whom the voter acts for, the request's record and contacts."""

    request: ApprovalRequest | None
    principals: tuple[str, ...]
    record: Record | None
    contacts: dict[str, Contact]
    voter_emails: tuple[str, ...] = ()


class SchemaRepo(Protocol):
    """The version of the stored schema."""

    async def schema_version(self) -> int:
        """Return the applied schema version (0 for a store never migrated)."""
        ...


class RecordsRepo(Protocol):
    """Records (invoices, bills…), keyed by (type, id); saving replaces the whole record."""

    async def get_record(self, record_type: str, record_id: str) -> Record | None:
        """Return one record, or None."""
        ...

    async def save_record(self, record: Record) -> None:
        """Insert or replace a record (an upsert on (type, id))."""
        ...

    async def update_records(self, records: Iterable[Record], updated_at: datetime) -> None:
        """Store new versions of existing records, changed at `updated_at`; records not stored are ignored."""
        ...

    async def list_records(
        self, record_type: str | None = None, approval_status: str | None = None,
        limit: int = 100, offset: int = 0, reminded: bool | None = None, after: tuple[str, str] | None = None,
    ) -> list[Record]:
        """List records in (type, id) order, filtered; `after` (a type and id) starts the page after that key.

        `reminded` keeps records sent a payment reminder (True) or never reminded (False).
        """
        ...

    async def count_records(self) -> int:
        """Return how many records are stored."""
        ...

    async def mark_reminded(self, record_type: str, record_id: str, now: datetime) -> Record | None:
        """Stamp a record reminded now (reminded_at, reminder_count + 1); return it, or None when it is not stored."""
        ...

    async def records_by_id(self, record_type: str, ids: Sequence[str]) -> dict[str, Record]:
        """Return the stored records of one type among `ids`, by id (any number of ids; missing ones left out)."""
        ...

    async def records_by_key(self, keys: Iterable[RecordKey]) -> dict[RecordKey, Record]:
        """Return the stored records among these (type, id) keys (missing ones left out)."""
        ...

    async def records_created_by(self, user: str, limit: int, offset: int = 0) -> tuple[list[Record], int]:
        """Return a person's records: those `approval_required` (waiting for them to submit) first, then by
        created_at descending, then id descending; at most `limit` after skipping `offset`; and how many they created
        in all."""
        ...

    async def records_open_to_prefill(self) -> list[Record]:
        """Return every record rules may still change (approval status neither approved nor expired)."""
        ...

    async def records_open_to_prefill_of(self, kind: str, contact_ids: Iterable[str]) -> list[Record]:
        """Return the records rules may still change whose `kind` (customer or vendor) is one of `contact_ids`,
        by (type, id); any other kind raises ValueError."""
        ...


class ContactsRepo(Protocol):
    """Customers and vendors, keyed by (kind, id)."""

    async def get_contact(self, kind: str, contact_id: str) -> Contact | None:
        """Return one customer or vendor, or None."""
        ...

    async def save_contact(self, contact: Contact, now: datetime) -> None:
        """Insert or replace a contact (an upsert on (kind, id))."""
        ...

    async def contacts_of(self, record: Record) -> dict[str, Contact]:
        """Return the record's stored customer and vendor keyed `kind:id` (missing ones left out)."""
        ...

    async def contacts_by_id(self, kind: str, ids: Sequence[str]) -> dict[str, Contact]:
        """Return the stored contacts of one kind among `ids`, by id."""
        ...

    async def contacts_by_key(self, keys: Iterable[RecordKey]) -> dict[RecordKey, Contact]:
        """Return the stored contacts among these (kind, id) keys."""
        ...

    async def all_contacts(self, kind: str | None = None, limit: int | None = None) -> list[Contact]:
        """Return every contact, or those of one kind, in (kind, id) order; at most `limit` when given."""
        ...


class RequestsRepo(Protocol):
    """Approval requests with their votes, and the index of who each pending request waits on.

    Votes are append-only and unique per (request, step, approver): storing a request again never duplicates or
    changes a stored vote. Votes come back in the order they were cast (`at`, then insertion).

    Versions (compare-and-set): a stored request has a version, 0 when inserted and bumped by each `update_request`.
    A unit of work remembers the version of each request it read (any method returning requests; the first read
    counts) or inserted. `update_request` writes only if the stored version is still that one, else it raises
    ConcurrentUpdateError (from the call itself, or from the unit of work's next statement or its end: a backend
    over the network sends the write with what follows) and the unit of work is rolled back (it cannot commit
    even if the error is caught):
    whatever the isolation level and the number of processes, two units of work that read one request never both
    write it. The caller re-runs its whole unit of work (it reads the new state and decides again).
    """

    async def insert_request(self, request: ApprovalRequest) -> None:
        """Store a new approval request (a duplicate id is a constraint violation)."""
        ...

    async def update_request(self, request: ApprovalRequest) -> None:
        """Store a request's new state and every vote of it not stored yet (stored votes are left as they are).

        Compare-and-set on the version this unit of work read (the current one when it read none; then the version
        is bumped and remembered): a request changed by another unit of work since raises ConcurrentUpdateError (at
        the latest from the unit of work's next statement or its end), a request never stored NotFoundError; either
        way the unit of work is rolled back.
        """
        ...

    async def request_version(self, request_id: str) -> int | None:
        """Return the stored version of a request (0 when inserted, + 1 per update), or None when it is not stored."""
        ...

    async def get_request(self, request_id: str) -> ApprovalRequest | None:
        """Return an approval request with its votes, or None.

        In a unit of work, no other writer changes the request until this one ends (its row is locked, or the
        whole database is): a change read this way is written without losing a compare-and-set.
        """
        ...

    async def read_vote(self, request_id: str, voter: str, now: datetime) -> VoteReads:
        """Return, read together, what counting a vote needs: the request as `get_request` returns it (locked in a
        unit of work), `principals_of(voter, now)`, and the request's record with its `contacts_of` (None and {}
        when the request or its record is gone), and in `voter_emails` the e-mails Slack is known to give the voter
        (`slack_identities`). The workflows' version is read with them: a `list_workflows` of the same unit of work
        then reads nothing more while the cache holds that version.
        """
        ...

    async def requests_for_record(self, record_type: str, record_id: str) -> list[ApprovalRequest]:
        """Return every approval request of a record, oldest first (created_at, then id)."""
        ...

    async def open_request_for(self, record_type: str, record_id: str) -> ApprovalRequest | None:
        """Return the record's pending request, if any."""
        ...

    async def earlier_rejection(self, request: ApprovalRequest) -> Vote | None:
        """Return the vote that rejected the latest earlier request of the same record (created before this one, or
        at the same time with a smaller id; cancelled ones left out), or None when there is none or it was approved
        or expired: when it returns a vote, the document was resubmitted after that rejection. Archived requests are
        not looked at."""
        ...

    async def open_requests(self, limit: int = 1000) -> list[ApprovalRequest]:
        """Return pending requests, oldest first (created_at)."""
        ...

    async def open_request_ids(self, keys: Iterable[RecordKey]) -> list[str]:
        """Return the ids of the pending requests of these records."""
        ...

    async def requests_by_id(self, ids: Sequence[str]) -> dict[str, ApprovalRequest]:
        """Return the stored requests among `ids` with their votes, by id."""
        ...

    async def open_requests_awaiting(self, people: Sequence[str]) -> list[ApprovalRequest]:
        """Return pending requests whose current step lists any of these people, longest waiting first.

        Order: step_started_at, created_at, id. Only the current step counts; a decided request is never listed.
        """
        ...

    async def count_votes(self, request_id: str) -> int:
        """Return how many votes a request has."""
        ...

    async def has_vote(self, request_id: str, step_index: int, approver: str) -> bool:
        """Tell whether an approver's vote on a step of a request is stored."""
        ...


class MessagesRepo(Protocol):
    """The Slack messages that show a stored request, keyed by (channel, ts)."""

    async def add_message(self, ref: SlackMessageRef) -> None:
        """Remember a Slack message that shows a request, replacing the one stored under its (channel, ts)."""
        ...

    async def messages_for(self, request_id: str) -> list[SlackMessageRef]:
        """Return every Slack message that shows a request, by step, then in the order they were added."""
        ...


class WorkflowsRepo(Protocol):
    """Workflows, validated once per committed version of the table.

    Every write to workflows, in any process on the store, bumps `workflows_version`. A snapshot or unit of work
    never sees a stale list: cached workflows are reused only while the version is unchanged, a unit of work
    that wrote workflows sees its own writes, and a rolled-back write never reaches the cache.
    """

    async def list_workflows(self, record_type: str | None = None) -> list[Workflow]:
        """List workflows, oldest first (created_at, then id), optionally of one record type."""
        ...

    async def get_workflow(self, workflow_id: str) -> Workflow | None:
        """Return one workflow, or None."""
        ...

    async def save_workflow(self, workflow: Workflow) -> None:
        """Insert or replace a workflow (an upsert on id)."""
        ...

    async def delete_workflow(self, workflow_id: str) -> bool:
        """Delete a workflow; tell whether it existed."""
        ...

    async def workflows_version(self) -> int:
        """Return the version of the workflows table, bumped by every write to it (any process)."""
        ...


class AuditRepo(Protocol):
    """The append-only audit trail: entries are never changed or deleted; `seq` grows with each entry."""

    async def audit(
        self, at: datetime, actor: str | None, action: str, subject: tuple[str, str],
        from_state: str | None = None, to_state: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Append one entry to the audit trail."""
        ...

    async def audit_many(self, lines: Iterable[AuditLine]) -> None:
        """Append many entries, in order."""
        ...

    async def audit_trail(self, subject_type: str, subject_id: str) -> list[AuditEntry]:
        """Return the entries of one subject in the order they were appended (seq)."""
        ...

    async def last_audit_of(
        self, subject_type: str, subject_ids: Sequence[str], actions: Sequence[str]
    ) -> dict[str, datetime]:
        """Return when each subject last had one of these actions (subjects without any are left out)."""
        ...


class OutboxRepo(Protocol):
    """The outbox: every message is queued in the unit of work that decided it, then leased for delivery.

    Statuses (storage.models): QUEUED -> SENDING (leased) -> SENT, or DEAD, or back to QUEUED for a retry.
    - Idempotency: an item queued with a `key` already stored (in any status, until compacted) is not queued again.
    - Claims lease an item to an owner until now + lease_s and count an attempt. An item SENDING whose lease
      expired is due again (its sender is presumed dead) and is claimed like a queued one; claims come earliest
      not_before first, then by id (the order items were queued). A claim is a compare-and-set on each item: two
      claims (in any processes) never both return one item while its lease runs.
    - Owners: every lease names its owner (`owner`, by default the owner naming this open store, `Store.owner`).
      mark_sent / mark_retry / mark_dead are compare-and-sets on it: they change an item only while it is SENDING
      under that owner (its lease may have run out, as long as no one took it over); otherwise they raise
      LeaseLostError and the unit of work is rolled back (it cannot commit even if the error is caught). So a
      sender whose lease was taken over never marks an item sent twice, nor queues again an item another sends.
      release_outbox, mark_sent_many and renew_outbox change only the items the owner holds and leave the others.
    """

    async def enqueue(
        self, kind: str, target: str, payload: dict[str, Any], now: datetime,
        key: str | None = None, not_before: datetime | None = None,
    ) -> bool:
        """Queue a message due at `not_before` (default now); tell whether it was queued (False: key stored)."""
        ...

    async def enqueue_coalesced(self, kind: str, target: str, payload: dict[str, Any], now: datetime) -> None:
        """Queue an item due now unless one of the same kind and target is queued and due by now.

        Nothing is answered, so a backend may send it with the transaction's next statement or its commit.
        """
        ...

    async def enqueue_many(self, messages: Sequence[NewMessage], now: datetime) -> None:
        """Queue many items due now, in order; items whose key is stored (or repeated) are ignored."""
        ...

    async def claim_due(
        self, now: datetime, lease_s: float, limit: int, owner: str | None = None,
    ) -> list[OutboxItem]:
        """Lease up to `limit` due items (queued and due, or sending with an expired lease) to `owner`.

        The items returned show the state before the claim (status and attempts not yet bumped).
        """
        ...

    async def claim_outbox(
        self, now: datetime, wall_s: float, lease_s: float, per_target: int, limit: int,
        accept: Callable[[OutboxItem], bool] | None = None, owner: str | None = None, hold: OutboxHold | None = None,
    ) -> list[ClaimedItem]:
        """Lease due items to `owner`, at most `per_target` per target (the earliest of each), `limit` in all.

        Returned items are SENDING with attempts already counted. Items `hold` holds back are not read. `accept(item)`
        may refuse some: they stay as they were. A target with an item under another owner's live lease is left to
        that owner (one sender per conversation at a time). `uncertain_since` is None unless an earlier claim was
        neither released nor recorded by `mark_sent_many`: then it is that claim's `wall_s` (an earlier sender may
        have posted it).
        """
        ...

    async def first_held_outbox(self, hold: OutboxHold) -> datetime | None:
        """Return the earliest `not_before` of the queued items `hold` holds back, or None."""
        ...

    async def release_outbox(
        self, claimed: Sequence[ClaimedItem], not_before: datetime, error: str | None = None,
        owner: str | None = None,
    ) -> None:
        """Give claimed, untried items back (queued from `not_before`); the attempt is not counted.

        An item keeps the doubt it was claimed with (`uncertain_since`); an item `owner` no longer holds (no
        longer SENDING, or taken over) is left alone.
        """
        ...

    async def renew_outbox(self, ids: Sequence[int], until: datetime, owner: str | None = None) -> list[int]:
        """Extend to `until` the leases `owner` still holds on these items; return the ids renewed (in order)."""
        ...

    async def mark_sent(
        self, item_id: int, now: datetime, result: dict[str, Any] | None = None, owner: str | None = None,
    ) -> None:
        """Record a delivery: SENT at `now` with its result (e.g. the Slack ts); the lease ends.

        LeaseLostError (rolled back) when `owner` no longer holds the item.
        """
        ...

    async def mark_sent_many(
        self, deliveries: Sequence[tuple[int, datetime, dict[str, Any] | None]], owner: str | None = None,
    ) -> list[int]:
        """Record many deliveries at once, as `mark_sent` does, and forget their doubt; return the ids not recorded.

        Items `owner` no longer holds are not recorded (no error: the others are); their ids are returned in order.
        """
        ...

    async def mark_retry(self, item_id: int, not_before: datetime, error: str, owner: str | None = None) -> None:
        """Put an item back in the queue, due at `not_before`, keeping the error (first 2000 characters).

        LeaseLostError (rolled back) when `owner` no longer holds the item.
        """
        ...

    async def mark_dead(self, item_id: int, error: str, owner: str | None = None) -> None:
        """Give up on an item: DEAD with its error, kept (and listed) until requeued.

        LeaseLostError (rolled back) when `owner` no longer holds the item.
        """
        ...

    async def requeue_dead(self, item_id: int, now: datetime) -> bool:
        """Queue a DEAD item again, due now, attempts reset and its horizon restarted; tell whether it was dead."""
        ...

    async def compact_outbox(self, sent_before: datetime, limit: int = 5000) -> int:
        """Delete up to `limit` items SENT before `sent_before`; return how many. Other statuses are kept.

        Their keys are forgotten with them: an item queued again under such a key is queued anew.
        """
        ...

    async def outbox_item(self, item_id: int) -> OutboxItem | None:
        """Return one outbox item, or None."""
        ...

    async def outbox_items(self, status: str | None = None, limit: int = 100) -> list[OutboxItem]:
        """List outbox items, newest first (id descending), optionally of one status."""
        ...

    async def outbox_counts(self) -> dict[str, int]:
        """Count outbox items by status (statuses without items are left out)."""
        ...

    async def outbox_owners(self, now: datetime) -> list[str]:
        """Return the owners holding SENDING items under a live lease (one that ends after `now`)."""
        ...

    async def retry_outbox_now(self, now: datetime) -> int:
        """Make due at `now` the queued items waiting to be retried after a failed attempt; return how many.

        Items a rate limit put back (their `last_error` begins with THROTTLED_ERROR) keep their time: Slack said
        when to come back. Items never tried, leased or delivered are left alone.
        """
        ...

    async def end_outbox_leases(self, owners: Sequence[str], now: datetime) -> int:
        """End at `now` the live leases these owners hold (owners known to be dead); return how many.

        The items stay SENDING, their attempts and doubt (`uncertain_since`) kept: the next claim takes them as it
        takes an item whose lease ran out.
        """
        ...

    async def next_due_at(self) -> datetime | None:
        """Return when the next queued item becomes due (None: nothing queued)."""
        ...

    async def next_outbox_due(self) -> datetime | None:
        """Return when the next item becomes claimable: a queued one's not_before or a lease's end."""
        ...


class InboxRepo(Protocol):
    """The inbox: verified requests committed before they are answered, then processed exactly once.

    - Identity: `accept_inbox` stores a row per new identity; an identity already stored (by any process, however
      long ago, until `purge_inbox`) is a replay and is not stored again.
    - Leases: a QUEUED row is held by one owner until `lease_until` (epoch seconds). `claim_inbox` takes rows whose
      lease ended or whose owner is listed dead, oldest (id) first, and counts an attempt. `renew_inbox` extends
      only leases the owner still holds; a lease lost (expired and claimed by another) is not renewed.
    - Completion: `complete_inbox` is a compare-and-set: it marks the row DONE only while `owner` holds it. Called in
      the unit of work that commits the work's effects, False means another owner has the row: roll back.
      `finish_inbox` is the same compare-and-set without an answer: a row another owner has makes the unit of work
      raise LeaseLostError, no later than its commit, and roll back (the answer costs no round trip of its own).
    """

    async def accept_inbox(
        self, entries: Sequence[InboxEntry], owner: str, now_s: float, lease_s: float,
    ) -> dict[str, int]:
        """Store new requests (with a body: QUEUED, leased to `owner`; without: SEEN); return the ids stored now."""
        ...

    async def claim_inbox(
        self, owner: str, now_s: float, lease_s: float, limit: int, dead_owners: Sequence[str] = (),
    ) -> list[InboxRow]:
        """Lease up to `limit` queued rows whose lease ended or whose owner is dead, oldest first."""
        ...

    async def claimable_inbox(self, now_s: float, dead_owners: Sequence[str] = ()) -> int:
        """Count the queued rows `claim_inbox` would take now."""
        ...

    async def is_inbox_in_hand(self, now_s: float) -> bool:
        """Tell whether some process holds a queued row under a live lease (requests being processed now)."""
        ...

    async def inbox_owners(self) -> list[str]:
        """Return the owners holding queued rows."""
        ...

    async def renew_inbox(self, owner: str, ids: Sequence[int], until_s: float) -> None:
        """Extend to `until_s` the leases `owner` still holds on these rows (others are left alone)."""
        ...

    async def complete_inbox(self, row_id: int, owner: str, now_s: float) -> bool:
        """Mark a row DONE if `owner` still holds it; tell whether it did (compare-and-set)."""
        ...

    async def finish_inbox(self, row_id: int, owner: str, now_s: float) -> None:
        """Mark a row done in this unit of work if `owner` still holds it; else the unit of work raises
        LeaseLostError (no later than its commit) and rolls back."""
        ...

    async def retry_inbox(self, row_id: int, owner: str, at_s: float, error: str) -> None:
        """Hand a row `owner` holds back after a failed attempt, claimable by anyone from `at_s`."""
        ...

    async def fail_inbox(self, row_id: int, owner: str, error: str) -> None:
        """Give up on a row `owner` holds after its last attempt: FAILED, kept with its error."""
        ...

    async def release_inbox(self, owner: str) -> int:
        """Hand back every queued row `owner` holds, claimable at once; return how many."""
        ...

    async def share_inbox(self, owner: str, ids: Sequence[int]) -> int:
        """Hand back those of these queued rows `owner` holds (it has not started them), claimable at once; the
        claim that takes one counts no attempt for it. Return how many were handed back."""
        ...

    async def purge_inbox(self, before_s: float) -> int:
        """Forget DONE and SEEN rows received before `before_s` (their identities may be stored again)."""
        ...

    async def inbox_counts(self) -> dict[str, int]:
        """Count inbox rows by status (statuses without rows are left out)."""
        ...


class SchedulerRepo(Protocol):
    """Due times per subject, actions performed once by key, and the scheduler's settings documents.

    A pending request and an invoice are watched (due at once) as soon as they are stored or changed, and stop
    being watched when the request is decided or the invoice deleted; `set_next_due` plans the next look.

    Leases: a sweep claims the subjects it handles (`claim_due_rows`, a lease to an owner until now + lease_s) and
    `set_next_due` with its owner ends the lease. A subject under a live lease is neither listed nor claimed, so
    two sweeps (in any processes) never handle one subject at the same time; a lease that ran out (its sweep
    died) frees the subject. Actions are claimed by key (`claim_actions`), so even a sweep whose lease ran out
    performs nothing twice.
    """

    async def due_rows(self, now: datetime, limit: int) -> list[DueRow]:
        """Return the subjects due by `now` (next_due_at <= now) and not under a live lease, earliest first."""
        ...

    async def claim_due_rows(self, now: datetime, limit: int, owner: str, lease_s: float) -> list[DueRow]:
        """Lease the subjects `due_rows` would list (at most `limit`) to `owner` until now + lease_s; return them.

        A compare-and-set per subject: two claims never both return one subject while its lease runs.
        """
        ...

    async def set_next_due(
        self, plans: Iterable[tuple[str, str, datetime | None]], owner: str | None = None,
        forget: Collection[str] = (),
    ) -> None:
        """Store the next due time of watched subjects (None: nothing planned) and end their lease.

        With `owner`, only the subjects that owner still holds change (a sweep whose lease was taken over changes
        nothing); without, every one listed. Unwatched subjects are ignored. A subject of a kind in `forget` with
        nothing planned stops being watched (a change to it, or `replan_invoices`, watches it again).
        """
        ...

    async def schedule_subject(self, kind: str, subject_id: str, at: datetime | None, spec: str | None) -> None:
        """Set (or create) a subject's next due time and what it was planned from."""
        ...

    async def forget_subject(self, kind: str, subject_id: str) -> None:
        """Stop watching a subject."""
        ...

    async def subjects_of(self, kind: str) -> list[DueRow]:
        """Return every watched subject of a kind."""
        ...

    async def count_subjects(self) -> dict[str, int]:
        """Count watched subjects by kind."""
        ...

    async def replan_all(self, kind: str, now: datetime) -> int:
        """Make every subject of a kind due at `now`; return how many."""
        ...

    async def replan_invoices(self, now: datetime) -> int:
        """Watch every invoice again, due at `now` (those forgotten too); return how many."""
        ...

    async def claim_actions(self, actions: Sequence[DueAction], now: datetime) -> list[DueAction]:
        """Claim the actions whose key was never performed, with the keys they cover; return those, in order.

        Idempotent by key: the key is inserted unless stored (no read-then-insert window) and an action is returned
        only by the call that inserted it, so one committed claim at most returns it, whatever the concurrency
        (repeats in `actions` once). The keys it covers are claimed after every action of the call. Call in the
        unit of work that performs it: rolled back, the action is to do again.
        """
        ...

    async def is_performed(self, key: str) -> bool:
        """Tell whether an action key was claimed (performed or covered)."""
        ...

    async def count_performed(self, kind: str | None = None) -> int:
        """Count performed action keys, optionally of one kind."""
        ...

    async def last_nudges(self, request_ids: Sequence[str]) -> dict[str, dict[int, datetime]]:
        """Return, by request and then by step, when a reminder or an escalation of it was last claimed (requests
        and steps never nudged are absent)."""
        ...

    async def get_setting(self, name: str) -> dict[str, Any] | None:
        """Return a stored settings document, or None."""
        ...

    async def put_setting(self, name: str, data: dict[str, Any], now: datetime) -> None:
        """Store (replace) a settings document."""
        ...


class ClockRepo(Protocol):
    """The test clock's offset from real time, one value shared by every process on the store."""

    async def clock_offset(self) -> timedelta:
        """Return the stored offset (zero until set)."""
        ...

    async def set_clock_offset(self, offset: timedelta) -> None:
        """Replace the stored offset (microsecond precision)."""
        ...

    async def advance_clock_offset(self, delta: timedelta) -> timedelta:
        """Add `delta` to the stored offset, atomically (no advance of another process is lost); return it."""
        ...


class HomeUsersRepo(Protocol):
    """The people whose App Home tab was published, by any process on the store (a change republishes theirs)."""

    async def add_home_users(self, users: Iterable[str], now: datetime) -> None:
        """Remember people whose Home tab was published (idempotent)."""
        ...

    async def home_users_among(self, users: Iterable[str]) -> set[str]:
        """Return those of these people whose Home tab was ever published (any number of them)."""
        ...


class RunsRepo(Protocol):
    """Workflow run history (append-only, `seq` grows) and the company row."""

    async def insert_run(self, run: WorkflowRun) -> None:
        """Store one run (a duplicate id is a constraint violation)."""
        ...

    async def insert_runs(self, runs: Iterable[WorkflowRun]) -> None:
        """Store runs, in order (their seq follows that order)."""
        ...

    async def get_run(self, run_id: str) -> WorkflowRun | None:
        """Return one run, or None."""
        ...

    async def list_runs(self, flt: RunFilter) -> list[WorkflowRun]:
        """Return runs matching the filter, newest first (seq descending), below `before_seq` when given."""
        ...

    async def company_name(self) -> str:
        """Return the company's name (empty until set)."""
        ...

    async def set_company_name(self, name: str) -> None:
        """Set the company's name."""
        ...

    async def defaults_seeded_at(self) -> datetime | None:
        """Return when the default workflows were given to this company (None: never)."""
        ...


class ArchiveRepo(Protocol):
    """The archive of closed approvals: history packed out of the live tables, still read by every read above.

    `get_request`, `request_version`, `requests_for_record`, `count_votes`, `audit_trail`, `get_run` and
    `list_runs` answer the same before and after a document is archived; `messages_for` answers nothing for an
    archived request (its Slack cards are never updated again).
    """

    async def archive_closed(self, decided_before: datetime, now: datetime, limit: int = 100) -> int:
        """Archive up to `limit` documents whose requests were all decided before `decided_before`; say how many.

        A document with a pending request is left live; a request with an e-mail link unexpired at `now` waits.
        Each request is archived once, even by concurrent callers (its row is claimed by an UPDATE).
        """
        ...


class RemindersRepo(Protocol):
    """Reminder tasks: one live task per (workflow, document, person) until the document stops matching.

    A task is open until done (dismissed); it is live until ended. Ids grow with each task stored.
    """

    async def add_reminder_tasks(self, tasks: Iterable[ReminderTask]) -> None:
        """Store reminder tasks (their `id` is ignored: the store assigns one)."""
        ...

    async def reminder_task(self, task_id: int) -> ReminderTask | None:
        """Return one reminder task, or None."""
        ...

    async def reminders_for(self, assignee: str, include_done: bool = False, limit: int = 50) -> list[ReminderTask]:
        """Return a person's (or channel's) tasks, newest first (id descending); open ones only unless asked."""
        ...

    async def open_reminders(
        self, assignee: str, limit: int = 50, offset: int = 0, workflow_id: str | None = None
    ) -> tuple[list[ReminderTask], int]:
        """Return one page of a person's open, live tasks (newest first) and how many there are in all."""
        ...

    async def complete_reminder(self, task_id: int, now: datetime) -> bool:
        """Mark a task done; tell whether it was open (a second call is False)."""
        ...

    async def reminder_states(self, workflow_id: str, record_type: str, record_id: str) -> dict[str, ReminderState]:
        """Return who has a live task of a document by a workflow: OPEN, or DISMISSED (done)."""
        ...

    async def retext_reminders(
        self, workflow_id: str, record: tuple[str, str], assignees: Iterable[str], text: str
    ) -> None:
        """Give these people's open, live tasks of a document the text of the latest run."""
        ...

    async def reminded_documents(self, workflow_id: str) -> set[RecordKey]:
        """Return the documents a workflow has live tasks of."""
        ...

    async def end_reminders(self, workflow_id: str, records: Iterable[RecordKey], now: datetime) -> None:
        """End the live tasks of documents that stopped matching a workflow (done or not)."""
        ...


class RulesRepo(Protocol):
    """Pre-fill rules and the provenance of the values they put on records (keyed by record and field)."""

    async def list_rules(self, status: str | None = None) -> list[Rule]:
        """List rules, oldest first (created_at, then id), optionally only those with a status."""
        ...

    async def get_rule(self, rule_id: str) -> Rule | None:
        """Return one rule, or None."""
        ...

    async def save_rule(self, rule: Rule) -> None:
        """Insert or replace a rule (an upsert on id)."""
        ...

    async def delete_rule(self, rule_id: str) -> bool:
        """Delete a rule; tell whether it existed."""
        ...

    async def prefills_of(self, record_type: str, record_id: str) -> dict[str, AppliedPrefill]:
        """Return the pre-fills of one record, keyed by field (values round-trip exactly, ABSENT included)."""
        ...

    async def all_prefills(self) -> dict[RecordKey, dict[str, AppliedPrefill]]:
        """Return every pre-fill, grouped by record and keyed by field."""
        ...

    async def records_using_rule(self, rule_id: str) -> set[RecordKey]:
        """Return the records where a rule's value was applied, suggested or listed as competing."""
        ...

    async def replace_prefills(
        self, changes: Iterable[tuple[RecordKey, Iterable[str], Mapping[str, AppliedPrefill]]], now: datetime
    ) -> None:
        """For each record, set the listed fields' provenance to the given rows (a field without a row: none)."""
        ...


class GroupsRepo(Protocol):
    """Groups of customers, vendors or people, with automatic, added and removed members."""

    async def list_groups(self) -> list[Group]:
        """List groups by name."""
        ...

    async def get_group(self, group_id: str) -> Group | None:
        """Return one group by id, or None."""
        ...

    async def group_named(self, name: str) -> Group | None:
        """Return one group by name (names are unique), or None."""
        ...

    async def save_group(self, group: Group) -> None:
        """Insert or replace a group's definition (an upsert on id; its members are kept)."""
        ...

    async def delete_group(self, group_id: str) -> bool:
        """Delete a group and its members; tell whether it existed."""
        ...

    async def membership(self, group_id: str) -> Membership:
        """Return a group's automatic, added and removed members."""
        ...

    async def save_membership(self, group_id: str, before: Membership, after: Membership) -> None:
        """Store the difference between two memberships of a group (idempotent)."""
        ...

    async def set_auto_member(self, group_id: str, member_id: str, is_member: bool) -> None:
        """Add or drop one automatic member (idempotent)."""
        ...

    async def contact_group_members(self, names: Iterable[str] | None = None) -> dict[str, frozenset[str]]:
        """Return the members (automatic or added, not removed) of customer and vendor groups by name."""
        ...

    async def people_groups(self) -> dict[str, tuple[str, ...]]:
        """Return the members of every people group by name, in the order they were added."""
        ...

    async def automatic_groups(self, kind: str) -> list[Group]:
        """Return the groups of a contact kind that follow contact changes, by name."""
        ...


class DelegationsRepo(Protocol):
    """Delegations while away: active at `now` when started, not yet over and not ended."""

    async def start_delegation(self, delegation: Delegation) -> None:
        """Store a delegation, ending the principal's delegations active at its start."""
        ...

    async def end_delegations(self, principal: str, now: datetime) -> list[Delegation]:
        """End the principal's delegations active at `now`; return them."""
        ...

    async def delegations_active_at(
        self, now: datetime, *, principal: str | None = None, delegate: str | None = None
    ) -> list[Delegation]:
        """Return the delegations active at `now`, oldest start first, optionally of one principal or delegate."""
        ...

    async def principals_of(self, delegate: str, now: datetime) -> tuple[str, ...]:
        """Return whom a person acts for: the e-mails Slack says are theirs, then the people away (no repeats)."""
        ...

    async def emails_of(self, people: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """Return the e-mails Slack said are each person's (the names an approval may list them under, as
        `principals_of` reads them), oldest answer first; a person with none is left out."""
        ...

    async def delegates_of(self, principals: Iterable[str], now: datetime) -> dict[str, str]:
        """Return the active delegate of each principal who has one."""
        ...

    async def delegations_of(self, principals: Iterable[str], now: datetime) -> list[Delegation]:
        """Return the delegations of these principals active at `now`, oldest start first."""
        ...

    async def latest_delegations(self, principals: Iterable[str]) -> list[Delegation]:
        """Return each of these principals' latest delegation (the one started last), active or not."""
        ...


class TokensRepo(Protocol):
    """REST API tokens: only their SHA-256 hash (models.hash_token) is stored, under a unique name."""

    async def add_api_token(self, name: str, role: str, token_hash: str, now: datetime) -> bool:
        """Store a token under a name never used; tell whether it was stored (False: the name is taken).

        A role outside ROLES is a constraint violation.
        """
        ...

    async def api_token_by_hash(self, token_hash: str) -> ApiToken | None:
        """Return the token with this hash, revoked or not, or None."""
        ...

    async def api_tokens(self) -> list[ApiToken]:
        """List every token, oldest first (created_at, then name)."""
        ...

    async def revoke_api_token(self, name: str, now: datetime) -> bool:
        """Revoke a token by name; tell whether an active token was revoked (revocation is final)."""
        ...

    async def touch_api_token(self, name: str, now: datetime) -> None:
        """Remember when a token was last used."""
        ...


class LinksRepo(Protocol):
    """Single-use approval links (stored under models.hash_link_token) and the Slack identities of e-mails."""

    async def add_approval_link(self, token_hash: str, link: ApprovalLink) -> None:
        """Store a new link under the hash of its token (a hash stored before is a constraint violation)."""
        ...

    async def approval_link(self, token_hash: str) -> ApprovalLink | None:
        """Return the link stored under a token hash, used or not, or None."""
        ...

    async def use_approval_link(self, token_hash: str, now: datetime) -> bool:
        """Use a link: if it is unused and unexpired at `now`, mark every unused link of its seat used; tell whether.

        A seat is (request, step, approver): once any of its links is used, none of them can be.
        """
        ...

    async def untold_seats(self, request_id: str) -> list[EmailedSeat]:
        """Return the (step, approver, e-mail) of a request's links never used nor told of, by step, approver, e-mail.

        A seat e-mailed links twice at one address is returned once.
        """
        ...

    async def mark_seat_told(self, request_id: str, seat: EmailedSeat, now: datetime) -> bool:
        """Mark a seat's unused links at that address told at `now`; tell whether any were (compare-and-set: of two
        callers at once, one gets True). A told seat is no longer returned by `untold_seats`."""
        ...

    async def slack_identity(self, email: str) -> SlackIdentity | None:
        """Return what Slack last said about an e-mail (expired or not), or None."""
        ...

    async def save_slack_identity(self, identity: SlackIdentity) -> None:
        """Remember what Slack said about an e-mail, replacing an earlier answer."""
        ...


class Repository(
    SchemaRepo, RecordsRepo, ContactsRepo, RequestsRepo, MessagesRepo, WorkflowsRepo, AuditRepo, OutboxRepo,
    InboxRepo, SchedulerRepo, RunsRepo, RemindersRepo, RulesRepo, GroupsRepo, DelegationsRepo, TokensRepo,
    LinksRepo, ClockRepo, HomeUsersRepo, ArchiveRepo, Protocol,
):
    """Everything a unit of work or a snapshot offers."""


class CommitHook:
    """Work that must commit with the first write transaction of the task that set it (see `Store.carrying`)."""

    def __init__(self, run: Callable[[Repository], Awaitable[None]]) -> None:
        self.run = run
        self.is_committed = False


class Store(Protocol):
    """An open store: serialised units of work, concurrent snapshots, and work tied to a commit.

    - A unit of work sees every commit before it and its own writes. It commits when its block ends normally
      and rolls back, whole, when the block raises (the error propagates), or when a compare-and-set of it failed
      (ConcurrentUpdateError, LeaseLostError: raised at the block's end even if the block caught it). A write whose
      outcome the caller does not read may reach the database with the next statement or the commit, so its error
      (a failed compare-and-set included) may be raised from there.
    - Units of work may run side by side (several processes, READ COMMITTED): code above storage/ relies only on
      the compare-and-sets and claims of the repositories (request versions, action keys, leases with owners),
      never on units of work being serialised (SQLite serialises them: a version read there never goes stale).
    - A snapshot sees the last commit as of its start and nothing after; it never waits for a unit of work.
      Writes inside a snapshot are refused (the backend's error) and nothing of them is kept.
    - Opening a store migrates it; a store written by a newer Signoff is refused with SchemaTooNewError.
    """

    owner: str
    """The lease owner naming this open store (`host:pid:start:random`), used when a claim names none."""

    def unit_of_work(self) -> AbstractAsyncContextManager[Repository]:
        """Run a unit of work (a write transaction): commit on success, roll back on error."""
        ...

    def read(self) -> AbstractAsyncContextManager[Repository]:
        """Run a read-only snapshot of the last commit."""
        ...

    def on_commit(self, callback: AfterCommit) -> None:
        """Run `callback` (sync or async) after the current task's unit of work commits; never if it rolls back.

        Callbacks run in the order registered, after the commit and outside the unit of work; every one runs, and
        the first error among them is raised from the `async with` (the commit stands). Called outside a unit
        of work, it raises StorageError.
        """
        ...

    def carrying(self, run: Callable[[Repository], Awaitable[None]]) -> AbstractContextManager[CommitHook]:
        """Within the block, the first unit of work of this task runs `run` just before it commits.

        `run` may raise (e.g. LeaseLostError) to roll that unit of work back. The hook tells, after the block,
        whether it was committed; it is run by one unit of work at most.
        """
        ...

    def carrying_nothing(self) -> AbstractContextManager[None]:
        """Within the block, no unit of work carries the task's hook (work done in several idempotent steps)."""
        ...

    def on_committed_elsewhere(self, callback: Callable[[], None]) -> None:
        """Call `callback` soon after another process commits a unit of work on this store.

        Backends that cannot tell (SQLite) never call it: other processes' work is then found by polling.
        """
        ...

    async def tell_peers(self, news: str) -> None:
        """Tell the other processes on this store `news` (one word) at once, on a backend that can (never raises:
        news is a hint, and a peer that misses it finds the work by polling)."""
        ...

    def on_peer_news(self, news: str, callback: Callable[[], None]) -> None:
        """Call `callback` when another process tells `news` (never for this process's own)."""
        ...

    async def ping(self) -> bool:
        """Tell whether the store answers (a migrated schema is readable)."""
        ...

    async def close(self) -> None:
        """Close the store; it may not be used afterwards."""
        ...
