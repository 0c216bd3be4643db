"""How digests are cut: channel digests show ten lines and count the rest; a person's digest is paged."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from engine.digests import (
    DIGEST_LINES,
    channel_digest,
    channel_digests,
    channels_of,
    digest_line,
    last_page_offset,
    page_around,
    without_channels,
)
from engine.workflows import Workflow, parse_definition

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def workflow(*actions: dict[str, Any]) -> Workflow:
    definition = parse_definition({"name": "W", "record_type": "invoice", "trigger": "scheduled",
                                   "schedule": "0 9 * * 1", "actions": list(actions)})
    return Workflow(**definition.model_dump(), id="wf1", created_at=NOW, updated_at=NOW)


REMIND_CHANNEL = {"type": "reminder", "to": ["#ar", "U01AAA"], "message": "m1"}
NOTIFY_CHANNEL = {"type": "notification", "channel": "#finance", "to": ["#ar"], "message": "m2"}
NOTIFY_PEOPLE = {"type": "notification", "to": ["U01BBB"], "message": "m3"}
STAMP = {"type": "update", "field": "memo", "value": "OVERDUE"}


@pytest.mark.parametrize(
    ("count", "shown", "more"),
    [(0, 0, 0), (1, 1, 0), (DIGEST_LINES, 40, 0), (DIGEST_LINES + 1, 40, 1), (55, 40, 15)],
)
def test_a_channel_digest_shows_ten_lines_and_counts_the_rest(count: int, shown: int, more: int) -> None:
    digest = channel_digest(workflow(REMIND_CHANNEL), count, [f"line {i}" for i in range(count)], is_reminder=True)
    assert (len(digest["lines"]), digest["more"], digest["count"]) == (shown, more, count)
    assert digest["workflow"] == "W" and digest["record_type"] == "invoice" and digest["is_reminder"] is True


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (REMIND_CHANNEL, ["#ar"]),
        (NOTIFY_CHANNEL, ["#finance", "#ar"]),
        (NOTIFY_PEOPLE, []),
        (STAMP, []),
    ],
)
def test_channels_of(action: dict[str, Any], expected: list[str]) -> None:
    assert channels_of(workflow(action).actions[0]) == expected


@pytest.mark.parametrize(
    ("actions", "expected"),
    [
        ([REMIND_CHANNEL, NOTIFY_PEOPLE, NOTIFY_CHANNEL],
         [(0, "m1", ["#ar"], True), (2, "m2", ["#finance", "#ar"], False)]),
        ([NOTIFY_PEOPLE, STAMP], []),
    ],
)
def test_which_actions_post_a_channel_digest(actions: list[dict[str, Any]], expected: list[Any]) -> None:
    got = [(d.index, d.template, d.channels, d.is_reminder) for d in channel_digests(workflow(*actions))]
    assert got == expected


@pytest.mark.parametrize(
    ("actions", "kept"),
    [
        ([REMIND_CHANNEL], [["U01AAA"]]),
        ([NOTIFY_CHANNEL], None),
        ([NOTIFY_PEOPLE, NOTIFY_CHANNEL], [["U01BBB"]]),
        ([STAMP, NOTIFY_CHANNEL], [[]]),
    ],
)
def test_without_channels_runs_what_is_left_per_document(actions: list[dict[str, Any]], kept: Any) -> None:
    narrowed = without_channels(workflow(*actions))
    assert (None if narrowed is None else [list(getattr(a, "to", [])) for a in narrowed.actions]) == kept


@pytest.mark.parametrize(
    ("text", "expected"), [("a  b\n c", "a b c"), ("  x ", "x"), ("", "")],
)
def test_digest_line(text: str, expected: str) -> None:
    assert digest_line(text) == expected


@pytest.mark.parametrize(
    ("total", "expected"), [(0, 0), (1, 0), (20, 0), (21, 20), (40, 20), (41, 40)],
)
def test_last_page_offset(total: int, expected: int) -> None:
    assert last_page_offset(total) == expected


@pytest.mark.parametrize(
    ("offset", "total", "expected"),
    [(0, 5, (None, None)), (0, 21, (None, 20)), (20, 21, (0, None)), (20, 60, (0, 40)), (10, 15, (0, None))],
)
def test_page_around(offset: int, total: int, expected: tuple[int | None, int | None]) -> None:
    assert page_around(offset, total) == expected
