"""The database: migrations, the schema_version guard, transactions, round trips."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from engine.approvals import ApprovalRequest, Decision, RequestStatus, Step, decide
from engine.records import Record
from storage.errors import SchemaTooNewError
from storage.models import SlackMessageRef
from storage.sqlite import Database
from storage.sqlite.db import migrations

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def a_record(**changes: object) -> Record:
    data = {"type": "invoice", "id": "INV-1", "amount": "12500.10", "currency": "EUR", "created_at": NOW,
            "updated_at": NOW, "class": "Services", "fields": {"po": "PO-7"}}
    data.update(changes)
    return Record.model_validate(data)


def a_request() -> ApprovalRequest:
    return ApprovalRequest("AR-1", "invoice", "INV-1", "wf", "U0REQ",
                           (Step(0, ("UA", "UB", "UC"), 2), Step(1, ("UD",), 1)), NOW, NOW)


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
    async with database.transaction() as repo:
        await repo.conn.execute("UPDATE schema_version SET version = 999")
    await database.close()
    with pytest.raises(SchemaTooNewError, match="999"):
        await Database.open(path)


async def test_record_round_trip_keeps_exact_decimals(db: Database) -> None:
    async with db.transaction() as repo:
        await repo.save_record(a_record())
    async with db.read() as repo:
        loaded = await repo.get_record("invoice", "INV-1")
    assert loaded == a_record() and loaded.amount == Decimal("12500.10") and loaded.class_ == "Services"


async def test_failed_transaction_changes_nothing(db: Database) -> None:
    with pytest.raises(RuntimeError):
        async with db.transaction() as repo:
            await repo.save_record(a_record())
            raise RuntimeError("boom")
    async with db.read() as repo:
        assert await repo.get_record("invoice", "INV-1") is None


async def test_request_votes_and_messages_round_trip(db: Database) -> None:
    decided = decide(a_request(), "UA", Decision.APPROVE, NOW).request
    async with db.transaction() as repo:
        await repo.insert_request(a_request())
        await repo.update_request(decided)
        await repo.add_message(SlackMessageRef("AR-1", 0, "UA", "D1", "1.0001"))
    async with db.read() as repo:
        loaded = await repo.get_request("AR-1")
        refs = await repo.messages_for("AR-1")
    assert loaded == decided and loaded.status is RequestStatus.PENDING
    assert refs == [SlackMessageRef("AR-1", 0, "UA", "D1", "1.0001")]


async def test_audit_is_append_only(db: Database) -> None:
    async with db.transaction() as repo:
        await repo.audit(NOW, "U1", "created", ("invoice", "INV-1"), None, "none")
    with pytest.raises(Exception, match="append-only"):
        async with db.transaction() as repo:
            await repo.conn.execute("DELETE FROM audit")
    async with db.read() as repo:
        assert len(await repo.audit_trail("invoice", "INV-1")) == 1


async def test_concurrent_transactions_serialise(db: Database) -> None:
    async with db.transaction() as repo:
        await repo.insert_request(a_request())

    async def vote(who: str) -> None:
        async with db.transaction() as repo:
            request = await repo.get_request("AR-1")
            assert request is not None
            await asyncio.sleep(0)
            await repo.update_request(decide(request, who, Decision.APPROVE, NOW).request)

    await asyncio.gather(*(vote(w) for w in ["UA", "UB", "UC"] * 10), return_exceptions=True)
    async with db.read() as repo:
        request = await repo.get_request("AR-1")
    assert request is not None and len(request.approvals_on(0)) == 2 and request.current_step == 1


async def test_data_survives_reopen(tmp_path: Path) -> None:
    path = tmp_path / "keep.db"
    first = await Database.open(path)
    async with first.transaction() as repo:
        await repo.save_record(a_record())
    await first.close()
    second = await Database.open(path)
    async with second.read() as repo:
        assert await repo.get_record("invoice", "INV-1") == a_record()
    await second.close()


async def test_a_read_does_not_wait_for_a_write_in_progress_and_sees_the_last_commit(db: Database) -> None:
    async with db.transaction() as repo:
        await repo.save_record(a_record(id="INV-OLD"))
    async with db.transaction() as repo:
        await repo.save_record(a_record(id="INV-NEW"))
        async with asyncio.timeout(2), db.read() as reader:
            assert await reader.get_record("invoice", "INV-OLD") is not None
            assert await reader.get_record("invoice", "INV-NEW") is None
    async with db.read() as reader:
        assert await reader.get_record("invoice", "INV-NEW") is not None


async def test_a_read_cannot_write(db: Database) -> None:
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        async with db.read() as reader:
            await reader.save_record(a_record())
    async with db.read() as reader:
        assert await reader.get_record("invoice", "INV-1") is None
