"""The scheduler's tables: due times kept by triggers, actions claimed once by key, outbox claims and releases."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from engine.approvals import ApprovalRequest, RequestStatus, Step
from engine.planning import ActionKind, DueAction
from engine.records import Record
from storage.ports import Store

NOW = datetime(2026, 10, 20, 7, 0, tzinfo=UTC)


def request(request_id: str = "AR-1", started: datetime = NOW) -> ApprovalRequest:
    return ApprovalRequest(request_id, "invoice", "INV-1", "wf", "U0REQ", (Step(0, ("U1",), 1),), started, started)


def action(key: str, covers: tuple[str, ...] = ()) -> DueAction:
    return DueAction(ActionKind.REMIND, key, ("approval", "AR-1"), NOW, {}, covers)


async def due(store: Store, at: datetime) -> list[tuple[str, str]]:
    async with store.read() as repo:
        return [(row.kind, row.subject_id) for row in await repo.due_rows(at, 100)]


async def test_requests_and_invoices_become_due_when_they_change(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.insert_request(request())
        await repo.save_record(Record.model_validate({"type": "invoice", "id": "INV-1", "created_at": NOW,
                                                      "updated_at": NOW}))
        await repo.save_record(Record.model_validate({"type": "bill", "id": "B-1", "created_at": NOW,
                                                      "updated_at": NOW}))
    assert await due(store, NOW) == [("approval", "AR-1"), ("invoice", "INV-1")]
    async with store.unit_of_work() as repo:
        await repo.set_next_due([("approval", "AR-1", NOW + timedelta(days=1)), ("invoice", "INV-1", None)])
    assert await due(store, NOW + timedelta(hours=1)) == []
    assert await due(store, NOW + timedelta(days=1)) == [("approval", "AR-1")]
    async with store.unit_of_work() as repo:
        await repo.update_request(replace(request(), status=RequestStatus.APPROVED, decided_at=NOW))
    assert await due(store, NOW + timedelta(days=2)) == []


async def test_an_action_is_claimed_once_with_what_it_covers(store: Store) -> None:
    async with store.unit_of_work() as repo:
        first = await repo.claim_actions([action("remind:AR-1:0:1"), action("escalate:AR-1:0:1", ("remind:AR-1:0:3",))],
                                         NOW)
    async with store.unit_of_work() as repo:
        again = await repo.claim_actions([action("remind:AR-1:0:1"), action("remind:AR-1:0:3"),
                                          action("remind:AR-1:0:2"), action("remind:AR-1:0:2")], NOW)
        assert await repo.count_performed() == 4
    assert [a.key for a in first] == ["remind:AR-1:0:1", "escalate:AR-1:0:1"]
    assert [a.key for a in again] == ["remind:AR-1:0:2"]


async def test_the_last_nudge_of_each_step_is_when_its_latest_reminder_or_escalation_was_claimed(
        store: Store) -> None:
    def nudge(key: str, subject: str = "AR-1", kind: ActionKind = ActionKind.REMIND) -> DueAction:
        return DueAction(kind, key, ("approval", subject), NOW, {})

    async with store.unit_of_work() as repo:
        await repo.claim_actions([nudge("remind:AR-1:0:1"), nudge("remind:AR-2:1:4", "AR-2")], NOW)
    async with store.unit_of_work() as repo:
        await repo.claim_actions([nudge("escalate:AR-1:0:1", kind=ActionKind.ESCALATE),
                                  nudge("remind:AR-1:1:1"), nudge("expire:AR-1", kind=ActionKind.EXPIRE)],
                                 NOW + timedelta(hours=2))
    async with store.read() as repo:
        assert await repo.last_nudges(["AR-1", "AR-2", "AR-3"]) == {
            "AR-1": {0: NOW + timedelta(hours=2), 1: NOW + timedelta(hours=2)}, "AR-2": {1: NOW}}
        assert await repo.last_nudges([]) == {}


async def test_a_rolled_back_claim_leaves_the_action_to_do(store: Store) -> None:
    with pytest.raises(RuntimeError):
        async with store.unit_of_work() as repo:
            await repo.claim_actions([action("remind:AR-1:0:1")], NOW)
            raise RuntimeError("crash while performing")
    async with store.read() as repo:
        assert not await repo.is_performed("remind:AR-1:0:1")


async def test_outbox_claims_keep_the_doubt_of_an_earlier_attempt(store: Store) -> None:
    async with store.unit_of_work() as repo:
        for target in ("U1", "U1", "U1", "U2"):
            await repo.enqueue("message", target, {"message": {"text": "hi"}}, NOW)
    async with store.unit_of_work() as repo:
        claimed = await repo.claim_outbox(NOW, 1000.0, 60, per_target=2, limit=10)
    assert [(c.item.target, c.uncertain_since, c.item.attempts) for c in claimed] == [
        ("U1", None, 1), ("U1", None, 1), ("U2", None, 1)]
    later = NOW + timedelta(minutes=2)
    async with store.unit_of_work() as repo:
        await repo.release_outbox(claimed[1:2], later)
        reclaimed = await repo.claim_outbox(later, 2000.0, 60, per_target=5, limit=10)
    assert sorted((c.item.id, c.uncertain_since, c.item.attempts) for c in reclaimed) == [
        (1, 1000.0, 2), (2, None, 1), (3, None, 1), (4, 1000.0, 2)]
    async with store.unit_of_work() as repo:
        await repo.mark_sent_many([(c.item.id, later, {"ts": "1"}) for c in reclaimed])
        assert await repo.outbox_counts() == {"sent": 4}


async def test_subjects_are_scheduled_replanned_and_forgotten(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.schedule_subject("digest", "U1", NOW + timedelta(hours=2), "daily")
        await repo.schedule_subject("digest", "U2", None, None)
        await repo.schedule_subject("digest", "U1", NOW + timedelta(hours=1), "weekly")
        assert await repo.count_subjects() == {"digest": 2}
    assert await due(store, NOW + timedelta(hours=1)) == [("digest", "U1")]
    async with store.unit_of_work() as repo:
        assert await repo.replan_all("digest", NOW) == 2
        subjects = sorted((r.subject_id, r.next_due_at, r.spec) for r in await repo.subjects_of("digest"))
        await repo.forget_subject("digest", "U2")
        await repo.set_next_due([("digest", "U9", NOW)])
        assert [r.subject_id for r in await repo.subjects_of("digest")] == ["U1"]
    assert subjects == [("U1", NOW, "weekly"), ("U2", NOW, None)]
    async with store.read() as repo:
        assert [r.subject_id for r in await repo.due_rows(NOW, 1)] == ["U1"]


async def test_settings_documents_are_replaced_whole(store: Store) -> None:
    async with store.unit_of_work() as repo:
        assert await repo.get_setting("invoice_reminders") is None
        await repo.put_setting("invoice_reminders", {"on": True, "days": [1, 2]}, NOW)
        await repo.put_setting("invoice_reminders", {"on": False}, NOW)
    async with store.read() as repo:
        assert await repo.get_setting("invoice_reminders") == {"on": False}
