"""Which page of its tasks and of its requests a Home tab shows, kept in the published view (button values and
its private metadata), and the values of the buttons that move between pages."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from bot.slack.payload import json_object

MAX_PAGE = 9_999


def _page(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_PAGE else None


def page_count(total: int, per_page: int) -> int:
    """Return how many pages `total` items fill (at least one)."""
    return max(1, -(-total // per_page))


@dataclass(frozen=True)
class HomePages:
    """The page (0 is the first) of the tasks and of the requests a Home tab shows."""

    tasks: int = 0
    requests: int = 0

    def encode(self) -> str:
        """Return these pages as a button value or a view's private metadata."""
        return json.dumps({"t": self.tasks, "r": self.requests}, separators=(",", ":"))

    @classmethod
    def decode(cls, encoded: str | None) -> HomePages | None:
        """Read pages written by `encode`, or None when the text is anything else."""
        value = json_object(encoded) or {}
        tasks, requests = _page(value.get("t")), _page(value.get("r"))
        return cls(tasks, requests) if tasks is not None and requests is not None else None

    def pager(self, part: str, total: int, per_page: int, shown: int) -> dict[str, Any]:
        """Return what the Home template shows of one list's pages (`part`: "tasks" or "requests")."""
        page, pages = getattr(self, part), page_count(total, per_page)
        return {"page": page + 1, "pages": pages, "first": page * per_page + 1, "last": page * per_page + shown,
                "previous": self._moved(part, page - 1, pages), "next": self._moved(part, page + 1, pages)}

    def _moved(self, part: str, page: int, pages: int) -> str | None:
        return replace(self, **{part: page}).encode() if 0 <= page < pages else None
