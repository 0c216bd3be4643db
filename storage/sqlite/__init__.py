"""The SQLite backend of the store: WAL mode, numbered migrations, a writer on the event loop, readers in threads."""

from __future__ import annotations

from storage.ports import Store
from storage.sqlite.db import Database, migrations

__all__ = ["Database", "migrations", "open_store"]


async def open_store(path: str) -> Store:
    """Open (creating and migrating if needed) the SQLite database at `path`."""
    return await Database.open(path)
