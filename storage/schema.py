"""The schema version contract every backend keeps: which databases open, which are refused, and why."""

from __future__ import annotations

import re
from importlib import resources

from storage.errors import MigrationError, MigrationNeededError, SchemaTooNewError

_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


def numbered_migrations(package: str) -> list[tuple[int, str]]:
    """Return the migration scripts `NNNN_name.sql` of a package, in order; refuse gaps and duplicates."""
    found = []
    for entry in resources.files(package).iterdir():
        match = _MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    found.sort()
    numbers = [n for n, _ in found]
    if numbers != list(range(1, len(numbers) + 1)):
        raise MigrationError(f"migrations must be numbered from 0001 without gaps or duplicates: {numbers}")
    return found


def check_schema_version(current: int, latest: int, migrate: bool) -> None:
    """Refuse a database of a newer Signoff, and an older one unless told to migrate (a new one, at 0, is created)."""
    if current > latest:
        raise SchemaTooNewError(
            f"database schema version {current} is newer than this Signoff (knows up to {latest}); upgrade Signoff"
        )
    if 0 < current < latest and not migrate:
        raise MigrationNeededError(
            f"database schema version {current} is older than this Signoff's ({latest}): run `signoff migrate` "
            "before starting it (or set SIGNOFF_MIGRATE=true to migrate at start-up)", current, latest,
        )
