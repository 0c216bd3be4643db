"""ISO 8601 durations: fixed lengths as timedeltas, months and years only where a moment moves, bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from engine.durations import MAX_DURATION, add_duration, parse_duration
from engine.errors import DurationTooLongError, InvalidDurationError
from engine.workflows import Workflow

JAN_31 = datetime(2027, 1, 31, 9, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("P1D", timedelta(days=1)), ("PT4H", timedelta(hours=4)), ("P1W", timedelta(weeks=1)),
    ("P3DT2H30M", timedelta(days=3, hours=2, minutes=30)), ("pt90m", timedelta(minutes=90)),
    ("PT0.5H", timedelta(minutes=30)), ("P0.5D", timedelta(hours=12)), ("P1,5D", timedelta(days=1, hours=12)),
    ("PT1.25S", timedelta(seconds=1.25)), ("P36525D", MAX_DURATION), ("PT40000H", timedelta(hours=40000)),
])
def test_fixed_durations_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(("text", "error", "says"), [
    ("soon", InvalidDurationError, "not an ISO 8601 duration"), ("P", InvalidDurationError, "not an ISO"),
    ("PT", InvalidDurationError, "not an ISO"), ("P1DT", InvalidDurationError, "not an ISO"),
    ("1D", InvalidDurationError, "not an ISO"), ("-P1D", InvalidDurationError, "not an ISO"),
    ("P1.5DT2H", InvalidDurationError, "only the last number"), ("P1M", InvalidDurationError, "vary in length"),
    ("P1Y", InvalidDurationError, "vary in length"), ("P36526D", DurationTooLongError, "longer than 100 years"),
    ("P99999999999D", DurationTooLongError, "longer"), ("PT99999999999999999999999S", DurationTooLongError, "longer"),
    ("P1000000000W", DurationTooLongError, "longer"), ("P\u0661D", InvalidDurationError, "not an ISO"),
])
def test_what_is_not_a_fixed_duration_is_refused(text: str, error: type[Exception], says: str) -> None:
    with pytest.raises(error, match=says):
        parse_duration(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("P1M", datetime(2027, 2, 28, 9, tzinfo=UTC)), ("P13M", datetime(2028, 2, 29, 9, tzinfo=UTC)),
    ("P1Y", datetime(2028, 1, 31, 9, tzinfo=UTC)), ("P1M1D", datetime(2027, 3, 1, 9, tzinfo=UTC)),
    ("P1Y2M3DT4H", datetime(2028, 4, 3, 13, tzinfo=UTC)), ("PT0.5H", datetime(2027, 1, 31, 9, 30, tzinfo=UTC)),
])
def test_months_and_years_move_a_moment_on_the_calendar(text: str, expected: datetime) -> None:
    assert add_duration(JAN_31, text) == expected


@pytest.mark.parametrize(("text", "error"), [
    ("P0.5M", InvalidDurationError), ("P101Y", DurationTooLongError), ("P2000M", DurationTooLongError),
    ("soon", InvalidDurationError),
])
def test_a_moment_is_not_moved_by_a_partial_month_or_past_the_bound(text: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        add_duration(JAN_31, text)


@pytest.mark.parametrize(("field", "value", "code"), [
    ("remind_every", "P36526D", "duration_too_long"), ("expire_after", "P99999999999D", "duration_too_long"),
    ("remind_every", "PT0.000001S", "duration_too_short"), ("escalate_after", "PT59S", "duration_too_short"),
    ("remind_every", "PT0S", "duration_not_positive"), ("remind_every", "P1M", "duration_invalid"),
])
def test_a_workflow_duration_is_a_minute_to_a_hundred_years(field: str, value: str, code: str) -> None:
    action: dict[str, object] = {"type": "approval", "steps": [{"approvers": ["U01AAA"]}], field: value}
    if field == "escalate_after":
        action["escalate_to"] = ["U01DDD"]
    definition = {"name": "w", "record_type": "bill", "trigger": "created", "actions": [action]}
    with pytest.raises(ValidationError) as caught:
        Workflow.model_validate(definition)
    assert code in str(caught.value)
