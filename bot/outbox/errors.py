"""What a failed delivery calls for: `Permanent` (dead-letter it) or `Retry` (try again, after a given wait or backoff).

Handlers raise them. Every other exception goes through `classify`, the one place that reads Slack's and
SMTP's errors: Slack's "retrying cannot help" codes and `UndeliverableError` are permanent, a 429 holds its
lane for Retry-After (`Throttled`), an outage or a timeout is retried with backoff, and anything else is a
bug: retried with backoff too, and logged with its traceback.
"""

from __future__ import annotations

from aiosmtplib import SMTPException
from slack_sdk.errors import SlackApiError

from bot.errors import BotError, UndeliverableError

MAX_BACKOFF_S = 60
DEFAULT_RETRY_AFTER_S = 1.0
PERMANENT_SLACK_ERRORS = frozenset({
    "channel_not_found", "user_not_found", "invalid_blocks", "msg_too_long", "no_text", "not_in_channel",
    "is_archived", "invalid_arguments", "cannot_dm_bot", "user_disabled", "message_not_found",
})

# What Slack answers a DM asking someone it will never let decide: deactivated, a bot, not in the workspace (a
# user id that names nobody is no conversation either).
UNREACHABLE_ERRORS = frozenset({"user_disabled", "cannot_dm_bot", "user_not_found", "channel_not_found"})


class Permanent(BotError):
    """Retrying cannot help (e-mail is off, Slack refuses the conversation): the item is dead-lettered."""


class Retry(BotError):
    """Try the item again: after `defer_s` seconds when given, else after the usual backoff (until the horizon)."""

    def __init__(self, message: str = "", defer_s: float | None = None) -> None:
        super().__init__(message)
        self.defer_s = defer_s

    def wait_s(self, attempts: int) -> float:
        """Return how long to wait before the next attempt."""
        return backoff_s(attempts) if self.defer_s is None else self.defer_s


class Throttled(Retry):
    """The conversation is rate-limited: its whole lane waits `defer_s` and its items go back to the queue."""

    defer_s: float

    def __init__(self, message: str, defer_s: float) -> None:
        super().__init__(message, defer_s)


def backoff_s(attempts: int) -> float:
    """Return the wait before retry number `attempts` (exponential, capped at a minute)."""
    return float(min(MAX_BACKOFF_S, 2 ** min(max(0, attempts - 1), 16)))


def slack_error(exc: SlackApiError) -> str | None:
    """Return Slack's `error` code of a failed call, or None when the answer was not Slack's JSON."""
    data = getattr(exc.response, "data", None)
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, str) else None


def retry_after_s(exc: SlackApiError) -> float | None:
    """Return Slack's Retry-After of a 429 answer (None when the error is not a rate limit)."""
    if getattr(exc.response, "status_code", None) != 429:
        return None
    headers = getattr(exc.response, "headers", None) or {}
    raw = (headers.get("Retry-After") or headers.get("retry-after")) if hasattr(headers, "get") else None
    try:
        wait_s = float(raw) if raw is not None else DEFAULT_RETRY_AFTER_S
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER_S
    return min(max(0.0, wait_s), float(MAX_BACKOFF_S)) if wait_s == wait_s else DEFAULT_RETRY_AFTER_S


def classify(exc: Exception) -> Permanent | Retry | None:
    """Return what a failure calls for: Permanent, Retry (Throttled after a 429), or None for a bug (retried)."""
    if isinstance(exc, Permanent | Retry):
        return exc
    if isinstance(exc, UndeliverableError):
        return Permanent(str(exc))
    if isinstance(exc, SlackApiError):
        return _of_slack(exc)
    if isinstance(exc, SMTPException | OSError | TimeoutError):
        return Retry(str(exc))
    return None


def _of_slack(exc: SlackApiError) -> Permanent | Retry:
    wait_s = retry_after_s(exc)
    if wait_s is not None:
        return Throttled("ratelimited", wait_s)
    error = slack_error(exc)
    return Permanent(error or "") if error in PERMANENT_SLACK_ERRORS else Retry(error or "")
