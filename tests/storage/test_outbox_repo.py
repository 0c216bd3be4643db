"""The outbox: refreshes of one target coalesce while one is still queued."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage.sqlite import Database

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path: Path):
    database = await Database.open(tmp_path / "signoff.db")
    yield database
    await database.close()


async def _queued(db: Database, kind: str = "refresh") -> list[str]:
    async with db.read() as repo:
        return [i.target for i in await repo.outbox_items("queued") if i.kind == kind]


async def test_a_refresh_still_queued_absorbs_the_next_ones(db: Database) -> None:
    async with db.transaction() as repo:
        assert await repo.enqueue_coalesced("refresh", "AR-1", {"request_id": "AR-1"}, NOW)
        assert not await repo.enqueue_coalesced("refresh", "AR-1", {"request_id": "AR-1"}, NOW)
        assert await repo.enqueue_coalesced("refresh", "AR-2", {"request_id": "AR-2"}, NOW)
        assert await repo.enqueue_coalesced("other", "AR-1", {}, NOW)
    assert sorted(await _queued(db)) == ["AR-1", "AR-2"]


async def test_a_refresh_already_claimed_does_not_absorb_a_new_one(db: Database) -> None:
    async with db.transaction() as repo:
        await repo.enqueue_coalesced("refresh", "AR-1", {"request_id": "AR-1"}, NOW)
        assert [i.target for i in await repo.claim_due(NOW, 60, 10)] == ["AR-1"]
        assert await repo.enqueue_coalesced("refresh", "AR-1", {"request_id": "AR-1"}, NOW)
    assert await _queued(db) == ["AR-1"]


async def test_a_refresh_waiting_to_be_retried_later_does_not_delay_a_new_one(db: Database) -> None:
    async with db.transaction() as repo:
        await repo.enqueue_coalesced("refresh", "AR-1", {"request_id": "AR-1"}, NOW)
        [item] = await repo.claim_due(NOW, 60, 10)
        await repo.mark_retry(item.id, NOW + timedelta(minutes=5), "ratelimited")
        assert await repo.enqueue_coalesced("refresh", "AR-1", {"request_id": "AR-1"}, NOW)
        assert not await repo.enqueue_coalesced("refresh", "AR-1", {"request_id": "AR-1"}, NOW)
    assert await _queued(db) == ["AR-1", "AR-1"]


async def test_compaction_deletes_old_deliveries_only(db: Database) -> None:
    async with db.transaction() as repo:
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
    async with db.transaction() as repo:
        assert await repo.compact_outbox(NOW - timedelta(days=30), limit=1) == 1
        assert await repo.compact_outbox(NOW - timedelta(days=30)) == 1
        assert await repo.compact_outbox(NOW - timedelta(days=30)) == 0
        items = {i.key: i.status for i in await repo.outbox_items()}
    assert items == {"k:recent": "sent", "k:queued": "queued", "k:dead": "dead"}
