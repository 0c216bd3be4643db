"""Errors of the bot: settings, refusals of the application services, HTTP refusals, delivery; the error envelope."""

from __future__ import annotations

import logging
import sys
from typing import Any

from storage.errors import DatabaseUnavailableError


class BotError(Exception):
    """Root of every bot error."""


class SettingsError(BotError):
    """A setting is missing or invalid; the message names it."""


class Refused(BotError):
    """An operation is refused as things stand and nothing changed: a code, a message and details, no HTTP status."""

    code = "refused"

    def __init__(
        self, message: str, details: list[dict[str, str]] | None = None, why: str = "",
        params: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []
        self.why = why  # the wording of the refusal in every language (messages/templates/_refusals.j2), if any
        self.params = params or {}


class NotFound(Refused):
    """The addressed resource does not exist."""

    code = "not_found"

    def __init__(self, message: str, kind: str = "", ref: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.ref = ref

    @classmethod
    def no(cls, kind: str, ref: object) -> NotFound:
        """Return the refusal of a `kind` of thing (a group, an invoice…) that nothing named `ref` is."""
        return cls(f"no {kind.replace('_', ' ')} {ref!r}", kind, str(ref))


class Conflict(Refused):
    """The operation conflicts with the current state."""

    code = "conflict"


class NobodyToAskError(Conflict):
    """A document cannot be sent for approval: nobody but its requester could approve one of its steps."""


class Unprocessable(Refused):
    """The input is well-formed but its content is invalid."""

    code = "invalid"


class ApiError(BotError):
    """An HTTP request refused by its adapter itself (authentication, the sandbox's own API), with its status."""

    def __init__(self, status: int, code: str, message: str, details: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []


class FormTooLate(Refused):
    """A form could not open: Slack lets a click open one for 3 seconds only, and that time had passed."""

    code = "form_too_late"


class UndeliverableError(BotError):
    """An outbox item cannot be delivered as things stand (e-mail is off, its request is gone): dead-letter it."""


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Return the JSON error envelope of every refused HTTP request (REST API and Slack front)."""
    return {"error": {"code": code, "message": message, "details": details or []}}


def log_failure(logger: logging.Logger, message: str, *args: Any) -> None:
    """Log the failure being handled of work done again later: one line while the database cannot be reached (the
    outage, not each try, is the news), else with its traceback."""
    exc = sys.exc_info()[1]
    if isinstance(exc, DatabaseUnavailableError):
        logger.warning(message + " (%s)", *args, exc)
    else:
        logger.exception(message, *args)
