"""Rows of the approval tables turned back into engine values (shared by every repository mixin)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from engine.approvals import ApprovalRequest, Decision, RequestStatus, Step, Vote
from engine.records import Record
from storage.sql.codec import dumps, loads, parse_ts
from storage.sql.connection import Row

RECORD_COLUMNS = "type, id, approval_status, created_at, updated_at, data"
_IN_COLUMNS = frozenset(("type", "id", "approval_status", "created_at", "updated_at"))


def record_data(record: Record) -> str:
    """Return what `records.data` keeps of a record: its values but the ones in columns and the nulls."""
    return dumps(record.model_dump(by_alias=True, exclude_none=True, exclude=set(_IN_COLUMNS)))


def record_of(row: Row) -> Record:
    """Rebuild a record from its row (the columns of RECORD_COLUMNS)."""
    return Record.model_validate({**loads(row["data"]), **{name: row[name] for name in _IN_COLUMNS}},
                                 context={"stored": True})


def moment(text: str) -> datetime:
    """Parse a stored, non-null UTC timestamp."""
    parsed = parse_ts(text)
    assert parsed is not None
    return parsed


def vote_of(row: Row | dict[str, Any]) -> Vote:
    """Rebuild a vote from a `votes` row."""
    return Vote(row["step_index"], row["approver"], Decision(row["decision"]), moment(row["at"]),
                row["reason"], row["acted_by"])


class StoredRequests:
    """What one unit of work knows is stored of each request it read or wrote: the version and the state.

    The version is the one first read (what `update_request` compares against); the state tells `update_request`
    which votes and approver index rows are stored already, so it writes only what changed.
    """

    def __init__(self) -> None:
        self.versions: dict[str, int] = {}
        self.states: dict[str, ApprovalRequest] = {}

    def read(self, version: int, request: ApprovalRequest) -> None:
        """Note a request as read (the first read of a request is the one kept)."""
        self.versions.setdefault(request.id, version)
        self.states.setdefault(request.id, request)

    def wrote(self, version: int, request: ApprovalRequest) -> None:
        """Note a request as written at `version`."""
        self.versions[request.id] = version
        self.states[request.id] = request


def request_of(row: Row | dict[str, Any], votes: Sequence[Vote], seen: StoredRequests | None = None) -> ApprovalRequest:
    """Rebuild an approval request from its `approval_requests` row and its votes; note it in `seen`."""
    steps = tuple(Step(s["index"], tuple(s["approvers"]), s["min_approvers"], s["name"]) for s in loads(row["steps"]))
    request = ApprovalRequest(
        id=row["id"], record_type=row["record_type"], record_id=row["record_id"], workflow_id=row["workflow_id"],
        requester=row["requester"], steps=steps, created_at=moment(row["created_at"]),
        step_started_at=moment(row["step_started_at"]), current_step=row["current_step"],
        status=RequestStatus(row["status"]), votes=tuple(votes), decided_at=parse_ts(row["decided_at"]),
        reason=row["reason"],
    )
    if seen is not None:
        seen.read(int(row["version"]), request)
    return request
