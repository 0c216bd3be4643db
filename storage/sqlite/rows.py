"""Rows of the approval tables turned back into engine values (shared by every repository mixin)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from engine.approvals import ApprovalRequest, Decision, RequestStatus, Step, Vote
from engine.records import Record
from storage.sqlite.codec import dumps, loads, parse_ts
from storage.sqlite.connection import Row

RECORD_COLUMNS = "type, id, approval_status, created_at, updated_at, data"
_IN_COLUMNS = frozenset(("type", "id", "approval_status", "created_at", "updated_at"))


def record_data(record: Record) -> str:
    """Return what `records.data` keeps of a record: its values but the ones in columns and the nulls."""
    return dumps(record.model_dump(by_alias=True, exclude_none=True, exclude=set(_IN_COLUMNS)))


def record_of(row: Row) -> Record:
    """Rebuild a record from its row (the columns of RECORD_COLUMNS)."""
    return Record.model_validate({**loads(row["data"]), **{name: row[name] for name in _IN_COLUMNS}})


def moment(text: str) -> datetime:
    """Parse a stored, non-null UTC timestamp."""
    parsed = parse_ts(text)
    assert parsed is not None
    return parsed


def vote_of(row: Row | dict[str, Any]) -> Vote:
    """Rebuild a vote from a `votes` row."""
    return Vote(row["step_index"], row["approver"], Decision(row["decision"]), moment(row["at"]),
                row["reason"], row["acted_by"])


def request_of(row: Row | dict[str, Any], votes: Sequence[Vote], seen: dict[str, int] | None = None) -> ApprovalRequest:
    """Rebuild an approval request from its `approval_requests` row and its votes.

    `seen` remembers the version first read of each request (what `update_request` compares against).
    """
    if seen is not None:
        seen.setdefault(row["id"], int(row["version"]))
    steps = tuple(Step(s["index"], tuple(s["approvers"]), s["min_approvers"], s["name"]) for s in loads(row["steps"]))
    return ApprovalRequest(
        id=row["id"], record_type=row["record_type"], record_id=row["record_id"], workflow_id=row["workflow_id"],
        requester=row["requester"], steps=steps, created_at=moment(row["created_at"]),
        step_started_at=moment(row["step_started_at"]), current_step=row["current_step"],
        status=RequestStatus(row["status"]), votes=tuple(votes), decided_at=parse_ts(row["decided_at"]),
        reason=row["reason"],
    )
