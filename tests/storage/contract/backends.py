"""The storage backends the contract suite runs against, each able to open a store and age its schema."""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
from collections.abc import Awaitable
from contextlib import closing
from pathlib import Path
from typing import Any, Protocol, cast

import psycopg

from storage import open_store
from storage.ports import Repository, Store
from tests.support.postgres import fresh_database

BACKENDS = ["sqlite", "postgresql"]


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


class PostgresBackend:
    """A database of its own in the session's PostgreSQL cluster."""

    name = "postgresql"

    def __init__(self, cluster_url: str) -> None:
        self.url = fresh_database(cluster_url, f"contract_{next(_DATABASES)}", template=_migrated(cluster_url))

    async def open(self) -> Store:
        """Open the database through the generic entry point."""
        return await open_store(self.url)

    def set_schema_version(self, version: int) -> None:
        """Rewrite the schema_version row."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("UPDATE schema_version SET version = %s", (version,))

    async def update_elsewhere(self, repo: Repository, request_id: str) -> None:
        """Commit an update of the request from another connection; the unit of work (READ COMMITTED) sees it."""
        async with await psycopg.AsyncConnection.connect(self.url, autocommit=True) as other:
            await other.execute("UPDATE approval_requests SET version = version + 1 WHERE id = %s", (request_id,))


_DATABASES = itertools.count()
_TEMPLATES: dict[str, str] = {}


def _migrated(cluster_url: str) -> str:
    """Return the name of a migrated, unused database of the cluster to copy (made once per cluster)."""
    if cluster_url not in _TEMPLATES:
        url = fresh_database(cluster_url, "contract_template")
        asyncio.run(_close(open_store(url)))
        _TEMPLATES[cluster_url] = "contract_template"
    return _TEMPLATES[cluster_url]


async def _close(opening: Awaitable[Store]) -> None:
    await (await opening).close()


def make_backend(name: str, tmp_path: Path, cluster_url: str | None = None) -> Backend:
    """Return the backend of this name, keeping its store under `tmp_path` (or in a database of its own)."""
    if name == "sqlite":
        return SqliteBackend(tmp_path)
    if name == "postgresql" and cluster_url is not None:
        return PostgresBackend(cluster_url)
    raise AssertionError(f"unknown backend {name}")
