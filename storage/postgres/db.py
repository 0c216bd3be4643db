"""The PostgreSQL store: the same units of work, snapshots and repositories as SQLite's, over psycopg connections."""

from __future__ import annotations

import psycopg

from storage.postgres.connection import PgConnection
from storage.postgres.schema import migrate as apply_migrations
from storage.sqlite.db import READERS, Database


class PgDatabase(Database):
    """An open PostgreSQL database: one writer connection per process, a few readers, and one to answer pings."""

    @classmethod
    async def open_url(cls, url: str, *, migrate: bool = True) -> PgDatabase:
        """Connect to the database at `url`: a new one is created, an older one migrated if `migrate`, else refused."""
        async with await psycopg.AsyncConnection.connect(url) as migrating:
            await apply_migrations(migrating, migrate=migrate)
        db = cls(await PgConnection.connect(url), url)
        try:
            for _ in range(READERS):
                reader = await PgConnection.connect(url)
                db._reader_conns.append(reader)
                db._readers.put_nowait(reader)
            db._pinger = await PgConnection.connect(url)
            db._reader_conns.append(db._pinger)
        except BaseException:
            await db.close()
            raise
        return db
