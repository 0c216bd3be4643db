"""Where the bot gets `now`: the system clock, or a test clock that can be set and advanced."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class SystemClock:
    """The real time, always timezone-aware (UTC)."""

    is_test = False

    def now(self) -> datetime:
        """Return the current time."""
        return datetime.now(UTC)


class TestClock(SystemClock):
    """A clock that follows real time from an offset that tests and the sandbox can move."""

    is_test = True

    def __init__(self) -> None:
        self._offset = timedelta(0)

    def now(self) -> datetime:
        """Return the shifted current time."""
        return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta) -> datetime:
        """Move the clock forward by `delta` and return the new time."""
        if delta < timedelta(0):
            raise ValueError("the clock only moves forward")
        self._offset += delta
        return self.now()

    def set(self, moment: datetime) -> datetime:
        """Jump to an aware moment and return it."""
        if moment.tzinfo is None:
            raise ValueError("the time must include a UTC offset")
        self._offset = moment - datetime.now(UTC)
        return self.now()
