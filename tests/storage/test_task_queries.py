"""A person's tasks and documents are found through their own index rows, and follow every write of a request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.approvals import ApprovalRequest, RequestStatus, Step
from storage.sqlite import Database

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "signoff.db")
    yield database
    await database.close()


def two_steps(request_id: str, first: tuple[str, ...], second: tuple[str, ...], age_h: int = 0) -> ApprovalRequest:
    return ApprovalRequest(id=request_id, record_type="invoice", record_id=request_id, workflow_id="wf",
                           requester="U0REQ", steps=(Step(0, first, 1), Step(1, second, 1)),
                           created_at=NOW - timedelta(hours=age_h), step_started_at=NOW - timedelta(hours=age_h))


async def awaiting(db: Database, *people: str) -> list[str]:
    async with db.read() as repo:
        return [r.id for r in await repo.open_requests_awaiting(list(people))]


async def test_tasks_follow_the_current_step_and_end_with_the_decision(db: Database) -> None:
    first = two_steps("AR-1", ("U1", "U2"), ("U3",), age_h=2)
    async with db.transaction() as repo:
        await repo.insert_request(first)
        await repo.insert_request(two_steps("AR-2", ("U2",), ("U1",), age_h=1))
    found = (await awaiting(db, "U1"), await awaiting(db, "U2"), await awaiting(db, "U3"))
    assert found == (["AR-1"], ["AR-1", "AR-2"], [])
    assert await awaiting(db, "U1", "U2") == ["AR-1", "AR-2"]
    async with db.transaction() as repo:
        await repo.update_request(replace(first, current_step=1, step_started_at=NOW))
    assert (await awaiting(db, "U1"), await awaiting(db, "U3")) == ([], ["AR-1"])
    async with db.transaction() as repo:
        await repo.update_request(replace(first, current_step=1, status=RequestStatus.APPROVED, decided_at=NOW))
    assert (await awaiting(db, "U3"), await awaiting(db, "U2")) == ([], ["AR-2"])


@pytest.mark.parametrize(
    ("sql", "index"),
    [
        ("SELECT r.* FROM (SELECT DISTINCT request_id FROM request_approvers WHERE approver IN (?)) a "
         "CROSS JOIN approval_requests r ON r.id = a.request_id WHERE r.status='pending'", "request_approvers"),
        ("SELECT data FROM records WHERE json_extract(data, '$.created_by') = ? ORDER BY created_at DESC, id LIMIT 40",
         "records_by_creator"),
        ("SELECT data FROM records WHERE type=? AND id IN (?,?)", "sqlite_autoindex_records"),
        ("SELECT data FROM contacts WHERE kind=? AND id IN (?,?)", "sqlite_autoindex_contacts"),
    ],
)
async def test_home_queries_read_an_index_not_every_row(db: Database, sql: str, index: str) -> None:
    async with db.read() as repo:
        rows = await repo.conn.execute_fetchall(f"EXPLAIN QUERY PLAN {sql}", ["U1"] * sql.count("?"))
    plan = " ".join(str(tuple(row)) for row in rows)
    assert index in plan and "SCAN" not in plan.replace("SCAN a", "") and "requests_by_status" not in plan, plan
