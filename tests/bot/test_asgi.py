"""The body bound of every request but Slack's: refused unread when too large, never run on half a body."""

from __future__ import annotations

from typing import Any

from starlette.types import Message, Receive, Scope, Send

from bot.asgi import MAX_API_BODY_BYTES, BodyLimit


class App:
    """An application that records the bodies it was given."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.scopes: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.scopes.append(scope["type"])
        if scope["type"] == "http":
            message = await receive()
            self.bodies.append(message.get("body", b""))


def http(path: str = "/api/v1/records/invoice/I", length: int | None = None) -> dict[str, Any]:
    headers = [(b"content-length", str(length).encode())] if length is not None else []
    return {"type": "http", "path": path, "method": "PUT", "headers": headers}


def messages(*items: Message) -> Receive:
    queue = list(items)

    async def receive() -> Message:
        return queue.pop(0)

    return receive


async def run(scope: dict[str, Any], receive: Receive) -> tuple[App, list[Message]]:
    app, sent = App(), []

    async def send(message: Message) -> None:
        sent.append(message)

    await BodyLimit(app, exempt=frozenset({"/slack/events"}))(scope, receive, send)
    return app, sent


async def test_a_body_in_chunks_reaches_the_app_whole() -> None:
    app, sent = await run(http(), messages({"type": "http.request", "body": b"ab", "more_body": True},
                                            {"type": "http.request", "body": b"c", "more_body": False}))
    assert app.bodies == [b"abc"] and sent == []


async def test_a_declared_length_over_the_bound_is_413_unread() -> None:
    app, sent = await run(http(length=MAX_API_BODY_BYTES + 1), messages())
    assert app.bodies == [] and sent[0]["status"] == 413


async def test_chunks_over_the_bound_are_413_whatever_the_declared_length() -> None:
    chunk = {"type": "http.request", "body": b"x" * (MAX_API_BODY_BYTES // 2 + 1), "more_body": True}
    app, sent = await run(http(length=10), messages(chunk, chunk, {"type": "http.request", "body": b""}))
    assert app.bodies == [] and sent[0]["status"] == 413


async def test_a_client_leaving_mid_body_runs_nothing_and_gets_no_answer() -> None:
    app, sent = await run(http(), messages({"type": "http.request", "body": b'{"amount": ', "more_body": True},
                                            {"type": "http.disconnect"}))
    assert app.bodies == [] and sent == []


async def test_other_scopes_and_slack_pass_untouched() -> None:
    for scope in ({"type": "lifespan"}, {"type": "websocket", "path": "/x", "headers": []},
                  http("/slack/events", length=MAX_API_BODY_BYTES * 2)):
        app, sent = await run(scope, messages({"type": "http.request", "body": b"s", "more_body": False}))
        assert app.scopes == [scope["type"]] and sent == []
