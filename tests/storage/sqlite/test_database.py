"""The SQLite database: numbered migrations, the schema_version row, triggers and read-only reader connections."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.records import Record
from storage import open_store
from storage.errors import SchemaTooNewError, StorageError
from storage.models import hash_token, new_token
from storage.sqlite import Database
from storage.sqlite.db import CHECKPOINT_EVERY_S, migrations

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def a_record(**changes: object) -> Record:
    data = {"type": "invoice", "id": "INV-1", "amount": "12500.10", "currency": "EUR", "created_at": NOW,
            "updated_at": NOW, "class": "Services", "fields": {"po": "PO-7"}}
    data.update(changes)
    return Record.model_validate(data)


@pytest.fixture
async def db(tmp_path: Path):
    database = await Database.open(tmp_path / "signoff.db")
    yield database
    await database.close()


async def test_new_database_is_migrated_to_latest(db: Database) -> None:
    async with db.read() as repo:
        assert await repo.schema_version() == migrations()[-1][0]


async def test_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    database = await Database.open(path)
    async with database.unit_of_work() as repo:
        await repo.conn.execute("UPDATE schema_version SET version = 999")
    await database.close()
    with pytest.raises(SchemaTooNewError, match="999"):
        await Database.open(path)


async def test_audit_is_append_only(db: Database) -> None:
    async with db.unit_of_work() as repo:
        await repo.audit(NOW, "U1", "created", ("invoice", "INV-1"), None, "none")
    with pytest.raises(Exception, match="append-only"):
        async with db.unit_of_work() as repo:
            await repo.conn.execute("DELETE FROM audit")
    async with db.read() as repo:
        assert len(await repo.audit_trail("invoice", "INV-1")) == 1


async def test_a_read_cannot_write(db: Database) -> None:
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        async with db.read() as reader:
            await reader.save_record(a_record())
    async with db.read() as reader:
        assert await reader.get_record("invoice", "INV-1") is None


async def test_only_the_hash_of_a_token_is_stored(db: Database) -> None:
    token = new_token()
    async with db.unit_of_work() as repo:
        assert await repo.add_api_token("erp", "integration", hash_token(token), NOW)
    async with db.read() as repo:
        stored = await repo.conn.execute_fetchall("SELECT * FROM api_tokens")
    assert token not in repr([tuple(r) for r in stored]) and hash_token(token) in repr([tuple(r) for r in stored])


@pytest.mark.parametrize("form", ["path", "url", "plain text"])
async def test_a_store_is_opened_from_a_path_or_a_sqlite_url(tmp_path: Path, form: str) -> None:
    path = tmp_path / "opened.db"
    target = {"path": path, "url": f"sqlite:///{path}", "plain text": str(path)}[form]
    store = await open_store(target)
    try:
        assert isinstance(store, Database) and store.path == str(path) and path.exists()
    finally:
        await store.close()


async def test_an_unknown_scheme_is_refused() -> None:
    with pytest.raises(StorageError, match="no storage backend for mysql"):
        await open_store("mysql://localhost/signoff")


def in_database_file(path: Path, sql: str) -> list[tuple[object, ...]]:
    """Read the database file alone, as if its WAL did not exist (what a checkpoint copied into it; nothing while
    even the schema is only in the WAL)."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?immutable=1", uri=True)) as file_only:
        try:
            return list(file_only.execute(sql))
        except sqlite3.OperationalError:
            return []


async def test_commits_reach_the_database_file_through_a_checkpoint_off_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "signoff.db"
    db = await Database.open(path)
    try:
        assert (await db._conn.execute_fetchall("PRAGMA wal_autocheckpoint"))[0][0] == 0
        async with db.unit_of_work() as repo:
            await repo.save_record(a_record(id="INV-CHECKPOINTED"))
        deadline = time.monotonic() + 10 * CHECKPOINT_EVERY_S
        query = "SELECT id FROM records WHERE id = 'INV-CHECKPOINTED'"
        while not in_database_file(path, query):
            assert time.monotonic() < deadline, "the commit never reached the database file"
            await asyncio.sleep(0.05)
    finally:
        await db.close()
