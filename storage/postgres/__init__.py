"""The PostgreSQL backend: its numbered migrations and the code that applies them."""

from __future__ import annotations

from storage.ports import Store


async def open_store(url: str, *, migrate: bool = True, create: bool = True) -> Store:
    """Open the PostgreSQL database at `url`: its schema created if new (unless not `create`: then a database without
    one is refused, DatabaseMissingError, and nothing is written), migrated when `migrate`, else refused if out of
    date."""
    from storage.postgres.db import PgDatabase

    return await PgDatabase.open_url(url, migrate=migrate, create=create)
