"""ISO 8601 durations (`P1D`, `PT4H`, `P1W`, `P3DT2H30M`, `PT0.5H`) as timedeltas; months and years (`P1M`,
`P1Y`), whose length depends on the calendar, only where a moment is moved by them (`add_duration`)."""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta

from engine.errors import DurationTooLongError, InvalidDurationError

# Longer than any reminder, escalation, expiry or retention needs, short enough that no date overflows.
MAX_DURATION = timedelta(days=36525)
_NUMBER = r"[0-9]+(?:[.,][0-9]+)?"
_PATTERN = re.compile(
    rf"^P(?:(?P<years>{_NUMBER})Y)?(?:(?P<months>{_NUMBER})M)?(?:(?P<weeks>{_NUMBER})W)?(?:(?P<days>{_NUMBER})D)?"
    rf"(?:T(?:(?P<hours>{_NUMBER})H)?(?:(?P<minutes>{_NUMBER})M)?(?:(?P<seconds>{_NUMBER})S)?)?$"
)
_CALENDAR_UNITS = ("years", "months")


def _parts(text: object) -> dict[str, float]:
    """Return the numbers of a duration by unit; only its last (smallest) one may have a fraction."""
    normal = text.strip().upper() if isinstance(text, str) else ""
    match = _PATTERN.match(normal)
    if match is None or normal in ("P", "PT") or normal.endswith("T"):
        raise InvalidDurationError(f"{text!r} is not an ISO 8601 duration such as P1D or PT4H")
    given = [(unit, value.replace(",", ".")) for unit, value in match.groupdict().items() if value is not None]
    if any("." in value for _, value in given[:-1]):
        raise InvalidDurationError(f"{text!r}: only the last number of a duration may have a fraction")
    return {unit: float(value) for unit, value in given}


def _clock_part(parts: dict[str, float], text: object) -> timedelta:
    """Return the part of a duration made of weeks, days, hours, minutes and seconds, at most MAX_DURATION."""
    try:
        delta = timedelta(**{unit: value for unit, value in parts.items() if unit not in _CALENDAR_UNITS})
    except OverflowError:
        delta = timedelta.max
    if delta > MAX_DURATION:
        raise DurationTooLongError(f"{text!r} is longer than {MAX_DURATION.days // 365} years")
    return delta


def parse_duration(text: str) -> timedelta:
    """Parse a duration of weeks, days, hours, minutes, seconds; raise InvalidDurationError (DurationTooLongError)."""
    parts = _parts(text)
    if any(unit in parts for unit in _CALENDAR_UNITS):
        raise InvalidDurationError(f"{text!r}: months and years vary in length; give weeks or days (P4W, P30D)")
    return _clock_part(parts, text)


def add_duration(moment: datetime, text: str) -> datetime:
    """Move a moment forward by an ISO 8601 duration, its years and months on the calendar (day kept or clamped)."""
    parts = _parts(text)
    months = parts.pop("years", 0) * 12 + parts.pop("months", 0)
    if months != int(months):
        raise InvalidDurationError(f"{text!r}: give whole months and years")
    if months > MAX_DURATION.days // 365 * 12:
        raise DurationTooLongError(f"{text!r} is longer than {MAX_DURATION.days // 365} years")
    return _add_months(moment, int(months)) + _clock_part(parts, text)


def _add_months(moment: datetime, months: int) -> datetime:
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    if year > 9999:
        raise DurationTooLongError("the moment would be after the year 9999")
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


def format_duration(delta: timedelta) -> str:
    """Format a timedelta as an ISO 8601 duration."""
    total_s = int(delta.total_seconds())
    days, rest = divmod(total_s, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    text = "P" + (f"{days}D" if days else "")
    clock = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "")
    clock += f"{seconds}S" if seconds else ""
    return text + ("T" + clock if clock else "") if (days or clock) else "PT0S"


def wait_parts(seconds: float) -> dict[str, int]:
    """Return a wait as messages show it: whole days and hours."""
    whole = max(0, int(seconds))
    return {"days": whole // 86400, "hours": whole % 86400 // 3600}
