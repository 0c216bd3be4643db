"""Persistence of Signoff: the `Store` interface (storage.ports), its values (storage.models) and its backends."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import cast

from storage.errors import DatabaseMissingError, StorageError
from storage.ports import Store

# URL scheme -> the backend module, whose `open_store(target)` opens a store; a plain path is a SQLite file
BACKENDS = {"sqlite": "storage.sqlite", "postgresql": "storage.postgres", "postgres": "storage.postgres"}


async def open_store(url_or_path: str | Path, *, migrate: bool = True, create: bool = True) -> Store:
    """Open the store a URL names (`sqlite:///path`), or a SQLite file path.

    A new store is created, unless `create` is False: then a SQLite file that does not exist, or a PostgreSQL
    database without Signoff's schema, is refused (DatabaseMissingError) and nothing is written. One whose schema
    is older is migrated when `migrate`, else refused (MigrationNeededError); one of a newer Signoff is refused
    (SchemaTooNewError).
    """
    text = str(url_or_path)
    scheme, separator, rest = text.partition("://")
    if not separator:
        scheme, rest = "sqlite", "/" + text
    if scheme not in BACKENDS:
        raise StorageError(f"no storage backend for {scheme}:// (known: {', '.join(sorted(BACKENDS))})")
    backend = importlib.import_module(BACKENDS[scheme])
    opener = cast(Callable[..., Awaitable[Store]], backend.open_store)
    if scheme != "sqlite":
        return await opener(text, migrate=migrate, create=create)
    path = rest[1:] if rest.startswith("/") else rest
    if not create and not _is_memory(path) and not Path(path).is_file():
        raise DatabaseMissingError(f"no Signoff database at {path} (`signoff migrate` or `signoff run` creates one)")
    return await opener(path, migrate=migrate)


def _is_memory(path: str) -> bool:
    return path == ":memory:" or path.startswith("file::memory:")
