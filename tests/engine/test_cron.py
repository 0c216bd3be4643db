"""Cron schedules: parsing with clear errors, next run times in the company zone across DST."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from engine.cron import CronSpec
from engine.errors import InvalidDefinitionError

NY = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "expected 5 fields"),
        ("* * *", "got 3"),
        ("* * * * * *", "got 6"),
        ("60 * * * *", "minute: 60 is outside 0-59"),
        ("* 24 * * *", "hour: 24 is outside 0-23"),
        ("* * 0 * *", "day of month: 0 is outside 1-31"),
        ("* * * 13 *", "month: 13 is outside 1-12"),
        ("* * * * 8", "day of week: 8 is outside 0-7"),
        ("*/0 * * * *", "step '0' must be a positive number"),
        ("5-1 * * * *", "runs backwards"),
        ("a * * * *", "minute: 'a' is not a number"),
        ("* * * foo *", "month: 'foo' is not a number or a name"),
        ("1,,2 * * * *", "empty item"),
        ("0 0 30 2 *", "never occurs"),
        ("0 0 31 4,6,9,11 *", "never occurs"),
    ],
)
def test_invalid_schedules_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InvalidDefinitionError, match=message) as caught:
        CronSpec.parse(text)
    assert caught.value.details[0]["path"] == "schedule"


@pytest.mark.parametrize(
    ("text", "field", "expected"),
    [
        ("*/15 * * * *", "minutes", {0, 15, 30, 45}),
        ("5/20 * * * *", "minutes", {5, 25, 45}),
        ("0 9-17/4 * * *", "hours", {9, 13, 17}),
        ("0 0 * jan,jul-aug *", "months", {1, 7, 8}),
        ("0 0 * * mon-fri", "weekdays", {1, 2, 3, 4, 5}),
        ("0 0 * * 7", "weekdays", {0}),
        ("0 0 * * SUN,sat", "weekdays", {0, 6}),
        ("@monthly", "days", {1}),
    ],
)
def test_fields_are_expanded(text: str, field: str, expected: set[int]) -> None:
    assert getattr(CronSpec.parse(text), field) == frozenset(expected)


@pytest.mark.parametrize(
    ("text", "after", "tz", "expected"),
    [
        # every weekday at 09:00 Paris, from Saturday
        ("0 9 * * 1-5", "2026-03-28T10:00:00+00:00", PARIS, "2026-03-30T09:00:00+02:00"),
        # strictly after: at 09:00 exactly the next run is tomorrow
        ("0 9 * * *", "2026-06-01T09:00:00+02:00", PARIS, "2026-06-02T09:00:00+02:00"),
        ("0 9 * * *", "2026-06-01T08:59:59+02:00", PARIS, "2026-06-01T09:00:00+02:00"),
        # the day of the DST change keeps the local wall time
        ("0 9 * * *", "2026-03-28T09:00:00+01:00", PARIS, "2026-03-29T09:00:00+02:00"),
        # a skipped wall time (02:30 on the spring-forward night) runs once, an hour later in wall time
        ("30 2 * * *", "2026-03-08T00:00:00-05:00", NY, "2026-03-08T03:30:00-04:00"),
        ("30 2 * * *", "2026-03-08T03:30:00-04:00", NY, "2026-03-09T02:30:00-04:00"),
        # a repeated wall time (01:30 on the fall-back night) runs once, at its first occurrence
        ("30 1 * * *", "2026-11-01T00:00:00-04:00", NY, "2026-11-01T01:30:00-04:00"),
        ("30 1 * * *", "2026-11-01T01:30:00-04:00", NY, "2026-11-02T01:30:00-05:00"),
        # both day fields restricted: either matches (the 1st, or any Monday)
        ("0 0 1 * 1", "2026-06-02T00:00:00+00:00", UTC, "2026-06-08T00:00:00+00:00"),
        ("0 0 1 * 1", "2026-06-29T00:00:00+00:00", UTC, "2026-07-01T00:00:00+00:00"),
        # a leap day is found years ahead
        ("0 0 29 2 *", "2026-03-01T00:00:00+00:00", UTC, "2028-02-29T00:00:00+00:00"),
        ("@yearly", "2026-03-01T00:00:00+00:00", UTC, "2027-01-01T00:00:00+00:00"),
    ],
)
def test_next_after(text: str, after: str, tz: ZoneInfo, expected: str) -> None:
    result = CronSpec.parse(text).next_after(datetime.fromisoformat(after), tz)
    # compared in UTC: an ambiguous local time never equals a time of another zone (PEP 495)
    assert result.astimezone(UTC) == datetime.fromisoformat(expected).astimezone(UTC)
    assert result.isoformat() == expected and result.tzinfo is tz


def test_hourly_schedule_runs_in_both_repeated_hours() -> None:
    spec, moment, runs = CronSpec.parse("0 * * * *"), datetime(2026, 11, 1, 4, 30, tzinfo=UTC), []
    for _ in range(4):
        moment = spec.next_after(moment, NY)
        runs.append(moment.astimezone(UTC).hour)
    assert runs == [5, 6, 7, 8]


def test_hourly_schedule_skips_the_missing_hour() -> None:
    spec, moment, runs = CronSpec.parse("0 * * * *"), datetime(2026, 3, 8, 5, 30, tzinfo=UTC), []
    for _ in range(3):
        moment = spec.next_after(moment, NY)
        runs.append(moment.isoformat())
    assert runs == ["2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"]


@pytest.mark.parametrize(
    ("moment", "is_due"),
    [
        ("2026-03-30T09:00:00+02:00", True),
        ("2026-03-30T09:00:42+02:00", True),
        ("2026-03-30T09:01:00+02:00", False),
        ("2026-03-28T09:00:00+01:00", False),
    ],
)
def test_is_due(moment: str, is_due: bool) -> None:
    assert CronSpec.parse("0 9 * * mon-fri").is_due(datetime.fromisoformat(moment), PARIS) is is_due


def test_is_due_at_a_repeated_wall_time() -> None:
    first = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    assert CronSpec.parse("30 1 * * *").is_due(first, NY)
    assert not CronSpec.parse("30 1 * * *").is_due(datetime(2026, 11, 1, 6, 30, tzinfo=UTC), NY)


def test_naive_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CronSpec.parse("* * * * *").next_after(datetime(2026, 1, 1), UTC)
