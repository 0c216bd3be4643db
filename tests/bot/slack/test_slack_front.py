"""The front of /slack/events over real HTTP and a real database: stored before acknowledged, replays refused."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.authorization import AuthorizeResult

from bot.metrics import Metrics
from bot.runtime import bind_socket, server_config
from bot.sandbox.app_link.signing import sign
from bot.slack.front import MAX_BODY_BYTES, ClickProcessor, SlackFront, form_fields, is_click
from bot.slack.inbox import Inbox, InboxWorker
from storage.models import InboxEntry
from storage.owners import new_owner
from storage.sqlite import Database

SECRET = "front-signing-secret-0123456789abcdef"
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@dataclass
class Front:
    """A served SlackFront: its URL, its inbox worker and what reached the app behind it."""

    url: str
    db: Database
    worker: InboxWorker
    metrics: Metrics
    release: asyncio.Event
    clicked: list[dict[str, Any]] = field(default_factory=list)
    passed_on: list[bytes] = field(default_factory=list)

    async def counts(self) -> dict[str, int]:
        """Count the inbox rows by status."""
        async with self.db.read() as repo:
            return await repo.inbox_counts()

    async def settled(self, timeout_s: float = 5.0) -> None:
        """Wait until no click is being processed."""
        deadline = time.monotonic() + timeout_s
        while self.worker._held and time.monotonic() < deadline:
            await asyncio.sleep(0.01)


def click_bolt(state: dict[str, Any], db: Database) -> AsyncApp:
    """A Bolt app for clicks: `approve` waits for `release`, then writes an audit line (its effect)."""

    async def authorize(**_: Any) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=None, team_id="T0001", bot_token="xoxb-unused", bot_user_id="UBOT")

    bolt = AsyncApp(signing_secret=SECRET, authorize=authorize, process_before_response=True,
                    raise_error_for_unhandled_request=False)

    @bolt.action("approve")
    async def approve(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        state["running"] = state.get("running", 0) + 1
        state["most_running"] = max(state.get("most_running", 0), state["running"])
        try:
            await state["release"].wait()
            if "before_effect" in state:
                await state["before_effect"]()
            async with db.unit_of_work() as repo:
                await repo.audit(NOW, body["user"]["id"], "clicked", ("test", "click"))
            state["clicked"].append(body)
        finally:
            state["running"] -= 1

    @bolt.action("explode")
    async def explode(ack: AsyncAck) -> None:
        await ack()
        raise RuntimeError("listener failed")

    return bolt


async def effects(db: Database) -> list[str | None]:
    """Return who has a committed click effect, in order."""
    async with db.read() as repo:
        return [entry.actor for entry in await repo.audit_trail("test", "click")]


@contextlib.asynccontextmanager
async def served_front(path: Path, secret: str | None = SECRET, concurrency: int = 8) -> AsyncIterator[Front]:
    """Serve a FastAPI app behind SlackFront on a free loopback port, with its inbox in a real database."""
    db = await Database.open(path)
    state: dict[str, Any] = {"release": asyncio.Event(), "clicked": []}
    passed_on: list[bytes] = []
    worker = InboxWorker(Inbox(db, new_owner()), ClickProcessor(click_bolt(state, db)), concurrency)
    metrics = Metrics()
    app = FastAPI()

    @app.post("/slack/events")
    async def behind(request: Request) -> PlainTextResponse:
        passed_on.append(await request.body())
        return PlainTextResponse("from the app")

    @app.get("/elsewhere")
    async def elsewhere() -> PlainTextResponse:
        return PlainTextResponse("untouched")

    app.add_middleware(SlackFront, signing_secret=secret, worker=worker, metrics=metrics)
    sock = bind_socket("127.0.0.1", 0)
    server = uvicorn.Server(server_config(app))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    host, port = sock.getsockname()[:2]
    front = Front(f"http://{host}:{port}", db, worker, metrics, state["release"], state["clicked"], passed_on)
    front.state = state  # type: ignore[attr-defined]
    try:
        yield front
    finally:
        state["release"].set()
        await worker.close(5.0)
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)
        await db.close()


def click_body(action_id: str = "approve", user: str = "U01AAA") -> bytes:
    """A block_actions form body as Slack sends it."""
    payload = {"type": "block_actions", "team": {"id": "T0001"}, "user": {"id": user}, "api_app_id": "A0001",
               "token": "t", "trigger_id": "1.2.3", "container": {"type": "message", "channel_id": "D0001"},
               "actions": [{"type": "button", "action_id": action_id, "block_id": "b", "value": "1:0",
                            "action_ts": "1.0"}]}
    return urlencode({"payload": json.dumps(payload)}).encode()


def signed(body: bytes, secret: str = SECRET, age_s: int = 0) -> dict[str, str]:
    """Headers of a form request signed `age_s` seconds ago."""
    return {"Content-Type": "application/x-www-form-urlencoded", **sign(body, secret, int(time.time()) - age_s)}


async def post(front: Front, body: bytes, headers: dict[str, str]) -> httpx.Response:
    """POST to the front's /slack/events."""
    async with httpx.AsyncClient(base_url=front.url) as client:
        return await client.post("/slack/events", content=body, headers=headers)


