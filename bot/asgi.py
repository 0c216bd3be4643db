"""What the ASGI middlewares share: reading a body up to a bound, handing it on, answering directly; and the bound
on every request body but Slack's (which its front bounds itself)."""

from __future__ import annotations

import json
from urllib.parse import unquote_to_bytes

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.errors import error_body

# Far above any document, workflow, rule or group the API takes; a larger body is refused unread.
MAX_API_BODY_BYTES = 1024 * 1024
TOO_LARGE_API_BODY = json.dumps(error_body("too_large", f"the body is larger than {MAX_API_BODY_BYTES} bytes")).encode()


async def read_body(receive: Receive, max_bytes: int) -> bytes | None:
    """Return the whole body, or None once it is larger than `max_bytes`; raise ClientDisconnect if the client left."""
    chunks: list[bytes] = []
    size, more = 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk = message.get("body", b"")
        size += len(chunk)
        chunks.append(chunk)
        more = message.get("more_body", False)
        if size > max_bytes:
            return None
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """Return a `receive` giving the body already read, then whatever the connection says next."""
    is_sent = False

    async def replaying() -> Message:
        nonlocal is_sent
        if is_sent:
            return await receive()
        is_sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replaying


async def respond(send: Send, status: int, body: bytes, content_type: bytes) -> None:
    """Answer a request directly."""
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """ASGI middleware answering 413 to a body larger than MAX_API_BODY_BYTES (paths in `exempt` pass untouched)."""

    def __init__(self, app: ASGIApp, *, exempt: frozenset[str]) -> None:
        self.app = app
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass a request on with its body read once, or refuse it."""
        if scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        if _declared_length_bytes(scope) > MAX_API_BODY_BYTES:
            await respond(send, 413, TOO_LARGE_API_BODY, b"application/json")
            return
        try:
            body = await read_body(receive, MAX_API_BODY_BYTES)
        except ClientDisconnect:
            return  # nobody is left to answer, and nothing is done on half a body
        if body is None:
            await respond(send, 413, TOO_LARGE_API_BODY, b"application/json")
            return
        await self.app(scope, replay(body, receive), send)


def _declared_length_bytes(scope: Scope) -> int:
    """Return the Content-Length a request declares (0 when none or unreadable: the body is counted as read)."""
    for name, value in scope["headers"]:
        if name.lower() == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0


INVALID_PATH = json.dumps(error_body("invalid", "the path is not valid", [
    {"path": "(path)", "message": "percent-encoded bytes that are not UTF-8"}])).encode()


class ApiQueries:
    """ASGI middleware for the REST API: a path whose percent-encoded bytes are not UTF-8 is refused (422; decoded,
    they would all read as U+FFFD and name one document), and a query parameter given empty (`?type=`) is no filter.
    """

    def __init__(self, app: ASGIApp, *, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass an API request on with its empty query values left out, or refuse its path."""
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        if not _is_utf8(unquote_to_bytes(scope.get("raw_path") or scope["path"].encode())):
            await respond(send, 422, INVALID_PATH, b"application/json")
            return
        pairs = scope.get("query_string", b"").split(b"&")
        kept = b"&".join(p for p in pairs if p.partition(b"=")[2])
        await self.app({**scope, "query_string": kept}, receive, send)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class Drain:
    """Whether this process is draining: about to stop, it still serves every request while the load balancer,
    told by `/healthz`, sends the next ones elsewhere."""

    is_draining: bool = False


class ClosingWhileDraining:
    """ASGI middleware: while draining, every response closes its connection (`Connection: close`), so no client
    keeps one alive to a process about to stop and sends its next request on it as it closes."""

    def __init__(self, app: ASGIApp, *, drain: Drain) -> None:
        self.app = app
        self.drain = drain

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; when its response starts while draining (it may have begun before), mark the
        response's connection to close."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def closing(message: Message) -> None:
            if message["type"] == "http.response.start" and self.drain.is_draining:
                message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, closing)
