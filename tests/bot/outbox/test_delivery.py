"""The outbox against the sandbox Slack: per-channel pacing, 429s, retries, dead letters, exactly once."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from bot.outbox.errors import MAX_BACKOFF_S, backoff_s
from bot.outbox.handlers import Bookkeeping
from bot.outbox.lanes import Gate, Pacer, lane_of
from bot.outbox.posts import METADATA_EVENT
from bot.outbox.worker import CLICKING_CLAIM_EVERY_S
from storage.models import InboxEntry, OutboxItem
from tests.support.harness import Harness

USERS = ("U01AAA", "U01BBB")
FINANCE = "C0FINANCE"


async def queue(signoff: Harness, targets: list[str], prefix: str = "t") -> list[str]:
    """Queue one message per target; return their texts."""
    now = signoff.runtime.service.clock.now()
    texts = []
    async with signoff.db.unit_of_work() as repo:
        for i, target in enumerate(targets):
            text = f"{prefix}-{i} for {target}"
            await repo.enqueue("message", target, {"message": {"text": text}}, now, key=f"{prefix}:{i}")
            texts.append(text)
    return texts


def posted_texts(signoff: Harness) -> Counter[str]:
    return Counter(c.params.get("text") for c in signoff.workspace.calls("chat.postMessage") if c.status == 200)


async def outbox(signoff: Harness, status: str | None = None) -> dict[str, Any]:
    response = await signoff.api.get("/api/v1/outbox", params={"status": status} if status else {})
    assert response.status_code == 200
    return dict(response.json())


@pytest.mark.parametrize(
    ("kind", "target", "lane"),
    [("message", "U01AAA", "U01AAA"), ("ask", "U01AAA", "U01AAA"), ("channel_copy", "#finance", "#finance"),
     ("refresh", "AR-1", "refresh:AR-1"), ("email", "a@b.c", "email:a@b.c"), ("webhook", "https://x", "webhook:https://x")],
)
def test_each_conversation_is_a_lane(kind: str, target: str, lane: str) -> None:
    item = OutboxItem(1, None, kind, target, {}, "queued", 0, None, None)  # type: ignore[arg-type]
    assert lane_of(item) == lane


@pytest.mark.parametrize(
    ("burst", "latency_s", "sends"),
    [
        (2, 0.0, [0, 0, 1, 2, 3]),
        (2, 0.1, [0, 0.1, 1.1, 2.1, 3.1]),
        (1, 0.0, [0, 1, 2, 3]),
        (3, 0.05, [0, 0.05, 0.1, 1.05, 2.05]),
    ],
)
def test_pacer_allows_a_burst_then_one_per_second_counted_from_slacks_answers(
    burst: int, latency_s: float, sends: list[float],
) -> None:
    now = [0.0]
    pacer = Pacer(1.0, burst, clock=lambda: now[0])
    got = []
    for _ in sends:
        now[0] += pacer.delay_s("C1")
        got.append(round(now[0], 3))
        now[0] += latency_s
        pacer.settle("C1")
    assert got == sends


def test_a_quiet_lane_may_burst_again() -> None:
    now = [0.0]
    pacer = Pacer(1.0, 2, clock=lambda: now[0])
    for _ in range(4):
        now[0] += pacer.delay_s("C1")
        pacer.settle("C1")
    now[0] += 10
    assert pacer.delay_s("C1") == 0
    pacer.settle("C1")
    assert pacer.delay_s("C1") == 0


def test_a_paused_lane_waits_for_retry_after_alone() -> None:
    now = [10.0]
    pacer = Pacer(1.0, 2, clock=lambda: now[0])
    pacer.pause("C1", 2.0)
    assert pacer.is_paused("C1") and not pacer.is_paused("C2")
    assert pacer.delay_s("C1") == pytest.approx(2.0) and pacer.delay_s("C2") == 0
    now[0] = 12.0
    assert pacer.delay_s("C1") == 0 and not pacer.is_paused("C1")


async def test_a_throttled_channel_waits_alone_and_loses_nothing(signoff: Harness) -> None:
    signoff.workspace.throttle_channel(FINANCE, retry_after_s=2)
    texts = await queue(signoff, [FINANCE, *USERS] * 3)
    await signoff.runtime.deliverer.drain()
    assert posted_texts(signoff) == Counter(texts)
    calls = signoff.workspace.calls("chat.postMessage")
    refused = [c for c in calls if c.status == 429]
    finance_ok = [c.time for c in calls if c.status == 200 and FINANCE in (c.params.get("text") or "")]
    others = [c.time for c in calls if c.status == 200 and FINANCE not in (c.params.get("text") or "")]
    assert len(refused) == 1 and signoff.workspace.ratelimited_count(FINANCE) == 1
    assert min(finance_ok) - refused[0].time >= 1.9
    assert max(others) < min(finance_ok), "the other conversations kept flowing meanwhile"
    assert (await outbox(signoff))["counts"] == {"sent": 9}
    metrics = (await signoff.api.get("/metrics")).text
    assert "signoff_outbox_ratelimited_total 1" in metrics and "signoff_outbox_sent 9" in metrics


async def test_server_errors_are_retried_with_backoff(signoff: Harness) -> None:
    signoff.workspace.fail_next("chat.postMessage", status=503, times=2)
    texts = await queue(signoff, ["U01AAA"])
    await signoff.runtime.deliverer.drain()
    assert posted_texts(signoff) == Counter(texts)
    item = (await outbox(signoff, "sent"))["items"][0]
    assert item["attempts"] == 3 and "internal_error" not in (item["last_error"] or "x")


async def test_permanent_failures_are_dead_lettered_and_visible(signoff: Harness) -> None:
    await queue(signoff, ["C0NOWHERE", "U01AAA"])
    await signoff.runtime.deliverer.drain()
    dead = await outbox(signoff, "dead")
    assert [(i["target"], i["status"]) for i in dead["items"]] == [("C0NOWHERE", "dead")]
    assert "channel_not_found" in dead["items"][0]["last_error"] and dead["counts"] == {"dead": 1, "sent": 1}
    metrics = (await signoff.api.get("/metrics")).text
    assert "signoff_outbox_dead 1" in metrics and "# TYPE signoff_outbox_dead gauge" in metrics
    assert (await signoff.api.get("/api/v1/outbox", params={"status": "lost"})).status_code == 422


async def test_an_item_failing_past_the_delivery_horizon_is_dead_lettered(signoff: Harness) -> None:
    await queue(signoff, ["U01AAA"])
    signoff.runtime.service.clock.advance(timedelta(days=1, minutes=1))
    signoff.workspace.fail_next("chat.postMessage", status=500)
    await signoff.runtime.deliverer.drain()
    dead = (await outbox(signoff, "dead"))["items"]
    assert [i["attempts"] for i in dead] == [1] and "500" in dead[0]["last_error"]


async def test_deliveries_older_than_the_retention_are_deleted(signoff: Harness) -> None:
    await queue(signoff, ["U01AAA", "U01BBB"])
    await signoff.runtime.deliverer.drain()
    assert await signoff.runtime.deliverer.compact() == 0
    signoff.runtime.service.clock.advance(timedelta(days=30, minutes=1))  # type: ignore[attr-defined]
    await queue(signoff, ["U01AAA"], prefix="recent")
    await signoff.runtime.deliverer.drain()
    assert await signoff.runtime.deliverer.compact() == 2
    assert [i["key"] for i in (await outbox(signoff, "sent"))["items"]] == ["recent:0"]
    assert set(posted_texts(signoff).values()) == {1}


@pytest.mark.parametrize("attempts", [1, 2, 5, 7, 8, 30, 10_000])
def test_backoff_never_waits_more_than_a_minute(attempts: int) -> None:
    assert 1 <= backoff_s(attempts) <= MAX_BACKOFF_S


async def outage(signoff: Harness, minutes: int, failure: dict[str, Any]) -> None:
    """Make Slack fail every post for `minutes` of test-clock time, draining as the clock advances."""
    clock = signoff.runtime.service.clock
    signoff.runtime.deliverer.pacer.clock = lambda: clock.now().timestamp()
    end = clock.now() + timedelta(minutes=minutes)
    signoff.workspace.fail_next("chat.postMessage", times=10_000, **failure)
    while clock.now() < end:
        await signoff.runtime.deliverer.drain(wait_s=0)
        clock.advance(timedelta(seconds=30))
    signoff.workspace._failures.clear()


@pytest.mark.parametrize(
    "failure",
    [{"status": 503, "text": "<html>503 Service Unavailable</html>"}, {"status": 502, "text": ""}, {"status": 500}],
)
async def test_an_outage_of_any_length_loses_nothing_and_delivery_resumes_within_a_minute(
    signoff: Harness, failure: dict[str, Any],
) -> None:
    texts = await queue(signoff, ["U01AAA", "C0FINANCE"])
    await outage(signoff, 20, failure)
    assert (await outbox(signoff))["counts"] == {"queued": 2}
    assert len(signoff.workspace.calls("chat.postMessage")) > 2 * 8, "kept trying through the outage"
    signoff.runtime.service.clock.advance(timedelta(seconds=MAX_BACKOFF_S))
    await signoff.runtime.deliverer.drain(wait_s=0)
    assert posted_texts(signoff) == Counter(texts)
    assert (await outbox(signoff))["counts"] == {"sent": 2}


async def test_an_unexpected_error_in_a_handler_is_retried_and_logged_with_its_traceback(
    signoff: Harness, caplog: pytest.LogCaptureFixture,
) -> None:
    texts = await queue(signoff, ["U01AAA"])
    deliverer = signoff.runtime.deliverer
    original = deliverer.handlers["message"]
    failures = iter([ZeroDivisionError("a bug"), KeyError("missing")])

    async def flaky(item: OutboxItem) -> dict[str, Any] | None:
        error = next(failures, None)
        if error is not None:
            raise error
        return await original(item)

    deliverer.handlers["message"] = flaky
    with caplog.at_level(logging.ERROR, logger="bot.outbox.worker"):
        for _ in range(3):
            await deliverer.drain(wait_s=0)
            signoff.runtime.service.clock.advance(timedelta(seconds=MAX_BACKOFF_S))
    assert posted_texts(signoff) == Counter(texts)
    logged = [r for r in caplog.records if "failed unexpectedly" in r.getMessage()]
    assert len(logged) == 2 and all(r.exc_info for r in logged)


async def test_a_dead_letter_is_retried_on_request_and_delivered(signoff: Harness) -> None:
    await queue(signoff, ["C0LATER"])
    await signoff.runtime.deliverer.drain()
    dead = (await outbox(signoff, "dead"))["items"]
    assert [i["target"] for i in dead] == ["C0LATER"]
    signoff.workspace.add_channel("later", channel_id="C0LATER")
    retried = await signoff.api.post(f"/api/v1/outbox/{dead[0]['id']}/retry")
    assert retried.status_code == 200 and retried.json()["status"] == "queued"
    await signoff.runtime.deliverer.drain()
    assert (await outbox(signoff))["counts"] == {"sent": 1}
    again = await signoff.api.post(f"/api/v1/outbox/{dead[0]['id']}/retry")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    assert (await signoff.api.post("/api/v1/outbox/999999/retry")).status_code == 404
    assert (await signoff.api.post("/api/v1/outbox/0/retry")).status_code == 422


async def test_posts_carry_their_outbox_key_as_metadata(signoff: Harness) -> None:
    await queue(signoff, ["U01AAA"], prefix="meta")
    await signoff.runtime.deliverer.drain()
    metadata = (await signoff.wait_for(lambda: signoff.dm("U01AAA")))[0].metadata
    assert metadata == {"event_type": METADATA_EVENT, "event_payload": {"key": "meta:0"}}


async def crashed_while_sending(signoff: Harness, claimed_wall_s: float) -> None:
    """Make every queued item look leased by a process that died (its lease has run out)."""
    async with signoff.db.unit_of_work() as repo:
        await repo.claim_outbox(signoff.runtime.service.clock.now(), claimed_wall_s, 0, per_target=1000, limit=1000)


async def test_an_item_posted_before_a_crash_is_not_posted_again(signoff: Harness) -> None:
    claimed = time.time()
    posted = await signoff.runtime.service.slack.client.chat_postMessage(
        channel=signoff.workspace.dm_channel_id("U01AAA"), text="sent just before the crash",
        metadata={"event_type": METADATA_EVENT, "event_payload": {"key": "crash:0"}})
    await queue(signoff, ["U01AAA"], prefix="crash")
    await crashed_while_sending(signoff, claimed)
    await signoff.runtime.deliverer.drain()
    assert len(signoff.dm("U01AAA")) == 1
    item = (await outbox(signoff, "sent"))["items"][0]
    assert item["key"] == "crash:0"
    async with signoff.db.read() as repo:
        stored = (await repo.outbox_items("sent"))[0]
    assert stored.result == {"channel": posted["channel"], "ts": posted["ts"]}


async def test_an_item_leased_but_never_posted_is_posted_once(signoff: Harness) -> None:
    texts = await queue(signoff, ["U01AAA", "U01BBB"], prefix="lost")
    await crashed_while_sending(signoff, time.time())
    await signoff.runtime.deliverer.drain()
    assert posted_texts(signoff) == Counter(texts)
    assert len(signoff.workspace.calls("conversations.history")) == 2


async def test_pacing_stays_under_slacks_limit(signoff: Harness) -> None:
    signoff.workspace.enforce_post_rate(per_channel_per_s=1.0, burst=2)
    users = [f"U0P{i:03d}" for i in range(20)]
    for user in users:
        signoff.workspace.add_user(user.lower(), user_id=user)
    texts = await queue(signoff, users * 3)
    started = time.monotonic()
    await signoff.runtime.deliverer.drain()
    assert posted_texts(signoff) == Counter(texts)
    assert signoff.workspace.ratelimited_count() == 0
    assert 0.9 < time.monotonic() - started < 5


async def test_without_history_scopes_an_uncertain_item_is_posted_again_not_lost(signoff: Harness) -> None:
    texts = await queue(signoff, ["U01AAA"], prefix="scope")
    await crashed_while_sending(signoff, time.time())
    signoff.workspace.refuse_next("conversations.history", "missing_scope")
    await signoff.runtime.deliverer.drain()
    assert posted_texts(signoff) == Counter(texts)
    assert (await outbox(signoff))["counts"] == {"sent": 1}


async def test_a_rate_limited_history_lookup_waits_and_retries(signoff: Harness) -> None:
    texts = await queue(signoff, ["U01AAA"], prefix="slow")
    await crashed_while_sending(signoff, time.time())
    signoff.workspace.fail_next("conversations.history", status=429)
    await signoff.runtime.deliverer.drain()
    assert posted_texts(signoff) == Counter(texts)
    assert len(signoff.workspace.calls("conversations.history")) == 2


async def test_the_doubt_about_an_earlier_attempt_survives_a_failed_lookup(signoff: Harness) -> None:
    claimed = time.time() - 1
    await signoff.runtime.service.slack.client.chat_postMessage(
        channel=signoff.workspace.dm_channel_id("U01AAA"), text="sent just before the crash",
        metadata={"event_type": METADATA_EVENT, "event_payload": {"key": "doubt:0"}})
    await queue(signoff, ["U01AAA"], prefix="doubt")
    await crashed_while_sending(signoff, claimed)
    signoff.workspace.fail_next("conversations.history", status=503)
    await signoff.runtime.deliverer.drain()
    assert len(signoff.dm("U01AAA")) == 1
    assert [c.status for c in signoff.workspace.calls("conversations.history")] == [503, 200]


async def test_the_gate_lets_first_posts_go_ahead_of_bursts() -> None:
    gate, order = Gate(1), []
    await gate.acquire(is_first=True)

    async def post(name: str, is_first: bool) -> None:
        async with gate.slot(is_first):
            order.append(name)

    waiting = [asyncio.create_task(post(n, f)) for n, f in (("burst-a", False), ("first-b", True), ("first-c", True))]
    await asyncio.sleep(0)
    gate.release()
    await asyncio.gather(*waiting)
    assert order == ["first-b", "first-c", "burst-a"] and gate.free == 1


async def refreshes_queued(signoff: Harness) -> list[dict[str, Any]]:
    return [i for i in (await outbox(signoff, "queued"))["items"] if i["kind"] == "refresh"]


@pytest.mark.parametrize(("is_clicking", "waited_s", "is_held"), [
    (True, 0.0, True), (True, 1.5, True), (True, 2.5, False), (False, 0.0, False),
])
async def test_refreshes_stay_queued_while_clicks_are_counted_for_at_most_two_seconds(
    signoff: Harness, is_clicking: bool, waited_s: float, is_held: bool,
) -> None:
    deliverer, clock = signoff.runtime.deliverer, signoff.runtime.service.clock
    deliverer.is_clicking = lambda: is_clicking
    async with signoff.db.unit_of_work() as repo:
        await repo.enqueue_coalesced("refresh", "AR-1", {"request_id": "AR-1"}, clock.now())
    clock.advance(timedelta(seconds=waited_s))  # type: ignore[attr-defined]
    await deliverer.drain(wait_s=0.0)
    assert len(await refreshes_queued(signoff)) == (1 if is_held else 0)


async def test_a_refresh_held_back_absorbs_the_later_ones(signoff: Harness) -> None:
    deliverer, clock = signoff.runtime.deliverer, signoff.runtime.service.clock
    deliverer.is_clicking = lambda: True
    for _ in range(3):
        async with signoff.db.unit_of_work() as repo:
            await repo.enqueue_coalesced("refresh", "AR-1", {"request_id": "AR-1"}, clock.now())
        await deliverer.drain(wait_s=0.0)
        clock.advance(timedelta(seconds=0.5))  # type: ignore[attr-defined]
    assert len(await refreshes_queued(signoff)) == 1
    deliverer.is_clicking = lambda: False
    await deliverer.drain(wait_s=0.0)
    assert await refreshes_queued(signoff) == []


async def test_refreshes_stay_queued_while_another_process_counts_clicks(signoff: Harness) -> None:
    deliverer, clock, other = signoff.runtime.deliverer, signoff.runtime.service.clock, "elsewhere:1:1:feedbeef"
    deliverer.is_clicking = lambda: False
    async with signoff.db.unit_of_work() as repo:
        stored = await repo.accept_inbox([InboxEntry("sig:other", "click", "payload=%7B%7D")], other, time.time(), 30)
        await repo.enqueue_coalesced("refresh", "AR-1", {"request_id": "AR-1"}, clock.now())
    await deliverer.drain(wait_s=0.0)
    assert len(await refreshes_queued(signoff)) == 1
    async with signoff.db.unit_of_work() as repo:
        await repo.finish_inbox(stored["sig:other"], other, time.time())
    await deliverer.drain(wait_s=0.0)
    assert await refreshes_queued(signoff) == []


def claims_counted(signoff: Harness, is_clicking: bool) -> list[float]:
    """Have the worker see clicks counted (or not); return the list its claims note their moments in."""
    deliverer, claims = signoff.runtime.deliverer, []
    deliverer.is_clicking = lambda: is_clicking
    claim = deliverer._claim

    async def counted() -> int:
        claims.append(time.monotonic())
        return await claim()

    deliverer._claim = counted  # type: ignore[method-assign]
    return claims


@pytest.mark.parametrize("is_clicking", [True, False])
async def test_while_clicks_are_counted_commits_wake_the_worker_at_most_every_tenth_of_a_second(
    signoff: Harness, is_clicking: bool,
) -> None:
    deliverer, claims = signoff.runtime.deliverer, claims_counted(signoff, is_clicking)
    until_s = time.monotonic() + 0.5
    while time.monotonic() < until_s:
        deliverer.kick()
        await asyncio.sleep(0.002)
    gaps_s = [b - a for a, b in itertools.pairwise(claims)]
    assert len(claims) >= 3
    assert (min(gaps_s) >= 0.9 * CLICKING_CLAIM_EVERY_S) is is_clicking


@pytest.mark.parametrize("is_clicking", [True, False])
async def test_while_clicks_are_counted_lanes_ending_one_by_one_do_not_each_make_a_claim(
    signoff: Harness, is_clicking: bool,
) -> None:
    deliverer, claims = signoff.runtime.deliverer, claims_counted(signoff, is_clicking)
    channels = [signoff.workspace.add_channel(f"lane-{i}").id for i in range(30)]
    texts = await queue(signoff, [FINANCE] * 4, prefix="busy")  # paced: keeps the drain going about two seconds
    draining = asyncio.create_task(deliverer.drain(wait_s=0.0))
    for i, channel in enumerate(channels):  # each its own lane, which ends as soon as its one post is answered
        texts += await queue(signoff, [channel], prefix=f"lane{i}")
        await asyncio.sleep(0.01)
    await asyncio.wait_for(draining, timeout=10)
    gaps_s = [b - a for a, b in itertools.pairwise(claims)]
    await deliverer.drain(wait_s=0.0)
    assert posted_texts(signoff) == Counter(texts)
    assert (min(gaps_s) >= 0.9 * CLICKING_CLAIM_EVERY_S) is is_clicking, gaps_s


async def test_a_tick_while_slack_is_down_does_not_wait_for_retries_and_the_first_tick_after_it_delivers_at_once(
    signoff: Harness,
) -> None:
    texts = await queue(signoff, ["U01AAA", "U01BBB", FINANCE])
    signoff.workspace.fail_next("chat.postMessage", status=503, times=10_000, text="<html>down</html>")
    assert (await signoff.api.post("/api/v1/scheduler/tick")).status_code == 200
    tried = len(signoff.workspace.calls("chat.postMessage"))
    assert 3 <= tried <= 6, "once everything tried had failed, the tick answered instead of waiting for retries"
    assert (await signoff.api.post("/api/v1/scheduler/tick")).status_code == 200
    assert len(signoff.workspace.calls("chat.postMessage")) > tried, "a tick tries again what waits for a retry"
    assert (await outbox(signoff))["counts"] == {"queued": 3}
    signoff.workspace._failures.clear()
    assert (await signoff.api.post("/api/v1/scheduler/tick")).status_code == 200
    assert posted_texts(signoff) == Counter(texts), "the clock was not moved: the retries went at once"
    assert (await outbox(signoff))["counts"] == {"sent": 3}


async def test_a_tick_waits_for_one_failure_to_be_retried(signoff: Harness) -> None:
    texts = await queue(signoff, ["U01AAA"])
    signoff.workspace.fail_next("chat.postMessage", status=500)
    assert (await signoff.api.post("/api/v1/scheduler/tick")).status_code == 200
    assert posted_texts(signoff) == Counter(texts)


async def test_a_failing_bookkeeping_never_leaves_a_delivered_item_unrecorded(
    signoff: Harness, caplog: pytest.LogCaptureFixture,
) -> None:
    async def failing(repo: Any, item: OutboxItem, result: Any, at: Any) -> None:
        raise RuntimeError("a bug in the bookkeeping")

    deliverer = signoff.runtime.deliverer
    deliverer.bookkeeping = Bookkeeping(sent={"message": failing})
    texts = await queue(signoff, ["U01AAA", "U01BBB"])
    with caplog.at_level(logging.ERROR, logger="bot.outbox.worker"):
        await deliverer.drain()
    assert (await outbox(signoff))["counts"] == {"sent": 2}, "recorded sent without the bookkeeping"
    assert posted_texts(signoff) == Counter(texts)
    assert any("bookkeeping" in r.getMessage() for r in caplog.records)


async def test_an_item_of_a_kind_this_version_does_not_know_waits_for_one_that_does(signoff: Harness) -> None:
    async with signoff.db.unit_of_work() as repo:
        await repo.enqueue("from_a_newer_version", "U01AAA", {}, signoff.runtime.service.clock.now(), key="new:1")
    await signoff.runtime.deliverer.drain(wait_s=0)
    [item] = (await outbox(signoff))["items"]
    assert item["status"] == "queued" and "in this version" in item["last_error"], item
