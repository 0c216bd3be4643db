"""The shared test clock: one row holding the offset from real time, in microseconds."""

from __future__ import annotations

from datetime import timedelta

from storage.sql.connection import SqlConnection


def _micros(offset: timedelta) -> int:
    return (offset.days * 86_400 + offset.seconds) * 1_000_000 + offset.microseconds


class ClockQueries:
    """Repository methods of the shared test clock."""

    conn: SqlConnection

    async def clock_offset(self) -> timedelta:
        """Return the test clock's offset from real time (zero until set)."""
        rows = list(await self.conn.execute_fetchall("SELECT offset_us FROM shared_clock WHERE id=1"))
        return timedelta(microseconds=int(rows[0][0])) if rows else timedelta(0)

    async def set_clock_offset(self, offset: timedelta) -> None:
        """Set the test clock's offset from real time."""
        await self.conn.execute(
            "INSERT INTO shared_clock (id, offset_us) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET "
            "offset_us=excluded.offset_us", (_micros(offset),))

    async def advance_clock_offset(self, delta: timedelta) -> timedelta:
        """Add `delta` to the stored offset (atomically, whatever other processes added); return the new offset."""
        rows = list(await self.conn.execute_fetchall(
            "INSERT INTO shared_clock (id, offset_us) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET "
            "offset_us=shared_clock.offset_us + excluded.offset_us RETURNING offset_us", (_micros(delta),)))
        return timedelta(microseconds=int(rows[0][0]))
