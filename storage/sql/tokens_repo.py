"""Repository methods of the REST API's bearer tokens, stored as SHA-256 hashes with a role."""

from __future__ import annotations

from datetime import datetime

from storage.models import ApiToken
from storage.sql.codec import parse_ts, ts
from storage.sql.connection import Row, SqlConnection


def _token(row: Row) -> ApiToken:
    created_at = parse_ts(row["created_at"])
    assert created_at is not None
    return ApiToken(row["name"], row["role"], created_at, parse_ts(row["last_used_at"]),
                    parse_ts(row["revoked_at"]))


class TokensQueries:
    """Repository methods of API tokens."""

    conn: SqlConnection

    async def add_api_token(self, name: str, role: str, token_hash: str, now: datetime) -> bool:
        """Store a new token under a name not used before; tell whether it was stored."""
        cursor = await self.conn.execute(
            "INSERT INTO api_tokens (name, role, token_hash, created_at) VALUES (?,?,?,?) "
            "ON CONFLICT DO NOTHING", (name, role, token_hash, ts(now)),
        )
        return cursor.rowcount > 0

    async def api_token_by_hash(self, token_hash: str) -> ApiToken | None:
        """Return the token with this hash (revoked or not), or None."""
        async with self.conn.execute("SELECT * FROM api_tokens WHERE token_hash=?", (token_hash,)) as cursor:
            row = await cursor.fetchone()
        return _token(row) if row else None

    async def api_tokens(self) -> list[ApiToken]:
        """List every token, oldest first."""
        async with self.conn.execute("SELECT * FROM api_tokens ORDER BY created_at, name") as cursor:
            return [_token(r) for r in await cursor.fetchall()]

    async def revoke_api_token(self, name: str, now: datetime) -> bool:
        """Revoke a token by name; tell whether an active token was revoked."""
        cursor = await self.conn.execute(
            "UPDATE api_tokens SET revoked_at=? WHERE name=? AND revoked_at IS NULL", (ts(now), name)
        )
        return cursor.rowcount > 0

    async def touch_api_token(self, name: str, now: datetime) -> None:
        """Remember when a token was last used."""
        await self.conn.execute("UPDATE api_tokens SET last_used_at=? WHERE name=?", (ts(now), name))
