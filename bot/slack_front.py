"""The front door of `/slack/events`: every request verified once, replays refused, clicks acknowledged at once.

Slack wants an interaction acknowledged within 3 s and shows a spinner until it is. A button click
(`block_actions`) is always acknowledged with an empty 200, whatever the listener then does, so the
front answers it as soon as the signature holds and hands the payload to Bolt in the background; the
listener runs to completion there (the Bolt app for clicks processes before it responds), a few clicks
at a time so that a burst of clicks being processed does not delay the acknowledgement of the next
ones (votes are serialised by the database anyway). Everything else (commands, modal submissions,
events) goes on to Bolt through FastAPI, whose acknowledgement may carry an answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote_to_bytes

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.api import error_body

if TYPE_CHECKING:
    from bot.server import Metrics


log = logging.getLogger(__name__)

SLACK_EVENTS_PATH = "/slack/events"
FORM_TYPE = "application/x-www-form-urlencoded"
REFUSAL_BODY = json.dumps(error_body("unauthorized", "not signed by Slack, too old, or replayed")).encode()
TOO_LARGE_BODY = json.dumps(error_body("too_large", "the request is larger than any Slack request")).encode()
MAX_BODY_BYTES = 1024 * 1024
REPLAY_WINDOW_S = 300
HEAD_BYTES = 128
LEADING_TYPE = re.compile(rb'\s*\{\s*"type"\s*:\s*"([a-z_]+)"')
CLICK_CONCURRENCY = 8


class ReplayGuard:
    """Refuses a signed Slack request seen before within Slack's five-minute window."""

    def __init__(self, window_s: float = REPLAY_WINDOW_S, max_entries: int = 100_000) -> None:
        self.window_s = window_s
        self.max_entries = max_entries
        self._seen: OrderedDict[str, float] = OrderedDict()

    def is_replay(self, signature: str, now_s: float) -> bool:
        """Record a signature; tell whether it was already seen inside the window."""
        while self._seen and (next(iter(self._seen.values())) < now_s - self.window_s
                              or len(self._seen) > self.max_entries):
            self._seen.popitem(last=False)
        if signature in self._seen:
            return True
        self._seen[signature] = now_s
        return False


class ClickRunner:
    """Runs acknowledged clicks through the Bolt app for clicks, keeping each task until it ends."""

    def __init__(self, bolt: AsyncApp, concurrency: int = CLICK_CONCURRENCY) -> None:
        self.bolt = bolt
        self.tasks: set[asyncio.Task[None]] = set()
        self.slots = asyncio.Semaphore(concurrency)

    def submit(self, body: bytes) -> None:
        """Start processing one verified click (its form body)."""
        task = asyncio.get_running_loop().create_task(self._run(body))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, body: bytes) -> None:
        payload = form_payload(body)
        if payload is None:
            log.warning("a click acknowledged by its leading type has no readable payload: %r", body[:200])
            return
        try:
            async with self.slots:
                # "socket_mode": the payload is handed over parsed and already verified, as Socket Mode does.
                response = await self.bolt.async_dispatch(AsyncBoltRequest(body=payload, mode="socket_mode"))
        except Exception:
            log.exception("a click could not be processed")
            return
        if response.status >= 400:
            log.warning("a click was answered %s: %s", response.status, response.body[:200])

    async def drain(self, timeout_s: float = 5.0) -> None:
        """Wait for the clicks still being processed; cancel those unfinished after `timeout_s`."""
        if not self.tasks:
            return
        _, unfinished = await asyncio.wait(set(self.tasks), timeout=timeout_s)
        for task in unfinished:
            task.cancel()
        if unfinished:
            log.warning("%d clicks were still being processed at shutdown and were cancelled", len(unfinished))
            await asyncio.wait(unfinished)


class SlackFront:
    """ASGI middleware answering `POST /slack/events` before the application sees it, when it can."""

    def __init__(self, app: ASGIApp, *, signing_secret: str | None, clicks: ClickRunner, metrics: Metrics) -> None:
        self.app = app
        self.verifier = SignatureVerifier(signing_secret) if signing_secret else None
        self.clicks = clicks
        self.metrics = metrics
        self.guard = ReplayGuard()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Verify and maybe acknowledge a Slack request; pass everything else on unchanged."""
        if scope["type"] != "http" or scope["path"] != SLACK_EVENTS_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            await _respond(send, 413, TOO_LARGE_BODY, b"application/json")
            return
        headers = _headers(scope)
        if not self.is_authentic(body, headers):
            self.metrics.inc("signoff_slack_requests_refused_total")
            await _respond(send, 401, REFUSAL_BODY, b"application/json")
            return
        self.metrics.inc("signoff_slack_requests_total")
        if not is_click(body, headers):
            await self.app(scope, _replay(body, receive), send)
            return
        await _respond(send, 200, b"", b"text/plain;charset=utf-8")
        self.clicks.submit(body)

    def is_authentic(self, body: bytes, headers: dict[str, str]) -> bool:
        """Tell whether a request is signed with our secret, recent, and seen for the first time."""
        if self.verifier is None:
            return False
        timestamp, signature = headers.get("x-slack-request-timestamp", ""), headers.get("x-slack-signature", "")
        if not timestamp.isdigit() or not self.verifier.is_valid(body, timestamp, signature):
            return False
        return not self.guard.is_replay(signature, time.time())


def is_click(body: bytes, headers: dict[str, str]) -> bool:
    """Tell whether a request is a button click (`block_actions`), usually from the first bytes of its payload."""
    if not headers.get("content-type", "").startswith(FORM_TYPE) or not body.startswith(b"payload="):
        return False
    # Slack puts the payload's "type" first: decoding a few bytes spares decoding kilobytes per click.
    head = unquote_to_bytes(body[len(b"payload="):][:HEAD_BYTES].split(b"&", 1)[0].replace(b"+", b" "))
    if leading := LEADING_TYPE.match(head):
        return leading.group(1) == b"block_actions"
    payload = form_payload(body)
    return payload is not None and payload.get("type") == "block_actions"


def form_payload(body: bytes) -> dict[str, Any] | None:
    """Return the JSON object in the `payload` field of a form body, or None when there is none."""
    try:
        payload = json.loads(dict(parse_qsl(body.decode())).get("payload", ""))
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def _headers(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}


async def _read_body(receive: Receive) -> bytes | None:
    """Return the whole body, or None when it is larger than any Slack request."""
    chunks: list[bytes] = []
    size, more = 0, True
    while more:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)
        more = message.get("more_body", False)
        if size > MAX_BODY_BYTES:
            return None
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """Return a `receive` giving the body already read, then whatever the connection says next."""
    is_sent = False

    async def replaying() -> Message:
        nonlocal is_sent
        if is_sent:
            return await receive()
        is_sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replaying


async def _respond(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
