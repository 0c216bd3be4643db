"""On PostgreSQL one store runs several units of work side by side: they lock rows, not the database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from engine.approvals import ApprovalRequest, Step
from storage import open_store
from storage.postgres.db import WRITERS

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


async def test_a_unit_of_work_holding_a_request_does_not_hold_up_the_others(pg_url: str) -> None:
    store = await open_store(pg_url)
    try:
        async with store.unit_of_work() as repo:
            await repo.insert_request(ApprovalRequest("AR-1", "invoice", "INV-1", "wf", "U0REQ",
                                                      (Step(0, ("UA",), 1),), NOW, NOW))
        async with store.unit_of_work() as holding:
            assert await holding.get_request("AR-1") is not None
            for n in range(WRITERS * 2):
                async with asyncio.timeout(5), store.unit_of_work() as other:
                    await other.set_company_name(f"Company {n}")
        async with store.read() as repo:
            assert await repo.company_name() == f"Company {WRITERS * 2 - 1}"
    finally:
        await store.close()
