"""Errors raised by the local Slack workspace."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class SandboxError(Exception):
    """Root of every error raised by the local Slack workspace."""


class SlackCallError(SandboxError):
    """A Web API call refused the way Slack refuses it, with its error code."""

    def __init__(
        self,
        code: str,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.headers = dict(headers or {})
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """Return the Slack-style JSON error body."""
        return {"ok": False, "error": self.code, **{k: v for k, v in self.extra.items() if k != "plain_text"}}


class UnknownUserError(SandboxError, LookupError):
    """No user with this id, name or e-mail exists in the workspace."""


class UnknownConversationError(SandboxError, LookupError):
    """No channel or DM with this id or name exists in the workspace."""


class UnknownMessageError(SandboxError, LookupError):
    """No message with this timestamp exists in the conversation."""


class UnknownViewError(SandboxError, LookupError):
    """No open modal or published Home view matches the request."""


class ActionNotFoundError(SandboxError, LookupError):
    """The message or view has no interactive element with this action_id."""


class InputNotFoundError(SandboxError, LookupError):
    """The modal has no input element with this action_id or block_id."""


class DuplicateIdError(SandboxError, ValueError):
    """A user or channel with this id or name already exists."""


class LoopbackOnlyError(SandboxError, ValueError):
    """The sandbox Web API only listens on a loopback address."""


class ResponseUrlError(SandboxError, LookupError):
    """The response_url is unknown, expired or used up."""


class InvalidAckError(SandboxError, ValueError):
    """The app acknowledged an interaction with a body Slack would reject."""


class AckTimeoutError(SandboxError, TimeoutError):
    """The app did not acknowledge a request within Slack's 3 second limit."""


class AppRequestError(SandboxError):
    """The app answered a request from Slack with an HTTP error status."""


class UnknownOptionError(SandboxError, LookupError):
    """The select, radio or checkbox element offers no option with this value."""


class NotVisibleError(SandboxError, PermissionError):
    """The user cannot see the message or view they are acting on."""
