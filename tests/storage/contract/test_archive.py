"""The archive contract: closed approvals leave the live tables and every read answers as before, once."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.approvals import ApprovalRequest, Decision, RequestStatus, Step, decide
from storage.models import ApprovalLink, RunFilter, SlackMessageRef, WorkflowRun
from storage.ports import Repository, Store
from tests.storage.contract.backends import Backend

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=40)
CUTOFF = NOW - timedelta(days=30)


def closed_request(request_id: str, record_id: str, decided_at: datetime) -> ApprovalRequest:
    """Return a one-step request approved by two people at `decided_at`."""
    opened = ApprovalRequest(request_id, "invoice", record_id, "wf-a", "U0REQ", (Step(0, ("UA", "UB"), 2),),
                             decided_at - timedelta(hours=1), decided_at - timedelta(hours=1))
    first = decide(opened, "UA", Decision.APPROVE, decided_at - timedelta(minutes=5)).request
    return decide(first, "UB", Decision.APPROVE, decided_at).request


def a_run(n: int, record_id: str, workflow_id: str, request_id: str | None, at: datetime) -> WorkflowRun:
    """Return one run line of a document."""
    return WorkflowRun(f"run-{n}", workflow_id, f"Workflow {workflow_id}", "invoice", record_id, "created", "done",
                       [{"type": "approval", "n": n}], at, event="approval_decision" if request_id else "actions",
                       request_id=request_id, actor="UA", decision="approve" if request_id else None, step=0)


async def add_document(repo: Repository, record_id: str, request: ApprovalRequest, first_run: int) -> None:
    """Store a request as it went (opened, then decided), its runs, audit lines and one Slack message."""
    opened = replace(request, status=RequestStatus.PENDING, votes=(), decided_at=None)
    await repo.insert_request(opened)
    await repo.update_request(request)
    at = request.created_at
    await repo.insert_runs([a_run(first_run + i, record_id, wf, request.id if wf == "wf-a" else None, at)
                            for i, wf in enumerate(("wf-a", "wf-b", "wf-a"))])
    await repo.audit(at, "U0REQ", "submitted", ("invoice", record_id), "none", "pending", {"request_id": request.id})
    await repo.audit(at, "UA", "vote_approve", ("request", request.id), None, None, {"step": 0})
    await repo.audit(at, "UB", "approved", ("invoice", record_id), "pending", "approved")
    await repo.add_message(SlackMessageRef(request.id, 0, "UA", "D1", f"1.{first_run:04d}"))


async def everything_read(repo: Repository, record_ids: list[str], request_ids: list[str]) -> dict[str, Any]:
    """Return what every read of requests, runs and the audit trail answers."""
    found: dict[str, Any] = {}
    for record_id in record_ids:
        found[f"requests {record_id}"] = await repo.requests_for_record("invoice", record_id)
        found[f"audit {record_id}"] = await repo.audit_trail("invoice", record_id)
        found[f"runs {record_id}"] = await repo.list_runs(RunFilter(record_type="invoice", record_id=record_id))
    for request_id in request_ids:
        found[f"request {request_id}"] = await repo.get_request(request_id)
        found[f"version {request_id}"] = await repo.request_version(request_id)
        found[f"votes {request_id}"] = await repo.count_votes(request_id)
        found[f"audit {request_id}"] = await repo.audit_trail("request", request_id)
    for workflow_id in (None, "wf-a", "wf-b"):
        found[f"runs of {workflow_id}"] = await all_pages(repo, workflow_id, 4)
    found["run-11"] = await repo.get_run("run-11")
    return found


async def all_pages(repo: Repository, workflow_id: str | None, limit: int) -> list[str]:
    """Return the ids of a workflow's runs (every run when None), newest first, read page by page."""
    ids: list[str] = []
    before: int | None = None
    while page := await repo.list_runs(RunFilter(workflow_id=workflow_id, before_seq=before, limit=limit)):
        ids += [run.id for run in page]
        before = page[-1].seq
    return ids


async def seed(store: Store) -> None:
    """Store five documents: three closed long ago, one closed recently, one with a pending request too."""
    async with store.unit_of_work() as repo:
        for n in range(1, 4):
            await add_document(repo, f"INV-{n}", closed_request(f"AR-{n}", f"INV-{n}", LONG_AGO), n * 10)
        await add_document(repo, "INV-4", closed_request("AR-4", "INV-4", NOW - timedelta(days=2)), 40)
        await add_document(repo, "INV-5", closed_request("AR-5", "INV-5", LONG_AGO), 50)
        await repo.insert_request(replace(closed_request("AR-6", "INV-5", NOW), status=RequestStatus.PENDING,
                                          votes=(), decided_at=None))


