"""Errors raised by the pure engine."""

from __future__ import annotations

from typing import Any


class EngineError(Exception):
    """Root of every error the engine raises."""


class InvalidDefinitionError(EngineError):
    """A workflow, rule or group definition is not valid; `details` names each field path."""

    def __init__(self, message: str, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.details = details or []


class InvalidChangeError(InvalidDefinitionError):
    """A change to a document would leave it invalid; `details` names each field path."""


class InvalidDurationError(EngineError):
    """An ISO 8601 duration could not be parsed."""


class DurationTooLongError(InvalidDurationError):
    """An ISO 8601 duration is longer than any Signoff accepts (MAX_DURATION)."""


class VoteRefusedError(EngineError):
    """A decision on an approval was refused; the state is unchanged (`params`: what the refusal's wording names)."""

    def __init__(self, reason: str, code: str, params: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.code = code
        self.params = params or {}


class NoApproverError(EngineError):
    """A step of an approval has nobody who may decide it: its approvers are the requester alone, and nobody
    (escalation target or admin) can stand in."""

    def __init__(self, step_index: int, step_name: str | None) -> None:
        label = f"step {step_index + 1}" + (f" ({step_name})" if step_name else "")
        super().__init__(f"nobody but the requester can approve {label}: add approvers to the workflow, an "
                         "escalate_to, or an admin")
        self.step_index = step_index


class InvalidTransitionError(EngineError):
    """A record cannot move between the two approval states asked for."""


class NaiveDatetimeError(EngineError, ValueError):
    """A datetime without a time zone was given where an aware one is required."""


class PrefillChoiceError(EngineError):
    """An approver picked a pre-fill value that is not offered (any more); nothing changed."""

    def __init__(self, reason: str, code: str = "choice_unavailable") -> None:
        super().__init__(reason)
        self.code = code
