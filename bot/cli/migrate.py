"""`signoff migrate`: bring the database's schema up to this Signoff's, as a one-off step before a rollout."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from bot.cli.workflow_files import file_settings
from bot.errors import SettingsError
from storage import open_store
from storage.errors import MigrationNeededError, StorageError
from storage.ports import Store


def add_migrate_command(sub: Any) -> None:
    """Add `signoff migrate [--check]` to the command line."""
    parser = sub.add_parser("migrate", help="apply the database migrations this Signoff needs, then stop")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 when migrations are pending (for a rollout pipeline)")
    parser.add_argument("--database", help="SQLite file or postgresql:// URL (default: SIGNOFF_DATABASE)")


async def _version(db: Store) -> int:
    async with db.read() as repo:
        return await repo.schema_version()


async def _open(database: str, *, migrate: bool, create: bool = True) -> int:
    db = await open_store(database, migrate=migrate, create=create)
    try:
        return await _version(db)
    finally:
        await db.close()


async def migrate(database: str, *, check: bool) -> tuple[int, str]:
    """Migrate (or only check) the database; return the exit status and what to print."""
    try:
        version = await _open(database, migrate=False, create=not check)
    except MigrationNeededError as exc:
        if check:
            return 1, f"migrations pending: the database is at version {exc.current}, this Signoff needs {exc.latest}"
        version = await _open(database, migrate=True)
        return 0, f"migrated the database from version {exc.current} to {version}"
    return 0, f"the database is up to date (version {version})"


def run_migrate_command(args: argparse.Namespace) -> int:
    """Run `signoff migrate`; print what was done, or the problem (exit 2)."""
    try:
        status, text = asyncio.run(migrate(file_settings(args.database).database, check=args.check))
    except (SettingsError, StorageError) as exc:
        print(f"signoff: {exc}", file=sys.stderr)
        return 2
    print(text, file=sys.stdout if status == 0 else sys.stderr)
    return status
