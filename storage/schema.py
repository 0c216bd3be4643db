"""The schema version contract every backend keeps: which databases open, which are refused, and why."""

from __future__ import annotations

from storage.errors import MigrationNeededError, SchemaTooNewError


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
