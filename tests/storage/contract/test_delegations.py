"""The delegation and task queries of the repository, on a real SQLite database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.approvals import ApprovalRequest, Decision, Step, Vote
from engine.delegation import Delegation
from engine.records import Record, RecordType
from storage.ports import Store

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def request(n: int, approvers: tuple[str, ...], current_step: int = 0) -> ApprovalRequest:
    return ApprovalRequest(
        id=f"AR-{n}", record_type="invoice", record_id=f"INV-{n}", workflow_id="wf", requester="UREQ",
        steps=(Step(0, approvers, 1), Step(1, ("U0LAST",), 1)), created_at=NOW,
        step_started_at=NOW + timedelta(minutes=-n), current_step=current_step,
    )


async def test_delegations_start_replace_end_and_expire(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.start_delegation(Delegation("U0A", "U0B", NOW, NOW + timedelta(days=2)))
        await repo.start_delegation(Delegation("U0C", "U0B", NOW + timedelta(hours=1), NOW + timedelta(days=1)))
        await repo.start_delegation(Delegation("U0A", "U0D", NOW + timedelta(hours=2), NOW + timedelta(days=3)))
    later = NOW + timedelta(hours=3)
    async with store.read() as repo:
        assert await repo.principals_of("U0B", later) == ("U0C",)
        assert await repo.principals_of("U0B", NOW + timedelta(minutes=90)) == ("U0A", "U0C")
        assert await repo.delegates_of(["U0A", "U0C", "U0X"], later) == {"U0A": "U0D", "U0C": "U0B"}
        assert await repo.principals_of("U0B", NOW + timedelta(days=1)) == ()
    async with store.unit_of_work() as repo:
        ended = await repo.end_delegations("U0A", later)
        assert [d.delegate for d in ended] == ["U0D"]
        assert await repo.end_delegations("U0A", later) == []
    async with store.read() as repo:
        assert await repo.delegations_active_at(later, principal="U0A") == []
        assert [d.principal for d in await repo.delegations_active_at(later)] == ["U0C"]


async def test_the_latest_delegation_of_each_principal_active_or_not(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.start_delegation(Delegation("UA", "UB", NOW, NOW + timedelta(days=1)))
        await repo.start_delegation(Delegation("UA", "UC", NOW + timedelta(hours=2), NOW + timedelta(days=2)))
        await repo.start_delegation(Delegation("UD", "UB", NOW - timedelta(days=9), NOW - timedelta(days=8)))
    async with store.read() as repo:
        latest = {d.principal: d for d in await repo.latest_delegations(["UA", "UD", "UX"])}
        assert await repo.latest_delegations([]) == []
    assert sorted(latest) == ["UA", "UD"]
    assert (latest["UA"].delegate, latest["UA"].ended_at) == ("UC", None)
    assert latest["UD"].end() == NOW - timedelta(days=8)


async def test_open_requests_awaiting_people_on_the_current_step_only(store: Store) -> None:
    async with store.unit_of_work() as repo:
        for n, approvers, step in ((1, ("U0A", "U0B"), 0), (2, ("U0B",), 0), (3, ("U0A",), 1), (4, ("U0C",), 0)):
            await repo.insert_request(request(n, approvers, step))
        voted = request(2, ("U0B",))
        await repo.update_request(ApprovalRequest(**{**voted.__dict__, "votes": (
            Vote(0, "U0B", Decision.APPROVE, NOW, None, "U0Z"),)}))
    async with store.read() as repo:
        assert [r.id for r in await repo.open_requests_awaiting(["U0A"])] == ["AR-1"]
        found = await repo.open_requests_awaiting(["U0B", "U0LAST"])
        assert [r.id for r in found] == ["AR-3", "AR-2", "AR-1"]
        assert found[1].votes[0].acted_by == "U0Z"
        assert await repo.open_requests_awaiting([]) == []


async def test_records_by_key_and_by_creator_in_chunks(store: Store) -> None:
    async with store.unit_of_work() as repo:
        for n in range(1200):
            creator = "U0A" if n % 2 else "U0B"
            await repo.save_record(Record(type=RecordType.EXPENSE, id=f"EXP-{n:04d}", created_by=creator,
                                          created_at=NOW + timedelta(seconds=n), updated_at=NOW))
        await repo.audit(NOW, None, "reminded", ("request", "AR-1"))
        await repo.audit(NOW + timedelta(hours=1), None, "reminded", ("request", "AR-1"))
        await repo.audit(NOW, None, "approved", ("request", "AR-2"))
    async with store.read() as repo:
        keys = [("expense", f"EXP-{n:04d}") for n in range(1200)] + [("expense", "NOPE")]
        assert len(await repo.records_by_key(keys)) == 1200
        assert await repo.contacts_by_key([("customer", "NOPE")]) == {}
        latest, total = await repo.records_created_by("U0A", 3)
        assert total == 600 and [r.id for r in latest] == ["EXP-1199", "EXP-1197", "EXP-1195"]
        stamps = await repo.last_audit_of("request", [f"AR-{n}" for n in range(1000)], ("reminded", "escalated"))
        assert stamps == {"AR-1": NOW + timedelta(hours=1)}
