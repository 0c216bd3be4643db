"""Invoice payment reminders to customers: the company's settings and when each reminder falls due."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine.dates import at_local_time, days_between, local_date
from engine.errors import InvalidDefinitionError
from engine.lifecycle import customer_hold, may_reach_contact
from engine.limits import check_storable
from engine.records import Contact, DocStatus, Record, RecordType
from engine.workflows import details_from

MAX_SCHEDULES = 3
MAX_OFFSET_DAYS = 10
SEND_AT_HOUR = 9
# A reminder is owed once it fell due, but never one that fell before the invoice was known (one imported overdue).
# One that fell due in the last FRESH_FOR is sent even if reminders were off or set otherwise then; an older one
# only if it fell due under the settings saved now (the bot was down: an outage of any length loses nothing, yet
# turning reminders on does not send every open invoice a reminder of the past).
FRESH_FOR = timedelta(days=3)
CLOSED_STATUSES = frozenset({DocStatus.PAID, DocStatus.VOID})
FINALISED_STATUSES = frozenset({DocStatus.OPEN, DocStatus.SENT})
PAYMENT_URL_FIELD = "payment_url"
WEB_ADDRESS = re.compile(r"https?://[^\s<>\"]{1,2000}")


class ReminderSchedule(BaseModel):
    """One reminder: when (days from the due date) and what it says (empty texts use the shipped defaults)."""

    model_config = ConfigDict(extra="forbid")

    offset_days: int = Field(ge=-MAX_OFFSET_DAYS, le=MAX_OFFSET_DAYS, strict=True)
    subject: str | None = Field(default=None, max_length=300)
    greeting: str | None = Field(default=None, max_length=1000)
    body: str | None = Field(default=None, max_length=20000)
    copy_sender: bool = Field(default=False, strict=True)


def _default_schedules() -> list[ReminderSchedule]:
    return [ReminderSchedule(offset_days=-3), ReminderSchedule(offset_days=3)]


class InvoiceReminderSettings(BaseModel):
    """The company's invoice reminders: on or off, and up to three schedules."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(default=False, strict=True)
    schedules: list[ReminderSchedule] = Field(default_factory=_default_schedules, max_length=MAX_SCHEDULES)
    # When these settings were saved (stored beside them, never shown): no reminder is owed from before.
    since: datetime | None = Field(default=None, exclude=True)

    @field_validator("schedules")
    @classmethod
    def _distinct_days(cls, value: list[ReminderSchedule]) -> list[ReminderSchedule]:
        offsets = [s.offset_days for s in value]
        if len(set(offsets)) != len(offsets):
            raise ValueError("two schedules fall on the same day")
        return value


def parse_reminder_settings(data: Any) -> InvoiceReminderSettings:
    """Validate invoice reminder settings; raise InvalidDefinitionError naming every bad field path."""
    if not isinstance(data, dict):
        details = [{"path": "(root)", "message": "expected an object"}]
        raise InvalidDefinitionError("invoice reminder settings must be an object", details)
    check_storable(data, "settings")
    try:
        return InvoiceReminderSettings.model_validate(data)
    except ValidationError as exc:
        details = details_from(exc)
        raise InvalidDefinitionError(f"invalid settings: {details[0]['path']}: {details[0]['message']}",
                                     details) from None


def is_payable(record: Record) -> bool:
    """Tell whether an invoice is finalised (open or sent: not draft, void or paid) with a balance and a due date."""
    return (record.type is RecordType.INVOICE and record.status in FINALISED_STATUSES
            and record.effective_balance() > Decimal(0) and record.due_date is not None)


def is_remindable(record: Record) -> bool:
    """Tell whether an invoice may get payment reminders: finalised, payable, and approved if it needs approval."""
    return is_payable(record) and may_reach_contact(record)


@dataclass(frozen=True)
class ReminderMoment:
    """When one schedule's reminder for one invoice falls due."""

    index: int
    schedule: ReminderSchedule
    at: datetime


