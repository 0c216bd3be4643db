"""Collecting problems in Slack's own format while walking a Block Kit payload."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Checker:
    """Collects problems found while walking a payload."""

    problems: list[str] = field(default_factory=list)

    def fail(self, pointer: str, message: str) -> None:
        """Record one problem at a JSON pointer."""
        self.problems.append(f"[ERROR] {message} [json-pointer:{pointer}]")

    def max_chars(self, obj: dict[str, Any], key: str, limit: int, pointer: str) -> None:
        """Check a string attribute's length."""
        value = obj.get(key)
        if isinstance(value, str) and len(value) > limit:
            self.fail(f"{pointer}/{key}", f"must be at most {limit} characters (got {len(value)})")

    def text_chars(self, obj: dict[str, Any], key: str, limit: int, pointer: str) -> None:
        """Check the length of a text object's ``text``."""
        text_object = obj.get(key)
        if isinstance(text_object, dict):
            self.max_chars(text_object, "text", limit, f"{pointer}/{key}")

    def max_items(self, obj: dict[str, Any], key: str, limit: int, pointer: str) -> None:
        """Check the length of an array attribute."""
        items = obj.get(key)
        if isinstance(items, list) and len(items) > limit:
            self.fail(f"{pointer}/{key}", f"must have at most {limit} items (got {len(items)})")


def dicts(items: Any) -> list[dict[str, Any]]:
    """Return the objects in a list, or nothing when it is not a list."""
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, dict)]
