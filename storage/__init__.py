"""Persistence of Signoff: SQLite through aiosqlite, migrations and repositories."""
