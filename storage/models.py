"""Values that cross the storage interface, the same for every backend: rows as dataclasses, statuses, token hashes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

RecordKey = tuple[str, str]

# outbox statuses: queued -> sending (leased) -> sent | dead (or back to queued for a retry)
QUEUED, SENDING, SENT, DEAD = "queued", "sending", "sent", "dead"
# How the `last_error` of an outbox item a rate limit put back (Slack's 429 and its Retry-After) begins.
THROTTLED_ERROR = "rate limited"

# inbox statuses: queued (work leased to an owner) -> done | failed; seen (stored only to refuse replays)
INBOX_QUEUED, INBOX_DONE, INBOX_SEEN, INBOX_FAILED = "queued", "done", "seen", "failed"

ROLES = ("admin", "integration", "read")
ENV_TOKEN_NAME = "env"  # SIGNOFF_API_TOKEN: an admin token kept in the environment, not in the store
TOKEN_PREFIX = "so_"


def new_token() -> str:
    """Return a fresh token: 256 random bits, URL-safe, with a recognisable prefix."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Return the SHA-256 (hex) under which a token is stored and looked up."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def hash_link_token(token: str) -> str:
    """Return the SHA-256 (hex) under which an approval link's token is stored and looked up."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    """One line of the append-only audit trail."""

    seq: int
    at: datetime
    actor: str | None
    action: str
    subject_type: str
    subject_id: str
    from_state: str | None
    to_state: str | None
    detail: dict[str, Any]


@dataclass(frozen=True)
class AuditLine:
    """One audit entry to append in bulk."""

    at: datetime
    actor: str | None
    action: str
    subject: tuple[str, str]
    from_state: str | None = None
    to_state: str | None = None
    detail: dict[str, Any] | None = None


@dataclass(frozen=True)
class SlackMessageRef:
    """A Slack message that shows an approval request and must follow its state."""

    request_id: str
    step_index: int
    user_id: str | None
    channel: str
    ts: str


@dataclass(frozen=True)
class OutboxItem:
    """One message waiting to be delivered (or delivered)."""

    id: int
    key: str | None
    kind: str
    target: str
    payload: dict[str, Any]
    status: str
    attempts: int
    not_before: datetime
    created_at: datetime
    last_error: str | None = None
    result: dict[str, Any] | None = None
    requeued_at: datetime | None = None

    @property
    def retried_from(self) -> datetime:
        """Return when this item's delivery horizon started: its creation, or its last requeue by an admin."""
        return max(self.created_at, self.requeued_at) if self.requeued_at else self.created_at

    def lasting_ref(self) -> str:
        """Return what names this item at every attempt and never another one: its id and creation instant (µs)."""
        return f"{self.id}.{int(self.created_at.timestamp() * 1_000_000)}"


@dataclass(frozen=True)
class ClaimedItem:
    """An outbox item leased for delivery; `uncertain_since` is set when an earlier attempt's fate is unknown."""

    item: OutboxItem
    uncertain_since: float | None


@dataclass(frozen=True)
class OutboxHold:
    """Items of these kinds due after `queued_after` are held back: a claim neither reads nor leases them."""

    kinds: tuple[str, ...]
    queued_after: datetime


@dataclass(frozen=True)
class NewMessage:
    """An outbox item to queue."""

    kind: str
    target: str
    payload: dict[str, Any]
    key: str | None = None


@dataclass(frozen=True)
class InboxEntry:
    """A verified request to remember: its identity, and the payload to process (None: nothing left to do)."""

    identity: str
    kind: str
    body: str | None = None


@dataclass(frozen=True)
class InboxRow:
    """A stored request with work to do, leased to the process that reads it."""

    id: int
    identity: str
    kind: str
    body: str
    attempts: int
    received_s: float


@dataclass(frozen=True)
class DueRow:
    """A subject the scheduler must look at, and since when."""

    kind: str
    subject_id: str
    next_due_at: datetime | None
    spec: str | None = None


@dataclass(frozen=True)
class WorkflowRun:
    """One workflow that fired on one record: what it did and how that went."""

    id: str
    workflow_id: str
    workflow_name: str
    record_type: str
    record_id: str
    cause: str
    outcome: str
    actions: list[dict[str, Any]]
    at: datetime
    seq: int = 0
    event: str = "actions"
    request_id: str | None = None
    actor: str | None = None
    on_behalf_of: str | None = None
    decision: str | None = None
    reason: str | None = None
    step: int | None = None

    def as_json(self) -> dict[str, Any]:
        """Return the run as the API shows it."""
        return {"id": self.id, "workflow_id": self.workflow_id, "workflow_name": self.workflow_name,
                "record_type": self.record_type, "record_id": self.record_id, "cause": self.cause,
                "outcome": self.outcome, "actions": self.actions, "at": self.at.isoformat(),
                "event": self.event, "request_id": self.request_id, "actor": self.actor,
                "on_behalf_of": self.on_behalf_of, "decision": self.decision, "reason": self.reason,
                "step": self.step}


@dataclass(frozen=True)
class ReminderTask:
    """A reminder given to a person or channel by a workflow run."""

    id: int
    run_id: str
    assignee: str
    workflow_id: str
    record_type: str
    record_id: str
    text: str
    created_at: datetime
    done_at: datetime | None = None


@dataclass(frozen=True)
class RunFilter:
    """Which runs to list: by workflow and/or record, newest first, after a cursor."""

    workflow_id: str | None = None
    record_type: str | None = None
    record_id: str | None = None
    before_seq: int | None = None
    limit: int = 50


@dataclass(frozen=True)
class ApiToken:
    """One named API token: its role and bookkeeping, never the token itself."""

    name: str
    role: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def is_active(self) -> bool:
        """Tell whether the token is still accepted."""
        return self.revoked_at is None


@dataclass(frozen=True)
class ApprovalLink:
    """One e-mailed approval link: the seat it decides for, its decision, and whether it may still be used."""

    request_id: str
    step_index: int
    approver: str
    decision: str
    email: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


@dataclass(frozen=True)
class SlackIdentity:
    """What Slack said about an e-mail: its user (None: nobody), and until when that answer is kept."""

    email: str
    user_id: str | None
    checked_at: datetime
    expires_at: datetime
