"""Errors raised by the bot: settings, API requests and delivery."""

from __future__ import annotations

from typing import Any


class BotError(Exception):
    """Root of every bot error."""


class SettingsError(BotError):
    """A setting is missing or invalid; the message names it."""


class ApiError(BotError):
    """A REST API request is refused; carries the HTTP status, code and details."""

    def __init__(self, status: int, code: str, message: str, details: list[dict[str, str]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []


class NotFound(ApiError):
    """The addressed resource does not exist."""

    def __init__(self, message: str) -> None:
        super().__init__(404, "not_found", message)


class Conflict(ApiError):
    """The request conflicts with the current state."""

    def __init__(self, message: str, details: list[dict[str, str]] | None = None) -> None:
        super().__init__(409, "conflict", message, details)


class Unprocessable(ApiError):
    """The request is well-formed but its content is invalid."""

    def __init__(self, message: str, details: list[dict[str, str]] | None = None) -> None:
        super().__init__(422, "invalid", message, details)


class UndeliverableError(BotError):
    """An outbox item cannot be delivered as things stand (e-mail is off, its request is gone): dead-letter it."""


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Return the JSON error envelope of every refused HTTP request (REST API and Slack front)."""
    return {"error": {"code": code, "message": message, "details": details or []}}
