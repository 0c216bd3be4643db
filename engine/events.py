"""Domain events, named in the past tense, that the bot turns into messages and audit entries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class ApprovalRequested:
    """A step's approvers were asked to decide."""

    request_id: str
    step_index: int
    approvers: tuple[str, ...]
    at: datetime


@dataclass(frozen=True)
class VoteRecorded:
    """An approver's decision was counted."""

    request_id: str
    step_index: int
    approver: str
    decision: str
    at: datetime
    acted_by: str | None = None


@dataclass(frozen=True)
class SeatTakenOff:
    """A seat was taken off the current step: its copies decide nothing now."""

    request_id: str
    step_index: int
    seat: str
    at: datetime


@dataclass(frozen=True)
class StepApproved:
    """A step reached its quorum."""

    request_id: str
    step_index: int
    approvers: tuple[str, ...]
    at: datetime


@dataclass(frozen=True)
class RecordApproved:
    """Every step approved: the record is approved."""

    request_id: str
    at: datetime


@dataclass(frozen=True)
class RecordRejected:
    """The record was rejected by an approver, or expired or was cancelled."""

    request_id: str
    approver: str | None
    reason: str
    at: datetime
    status: str = "rejected"


Event = ApprovalRequested | VoteRecorded | SeatTakenOff | StepApproved | RecordApproved | RecordRejected