async def test_a_click_is_committed_before_it_is_acknowledged_and_done_with_its_effect(tmp_path: Path) -> None:
    async with served_front(tmp_path / "s.db") as front:
        reply = await post(front, click_body(), signed(click_body()))
        assert (reply.status_code, reply.content) == (200, b"")
        assert await front.counts() == {"queued": 1}
        assert front.clicked == [] and await effects(front.db) == []
        front.release.set()
        await front.settled()
        assert await front.counts() == {"done": 1} and await effects(front.db) == ["U01AAA"]
        assert front.passed_on == [] and front.metrics.counters["signoff_slack_requests_total"] == 1


async def test_other_slack_requests_reach_the_app_once_their_identity_is_stored(tmp_path: Path) -> None:
    body = urlencode({"command": "/signoff", "text": "help", "user_id": "U01AAA"}).encode()
    async with served_front(tmp_path / "s.db") as front:
        headers = signed(body)
        reply = await post(front, body, headers)
        assert (reply.status_code, reply.text) == (200, "from the app")
        assert front.passed_on == [body] and await front.counts() == {"seen": 1}
        assert (await post(front, body, headers)).status_code == 401
        assert front.passed_on == [body]


async def test_an_event_retried_by_slack_is_answered_200_and_not_run_again(tmp_path: Path) -> None:
    event = json.dumps({"type": "event_callback", "event_id": "Ev01", "event": {"type": "app_home_opened"}}).encode()
    async with served_front(tmp_path / "s.db") as front:
        for age_s in (2, 0):
            headers = {"Content-Type": "application/json", **sign(event, SECRET, int(time.time()) - age_s)}
            assert (await post(front, event, headers)).status_code == 200
        assert front.passed_on == [event]


async def test_paths_other_than_slack_events_pass_through(tmp_path: Path) -> None:
    async with served_front(tmp_path / "s.db") as front, httpx.AsyncClient(base_url=front.url) as client:
        assert (await client.get("/elsewhere")).text == "untouched"
        assert (await client.get("/slack/events")).status_code == 405
        assert front.metrics.counters == {}


@pytest.mark.parametrize(
    ("case", "headers"),
    [
        ("wrong secret", lambda body: signed(body, secret="not-the-secret")),
        ("older than five minutes", lambda body: signed(body, age_s=301)),
        ("from the future", lambda body: signed(body, age_s=-330)),  # beyond the five minutes however slow the send
        ("no signature", lambda body: {"Content-Type": "application/x-www-form-urlencoded"}),
        ("timestamp not a number", lambda body: {**signed(body), "X-Slack-Request-Timestamp": "soon"}),
    ],
)
async def test_forged_or_stale_requests_are_401_and_store_nothing(tmp_path: Path, case: str, headers: Any) -> None:
    async with served_front(tmp_path / "s.db") as front:
        for body in (click_body(), b"command=%2Fsignoff&text=help"):
            reply = await post(front, body, headers(body))
            assert reply.status_code == 401, case
            assert reply.json()["error"]["code"] == "unauthorized"
        assert await front.counts() == {} and front.passed_on == []
        assert front.metrics.counters == {"signoff_slack_requests_refused_total": 2}


async def test_tampered_body_is_401(tmp_path: Path) -> None:
    async with served_front(tmp_path / "s.db") as front:
        reply = await post(front, click_body(user="U01BBB"), signed(click_body()))
        assert reply.status_code == 401 and await front.counts() == {}


async def test_a_signed_body_that_is_not_text_is_400_and_stores_nothing(tmp_path: Path) -> None:
    body = b"payload=%7B\xff\xfe"
    async with served_front(tmp_path / "s.db") as front:
        reply = await post(front, body, signed(body))
        assert reply.status_code == 400 and await front.counts() == {}


async def test_a_replayed_click_is_401_and_processed_once(tmp_path: Path) -> None:
    async with served_front(tmp_path / "s.db") as front:
        body, headers = click_body(), signed(click_body())
        assert (await post(front, body, headers)).status_code == 200
        assert (await post(front, body, headers)).status_code == 401
        front.release.set()
        await front.settled()
        assert len(front.clicked) == 1 and await effects(front.db) == ["U01AAA"]


