"""A vote that loses a race to another process (its request changed since it was read) is decided again, once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from bot.core.retry import retrying
from engine.approvals import ApprovalRequest, Decision
from storage.errors import ConcurrentUpdateError
from tests.support.harness import Harness

WORKFLOW: dict[str, Any] = {
    "name": "Large invoices need two approvals", "record_type": "invoice", "trigger": "created",
    "conditions": [{"field": "amount", "op": "gt", "value": "5000"}],
    "actions": [{"type": "approval", "steps": [{"approvers": ["U01AAA", "U01BBB"], "min_approvers": 2}]}],
}
INVOICE = {"amount": "12500.00", "currency": "EUR", "customer": "C-ACME", "created_by": "U0REQ", "source": "manual"}


async def test_a_lost_race_is_run_again_and_the_last_one_is_raised() -> None:
    calls: list[int] = []

    async def losing_twice() -> str:
        calls.append(len(calls))
        if len(calls) <= 2:
            raise ConcurrentUpdateError("changed")
        return "done"

    assert await retrying(losing_twice) == "done" and calls == [0, 1, 2]

    async def always_losing() -> str:
        calls.append(len(calls))
        raise ConcurrentUpdateError("changed")

    calls.clear()
    with pytest.raises(ConcurrentUpdateError):
        await retrying(always_losing, attempts=3)
    assert calls == [0, 1, 2]


class RacingStore:
    """The runtime's store, where another process updates each request in the first `races` units of work."""

    def __init__(self, inner: Any, races: int) -> None:
        self.inner = inner
        self.races = races

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[Any]:
        async with self.inner.unit_of_work() as repo:
            if self.races > 0:
                self.races -= 1
                update = repo.update_request

                async def update_after_another(request: ApprovalRequest) -> None:
                    # SQLite serialises writers: what this unit of work would see of another process's commit
                    await repo.conn.execute("UPDATE approval_requests SET version = version + 1 WHERE id = ?",
                                            (request.id,))
                    await update(request)

                repo.update_request = update_after_another
            yield repo

    transaction = unit_of_work


async def submitted_invoice(signoff: Harness) -> None:
    assert (await signoff.post("/api/v1/workflows", WORKFLOW)).status_code == 201
    assert (await signoff.put("/api/v1/records/invoice/INV-1001", INVOICE)).status_code == 200
    submitted = await signoff.post("/api/v1/records/invoice/INV-1001/submit")
    assert submitted.status_code == 200 and submitted.json()["approval_status"] == "pending", submitted.text


async def _request_id(signoff: Harness) -> str:
    async with signoff.db.read() as repo:
        [request] = await repo.requests_for_record("invoice", "INV-1001")
    return request.id


async def test_a_vote_that_lost_a_race_is_decided_again_and_counted_once(signoff: Harness) -> None:
    await submitted_invoice(signoff)
    request_id = await _request_id(signoff)
    service = signoff.runtime.service
    racing = RacingStore(service.deps.db, races=2)
    service.deps.db = racing
    try:
        result = await service.approvals.decide(request_id, "U01AAA", Decision.APPROVE)
        again = await service.approvals.decide(request_id, "U01AAA", Decision.APPROVE)
    finally:
        service.deps.db = racing.inner
    assert result.is_counted and not again.is_counted and racing.races == 0
    async with signoff.db.read() as repo:
        request = await repo.get_request(request_id)
        trail = await repo.audit_trail("request", request_id)
    assert request is not None and [v.approver for v in request.votes] == ["U01AAA"]
    assert [e.action for e in trail].count("vote_approve") == 1


async def test_a_vote_that_keeps_losing_gives_up_and_changes_nothing(signoff: Harness) -> None:
    await submitted_invoice(signoff)
    request_id = await _request_id(signoff)
    service = signoff.runtime.service
    racing = RacingStore(service.deps.db, races=100)
    service.deps.db = racing
    try:
        with pytest.raises(ConcurrentUpdateError):
            await service.approvals.decide(request_id, "U01AAA", Decision.APPROVE)
    finally:
        service.deps.db = racing.inner
    async with signoff.db.read() as repo:
        request = await repo.get_request(request_id)
    assert request is not None and request.votes == ()
