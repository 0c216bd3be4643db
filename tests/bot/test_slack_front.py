"""The front of /slack/events over real HTTP: clicks acknowledged before processing, forgeries refused."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.authorization import AuthorizeResult

from bot.runtime import bind_socket, server_config
from bot.sandbox.signing import sign
from bot.server import Metrics
from bot.slack_front import MAX_BODY_BYTES, ClickRunner, SlackFront, is_click

SECRET = "front-signing-secret-0123456789abcdef"


@dataclass
class Front:
    """A served SlackFront: its URL, its click runner and what reached the app behind it."""

    url: str
    clicks: ClickRunner
    metrics: Metrics
    release: asyncio.Event
    clicked: list[dict[str, Any]] = field(default_factory=list)
    passed_on: list[bytes] = field(default_factory=list)


def click_bolt(front_state: dict[str, Any]) -> AsyncApp:
    """A Bolt app for clicks whose `approve` listener waits for `release` before it records the click."""

    async def authorize(**_: Any) -> AuthorizeResult:
        return AuthorizeResult(enterprise_id=None, team_id="T0001", bot_token="xoxb-unused", bot_user_id="UBOT")

    bolt = AsyncApp(signing_secret=SECRET, authorize=authorize, process_before_response=True,
                    raise_error_for_unhandled_request=False)

    @bolt.action("approve")
    async def approve(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        front_state["running"] = front_state.get("running", 0) + 1
        front_state["most_running"] = max(front_state.get("most_running", 0), front_state["running"])
        await front_state["release"].wait()
        front_state["running"] -= 1
        front_state["clicked"].append(body)

    @bolt.action("explode")
    async def explode(ack: AsyncAck) -> None:
        await ack()
        raise RuntimeError("listener failed")

    return bolt


@contextlib.asynccontextmanager
async def served_front(secret: str | None = SECRET) -> AsyncIterator[Front]:
    """Serve a FastAPI app behind SlackFront on a free loopback port."""
    state: dict[str, Any] = {"release": asyncio.Event(), "clicked": []}
    passed_on: list[bytes] = []
    clicks, metrics = ClickRunner(click_bolt(state)), Metrics()
    app = FastAPI()

    @app.post("/slack/events")
    async def behind(request: Request) -> PlainTextResponse:
        passed_on.append(await request.body())
        return PlainTextResponse("from the app")

    @app.get("/elsewhere")
    async def elsewhere() -> PlainTextResponse:
        return PlainTextResponse("untouched")

    app.add_middleware(SlackFront, signing_secret=secret, clicks=clicks, metrics=metrics)
    sock = bind_socket("127.0.0.1", 0)
    server = uvicorn.Server(server_config(app))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    host, port = sock.getsockname()[:2]
    try:
        yield Front(f"http://{host}:{port}", clicks, metrics, state["release"], state["clicked"], passed_on)
    finally:
        state["release"].set()
        await clicks.drain()
        server.should_exit = True
        await asyncio.wait_for(task, timeout=10)


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


async def test_click_is_acknowledged_before_its_listener_finishes() -> None:
    async with served_front() as front:
        reply = await post(front, click_body(), signed(click_body()))
        assert (reply.status_code, reply.content) == (200, b"")
        await asyncio.sleep(0.05)
        assert front.clicked == [] and len(front.clicks.tasks) == 1
        front.release.set()
        await front.clicks.drain()
        assert [c["user"]["id"] for c in front.clicked] == ["U01AAA"]
        assert front.passed_on == [] and front.metrics.counters["signoff_slack_requests_total"] == 1


async def test_other_slack_requests_reach_the_app_with_their_body() -> None:
    body = urlencode({"command": "/signoff", "text": "help", "user_id": "U01AAA"}).encode()
    async with served_front() as front:
        reply = await post(front, body, signed(body))
        assert (reply.status_code, reply.text) == (200, "from the app")
        assert front.passed_on == [body]


async def test_paths_other_than_slack_events_pass_through() -> None:
    async with served_front() as front, httpx.AsyncClient(base_url=front.url) as client:
        assert (await client.get("/elsewhere")).text == "untouched"
        assert (await client.get("/slack/events")).status_code == 405
        assert front.metrics.counters == {}


@pytest.mark.parametrize(
    ("case", "headers"),
    [
        ("wrong secret", lambda body: signed(body, secret="not-the-secret")),
        ("older than five minutes", lambda body: signed(body, age_s=301)),
        ("from the future", lambda body: signed(body, age_s=-301)),
        ("no signature", lambda body: {"Content-Type": "application/x-www-form-urlencoded"}),
        ("timestamp not a number", lambda body: {**signed(body), "X-Slack-Request-Timestamp": "soon"}),
    ],
)
async def test_forged_or_stale_requests_are_401_and_reach_nothing(case: str, headers: Any) -> None:
    async with served_front() as front:
        for body in (click_body(), b"command=%2Fsignoff&text=help"):
            reply = await post(front, body, headers(body))
            assert reply.status_code == 401, case
            assert reply.json()["error"]["code"] == "unauthorized"
        assert front.clicks.tasks == set() and front.passed_on == []
        assert front.metrics.counters == {"signoff_slack_requests_refused_total": 2}


async def test_tampered_body_is_401() -> None:
    async with served_front() as front:
        headers = signed(click_body())
        reply = await post(front, click_body(user="U01BBB"), headers)
        assert reply.status_code == 401 and front.clicks.tasks == set()


async def test_replayed_click_is_401_and_processed_once() -> None:
    async with served_front() as front:
        body, headers = click_body(), signed(click_body())
        assert (await post(front, body, headers)).status_code == 200
        assert (await post(front, body, headers)).status_code == 401
        front.release.set()
        await front.clicks.drain()
        assert len(front.clicked) == 1


async def test_without_a_signing_secret_http_requests_are_refused() -> None:
    async with served_front(secret=None) as front:
        assert (await post(front, click_body(), signed(click_body()))).status_code == 401
        assert front.clicks.tasks == set()


async def test_a_body_larger_than_any_slack_request_is_413() -> None:
    body = b"payload=" + b"x" * (MAX_BODY_BYTES + 1)
    async with served_front() as front:
        reply = await post(front, body, signed(body))
        assert reply.status_code == 413 and reply.json()["error"]["code"] == "too_large"
        assert front.clicks.tasks == set()


async def test_a_failing_listener_is_logged_after_the_ack(caplog: pytest.LogCaptureFixture) -> None:
    async with served_front() as front:
        with caplog.at_level(logging.WARNING, logger="bot.slack_front"):
            reply = await post(front, click_body("explode"), signed(click_body("explode")))
            await front.clicks.drain()
        assert reply.status_code == 200
        front_lines = [r.getMessage() for r in caplog.records if r.name == "bot.slack_front"]
        assert [line[:24] for line in front_lines] == ["a click was answered 500"]


async def test_clicks_are_processed_a_few_at_a_time_and_all_of_them() -> None:
    state: dict[str, Any] = {"release": asyncio.Event(), "clicked": []}
    runner = ClickRunner(click_bolt(state), concurrency=2)
    for user in ("U1", "U2", "U3", "U4", "U5"):
        runner.submit(click_body(user=user))
    await asyncio.sleep(0.05)
    assert state["running"] == 2 and state["clicked"] == []
    state["release"].set()
    await runner.drain()
    assert [c["user"]["id"] for c in state["clicked"]] == ["U1", "U2", "U3", "U4", "U5"]
    assert state["most_running"] == 2 and runner.tasks == set()


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


async def test_drain_cancels_clicks_still_running_after_its_timeout() -> None:
    state: dict[str, Any] = {"release": asyncio.Event(), "clicked": []}
    runner = ClickRunner(click_bolt(state))
    runner.submit(click_body())
    await asyncio.sleep(0.05)
    await runner.drain(timeout_s=0.05)
    assert runner.tasks == set() and state["clicked"] == []


async def test_a_click_without_a_readable_payload_reaches_no_listener() -> None:
    state: dict[str, Any] = {"release": asyncio.Event(), "clicked": []}
    state["release"].set()
    runner = ClickRunner(click_bolt(state))
    body = b"payload=" + b'{"type":"block_actions",'
    assert is_click(body, FORM)
    runner.submit(body)
    await runner.drain()
    assert state["clicked"] == [] and "running" not in state
