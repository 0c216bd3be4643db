"""How digests are cut: a channel digest shows its first lines and counts the rest; a person's digest is paged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from engine.actions import has_side_actions
from engine.workflows import CHANNEL, NotificationAction, ReminderAction, Workflow

DIGEST_LINES = 40  # shown in sections of ten lines (Slack's 3,000 characters a section, 300 a line)
DIGEST_PAGE = 20


def digest_line(text: str) -> str:
    """Return a rendered line of a channel digest on one line (runs of white space made one space)."""
    return " ".join(text.split())


def channel_digest(workflow: Workflow, count: int, lines: Sequence[str], *, is_reminder: bool) -> dict[str, Any]:
    """Return what a channel digest shows: its first lines, and how many more there are."""
    return {"workflow": workflow.name, "record_type": workflow.record_type.value, "count": count,
            "lines": list(lines[:DIGEST_LINES]), "more": max(0, len(lines) - DIGEST_LINES),
            "is_reminder": is_reminder}


def channels_of(action: Any) -> list[str]:
    """Return the channels a reminder or notification action posts to."""
    refs = [action.channel] if isinstance(action, NotificationAction) and action.channel else []
    refs += list(getattr(action, "to", []))
    return [r for r in dict.fromkeys(refs) if CHANNEL.match(r)]


@dataclass(frozen=True)
class ChannelDigest:
    """One action of a scheduled workflow that posts a digest: its index, its line template, its channels."""

    index: int
    template: str
    channels: list[str]
    is_reminder: bool


def channel_digests(workflow: Workflow) -> list[ChannelDigest]:
    """Return the reminder and notification actions of a workflow that name channels, each posting one digest."""
    found = []
    for index, action in enumerate(workflow.actions):
        channels = channels_of(action)
        if channels and isinstance(action, ReminderAction | NotificationAction):
            found.append(ChannelDigest(index, action.message, channels, isinstance(action, ReminderAction)))
    return found


def _people_only(action: Any) -> Any:
    if not isinstance(action, ReminderAction | NotificationAction):
        return action
    people = [t for t in action.to if not CHANNEL.match(t)]
    if not people:
        return None
    changes = {"to": people, "channel": None} if isinstance(action, NotificationAction) else {"to": people}
    return action.model_copy(update=changes)


def without_channels(workflow: Workflow) -> Workflow | None:
    """Return the workflow with channel targets removed (they get a digest), None when nothing is left to run."""
    kept = [a for a in map(_people_only, workflow.actions) if a is not None]
    narrowed = workflow.model_copy(update={"actions": kept})
    return narrowed if has_side_actions(narrowed) else None


def last_page_offset(total: int, page_size: int = DIGEST_PAGE) -> int:
    """Return the offset of the last page of `total` items (0 when there are none)."""
    return max(0, (total - 1) // page_size * page_size)


def page_around(offset: int, total: int, page_size: int = DIGEST_PAGE) -> tuple[int | None, int | None]:
    """Return the offsets of the previous and the next page (None where there is none)."""
    previous = max(0, offset - page_size) if offset else None
    following = offset + page_size if offset + page_size < total else None
    return previous, following