def reminder_moments(due_date: date, settings: InvoiceReminderSettings, tz: ZoneInfo) -> list[ReminderMoment]:
    """Return each schedule's moment (UTC) for a due date: 09:00 company time on its day, earliest first (none for a
    day beyond the calendar's ends, as a due date near year 1 or 9999 gives)."""
    moments = [ReminderMoment(i, s, at) for i, s in enumerate(settings.schedules)
               if (at := _moment_of(due_date, s.offset_days, tz)) is not None]
    return sorted(moments, key=lambda m: m.at)


def _moment_of(due_date: date, offset_days: int, tz: ZoneInfo) -> datetime | None:
    try:
        return at_local_time(due_date + timedelta(days=offset_days), SEND_AT_HOUR, 0, tz).astimezone(UTC)
    except OverflowError:
        return None


def is_owed(moment: ReminderMoment, record: Record, settings: InvoiceReminderSettings, now: datetime) -> bool:
    """Tell whether a reminder that fell due is owed now (see FRESH_FOR)."""
    if not record.created_at <= moment.at <= now:
        return False
    return now - moment.at <= FRESH_FOR or (settings.since is not None and moment.at >= settings.since)


def payment_url(record: Record) -> str | None:
    """Return the web address where the customer views and pays the invoice (its `payment_url` field), if any."""
    url = record.fields.get(PAYMENT_URL_FIELD)
    return url if isinstance(url, str) and WEB_ADDRESS.fullmatch(url) else None


def automatic_reminder_hold(contact: Contact) -> str | None:
    """Return why a customer gets no scheduled payment reminders (None: they do); one sent by hand still goes."""
    if not contact.active:
        return f"customer {contact.id} is inactive"
    if not contact.reminders:
        return f"customer {contact.id} gets no automatic reminders"
    return None


def days_until_due(due_date: date, now: datetime, tz: ZoneInfo) -> int:
    """Return the calendar days from today (company time) to the due date; negative once overdue."""
    return days_between(local_date(now, tz), due_date)


@dataclass(frozen=True)
class ReminderRefusal:
    """Why an invoice cannot get a reminder sent by hand now: a code for its wording, and its English one."""

    code: str
    message: str


def manual_reminder_refusal(record: Record, contact: Contact | None) -> ReminderRefusal | None:
    """Tell why an invoice cannot get a reminder sent by hand now (None: it can); `contact` is its customer."""
    if record.status in CLOSED_STATUSES:
        return ReminderRefusal("closed", f"invoice {record.id} is {record.status.value}: nothing to remind")
    if record.status not in FINALISED_STATUSES:
        return ReminderRefusal("not_finalised", f"invoice {record.id} is a {record.status.value}: only finalised "
                                                "invoices get reminders")
    hold = customer_hold(record)
    if hold is not None:
        return ReminderRefusal("not_approved", f"{hold}: nothing is sent to the customer before approval")
    if record.effective_balance() <= 0:
        return ReminderRefusal("paid", f"invoice {record.id} has no balance left to pay")
    if contact is None or not contact.mail_address():
        return ReminderRefusal("no_address", f"invoice {record.id} has no customer e-mail address")
    return None


def stale_reminder_reason(record: Record | None) -> str | None:
    """Return why a payment reminder queued earlier must not go out now (the invoice deleted, closed, back to draft,
    held for approval or paid since), or None: it still may."""
    if record is None:
        return "the invoice is gone"
    refusal = manual_reminder_refusal(record, None)
    return None if refusal is None or refusal.code == "no_address" else refusal.message


def manual_schedule(
    record: Record, settings: InvoiceReminderSettings, wanted: int | None, now: datetime, tz: ZoneInfo,
) -> tuple[ReminderSchedule, int | None]:
    """Pick a manual reminder's texts: the schedule asked for (InvalidDefinitionError if none), else the latest due."""
    if wanted is not None:
        if not 0 <= wanted < len(settings.schedules):
            details = [{"path": "schedule", "message": "no such schedule"}]
            raise InvalidDefinitionError(f"there is no schedule {wanted}", details)
        return settings.schedules[wanted], wanted
    if not settings.schedules:
        return ReminderSchedule(offset_days=0), None
    moments = reminder_moments(record.due_date, settings, tz) if record.due_date else []
    past = [m for m in moments if m.at <= now]
    chosen = past[-1] if past else (moments[0] if moments else None)
    return (chosen.schedule, chosen.index) if chosen else (settings.schedules[0], 0)