RECORDS = [f"INV-{n}" for n in range(1, 6)]
REQUESTS = [f"AR-{n}" for n in range(1, 7)]


async def test_archived_documents_read_as_before_and_are_archived_once(store: Store) -> None:
    await seed(store)
    async with store.read() as repo:
        before = await everything_read(repo, RECORDS, REQUESTS)
    async with store.unit_of_work() as repo:
        assert await repo.archive_closed(CUTOFF, NOW, limit=2) == 2
    async with store.unit_of_work() as repo:
        assert await repo.archive_closed(CUTOFF, NOW) == 1
        assert await repo.archive_closed(CUTOFF, NOW) == 0
    async with store.read() as repo:
        after = await everything_read(repo, RECORDS, REQUESTS)
        assert [await repo.messages_for(f"AR-{n}") for n in range(1, 6)] == [[], [], [], [
            SlackMessageRef("AR-4", 0, "UA", "D1", "1.0040")], [SlackMessageRef("AR-5", 0, "UA", "D1", "1.0050")]]
    assert after == before
    assert before["request AR-1"].status is RequestStatus.APPROVED and len(before["runs of None"]) == 15


async def test_a_document_with_a_live_e_mail_link_waits_for_it_to_expire(store: Store) -> None:
    await seed(store)
    link = ApprovalLink("AR-1", 0, "UA", "approve", "ua@example.com", LONG_AGO, NOW + timedelta(days=1))
    async with store.unit_of_work() as repo:
        await repo.add_approval_link("hash-1", link)
    async with store.unit_of_work() as repo:
        assert await repo.archive_closed(CUTOFF, NOW, limit=2) == 2, "the one waiting for its link takes no place"
    async with store.unit_of_work() as repo:
        assert await repo.archive_closed(CUTOFF, NOW + timedelta(days=2)) == 1
        assert (await repo.get_request("AR-1")) == closed_request("AR-1", "INV-1", LONG_AGO)


async def test_a_document_archived_twice_reads_as_one_history(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await add_document(repo, "INV-1", closed_request("AR-1", "INV-1", LONG_AGO - timedelta(days=60)), 10)
        assert await repo.archive_closed(CUTOFF, NOW) == 1
        await add_document(repo, "INV-1", closed_request("AR-2", "INV-1", LONG_AGO), 20)
    async with store.read() as repo:
        before = await everything_read(repo, ["INV-1"], ["AR-1", "AR-2"])
    async with store.unit_of_work() as repo:
        assert await repo.archive_closed(CUTOFF, NOW) == 1
    async with store.read() as repo:
        assert await everything_read(repo, ["INV-1"], ["AR-1", "AR-2"]) == before
    assert [r.id for r in before["requests INV-1"]] == ["AR-1", "AR-2"]
    assert [e.action for e in before["audit INV-1"]] == ["submitted", "approved"] * 2


async def test_concurrent_archivers_archive_each_document_once(backend: Backend, store: Store) -> None:
    await seed(store)
    other = await backend.open()
    try:
        async def archive(on: Store) -> int:
            async with on.unit_of_work() as repo:
                return await repo.archive_closed(CUTOFF, NOW)

        counts = await asyncio.gather(archive(store), archive(other))
    finally:
        await other.close()
    assert sorted(counts) in ([0, 3], [1, 2])
    async with store.read() as repo:
        assert [len(await repo.audit_trail("invoice", f"INV-{n}")) for n in range(1, 4)] == [2, 2, 2]
        assert len(await all_pages(repo, None, 100)) == 15


@pytest.mark.parametrize("limit", [1, 2, 5])
async def test_runs_list_newest_first_across_live_and_archived_parts(store: Store, limit: int) -> None:
    await seed(store)
    async with store.read() as repo:
        before = {wf: await all_pages(repo, wf, limit) for wf in (None, "wf-a", "wf-b")}
    for days in (45, 35, 25):
        async with store.unit_of_work() as repo:
            await repo.archive_closed(NOW - timedelta(days=days), NOW, limit=1)
    async with store.read() as repo:
        after = {wf: await all_pages(repo, wf, limit) for wf in (None, "wf-a", "wf-b")}
    assert after == before
