"""Errors raised while rendering messages."""

from __future__ import annotations


class MessagesError(Exception):
    """Root of every messages error."""


class TemplateInvalidError(MessagesError):
    """A user-written template does not compile or render; names the line and the reason."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


class RenderError(MessagesError):
    """A shipped template produced output that is not valid JSON."""
