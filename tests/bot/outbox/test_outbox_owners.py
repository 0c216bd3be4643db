"""Outbox leases name the worker that holds them: a conversation another process sends in is left to it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import Counter

import pytest

from storage.owners import new_owner
from tests.support.harness import Harness


async def queue(signoff: Harness, targets: list[str]) -> list[str]:
    now = signoff.runtime.service.clock.now()
    texts = [f"owned-{i} for {target}" for i, target in enumerate(targets)]
    async with signoff.db.unit_of_work() as repo:
        for i, (target, text) in enumerate(zip(targets, texts, strict=True)):
            await repo.enqueue("message", target, {"message": {"text": text}}, now, key=f"owned:{i}")
    return texts


def posted(signoff: Harness) -> list[str]:
    return [c.params.get("text") for c in signoff.workspace.calls("chat.postMessage") if c.status == 200]


async def test_a_conversation_another_process_sends_in_waits_for_its_lease(signoff: Harness) -> None:
    texts = await queue(signoff, ["U01AAA", "U01AAA", "U01BBB"])
    async with signoff.db.unit_of_work() as repo:
        [held] = await repo.claim_outbox(signoff.runtime.service.clock.now(), time.time(), 1.0, per_target=1,
                                         limit=1, owner="elsewhere:1::0")
    started = time.monotonic()
    await signoff.runtime.deliverer.drain(wait_s=0)
    assert held.item.target == "U01AAA" and time.monotonic() - started >= 0.9
    assert posted(signoff) == [texts[2], texts[0], texts[1]]
    async with signoff.db.read() as repo:
        assert await repo.outbox_counts() == {"sent": 3}


async def test_an_item_taken_over_while_in_hand_is_not_recorded_twice(
    signoff: Harness, caplog: pytest.LogCaptureFixture,
) -> None:
    deliverer = signoff.runtime.deliverer
    await queue(signoff, ["U01AAA"])
    now = signoff.runtime.service.clock.now()
    async with signoff.db.unit_of_work() as repo:
        [mine] = await repo.claim_outbox(now, time.time(), 0, 1, 1, owner=deliverer.owner)
        [theirs] = await repo.claim_outbox(now, time.time(), 60, 1, 1, owner="elsewhere:1::0")
        await repo.mark_sent(theirs.item.id, now, {"ts": "1.0"}, owner="elsewhere:1::0")
    deliverer._delivered.append((mine.item.id, now, {"ts": "2.0"}))
    with caplog.at_level(logging.WARNING, logger="bot.outbox.worker"):
        await deliverer.drain(wait_s=0)
    async with signoff.db.read() as repo:
        item = await repo.outbox_item(mine.item.id)
    assert item is not None and item.status == "sent" and item.result == {"ts": "1.0"}
    assert any("another process took them over" in r.getMessage() for r in caplog.records)
    assert Counter(posted(signoff)) == Counter()


async def test_items_never_tried_are_handed_back_at_shutdown_for_another_process(signoff: Harness) -> None:
    texts = await queue(signoff, ["U01AAA"] * 6)
    deliverer = signoff.runtime.deliverer
    draining = asyncio.create_task(deliverer.drain(wait_s=0))
    await signoff.workspace.wait_for(lambda: len(posted(signoff)) >= 2, timeout_s=10)
    await deliverer.close(timeout_s=0.1)
    draining.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await draining
    async with signoff.db.read() as repo:
        items = await repo.outbox_items(limit=10)
    queued = [i for i in items if i.status == "queued"]
    assert len(posted(signoff)) + len(queued) >= len(texts) - 1, "at most the post cut short stays leased"
    assert len(queued) >= 3
    async with signoff.db.unit_of_work() as repo:
        taken = await repo.claim_outbox(signoff.runtime.service.clock.now(), time.time(), 60.0, per_target=10,
                                        limit=10, owner="elsewhere:2::0")
    assert {c.item.id for c in taken} == {i.id for i in queued}


def _gone_owner() -> str:
    """Return the owner name of a process of this host that no longer runs."""
    host, _, started, rand = new_owner().split(":")
    return f"{host}:999999999:{started}:{rand}"


async def test_items_of_a_process_of_this_host_that_died_while_sending_go_at_once(signoff: Harness) -> None:
    texts = await queue(signoff, ["U01AAA", "U01BBB"])
    now = signoff.runtime.service.clock.now()
    async with signoff.db.unit_of_work() as repo:
        await repo.claim_outbox(now, time.time(), 600.0, per_target=1, limit=1, owner=_gone_owner())
        await repo.claim_outbox(now, time.time(), 600.0, per_target=1, limit=1, owner="elsewhere:1::0")
    deliverer = signoff.runtime.deliverer
    deliverer._took_over_s = -math.inf
    await deliverer.drain(wait_s=0)
    assert posted(signoff) == [texts[0]]
    async with signoff.db.read() as repo:
        assert await repo.outbox_counts() == {"sent": 1, "sending": 1}
