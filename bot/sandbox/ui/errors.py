"""The HTTP status and error code the page gets for each error of the workspace."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from bot.errors import ApiError
from bot.sandbox.errors import (
    AckTimeoutError,
    ActionNotFoundError,
    AppRequestError,
    InputNotFoundError,
    InvalidAckError,
    NotVisibleError,
    SandboxError,
    UnknownConversationError,
    UnknownMessageError,
    UnknownOptionError,
    UnknownUserError,
    UnknownViewError,
)

ERROR_STATUS: list[tuple[type[Exception], int, str]] = [
    (NotVisibleError, 403, "forbidden"),
    (AckTimeoutError, 504, "app_timeout"),
    (AppRequestError, 502, "app_error"),
    (InvalidAckError, 502, "invalid_ack"),
    (UnknownOptionError, 422, "invalid"),
    (InputNotFoundError, 422, "invalid"),
    (ActionNotFoundError, 404, "not_found"),
    (UnknownViewError, 404, "not_found"),
    (UnknownMessageError, 404, "not_found"),
    (UnknownConversationError, 404, "not_found"),
    (UnknownUserError, 404, "not_found"),
]


@contextmanager
def translated_errors() -> Iterator[None]:
    """Turn the workspace's errors into API errors with the JSON envelope."""
    try:
        yield
    except SandboxError as exc:
        status, code = next(((s, c) for kind, s, c in ERROR_STATUS if isinstance(exc, kind)), (400, "bad_request"))
        message = f"Signoff could not handle it: {exc}" if status >= 500 else str(exc)
        raise ApiError(status, code, message) from exc
