"""The SQLite backend of the store: WAL mode, numbered migrations, a writer on the event loop, readers in threads."""

from __future__ import annotations

from storage.ports import Store
from storage.sqlite.db import Database, migrations

__all__ = ["Database", "migrations", "open_store"]


async def open_store(path: str, *, migrate: bool = True) -> Store:
    """Open the SQLite database at `path`: created if new, migrated when `migrate`, else refused if out of date."""
    return await Database.open(path, migrate=migrate)
