"""The front door of `/slack/events`: every request verified, stored before it is acknowledged, replays refused.

Slack wants an interaction acknowledged within 3 s and shows a spinner until it is. A button click
(`block_actions`) is always acknowledged with an empty 200, whatever the listener then does, so the
front commits the click to the inbox (one commit for all the clicks arriving together), answers 200,
and the inbox worker runs it through Bolt; a restart resumes whatever was not finished. Everything
else (commands, modal submissions, events) has its identity committed, then goes on to Bolt through
FastAPI, which finishes the work before it answers (the answer may carry a reply or modal errors).
A stored identity, in any process on the database, refuses a replay of the request.
"""

from __future__ import annotations

import codecs
import json
import logging
import re
import time
from typing import Any
from urllib.parse import parse_qsl, unquote_to_bytes

from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.asgi import read_body, replay, respond
from bot.errors import error_body
from bot.metrics import Metrics
from bot.slack.inbox import InboxWorker
from bot.slack.payload import click_problem, json_object, shape_problem
from storage.models import InboxEntry, InboxRow

log = logging.getLogger(__name__)

SLACK_EVENTS_PATH = "/slack/events"
FORM_TYPE = "application/x-www-form-urlencoded"
REFUSAL_BODY = json.dumps(error_body("unauthorized", "not signed by Slack, too old, or replayed")).encode()
MALFORMED_BODY = json.dumps(error_body("bad_request", "a Slack request body is UTF-8 text")).encode()
UNAVAILABLE_BODY = json.dumps(error_body("unavailable", "the request could not be stored; try again")).encode()
TOO_LARGE_BODY = json.dumps(error_body("too_large", "the request is larger than any Slack request")).encode()
MAX_BODY_BYTES = 1024 * 1024
HEAD_BYTES = 128
LEADING_TYPE = re.compile(rb'\s*\{\s*"type"\s*:\s*"([a-z_]+)"')
BAD_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})")
CLICK = "click"
SIGNATURE_PREFIX = "sig:"
EVENT_PREFIX = "event:"


class ClickProcessor:
    """Runs a stored click through the Bolt app for clicks (one that finishes each listener before it answers)."""

    def __init__(self, bolt: AsyncApp) -> None:
        self.bolt = bolt

    async def __call__(self, row: InboxRow) -> bool:
        """Process one inbox row; tell whether it went through (a malformed payload goes nowhere, and is done)."""
        payload = form_payload(row.body.encode()) if row.kind == CLICK else json_object(row.body)
        problem = click_problem(payload) if row.kind == CLICK and payload is not None else None
        if payload is None or problem is not None:
            log.warning("inbox row %s is not a click Slack would send (%s): %r", row.id,
                        problem or "no readable payload", row.body[:200])
            return True
        # "socket_mode": the payload is handed over parsed and already verified, as Socket Mode does.
        response = await self.bolt.async_dispatch(AsyncBoltRequest(body=payload, mode="socket_mode"))
        if response.status >= 400:
            log.warning("inbox row %s was answered %s: %s", row.id, response.status, (response.body or "")[:200])
        return response.status < 500


