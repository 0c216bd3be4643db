"""Leases with owners: outbox items marked only by the owner that holds them, due subjects handled by one sweep."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage.errors import LeaseLostError
from storage.models import OutboxHold
from storage.ports import Store
from tests.storage.contract.backends import Backend

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(seconds=61)


async def statuses(store: Store) -> dict[str | None, str]:
    async with store.read() as repo:
        return {i.key: i.status for i in await repo.outbox_items()}


async def test_a_sender_whose_lease_was_taken_over_cannot_mark_the_item(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.enqueue("message", "U1", {}, NOW, key="k")
        [item] = await repo.claim_due(NOW, 60, 10, owner="A")
    async with store.unit_of_work() as repo:
        assert [i.id for i in await repo.claim_due(LATER, 60, 10, owner="B")] == [item.id]
    for mark in (lambda r: r.mark_sent(item.id, LATER, {"ts": "1"}, owner="A"),
                 lambda r: r.mark_retry(item.id, LATER, "boom", owner="A"),
                 lambda r: r.mark_dead(item.id, "boom", owner="A")):
        with pytest.raises(LeaseLostError):
            async with store.unit_of_work() as repo:
                await repo.enqueue("message", "U2", {}, NOW, key="rolled back")
                await mark(repo)
    async with store.unit_of_work() as repo:
        assert await repo.renew_outbox([item.id], LATER + timedelta(minutes=5), owner="A") == []
        assert await repo.mark_sent_many([(item.id, LATER, {"ts": "1"})], owner="A") == [item.id]
        await repo.release_outbox([], LATER, owner="A")
    assert await statuses(store) == {"k": "sending"}
    with pytest.raises(LeaseLostError):
        async with store.unit_of_work() as repo:
            await repo.mark_sent(item.id, LATER, {"ts": "2"}, owner="B")
            with pytest.raises(LeaseLostError):
                await repo.mark_sent(item.id, LATER, {"ts": "3"}, owner="B")
                await repo.next_outbox_due()  # the failed write is reported by the next statement at the latest
    assert await statuses(store) == {"k": "sending"}
    async with store.unit_of_work() as repo:
        await repo.mark_sent(item.id, LATER, {"ts": "2"}, owner="B")
        sent = await repo.outbox_item(item.id)
    assert sent is not None and sent.status == "sent" and sent.result == {"ts": "2"}


async def test_an_owner_keeps_an_expired_lease_no_one_took_over(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.enqueue("message", "U1", {}, NOW, key="a")
        await repo.enqueue("message", "U1", {}, NOW, key="b")
        claimed = await repo.claim_outbox(NOW, 1000.0, 60, per_target=5, limit=10, owner="A")
    async with store.unit_of_work() as repo:
        assert await repo.renew_outbox([c.item.id for c in claimed], LATER, owner="A") == [1, 2]
        assert await repo.claim_outbox(NOW + timedelta(seconds=30), 2000.0, 60, 5, 10, owner="B") == []
        assert await repo.mark_sent_many([(1, LATER, None)], owner="A") == []
        await repo.release_outbox(claimed[1:], NOW, owner="A")
    assert await statuses(store) == {"a": "sent", "b": "queued"}


async def test_a_conversation_is_left_to_the_owner_sending_in_it(store: Store) -> None:
    async with store.unit_of_work() as repo:
        for key, target in (("u1-a", "U1"), ("u1-b", "U1"), ("u2-a", "U2")):
            await repo.enqueue("message", target, {}, NOW, key=key)
        first = await repo.claim_outbox(NOW, 1000.0, 60, per_target=1, limit=10, owner="A",
                                        accept=lambda item: item.target == "U1")
    async with store.unit_of_work() as repo:
        second = await repo.claim_outbox(NOW, 1000.0, 60, per_target=5, limit=10, owner="B")
        again = await repo.claim_outbox(NOW, 1000.0, 60, per_target=5, limit=10, owner="A")
        after = await repo.claim_outbox(LATER, 1000.0, 60, per_target=5, limit=10, owner="B")
    assert [c.item.key for c in first] == ["u1-a"]
    assert [c.item.key for c in second] == ["u2-a"]
    assert [c.item.key for c in again] == ["u1-b"]
    assert sorted(c.item.key or "" for c in after) == ["u1-a", "u1-b", "u2-a"]


async def test_without_an_owner_a_claim_is_the_stores_own(backend: Backend) -> None:
    first, second = await backend.open(), await backend.open()
    try:
        assert first.owner and second.owner and first.owner != second.owner
        async with first.unit_of_work() as repo:
            await repo.enqueue("message", "U1", {}, NOW, key="k")
            [item] = await repo.claim_due(NOW, 0, 10)
        with pytest.raises(LeaseLostError):
            async with second.unit_of_work() as repo:
                await repo.mark_sent(item.id, NOW)
        async with first.unit_of_work() as repo:
            await repo.mark_sent(item.id, NOW, owner=first.owner)
        assert await statuses(second) == {"k": "sent"}
    finally:
        await first.close()
        await second.close()


async def _subjects(store: Store) -> None:
    async with store.unit_of_work() as repo:
        for back_s, subject in ((3, "U1"), (2, "U2"), (1, "U3")):
            await repo.schedule_subject("digest", subject, NOW - timedelta(seconds=back_s), "daily")


async def test_a_due_subject_is_leased_to_one_sweep_until_its_lease_ends(backend: Backend) -> None:
    first, second = await backend.open(), await backend.open()
    try:
        await _subjects(first)
        async with first.unit_of_work() as repo:
            held = await repo.claim_due_rows(NOW, 2, "A", 60)
        async with second.unit_of_work() as repo:
            others = await repo.claim_due_rows(NOW + timedelta(seconds=59), 10, "B", 60)
            assert await repo.claim_due_rows(NOW + timedelta(seconds=59), 10, "C", 60) == []
        async with second.read() as repo:
            assert await repo.due_rows(NOW + timedelta(seconds=59), 10) == []
        async with second.unit_of_work() as repo:
            taken_over = await repo.claim_due_rows(LATER, 10, "B", 60)
            await repo.set_next_due([(r.kind, r.subject_id, NOW + timedelta(days=1)) for r in held], owner="A")
        async with first.read() as repo:
            after_a = {r.subject_id: r.next_due_at for r in await repo.subjects_of("digest")}
        async with first.unit_of_work() as repo:
            await repo.set_next_due([(r.kind, r.subject_id, NOW + timedelta(days=2)) for r in taken_over], owner="B")
        async with first.read() as repo:
            assert [r.subject_id for r in await repo.due_rows(NOW + timedelta(days=1), 10)] == ["U3"]
            assert [r.subject_id for r in await repo.due_rows(NOW + timedelta(days=2), 10)] == ["U3", "U1", "U2"]
        async with second.read() as repo:
            assert [r.subject_id for r in await repo.due_rows(LATER + timedelta(seconds=61), 10)] == ["U3"]
    finally:
        await first.close()
        await second.close()
    assert [r.subject_id for r in held] == ["U1", "U2"] and [r.subject_id for r in others] == ["U3"]
    assert [r.subject_id for r in taken_over] == ["U1", "U2"]
    assert after_a == {f"U{n}": NOW - timedelta(seconds=4 - n) for n in (1, 2, 3)}


async def test_storing_the_next_due_time_without_an_owner_ends_any_lease(store: Store) -> None:
    await _subjects(store)
    async with store.unit_of_work() as repo:
        [row] = await repo.claim_due_rows(NOW, 1, "A", 60)
        await repo.set_next_due([(row.kind, row.subject_id, NOW)])
        again = await repo.claim_due_rows(NOW, 10, "B", 60)
    assert [r.subject_id for r in again] == ["U2", "U3", "U1"]


async def test_a_hold_keeps_recent_items_of_its_kinds_out_of_a_claim(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.enqueue("refresh", "C1", {"n": 1}, NOW - timedelta(seconds=5), key="old refresh")
        await repo.enqueue("refresh", "C1", {"n": 2}, NOW - timedelta(seconds=1), key="new refresh")
        await repo.enqueue("message", "C2", {}, NOW - timedelta(seconds=1), key="message")
    hold = OutboxHold(("refresh",), NOW - timedelta(seconds=2))
    async with store.unit_of_work() as repo:
        assert await repo.first_held_outbox(hold) == NOW - timedelta(seconds=1)
        claimed = await repo.claim_outbox(NOW, 1000.0, 60, per_target=5, limit=10, owner="A", hold=hold)
    assert sorted(c.item.key or "" for c in claimed) == ["message", "old refresh"]
    assert await statuses(store) == {"old refresh": "sending", "new refresh": "queued", "message": "sending"}
    async with store.unit_of_work() as repo:
        assert await repo.first_held_outbox(OutboxHold(("refresh",), NOW)) is None