async def test_a_replay_is_refused_after_a_restart_and_by_another_process(tmp_path: Path) -> None:
    body, headers = click_body(), signed(click_body())
    async with served_front(tmp_path / "s.db") as first:
        first.release.set()
        assert (await post(first, body, headers)).status_code == 200
        await first.settled()
        async with served_front(tmp_path / "s.db") as second:
            assert (await post(second, body, headers)).status_code == 401
    async with served_front(tmp_path / "s.db") as restarted:
        assert (await post(restarted, body, headers)).status_code == 401
        assert await effects(restarted.db) == ["U01AAA"]


async def test_a_burst_of_clicks_shares_commits_and_every_one_is_done(tmp_path: Path) -> None:
    async with served_front(tmp_path / "s.db", concurrency=2) as front:
        bodies = [click_body(user=f"U{i:03d}") for i in range(40)]
        replies = await asyncio.gather(*(post(front, b, signed(b)) for b in bodies))
        assert {r.status_code for r in replies} == {200}
        assert await front.counts() == {"queued": 40}
        front.release.set()
        await front.settled()
        assert await front.counts() == {"done": 40}
        assert sorted(await effects(front.db)) == [f"U{i:03d}" for i in range(40)]
        assert front.state["most_running"] == 2  # type: ignore[attr-defined]


async def test_work_behind_the_inbox_waits_while_clicks_are_in_hand_but_never_longer_than_its_bound(
    tmp_path: Path,
) -> None:
    async with served_front(tmp_path / "s.db") as front:
        await asyncio.wait_for(front.worker.until_idle(5.0), timeout=1.0)
        body = click_body()
        assert (await post(front, body, signed(body))).status_code == 200
        started_s = time.monotonic()
        await front.worker.until_idle(0.2)
        assert time.monotonic() - started_s >= 0.19
        waiting = asyncio.create_task(front.worker.until_idle(30.0))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        front.release.set()
        await asyncio.wait_for(waiting, timeout=5.0)
        assert await effects(front.db) == ["U01AAA"]


async def test_processing_waits_for_the_acknowledgements_under_way_but_never_longer_than_its_bound(
    tmp_path: Path,
) -> None:
    db = await Database.open(tmp_path / "s.db")
    inbox = Inbox(db, new_owner())
    try:
        async with db.unit_of_work():  # the only writer is busy: the click's commit waits
            accepting = asyncio.create_task(inbox.accept(InboxEntry("sig:1", "click", "payload=%7B%7D")))
            await asyncio.sleep(0.01)
            started_s = time.monotonic()
            await inbox.until_quiet(0.2)
            assert time.monotonic() - started_s >= 0.19
        assert await accepting is not None
        started_s = time.monotonic()
        await inbox.until_quiet(5.0)
        assert time.monotonic() - started_s < 1.0
    finally:
        await db.close()


async def test_without_a_signing_secret_http_requests_are_refused(tmp_path: Path) -> None:
    async with served_front(tmp_path / "s.db", secret=None) as front:
        assert (await post(front, click_body(), signed(click_body()))).status_code == 401
        assert await front.counts() == {}


async def test_a_body_larger_than_any_slack_request_is_413(tmp_path: Path) -> None:
    body = b"payload=" + b"x" * (MAX_BODY_BYTES + 1)
    async with served_front(tmp_path / "s.db") as front:
        reply = await post(front, body, signed(body))
        assert reply.status_code == 413 and reply.json()["error"]["code"] == "too_large"
        assert await front.counts() == {}


