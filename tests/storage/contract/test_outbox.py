"""The outbox contract: idempotency keys, coalesced refreshes, leases that expire, retries, dead letters, compaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from storage.models import THROTTLED_ERROR, NewMessage
from storage.ports import Store

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


async def _queued(store: Store, kind: str = "refresh") -> list[str]:
    async with store.read() as repo:
        return [i.target for i in await repo.outbox_items("queued") if i.kind == kind]


async def test_a_refresh_still_queued_absorbs_the_next_ones(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.enqueue_coalesced("refresh", "AR-1", {"request_id": "AR-1"}, NOW)
        await repo.enqueue_coalesced("refresh", "AR-1", {"request_id": "AR-1"}, NOW)
        await repo.enqueue_coalesced("refresh", "AR-2", {"request_id": "AR-2"}, NOW)
        await repo.enqueue_coalesced("other", "AR-1", {}, NOW)
    assert sorted(await _queued(store)) == ["AR-1", "AR-2"]
    assert await _queued(store, "other") == ["AR-1"]


async def test_a_refresh_already_claimed_does_not_absorb_a_new_one(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.enqueue_coalesced("refresh", "AR-1", {"request_id": "AR-1"}, NOW)
        assert [i.target for i in await repo.claim_due(NOW, 60, 10)] == ["AR-1"]
        await repo.enqueue_coalesced("refresh", "AR-1", {"request_id": "AR-1"}, NOW)
    assert await _queued(store) == ["AR-1"]


async def test_a_refresh_waiting_to_be_retried_later_does_not_delay_a_new_one(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.enqueue_coalesced("refresh", "AR-1", {"request_id": "AR-1"}, NOW)
        [item] = await repo.claim_due(NOW, 60, 10)
        await repo.mark_retry(item.id, NOW + timedelta(minutes=5), "ratelimited")
        await repo.enqueue_coalesced("refresh", "AR-1", {"request_id": "AR-1"}, NOW)
        await repo.enqueue_coalesced("refresh", "AR-1", {"request_id": "AR-1"}, NOW)
    assert await _queued(store) == ["AR-1", "AR-1"]


async def test_compaction_deletes_old_deliveries_only(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.enqueue("message", "U1", {"message": {"text": "old keyed"}}, NOW, key="k:old")
        await repo.enqueue("message", "U1", {"message": {"text": "old unkeyed"}}, NOW)
        await repo.enqueue("message", "U1", {"message": {"text": "recent"}}, NOW, key="k:recent")
        await repo.enqueue("message", "U1", {"message": {"text": "queued"}}, NOW, key="k:queued")
        await repo.enqueue("message", "U1", {"message": {"text": "dead"}}, NOW, key="k:dead")
        claimed = {i.key: i for i in await repo.claim_due(NOW, 60, 5) if i.key != "k:queued"}
        await repo.mark_sent(claimed["k:old"].id, NOW - timedelta(days=31), {"ts": "1.0"})
        await repo.mark_sent(claimed[None].id, NOW - timedelta(days=31))
        await repo.mark_sent(claimed["k:recent"].id, NOW - timedelta(days=29))
        await repo.mark_dead(claimed["k:dead"].id, "channel_not_found")
        await repo.mark_retry(next(i.id for i in await repo.outbox_items() if i.key == "k:queued"), NOW, "later")
    async with store.unit_of_work() as repo:
        assert await repo.compact_outbox(NOW - timedelta(days=30), limit=1) == 1
        assert await repo.compact_outbox(NOW - timedelta(days=30)) == 1
        assert await repo.compact_outbox(NOW - timedelta(days=30)) == 0
        items = {i.key: i.status for i in await repo.outbox_items()}
    assert items == {"k:recent": "sent", "k:queued": "queued", "k:dead": "dead"}


async def test_an_idempotency_key_queues_once_in_any_status(store: Store) -> None:
    async with store.unit_of_work() as repo:
        assert await repo.enqueue("message", "U1", {"n": 1}, NOW, key="k")
        assert not await repo.enqueue("message", "U2", {"n": 2}, NOW, key="k")
        await repo.enqueue_many([NewMessage("message", "U3", {"n": 3}, "k"), NewMessage("message", "U4", {}, "m"),
                                 NewMessage("message", "U5", {}, "m"), NewMessage("message", "U6", {})], NOW)
        [item] = await repo.claim_due(NOW, 60, 1)
        await repo.mark_dead(item.id, "channel_not_found")
        assert not await repo.enqueue("message", "U1", {"n": 1}, NOW, key="k")
        items = await repo.outbox_items()
    assert [(i.key, i.target) for i in items] == [(None, "U6"), ("m", "U4"), ("k", "U1")]
    assert items[-1].payload == {"n": 1} and items[-1].status == "dead"


async def test_a_claim_leases_due_items_in_order_and_an_expired_lease_makes_them_due_again(store: Store) -> None:
    later = NOW + timedelta(minutes=5)
    async with store.unit_of_work() as repo:
        await repo.enqueue("message", "U1", {}, NOW, key="b", not_before=NOW + timedelta(seconds=1))
        await repo.enqueue("message", "U1", {}, NOW, key="a")
        await repo.enqueue("message", "U1", {}, NOW, key="later", not_before=later)
        assert await repo.next_due_at() == NOW
        claimed = await repo.claim_due(NOW + timedelta(seconds=1), 60, 10)
        assert [(i.key, i.status, i.attempts) for i in claimed] == [("a", "queued", 0), ("b", "queued", 0)]
        assert await repo.claim_due(NOW + timedelta(seconds=30), 60, 10) == []
        assert await repo.next_due_at() == later
        assert await repo.next_outbox_due() == NOW + timedelta(seconds=61)
        again = await repo.claim_due(NOW + timedelta(seconds=61), 60, 10)
        assert [(i.key, i.status, i.attempts) for i in again] == [("a", "sending", 1), ("b", "sending", 1)]
        item = await repo.outbox_item(again[0].id)
    assert item is not None and (item.status, item.attempts) == ("sending", 2)


async def test_retry_dead_letter_and_requeue(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.enqueue("message", "U1", {"text": "hi"}, NOW, key="k")
        [item] = await repo.claim_due(NOW, 60, 10)
        await repo.mark_retry(item.id, NOW + timedelta(minutes=1), "x" * 3000)
        retried = await repo.outbox_item(item.id)
        assert retried is not None and retried.status == "queued" and retried.last_error == "x" * 2000
        assert retried.not_before == NOW + timedelta(minutes=1) and await repo.claim_due(NOW, 60, 10) == []
        [item] = await repo.claim_due(NOW + timedelta(minutes=1), 60, 10)
        assert not await repo.requeue_dead(item.id, NOW)
        await repo.mark_dead(item.id, "invalid_blocks")
        assert await repo.claim_due(NOW + timedelta(days=1), 60, 10) == []
        assert await repo.outbox_counts() == {"dead": 1}
        requeued_at = NOW + timedelta(hours=2)
        assert await repo.requeue_dead(item.id, requeued_at) and not await repo.requeue_dead(item.id, requeued_at)
        back = await repo.outbox_item(item.id)
        [final] = await repo.claim_due(requeued_at, 60, 10)
        await repo.mark_sent(final.id, requeued_at, {"ts": "1.0"})
        sent = await repo.outbox_item(item.id)
    assert back is not None and (back.status, back.attempts, back.not_before) == ("queued", 0, requeued_at)
    assert back.retried_from == requeued_at and back.created_at == NOW and back.last_error == "invalid_blocks"
    assert sent is not None and sent.status == "sent" and sent.result == {"ts": "1.0"}
    assert await _queued(store) == []


async def test_compaction_forgets_the_keys_of_what_it_deletes(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.enqueue("message", "U1", {}, NOW, key="k")
        [item] = await repo.claim_due(NOW, 60, 10)
        await repo.mark_sent(item.id, NOW)
        assert await repo.compact_outbox(NOW + timedelta(seconds=1)) == 1
        assert await repo.outbox_item(item.id) is None
        assert await repo.enqueue("message", "U1", {}, NOW, key="k")


async def test_the_live_leases_of_dead_owners_end_at_once_and_keep_their_doubt(store: Store) -> None:
    async with store.unit_of_work() as repo:
        for target in ("U1", "U2", "U3"):
            await repo.enqueue("message", target, {"message": {"text": target}}, NOW)
        [dead] = await repo.claim_outbox(NOW, 100.0, 60, per_target=1, limit=1, owner="host:1:1:dead")
        [live] = await repo.claim_outbox(NOW, 100.0, 60, per_target=1, limit=1, owner="host:2:2:live")
        [ended] = await repo.claim_outbox(NOW, 100.0, 1, per_target=1, limit=1, owner="host:3:3:ended")
    async with store.read() as repo:
        assert sorted(await repo.outbox_owners(NOW + timedelta(seconds=5))) == ["host:1:1:dead", "host:2:2:live"]
    async with store.unit_of_work() as repo:
        assert await repo.end_outbox_leases([], NOW) == 0
        assert await repo.end_outbox_leases(["host:1:1:dead", "host:9:9:none"], NOW + timedelta(seconds=5)) == 1
    async with store.unit_of_work() as repo:
        taken = await repo.claim_outbox(NOW + timedelta(seconds=5), 200.0, 60, per_target=1, limit=5, owner="me")
    assert {(c.item.id, c.uncertain_since) for c in taken} == {(dead.item.id, 100.0), (ended.item.id, 100.0)}
    assert live.item.id not in {c.item.id for c in taken}


async def test_items_waiting_after_a_failure_are_due_at_once_when_asked_and_those_a_rate_limit_put_back_are_not(
    store: Store,
) -> None:
    async with store.unit_of_work() as repo:
        for target in ("U1", "U2", "U3", "U4"):
            await repo.enqueue("message", target, {"message": {"text": target}}, NOW)
        await repo.enqueue("message", "U5", {}, NOW, not_before=NOW + timedelta(hours=1))
        failed, throttled, sent, leased = await repo.claim_outbox(NOW, 100.0, 60, per_target=1, limit=4, owner="A")
        await repo.mark_retry(failed.item.id, NOW + timedelta(minutes=1), "SlackApiError: 503", owner="A")
        await repo.release_outbox([throttled], NOW + timedelta(seconds=30), f"{THROTTLED_ERROR}: retry after 30 s",
                                  owner="A")
        await repo.mark_sent(sent.item.id, NOW, owner="A")
    async with store.unit_of_work() as repo:
        assert await repo.retry_outbox_now(NOW + timedelta(seconds=1)) == 1
    async with store.unit_of_work() as repo:
        due = await repo.claim_outbox(NOW + timedelta(seconds=1), 101.0, 60, per_target=1, limit=10, owner="B")
    assert [c.item.target for c in due] == [failed.item.target], "the throttled, leased, sent and later wait"
    assert leased.item.target not in {c.item.target for c in due}
