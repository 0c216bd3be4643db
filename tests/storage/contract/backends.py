"""The storage backends the contract suite runs against, each able to open a store and age its schema."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any, Protocol, cast

from storage import open_store
from storage.ports import Repository, Store

BACKENDS = ["sqlite"]


class Backend(Protocol):
    """One place to keep a store: open it (again, as another process would), and age its schema."""

    name: str

    async def open(self) -> Store:
        """Open (migrating if needed) the store of this test; each call is a separate handle on it."""
        ...

    def set_schema_version(self, version: int) -> None:
        """Mark the closed store as written by a Signoff of this schema version."""
        ...

    async def update_elsewhere(self, repo: Repository, request_id: str) -> None:
        """Make another writer update a request, and this unit of work see that commit (as READ COMMITTED does)."""
        ...


class SqliteBackend:
    """A SQLite file in the test's directory."""

    name = "sqlite"

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "contract.db"

    async def open(self) -> Store:
        """Open the file through the generic entry point."""
        return await open_store(f"sqlite:///{self.path}")

    def set_schema_version(self, version: int) -> None:
        """Rewrite the schema_version row."""
        with closing(sqlite3.connect(self.path)) as conn, conn:
            conn.execute("UPDATE schema_version SET version = ?", (version,))

    async def update_elsewhere(self, repo: Repository, request_id: str) -> None:
        """Bump the version on the unit of work's own connection: SQLite serialises writers, so no other one
        can commit while this unit of work runs; what it would see of one is this change."""
        conn = cast(Any, repo).conn
        await conn.execute("UPDATE approval_requests SET version = version + 1 WHERE id = ?", (request_id,))


def make_backend(name: str, tmp_path: Path) -> Backend:
    """Return the backend of this name, keeping its store under `tmp_path` (or in a schema of its own)."""
    if name == "sqlite":
        return SqliteBackend(tmp_path)
    raise AssertionError(f"unknown backend {name}")
