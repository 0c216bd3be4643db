"""Five-field cron schedules read in the company time zone, with DST-correct next run times.

Fields: minute (0-59), hour (0-23), day of month (1-31), month (1-12 or jan-dec) and day of
week (0-7 or sun-sat, 0 and 7 both Sunday). Each field takes `*`, a value, a range `a-b`, a
step `*/n`, `a-b/n` or `a/n`, and comma-separated lists of those; `@hourly`, `@daily`,
`@weekly`, `@monthly` and `@yearly` are shorthands. When both day fields are restricted a day
matches either of them, as in Vixie cron.

Across DST changes a wall time that does not exist runs once, as late after the change as it
was meant to be after the hour (02:30 becomes 03:30); a wall time that happens twice runs once,
at its first occurrence, unless the hour field is `*`, in which case both hours run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from engine.dates import require_aware, resolve_wall_time
from engine.errors import InvalidDefinitionError

MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
MAX_SEARCH_DAYS = 366 * 30
DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# How far before `moment` a wall time may lie and still map after it (the largest DST shift).
DST_MARGIN = timedelta(hours=3)


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()
    name_base: int = 0


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of month", 1, 31),
    _Field("month", 1, 12, MONTH_NAMES, 1),
    _Field("day of week", 0, 7, WEEKDAY_NAMES, 0),
)


def _invalid(text: str, message: str) -> InvalidDefinitionError:
    details = [{"path": "schedule", "message": message}]
    return InvalidDefinitionError(f"invalid cron schedule {text!r}: {message}", details)


def _number(token: str, spec: _Field) -> int:
    lowered = token.lower()
    if lowered in spec.names:
        return spec.names.index(lowered) + spec.name_base
    if not token.isdigit():
        raise ValueError(f"{spec.name}: {token!r} is not a number" + (" or a name" if spec.names else ""))
    value = int(token)
    if not spec.low <= value <= spec.high:
        raise ValueError(f"{spec.name}: {value} is outside {spec.low}-{spec.high}")
    return value


def _range(part: str, spec: _Field) -> tuple[int, int]:
    if part == "*":
        return spec.low, spec.high
    low_text, dash, high_text = part.partition("-")
    low = _number(low_text, spec)
    high = _number(high_text, spec) if dash else low
    if low > high:
        raise ValueError(f"{spec.name}: the range {part!r} runs backwards")
    return low, high


def _item(item: str, spec: _Field) -> set[int]:
    base, slash, step_text = item.partition("/")
    if slash and not (step_text.isdigit() and int(step_text) > 0):
        raise ValueError(f"{spec.name}: step {step_text!r} must be a positive number")
    low, high = _range(base, spec)
    if slash and base != "*" and "-" not in base:
        high = spec.high
    return set(range(low, high + 1, int(step_text) if slash else 1))


def _parse_field(text: str, spec: _Field) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise ValueError(f"{spec.name}: empty item in {text!r}")
        values |= _item(item, spec)
    return frozenset(values)


def _is_possible(days: frozenset[int], months: frozenset[int]) -> bool:
    return any(day <= DAYS_IN_MONTH[month - 1] for month in months for day in days)


@dataclass(frozen=True)
class CronSpec:
    """A parsed cron schedule; `next_after` gives its next run time in a time zone."""

    text: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    is_day_restricted: bool
    is_weekday_restricted: bool

    @classmethod
    def parse(cls, text: str) -> CronSpec:
        """Parse a 5-field cron string (or a macro); raise InvalidDefinitionError saying what is wrong."""
        if not isinstance(text, str) or not text.strip():
            raise _invalid(str(text), "expected 5 fields: minute hour day-of-month month day-of-week")
        parts = MACROS.get(text.strip().lower(), text).split()
        if len(parts) != len(_FIELDS):
            raise _invalid(text, f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(parts)}")
        try:
            values = [_parse_field(part, spec) for part, spec in zip(parts, _FIELDS, strict=True)]
        except ValueError as exc:
            raise _invalid(text, str(exc)) from None
        minutes, hours, days, months, weekdays = values
        spec = cls(text.strip(), minutes, hours, days, months, frozenset(d % 7 for d in weekdays),
                   not parts[2].startswith("*"), not parts[4].startswith("*"))
        if spec.is_day_restricted and not spec.is_weekday_restricted and not _is_possible(days, months):
            raise _invalid(text, "that day of the month never occurs in the months given")
        return spec

    def is_day_match(self, day: date) -> bool:
        """Tell whether the schedule runs on a calendar day."""
        if day.month not in self.months:
            return False
        on_day = day.day in self.days
        on_weekday = day.isoweekday() % 7 in self.weekdays
        if self.is_day_restricted and self.is_weekday_restricted:
            return on_day or on_weekday
        return on_day and on_weekday

    def _walls(self, day: date, floor: datetime) -> list[datetime]:
        walls = []
        for hour in sorted(self.hours):
            if datetime.combine(day, time(hour, 59)) < floor:
                continue
            walls += [datetime.combine(day, time(hour, minute)) for minute in sorted(self.minutes)]
        return [wall for wall in walls if wall >= floor]

    def _readings(self, wall: datetime, tz: ZoneInfo) -> list[datetime]:
        """Return the UTC instants a wall time stands for under this schedule."""
        first = resolve_wall_time(wall, tz).astimezone(UTC)
        if len(self.hours) < 24:
            return [first]
        return [first, *_second_occurrence(wall, tz)]

    def _first_on(self, day: date, tz: ZoneInfo, moment: datetime, floor: datetime) -> datetime | None:
        best: datetime | None = None
        for wall in self._walls(day, floor):
            if best is not None and wall > best.astimezone(tz).replace(tzinfo=None) + DST_MARGIN:
                break
            for instant in self._readings(wall, tz):
                if instant > moment and (best is None or instant < best):
                    best = instant
        return best

    def next_after(self, moment: datetime, tz: ZoneInfo) -> datetime:
        """Return the first run time strictly after an aware moment, in tz (aware)."""
        require_aware(moment, "moment")
        local = moment.astimezone(tz)
        start = local.date() - timedelta(days=1)
        floor = local.replace(tzinfo=None) - DST_MARGIN
        for offset in range(MAX_SEARCH_DAYS):
            day = start + timedelta(days=offset)
            found = self._first_on(day, tz, moment, floor) if self.is_day_match(day) else None
            if found is not None:
                return found.astimezone(tz)
        raise _invalid(self.text, "no run time in the next 30 years")

    def is_due(self, moment: datetime, tz: ZoneInfo) -> bool:
        """Tell whether the schedule runs at the minute that contains an aware moment."""
        minute = require_aware(moment, "moment").replace(second=0, microsecond=0)
        # compared in UTC: an ambiguous local time never equals a time of another zone (PEP 495)
        return self.next_after(minute - timedelta(microseconds=1), tz).astimezone(UTC) == minute.astimezone(UTC)


def _second_occurrence(wall: datetime, tz: ZoneInfo) -> list[datetime]:
    """Return the later reading of a wall time that happens twice (empty otherwise)."""
    first, second = wall.replace(tzinfo=tz, fold=0), wall.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return []
    exists = second.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == wall
    return [second.astimezone(UTC)] if exists else []
