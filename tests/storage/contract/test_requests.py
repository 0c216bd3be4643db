"""The approval requests contract: requests with their votes, votes stored once, who each request waits on, messages."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from engine.approvals import ApprovalRequest, Decision, RequestStatus, Step, decide
from engine.delegation import Delegation
from engine.records import Contact, ContactKind, Record, RecordType
from storage.models import SlackIdentity, SlackMessageRef
from storage.ports import Store, VoteReads

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def a_request(request_id: str = "AR-1", record_id: str = "INV-1", age_h: int = 0) -> ApprovalRequest:
    at = NOW - timedelta(hours=age_h)
    return ApprovalRequest(request_id, "invoice", record_id, "wf", "U0REQ",
                           (Step(0, ("UA", "UB", "UC"), 2), Step(1, ("UD",), 1)), at, at)


def two_steps(request_id: str, first: tuple[str, ...], second: tuple[str, ...], age_h: int = 0) -> ApprovalRequest:
    return ApprovalRequest(id=request_id, record_type="invoice", record_id=request_id, workflow_id="wf",
                           requester="U0REQ", steps=(Step(0, first, 1), Step(1, second, 1)),
                           created_at=NOW - timedelta(hours=age_h), step_started_at=NOW - timedelta(hours=age_h))


async def awaiting(store: Store, *people: str) -> list[str]:
    async with store.read() as repo:
        return [r.id for r in await repo.open_requests_awaiting(list(people))]


async def test_a_request_its_votes_and_its_messages_round_trip(store: Store) -> None:
    decided = decide(a_request(), "UA", Decision.APPROVE, NOW).request
    async with store.unit_of_work() as repo:
        await repo.insert_request(a_request())
        await repo.update_request(decided)
        await repo.add_message(SlackMessageRef("AR-1", 1, "UD", "D2", "2.0001"))
        await repo.add_message(SlackMessageRef("AR-1", 0, "UA", "D1", "1.0001"))
        await repo.add_message(SlackMessageRef("AR-1", 0, None, "C1", "1.0002"))
        await repo.add_message(SlackMessageRef("AR-1", 0, "UB", "D1", "1.0001"))
    async with store.read() as repo:
        loaded = await repo.get_request("AR-1")
        refs = await repo.messages_for("AR-1")
        assert await repo.get_request("AR-2") is None and await repo.messages_for("AR-2") == []
    assert loaded == decided and loaded.status is RequestStatus.PENDING
    assert refs == [SlackMessageRef("AR-1", 0, None, "C1", "1.0002"), SlackMessageRef("AR-1", 0, "UB", "D1", "1.0001"),
                    SlackMessageRef("AR-1", 1, "UD", "D2", "2.0001")]


async def test_a_stored_vote_is_never_duplicated_nor_changed(store: Store) -> None:
    first = decide(a_request(), "UA", Decision.APPROVE, NOW).request
    async with store.unit_of_work() as repo:
        await repo.insert_request(a_request())
        await repo.update_request(first)
        await repo.update_request(first)
        changed = replace(first, votes=(replace(first.votes[0], decision=Decision.REJECT, reason="no"),))
        await repo.update_request(changed)
        assert await repo.count_votes("AR-1") == 1
        assert await repo.has_vote("AR-1", 0, "UA") and not await repo.has_vote("AR-1", 1, "UA")
        second = decide(first, "UB", Decision.APPROVE, NOW + timedelta(minutes=1)).request
        await repo.update_request(second)
    async with store.read() as repo:
        loaded = await repo.get_request("AR-1")
    assert loaded == second and [v.approver for v in loaded.votes] == ["UA", "UB"]
    assert loaded.votes[0].decision is Decision.APPROVE and loaded.current_step == 1


async def test_requests_of_a_record_and_pending_ones(store: Store) -> None:
    rejected = replace(a_request("AR-1", age_h=3), status=RequestStatus.REJECTED, decided_at=NOW)
    async with store.unit_of_work() as repo:
        await repo.insert_request(rejected)
        await repo.insert_request(a_request("AR-2", age_h=1))
        await repo.insert_request(a_request("AR-3", "INV-3", age_h=2))
    async with store.read() as repo:
        of_record = [r.id for r in await repo.requests_for_record("invoice", "INV-1")]
        pending = await repo.open_request_for("invoice", "INV-1")
        assert await repo.open_request_for("invoice", "INV-9") is None
        opened = [r.id for r in await repo.open_requests()]
        limited = [r.id for r in await repo.open_requests(limit=1)]
        ids = await repo.open_request_ids([("invoice", "INV-1"), ("invoice", "INV-3"), ("bill", "INV-1")])
        by_id = await repo.requests_by_id(["AR-1", "AR-3", "AR-9"])
    assert of_record == ["AR-1", "AR-2"] and pending is not None and pending.id == "AR-2"
    assert opened == ["AR-3", "AR-2"] and limited == ["AR-3"] and sorted(ids) == ["AR-2", "AR-3"]
    assert by_id == {"AR-1": rejected, "AR-3": a_request("AR-3", "INV-3", age_h=2)}


def rejected_by(request: ApprovalRequest, approver: str, reason: str, at: datetime) -> ApprovalRequest:
    """Return a request rejected by one approver of its first step."""
    return decide(request, approver, Decision.REJECT, at, reason).request


async def test_the_rejection_before_a_resubmission_is_the_latest_earlier_one(store: Store) -> None:
    asked = [a_request("AR-1", age_h=5), a_request("AR-2", age_h=3), a_request("AR-3", age_h=1),
             a_request("AR-4", "INV-2", age_h=2), a_request("AR-5", age_h=0)]
    first = rejected_by(asked[0], "UA", "Wrong vendor", NOW - timedelta(hours=4))
    second = rejected_by(asked[1], "UB", "Too high", NOW - timedelta(hours=2))
    other_record = rejected_by(asked[3], "UC", "Other", NOW - timedelta(hours=1))
    later = rejected_by(asked[4], "UC", "Later", NOW)
    async with store.unit_of_work() as repo:
        for request in asked:
            await repo.insert_request(request)
        for request in (first, second, other_record, later):
            await repo.update_request(request)
    async with store.read() as repo:
        assert await repo.earlier_rejection(asked[2]) == second.votes[0]
        assert await repo.earlier_rejection(second) == first.votes[0]
        assert await repo.earlier_rejection(first) is None
        assert await repo.earlier_rejection(other_record) is None


@pytest.mark.parametrize(("between", "is_told"), [(RequestStatus.APPROVED, False), (RequestStatus.EXPIRED, False),
                                                  (RequestStatus.CANCELLED, True)])
async def test_a_rejection_is_told_only_when_it_was_the_last_decision_before(
    store: Store, between: RequestStatus, is_told: bool,
) -> None:
    asked = [a_request("AR-1", age_h=5), a_request("AR-2", age_h=3), a_request("AR-3", age_h=1)]
    rejected = rejected_by(asked[0], "UA", "Wrong vendor", NOW - timedelta(hours=4))
    async with store.unit_of_work() as repo:
        for request in asked:
            await repo.insert_request(request)
        await repo.update_request(rejected)
        await repo.update_request(replace(asked[1], status=between, decided_at=NOW - timedelta(hours=2)))
    async with store.read() as repo:
        assert await repo.earlier_rejection(asked[2]) == (rejected.votes[0] if is_told else None)


async def test_tasks_follow_the_current_step_and_end_with_the_decision(store: Store) -> None:
    first = two_steps("AR-1", ("U1", "U2"), ("U3",), age_h=2)
    async with store.unit_of_work() as repo:
        await repo.insert_request(first)
        await repo.insert_request(two_steps("AR-2", ("U2",), ("U1",), age_h=1))
    found = (await awaiting(store, "U1"), await awaiting(store, "U2"), await awaiting(store, "U3"))
    assert found == (["AR-1"], ["AR-1", "AR-2"], [])
    assert await awaiting(store, "U1", "U2") == ["AR-1", "AR-2"] and await awaiting(store) == []
    async with store.unit_of_work() as repo:
        await repo.update_request(replace(first, current_step=1, step_started_at=NOW))
    assert (await awaiting(store, "U1"), await awaiting(store, "U3")) == ([], ["AR-1"])
    async with store.unit_of_work() as repo:
        await repo.update_request(replace(first, current_step=1, status=RequestStatus.APPROVED, decided_at=NOW))
    assert (await awaiting(store, "U3"), await awaiting(store, "U2")) == ([], ["AR-2"])


async def test_votes_and_tasks_follow_every_update_of_a_request_read_in_the_same_unit_of_work(store: Store) -> None:
    both_first = two_steps("AR-1", ("U1", "U2"), ("U3",))
    async with store.unit_of_work() as repo:
        await repo.insert_request(replace(both_first, steps=(replace(both_first.steps[0], min_approvers=2),
                                                             both_first.steps[1])))
    async with store.unit_of_work() as repo:
        read = await repo.get_request("AR-1")
        assert read is not None
        voted = decide(read, "U1", Decision.APPROVE, NOW).request
        await repo.update_request(voted)
        swapped = replace(voted, steps=(replace(voted.steps[0], approvers=("U1", "U4")), *voted.steps[1:]))
        await repo.update_request(swapped)
    assert (await awaiting(store, "U2"), await awaiting(store, "U4")) == ([], ["AR-1"])
    async with store.unit_of_work() as repo:
        read = await repo.get_request("AR-1")
        assert read is not None and [v.approver for v in read.votes] == ["U1"]
        advanced = decide(read, "U4", Decision.APPROVE, NOW + timedelta(minutes=1)).request
        await repo.update_request(advanced)
        assert await repo.count_votes("AR-1") == 2 and advanced.current_step == 1
    assert (await awaiting(store, "U4"), await awaiting(store, "U3")) == ([], ["AR-1"])


async def test_a_vote_reads_its_request_principals_record_and_contacts_together(store: Store) -> None:
    record = Record(type=RecordType.INVOICE, id="INV-1", created_by="U0REQ", customer="C1", vendor="V9",
                    created_at=NOW, updated_at=NOW)
    async with store.unit_of_work() as repo:
        await repo.insert_request(a_request())
        await repo.update_request(decide(a_request(), "UA", Decision.APPROVE, NOW).request)
        await repo.save_record(record)
        await repo.save_contact(Contact(kind=ContactKind.CUSTOMER, id="C1", name="Acme"), NOW)
        await repo.save_contact(Contact(kind=ContactKind.VENDOR, id="V1"), NOW)
        await repo.save_slack_identity(SlackIdentity("ua@example.com", "UA", NOW, NOW + timedelta(days=1)))
        await repo.start_delegation(Delegation("UB", "UA", NOW - timedelta(hours=1), NOW + timedelta(days=1)))
    async with store.unit_of_work() as repo:
        reads = await repo.read_vote("AR-1", "UA", NOW)
        assert reads.request is not None and [v.approver for v in reads.request.votes] == ["UA"]
        assert reads.principals == ("ua@example.com", "UB") and reads.voter_emails == ("ua@example.com",)
        assert reads.record is not None and reads.record.id == "INV-1"
        assert list(reads.contacts) == ["customer:C1"] and reads.contacts["customer:C1"].name == "Acme"
        listed = await repo.list_workflows()
        await repo.update_request(decide(reads.request, "UB", Decision.APPROVE, NOW).request)  # its version was read
    async with store.read() as repo:
        assert await repo.read_vote("AR-9", "UA", NOW) == VoteReads(None, ("ua@example.com", "UB"), None, {},
                                                                          ("ua@example.com",))
        assert await repo.count_votes("AR-1") == 2
        assert await repo.list_workflows() == listed


async def test_a_vote_on_a_request_whose_record_is_gone_reads_no_record(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.insert_request(a_request())
    async with store.read() as repo:
        reads = await repo.read_vote("AR-1", "UC", NOW)
    assert reads.request == a_request() and reads.principals == () and reads.record is None and reads.contacts == {}
