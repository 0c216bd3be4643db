"""PostgreSQL's numbered migrations, applied in one transaction under an advisory lock."""

from __future__ import annotations

from typing import Any

import psycopg

from storage.errors import MigrationError
from storage.schema import check_schema_version, numbered_migrations

# Every process migrating a database takes this transaction-level advisory lock first, so they run one at a time.
MIGRATION_LOCK = int.from_bytes(b"signoff\0", "big")


def migrations() -> list[tuple[int, str]]:
    """Return the numbered migration scripts shipped with the package, in order."""
    return numbered_migrations("storage.postgres.migrations")


async def migrate(conn: psycopg.AsyncConnection[Any], *, migrate: bool) -> int:
    """Bring the database of `conn` to the latest schema (or refuse it, see check_schema_version); return its version.

    Runs in one transaction: a failing migration raises MigrationError and nothing of the run is kept.
    """
    scripts = migrations()
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        current = await schema_version(conn)
        check_schema_version(current, scripts[-1][0], migrate)
        newer = [(number, script) for number, script in scripts if number > current]
        for number, script in newer:
            await _apply(conn, number, script)
        if newer:
            await _set_version(conn, newer[-1][0])
    return scripts[-1][0]


async def has_schema(conn: psycopg.AsyncConnection[Any]) -> bool:
    """Tell whether the database holds a Signoff schema (its schema_version table, with a version)."""
    cursor = await conn.execute("SELECT to_regclass('schema_version') IS NOT NULL")
    row = await cursor.fetchone()
    return bool(row and row[0]) and await schema_version(conn) > 0


async def schema_version(conn: psycopg.AsyncConnection[Any]) -> int:
    """Return the applied schema version (0 for a new database, whose schema_version table is empty)."""
    cursor = await conn.execute("SELECT max(version) FROM schema_version")
    row = await cursor.fetchone()
    return int(row[0]) if row is not None and row[0] is not None else 0


async def _apply(conn: psycopg.AsyncConnection[Any], number: int, script: str) -> None:
    try:
        await conn.execute(script.encode("utf-8"))
    except psycopg.Error as exc:
        raise MigrationError(f"migration {number:04d} failed: {exc}") from exc


async def _set_version(conn: psycopg.AsyncConnection[Any], number: int) -> None:
    await conn.execute("DELETE FROM schema_version")
    await conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (number,))
