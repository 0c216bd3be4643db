"""Company-time-zone calendar helpers around the 2026 DST changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from engine.dates import (
    add_calendar_days,
    at_local_time,
    days_between,
    local_date,
    require_aware,
    resolve_wall_time,
    utc_iso,
)
from engine.errors import EngineError, NaiveDatetimeError

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("now", "tz", "expected"),
    [
        ("2026-03-28T23:30:00+00:00", PARIS, date(2026, 3, 29)),
        ("2026-03-28T22:59:00+00:00", PARIS, date(2026, 3, 28)),
        ("2026-03-29T21:59:00+00:00", PARIS, date(2026, 3, 29)),
        ("2026-03-29T22:00:00+00:00", PARIS, date(2026, 3, 30)),
        ("2026-10-24T22:30:00+00:00", PARIS, date(2026, 10, 25)),
        ("2026-10-25T22:30:00+00:00", PARIS, date(2026, 10, 25)),
        ("2026-10-25T23:00:00+00:00", PARIS, date(2026, 10, 26)),
        ("2026-03-08T04:59:00+00:00", NEW_YORK, date(2026, 3, 7)),
        ("2026-03-08T05:00:00+00:00", NEW_YORK, date(2026, 3, 8)),
        ("2026-03-09T03:59:00+00:00", NEW_YORK, date(2026, 3, 8)),
        ("2026-11-01T03:59:00+00:00", NEW_YORK, date(2026, 10, 31)),
        ("2026-11-01T05:30:00+00:00", NEW_YORK, date(2026, 11, 1)),
        ("2026-11-02T04:59:00+00:00", NEW_YORK, date(2026, 11, 1)),
        ("2026-11-02T05:00:00+00:00", NEW_YORK, date(2026, 11, 2)),
        ("2026-03-29T09:00:00+02:00", ZoneInfo("UTC"), date(2026, 3, 29)),
        ("2026-03-29T01:00:00+02:00", ZoneInfo("UTC"), date(2026, 3, 28)),
    ],
)
def test_local_date(now: str, tz: ZoneInfo, expected: date) -> None:
    assert local_date(datetime.fromisoformat(now), tz) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        (date(2026, 3, 28), date(2026, 3, 30), 2),
        (date(2026, 3, 7), date(2026, 3, 9), 2),
        (date(2026, 10, 24), date(2026, 10, 26), 2),
        (date(2026, 11, 1), date(2026, 10, 31), -1),
        (date(2026, 3, 29), date(2026, 3, 29), 0),
        (date(2025, 12, 31), date(2026, 1, 1), 1),
        (date(2026, 2, 28), date(2026, 3, 1), 1),
        (date(2024, 2, 28), date(2024, 3, 1), 2),
    ],
)
def test_days_between_counts_calendar_days(a: date, b: date, expected: int) -> None:
    assert days_between(a, b) == expected


@pytest.mark.parametrize(
    ("day", "hh", "mm", "tz", "local", "instant"),
    [
        # ordinary days on either side of each change
        (date(2026, 3, 28), 9, 0, PARIS, "2026-03-28T09:00:00+01:00", "2026-03-28T08:00:00"),
        (date(2026, 3, 29), 9, 0, PARIS, "2026-03-29T09:00:00+02:00", "2026-03-29T07:00:00"),
        (date(2026, 10, 25), 9, 0, PARIS, "2026-10-25T09:00:00+01:00", "2026-10-25T08:00:00"),
        (date(2026, 3, 8), 9, 0, NEW_YORK, "2026-03-08T09:00:00-04:00", "2026-03-08T13:00:00"),
        (date(2026, 11, 1), 9, 0, NEW_YORK, "2026-11-01T09:00:00-05:00", "2026-11-01T14:00:00"),
        # nonexistent wall times roll forward by the gap
        (date(2026, 3, 29), 2, 0, PARIS, "2026-03-29T03:00:00+02:00", "2026-03-29T01:00:00"),
        (date(2026, 3, 29), 2, 30, PARIS, "2026-03-29T03:30:00+02:00", "2026-03-29T01:30:00"),
        (date(2026, 3, 8), 2, 15, NEW_YORK, "2026-03-08T03:15:00-04:00", "2026-03-08T07:15:00"),
        # ambiguous wall times take the first occurrence (summer time)
        (date(2026, 10, 25), 2, 30, PARIS, "2026-10-25T02:30:00+02:00", "2026-10-25T00:30:00"),
        (date(2026, 11, 1), 1, 30, NEW_YORK, "2026-11-01T01:30:00-04:00", "2026-11-01T05:30:00"),
        # midnight around the changes
        (date(2026, 3, 29), 0, 0, PARIS, "2026-03-29T00:00:00+01:00", "2026-03-28T23:00:00"),
        (date(2026, 11, 1), 0, 0, NEW_YORK, "2026-11-01T00:00:00-04:00", "2026-11-01T04:00:00"),
    ],
)
def test_at_local_time(
    day: date, hh: int, mm: int, tz: ZoneInfo, local: str, instant: str
) -> None:
    moment = at_local_time(day, hh, mm, tz)
    assert moment.tzinfo is tz
    assert moment.isoformat() == local
    assert moment.astimezone(UTC).replace(tzinfo=None).isoformat() == instant


@pytest.mark.parametrize(
    ("moment", "days", "tz", "expected", "elapsed_hours"),
    [
        ("2026-03-28T09:00:00+01:00", 1, PARIS, "2026-03-29T09:00:00+02:00", 23),
        ("2026-10-24T09:00:00+02:00", 1, PARIS, "2026-10-25T09:00:00+01:00", 25),
        ("2026-03-29T09:00:00+02:00", -1, PARIS, "2026-03-28T09:00:00+01:00", -23),
        ("2026-03-20T18:45:00+01:00", 14, PARIS, "2026-04-03T18:45:00+02:00", 14 * 24 - 1),
        ("2026-03-07T09:00:00-05:00", 1, NEW_YORK, "2026-03-08T09:00:00-04:00", 23),
        ("2026-10-31T09:00:00-04:00", 1, NEW_YORK, "2026-11-01T09:00:00-05:00", 25),
        ("2026-10-25T09:00:00-04:00", 10, NEW_YORK, "2026-11-04T09:00:00-05:00", 241),
        # the target wall time does not exist: roll forward
        ("2026-03-07T02:30:00-05:00", 1, NEW_YORK, "2026-03-08T03:30:00-04:00", 24),
        ("2026-03-28T02:30:00+01:00", 1, PARIS, "2026-03-29T03:30:00+02:00", 24),
        # the target wall time happens twice: first occurrence
        ("2026-10-26T02:30:00+01:00", -1, PARIS, "2026-10-25T02:30:00+02:00", -25),
        ("2026-10-31T01:30:00-04:00", 1, NEW_YORK, "2026-11-01T01:30:00-04:00", 24),
        # the input is read in the company zone whatever its own offset
        ("2026-03-28T08:00:00+00:00", 1, PARIS, "2026-03-29T09:00:00+02:00", 23),
        ("2026-03-08T04:30:00+00:00", 0, NEW_YORK, "2026-03-07T23:30:00-05:00", 0),
    ],
)
def test_add_calendar_days_keeps_wall_clock(
    moment: str, days: int, tz: ZoneInfo, expected: str, elapsed_hours: int
) -> None:
    start = datetime.fromisoformat(moment)
    result = add_calendar_days(start, days, tz)
    assert result.isoformat() == expected
    assert result - start == timedelta(hours=elapsed_hours)


def test_resolve_wall_time_is_identity_for_ordinary_times() -> None:
    wall = datetime(2026, 7, 14, 12, 34, 56, 789)
    assert resolve_wall_time(wall, PARIS).replace(tzinfo=None) == wall


@pytest.mark.parametrize(
    "call",
    [
        lambda naive: local_date(naive, PARIS),
        lambda naive: add_calendar_days(naive, 1, PARIS),
        lambda naive: require_aware(naive),
    ],
)
def test_naive_datetimes_are_rejected(call: Callable[[datetime], object]) -> None:
    naive = datetime(2026, 3, 29, 9, 0)
    with pytest.raises(NaiveDatetimeError, match="timezone-aware") as info:
        call(naive)
    assert isinstance(info.value, EngineError)
    assert isinstance(info.value, ValueError)


def test_at_local_time_rejects_impossible_clock() -> None:
    with pytest.raises(ValueError):
        at_local_time(date(2026, 3, 29), 24, 0, PARIS)


@pytest.mark.parametrize(("moment", "written"), [
    (datetime(2026, 12, 7, 13, 49, 49, 552579, tzinfo=UTC), "2026-12-07T13:49:49.552579Z"),
    (datetime(2026, 12, 7, 14, 0, tzinfo=ZoneInfo("Europe/Paris")), "2026-12-07T13:00:00Z"),
])
def test_a_moment_is_written_in_utc_ending_in_z(moment: datetime, written: str) -> None:
    assert utc_iso(moment) == written
