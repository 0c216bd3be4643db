"""Cursor pagination of list answers, as Slack pages them."""

from __future__ import annotations

import base64
from typing import TypeVar

from bot.sandbox.errors import SlackCallError
from bot.sandbox.params import Params

T = TypeVar("T")

DEFAULT_PAGE_SIZE = 100


def page(items: list[T], params: Params) -> tuple[list[T], dict[str, str]]:
    """Return the page of items the call's ``limit`` and ``cursor`` ask for, and the next cursor."""
    limit = params.number("limit", DEFAULT_PAGE_SIZE) or DEFAULT_PAGE_SIZE
    start = _decode_cursor(params.text("cursor"))
    shown = items[start : start + limit]
    more = start + limit < len(items)
    next_cursor = base64.b64encode(f"offset:{start + limit}".encode()).decode() if more else ""
    return shown, {"next_cursor": next_cursor}


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.b64decode(cursor).decode().removeprefix("offset:"))
    except ValueError:
        raise SlackCallError("invalid_cursor") from None
