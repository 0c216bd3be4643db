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


class TemplateBudgetError(TemplateInvalidError):
    """An admin-written template would spend more than its render budget (time, output, loops or size)."""

    def __init__(self, detail: str, budget: str, line: int | None = None) -> None:
        prefix = f"line {line}: " if line else ""
        super().__init__(f"{prefix}over the {budget} budget: {detail}", line)
        self.detail = detail
        self.budget = budget

    def at_line(self, line: int | None) -> TemplateBudgetError:
        """Return the same refusal naming the template line it happened on."""
        return self if line is None or self.line else TemplateBudgetError(self.detail, self.budget, line)