async def test_a_failing_listener_is_logged_and_its_click_kept_for_a_retry(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    async with served_front(tmp_path / "s.db") as front:
        with caplog.at_level(logging.WARNING):
            reply = await post(front, click_body("explode"), signed(click_body("explode")))
            await front.settled()
        assert reply.status_code == 200
        async with front.db.read() as repo:
            kept = (await repo.inbox_counts(), await repo.inbox_owners(), await repo.claimable_inbox(time.time()))
        assert kept == ({"queued": 1}, [], 0)  # handed back, to be retried after a backoff
        assert any("failed on attempt 1" in r.getMessage() and r.exc_info for r in caplog.records)


async def test_a_click_whose_lease_was_taken_over_keeps_none_of_its_effects(tmp_path: Path) -> None:
    async with served_front(tmp_path / "s.db") as front:

        async def taken_over() -> None:
            async with front.db.unit_of_work() as repo:
                await repo.claim_inbox("elsewhere:1:1:x", time.time(), 30.0, 10, await repo.inbox_owners())

        front.state["before_effect"] = taken_over  # type: ignore[attr-defined]
        front.release.set()
        assert (await post(front, click_body(), signed(click_body()))).status_code == 200
        await front.settled()
        assert await effects(front.db) == [] and await front.counts() == {"queued": 1}


async def test_clicks_unfinished_at_shutdown_are_handed_back_and_finished_by_the_next_process(tmp_path: Path) -> None:
    async with served_front(tmp_path / "s.db") as first:
        assert (await post(first, click_body(), signed(click_body()))).status_code == 200
        await first.worker.close(0.05)
        async with first.db.read() as repo:
            assert (await repo.inbox_counts(), await repo.inbox_owners()) == ({"queued": 1}, [])
    async with served_front(tmp_path / "s.db") as second:
        second.release.set()
        assert await second.worker.sweep() == 1
        await second.settled()
        assert await effects(second.db) == ["U01AAA"] and await second.counts() == {"done": 1}


async def test_rows_of_a_process_that_died_on_this_host_are_taken_at_once(tmp_path: Path) -> None:
    async with served_front(tmp_path / "s.db") as front:
        await front.worker.close(0.0)
    async with served_front(tmp_path / "s.db") as front:
        front.release.set()
        dead = new_owner().split(":")
        dead[1], dead[2] = "999999999", "1"
        async with front.db.unit_of_work() as repo:
            stored = await repo.accept_inbox([_entry(click_body())], ":".join(dead), time.time(), 3600.0)
            await repo.accept_inbox([_entry(click_body(user="U0LIVE"))], "otherhost:1:1:x", time.time(), 3600.0)
        assert len(stored) == 1
        assert await front.worker.sweep() == 1
        await front.settled()
        assert await effects(front.db) == ["U01AAA"] and await front.counts() == {"done": 1, "queued": 1}


def _entry(body: bytes) -> Any:
    return InboxEntry(f"sig:{hash(body)}", "click", body.decode())


def _form(payload: str) -> bytes:
    return urlencode({"payload": payload}).encode()


FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        (click_body(), FORM, True),
        (_form('{"type":"block_actions","actions":[]}'), FORM, True),
        (_form(' { "type" : "block_actions" }'), FORM, True),
        (_form('{"type":"view_submission","view":{"type":"block_actions"}}'), FORM, False),
        (_form('{"user":{"id":"U1"},"type":"block_actions"}'), FORM, True),
        (_form('{"user":{"type":"block_actions"},"type":"view_submission"}'), FORM, False),
        (_form('{"user":{"id":"' + "U" * 500 + '"},"type":"block_actions"}'), FORM, True),
        (_form("not json"), FORM, False),
        (_form('["block_actions"]'), FORM, False),
        (b"command=%2Fsignoff&text=help", FORM, False),
        (click_body(), {"content-type": "application/json"}, False),
    ],
)
def test_is_click(body: bytes, headers: dict[str, str], expected: bool) -> None:
    assert is_click(body, headers) is expected


async def test_a_click_without_a_readable_payload_reaches_no_listener_and_is_done(tmp_path: Path) -> None:
    body = b"payload=" + b'{"type":"block_actions",'
    assert is_click(body, FORM)
    async with served_front(tmp_path / "s.db") as front:
        front.release.set()
        assert (await post(front, body, signed(body))).status_code == 200
        await front.settled()
        assert front.clicked == [] and await front.counts() == {"done": 1}


async def test_metrics_show_the_inbox(signoff: Any) -> None:
    text = (await signoff.api.get("/metrics")).text
    assert "signoff_inbox_queued 0" in text and "# TYPE signoff_inbox_failed gauge" in text


@pytest.mark.parametrize(
    "body",
    [
        b"", b"payload=", b"a=1&b=2&a=3", b"a&&b=", b"=x", b"a=b=c", b"t=a+b%2Bc", b"t=%e2%82%ac+%E2%82%AC",
        "t=\u20ac raw".encode(), b"t=%", b"t=%4", b"t=%zz", b"t=%41%4", b"t=%5C%5Cx41", b"t=a\\x41", b"t=%0a%00",
        b"t=a;b=c", b"t=%ff", b"t=%c3", b"%74=%76", click_body(),
    ],
)
def test_form_fields_decode_as_parse_qsl_does(body: bytes) -> None:
    try:
        expected: Any = dict(parse_qsl(body.decode(), keep_blank_values=True, errors="strict"))
    except UnicodeDecodeError:
        expected = UnicodeDecodeError
    try:
        found: Any = form_fields(body)
    except UnicodeDecodeError:
        found = UnicodeDecodeError
    assert found == expected
