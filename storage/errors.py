"""Errors raised by the storage layer."""

from __future__ import annotations


class StorageError(Exception):
    """Root of every storage error."""


class DatabaseUnavailableError(StorageError):
    """The database cannot be opened or reached: a file that cannot be created, a server refusing connections."""


class DatabaseMissingError(DatabaseUnavailableError):
    """No database exists where one was to be opened without creating it (a mistyped path, most likely)."""


class SchemaTooNewError(StorageError):
    """The database was written by a newer Signoff than this one."""


class MigrationNeededError(StorageError):
    """The database's schema is older than this Signoff's and start-up was not told to migrate it."""

    def __init__(self, message: str, current: int, latest: int) -> None:
        super().__init__(message)
        self.current = current
        self.latest = latest


class MigrationError(StorageError):
    """A migration file is missing, misnumbered or failed to apply."""


class NotFoundError(StorageError):
    """The requested row does not exist."""


class ConflictError(StorageError):
    """The write conflicts with the stored state."""


class LeaseLostError(StorageError):
    """Work was completed under a lease this process no longer holds; its effects were rolled back."""


class ConcurrentUpdateError(ConflictError):
    """A row changed since this unit of work read it (a lost compare-and-set); the unit of work was rolled back."""
