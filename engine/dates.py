"""Calendar arithmetic in the company time zone, correct across DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from engine.errors import NaiveDatetimeError


def require_aware(moment: datetime, what: str = "datetime") -> datetime:
    """Return the datetime unchanged, or raise NaiveDatetimeError when it has no time zone."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise NaiveDatetimeError(
            f"{what} must be timezone-aware (e.g. 2026-03-29T09:00:00+02:00), "
            f"got naive {moment.isoformat()}"
        )
    return moment


def utc_iso(moment: datetime) -> str:
    """Return a moment as the API writes times: UTC ISO 8601 ending in `Z`, as pydantic writes them."""
    return require_aware(moment).astimezone(UTC).isoformat().replace("+00:00", "Z")


def local_date(now: datetime, tz: ZoneInfo) -> date:
    """Return the calendar date of an aware moment in the given time zone."""
    return require_aware(now, "now").astimezone(tz).date()


def days_between(a: date, b: date) -> int:
    """Return the whole calendar days from a to b, negative when b is earlier."""
    return b.toordinal() - a.toordinal()


def resolve_wall_time(wall: datetime, tz: ZoneInfo) -> datetime:
    """Place a naive wall time in tz: nonexistent times roll forward, ambiguous take the first."""
    # fold=0 reads a skipped time with the pre-transition offset, so the UTC round trip
    # moves it forward by the length of the gap; an ambiguous time keeps its first reading.
    return wall.replace(tzinfo=tz, fold=0).astimezone(UTC).astimezone(tz)


def at_local_time(day: date, hh: int, mm: int, tz: ZoneInfo) -> datetime:
    """Return the aware moment at hh:mm local time on the given calendar day."""
    return resolve_wall_time(datetime.combine(day, time(hh, mm)), tz)


def add_calendar_days(moment: datetime, days: int, tz: ZoneInfo) -> datetime:
    """Move an aware moment by calendar days, keeping its local wall-clock time across DST."""
    local = require_aware(moment, "moment").astimezone(tz)
    return resolve_wall_time(local.replace(tzinfo=None) + timedelta(days=days), tz)