class SlackFront:
    """ASGI middleware answering `POST /slack/events` before the application sees it, when it can."""

    def __init__(self, app: ASGIApp, *, signing_secret: str | None, worker: InboxWorker, metrics: Metrics) -> None:
        self.app = app
        self.verifier = SignatureVerifier(signing_secret) if signing_secret else None
        self.worker = worker
        self.inbox = worker.inbox
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Verify and maybe acknowledge a Slack request; pass everything else on unchanged."""
        if scope["type"] != "http" or scope["path"] != SLACK_EVENTS_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        try:
            body = await read_body(receive, MAX_BODY_BYTES)
        except ClientDisconnect:
            return  # the request never arrived whole: nothing is stored, nobody waits for an answer
        if body is None:
            await respond(send, 413, TOO_LARGE_BODY, b"application/json")
            return
        headers = _headers(scope)
        if not is_text(body):
            await respond(send, 400, MALFORMED_BODY, b"application/json")
            return
        if not self.is_authentic(body, headers):
            await self._refuse(send)
            return
        entry = inbox_entry(body, headers)
        problem = None if entry.kind == CLICK else shape_problem(body, headers.get("content-type", ""))
        if problem is not None:
            await respond(send, 400, _malformed(problem), b"application/json")
            return
        try:
            row_id = await self.inbox.accept(entry)
        except Exception:
            await respond(send, 503, UNAVAILABLE_BODY, b"application/json")
            return
        if row_id is None:
            await self._replayed(entry, send)
            return
        self.metrics.inc("signoff_slack_requests_total")
        if entry.body is None:
            await self.app(scope, replay(body, receive), send)
            return
        await respond(send, 200, b"", b"text/plain;charset=utf-8")
        self.worker.submit(InboxRow(row_id, entry.identity, entry.kind, entry.body, 1, time.time()))

    async def _refuse(self, send: Send) -> None:
        self.metrics.inc("signoff_slack_requests_refused_total")
        await respond(send, 401, REFUSAL_BODY, b"application/json")

    async def _replayed(self, entry: InboxEntry, send: Send) -> None:
        """A request stored before: Slack retrying an event is answered 200 (done already), a replay 401."""
        self.metrics.inc("signoff_slack_requests_replayed_total")
        if entry.identity.startswith(EVENT_PREFIX):
            await respond(send, 200, b"", b"text/plain;charset=utf-8")
        else:
            await self._refuse(send)

    def is_authentic(self, body: bytes, headers: dict[str, str]) -> bool:
        """Tell whether a request is signed with our secret and recent (replays are refused by the inbox)."""
        if self.verifier is None:
            return False
        timestamp, signature = headers.get("x-slack-request-timestamp", ""), headers.get("x-slack-signature", "")
        return timestamp.isascii() and timestamp.isdigit() and self.verifier.is_valid(body, timestamp, signature)


def _malformed(problem: str) -> bytes:
    return json.dumps(error_body("bad_request", f"not a request Slack sends: {problem}")).encode()


def inbox_entry(body: bytes, headers: dict[str, str]) -> InboxEntry:
    """Return what the inbox stores of a verified request: a click with its body, anything else its identity."""
    signature = SIGNATURE_PREFIX + headers.get("x-slack-signature", "")
    if is_click(body, headers):
        return InboxEntry(signature, CLICK, body.decode())
    if headers.get("content-type", "").startswith("application/json"):
        event_id = (json_object(body.decode()) or {}).get("event_id")
        if isinstance(event_id, str) and event_id:
            return InboxEntry(EVENT_PREFIX + event_id[:200], "event")
    return InboxEntry(signature, "request")


def is_text(body: bytes) -> bool:
    """Tell whether a body is UTF-8 text, as every Slack request is."""
    try:
        body.decode()
    except UnicodeDecodeError:
        return False
    return True


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
        return json_object(form_fields(body).get("payload", ""))
    except UnicodeDecodeError:
        return None


def form_fields(body: bytes) -> dict[str, str]:
    """Decode an `application/x-www-form-urlencoded` body as `parse_qsl` does (blank values kept, UTF-8 strict).

    Raises UnicodeDecodeError when a field is not UTF-8 once decoded.
    """
    if b"\\" in body or BAD_ESCAPE.search(body):
        return dict(parse_qsl(body.decode(), keep_blank_values=True, errors="strict"))
    fields = {}
    for part in body.split(b"&"):
        if part:
            name, _, value = part.partition(b"=")
            fields[_unquote_plus(name)] = _unquote_plus(value)
    return fields


def _unquote_plus(text: bytes) -> str:
    """Decode one form-encoded name or value with no backslash and only well-formed escapes (C speed)."""
    return codecs.escape_decode(text.replace(b"+", b" ").replace(b"%", b"\\x"))[0].decode()


def _headers(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}


