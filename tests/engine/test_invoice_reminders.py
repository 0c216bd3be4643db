"""Invoice reminder settings and when each reminder falls due."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.errors import InvalidDefinitionError
from engine.invoice_reminders import (
    InvoiceReminderSettings,
    ReminderMoment,
    ReminderSchedule,
    days_until_due,
    is_owed,
    is_remindable,
    parse_reminder_settings,
    reminder_moments,
)
from engine.records import Record

DAY = timedelta(days=1)

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 10, 20, 9, tzinfo=PARIS)


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"schedules": [{"offset_days": 1}, {"offset_days": 2}, {"offset_days": 3}, {"offset_days": 4}]}, "schedules"),
        ({"schedules": [{"offset_days": 11}]}, "schedules[0].offset_days"),
        ({"schedules": [{"offset_days": 0}, {"offset_days": -11}]}, "schedules[1].offset_days"),
        ({"schedules": [{"offset_days": "3"}]}, "schedules[0].offset_days"),
        ({"schedules": [{"offset_days": 2.5}]}, "schedules[0].offset_days"),
        ({"schedules": [{"offset_days": 2}, {"offset_days": 2}]}, "schedules"),
        ({"schedules": [{}]}, "schedules[0].offset_days"),
        ({"schedules": [{"offset_days": 1, "subject": "x" * 301}]}, "schedules[0].subject"),
        ({"enabled": "yes"}, "enabled"),
        ({"enabled": True, "colour": "red"}, "colour"),
        ([], "(root)"),
    ],
)
def test_bad_settings_name_the_field(data: Any, path: str) -> None:
    with pytest.raises(InvalidDefinitionError) as caught:
        parse_reminder_settings(data)
    assert caught.value.details[0]["path"] == path


@pytest.mark.parametrize(
    ("data", "enabled", "offsets"),
    [
        ({}, False, [-3, 3]),
        ({"enabled": True, "schedules": []}, True, []),
        ({"enabled": True, "schedules": [{"offset_days": -10}, {"offset_days": 0}, {"offset_days": 10}]}, True,
         [-10, 0, 10]),
    ],
)
def test_good_settings(data: dict[str, Any], enabled: bool, offsets: list[int]) -> None:
    settings = parse_reminder_settings(data)
    assert settings.enabled is enabled and [s.offset_days for s in settings.schedules] == offsets


def invoice(**overrides: Any) -> Record:
    data = {"type": "invoice", "id": "INV-1", "amount": "100.00", "due_date": date(2026, 10, 27),
            "created_at": NOW, "updated_at": NOW}
    return Record.model_validate({**data, **overrides})


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        (invoice(), True),
        (invoice(status="sent"), True),
        (invoice(status="draft"), False),
        (invoice(status="paid"), False),
        (invoice(status="void"), False),
        (invoice(balance="0.00"), False),
        (invoice(amount="-5", balance="-5"), False),
        (invoice(balance="0.01"), True),
        (invoice(due_date=None), False),
        (invoice(type="bill"), False),
        (invoice(approval_status="none"), True),
        (invoice(approval_status="approved"), True),
        (invoice(approval_status="approval_required"), False),
        (invoice(approval_status="pending"), False),
        (invoice(approval_status="rejected"), False),
        (invoice(approval_status="expired"), False),
    ],
)
def test_which_invoices_get_reminders(record: Record, expected: bool) -> None:
    assert is_remindable(record) is expected


def test_moments_are_nine_in_the_morning_company_time_across_dst() -> None:
    settings = InvoiceReminderSettings(schedules=[ReminderSchedule(offset_days=3), ReminderSchedule(offset_days=-3)])
    moments = reminder_moments(date(2026, 10, 26), settings, PARIS)
    assert [(m.index, m.at) for m in moments] == [
        (1, datetime(2026, 10, 23, 7, tzinfo=UTC)), (0, datetime(2026, 10, 29, 8, tzinfo=UTC)),
    ]


@pytest.mark.parametrize(
    ("due", "zone", "indexes"),
    [(date(9999, 12, 31), "Europe/Paris", [1]), (date(9999, 12, 29), "Europe/Paris", [1]),
     (date(1, 1, 1), "Europe/Paris", [0]), (date(1, 1, 2), "America/New_York", [0])],
)
def test_a_moment_beyond_the_calendar_is_left_out_not_raised(due: date, zone: str, indexes: list[int]) -> None:
    settings = InvoiceReminderSettings(schedules=[ReminderSchedule(offset_days=3), ReminderSchedule(offset_days=-3)])
    assert [m.index for m in reminder_moments(due, settings, ZoneInfo(zone))] == indexes


@pytest.mark.parametrize(
    ("created", "since", "late", "expected"),
    [(-DAY, None, timedelta(0), True), (-DAY, None, timedelta(days=2, hours=23), True),
     (-DAY, None, timedelta(days=3, seconds=1), False), (-DAY, -DAY, timedelta(days=300), True),
     (-DAY, DAY, timedelta(days=300), False), (-DAY, DAY, timedelta(days=2), True),
     (timedelta(seconds=1), None, timedelta(days=1), False), (timedelta(seconds=1), -DAY, timedelta(days=5), False),
     (-DAY, None, -timedelta(seconds=1), False)],
)
def test_a_reminder_is_owed_fresh_or_under_the_current_settings(created: timedelta, since: timedelta | None,
                                                                late: timedelta, expected: bool) -> None:
    """`created`, `since`: when the invoice and the settings came, from the moment; `late`: now, from it."""
    moment = ReminderMoment(0, ReminderSchedule(offset_days=0), NOW)
    record = Record.model_validate({"type": "invoice", "id": "INV-1", "created_at": NOW + created,
                                    "updated_at": NOW + created})
    settings = InvoiceReminderSettings(since=NOW + since if since is not None else None)
    assert is_owed(moment, record, settings, NOW + late) is expected


@pytest.mark.parametrize(
    ("due", "now", "expected"),
    [(date(2026, 10, 27), NOW, 7), (date(2026, 10, 20), NOW, 0),
     (date(2026, 10, 19), NOW, -1), (date(2026, 10, 21), datetime(2026, 10, 20, 22, 30, tzinfo=UTC), 0)],
)
def test_days_until_due_counts_company_calendar_days(due: date, now: datetime, expected: int) -> None:
    assert days_until_due(due, now, PARIS) == expected
