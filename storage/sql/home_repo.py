"""The people who have an App Home tab."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from storage.sql.codec import ts
from storage.sql.connection import SqlConnection

CHUNK = 500


class HomeQueries:
    """Repository methods of the people who have a Home tab."""

    conn: SqlConnection

    async def add_home_users(self, users: Iterable[str], now: datetime) -> None:
        """Remember people whose Home tab was published (those known already are left as they are)."""
        await self.conn.executemany(
            "INSERT INTO home_users (user_id, first_at) VALUES (?, ?) ON CONFLICT (user_id) DO NOTHING",
            [(user, ts(now)) for user in sorted(set(users))],
        )

    async def home_users_among(self, users: Iterable[str]) -> set[str]:
        """Return those of these people whose Home tab was ever published."""
        wanted = sorted(set(users))
        found: set[str] = set()
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start:start + CHUNK]
            rows = await self.conn.execute_fetchall(
                f"SELECT user_id FROM home_users WHERE user_id IN ({','.join('?' * len(chunk))})", chunk)
            found |= {str(r[0]) for r in rows}
        return found
