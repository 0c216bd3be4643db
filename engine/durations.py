"""ISO 8601 durations (`P1D`, `PT4H`, `P1W`, `P3DT2H30M`) as timedeltas."""

from __future__ import annotations

import re
from datetime import timedelta

from engine.errors import InvalidDurationError

_PATTERN = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str) -> timedelta:
    """Parse an ISO 8601 duration made of weeks, days, hours, minutes and seconds."""
    match = _PATTERN.match(text.strip().upper()) if isinstance(text, str) else None
    if match is None or text.strip().upper() in ("P", "PT") or text.strip().upper().endswith("T"):
        raise InvalidDurationError(f"{text!r} is not an ISO 8601 duration such as P1D or PT4H")
    parts = {k: float(v) for k, v in match.groupdict().items() if v is not None}
    return timedelta(**parts)


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
