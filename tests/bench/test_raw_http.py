"""The benchmarks' lean HTTP client, against a real aiohttp server on a free port."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bench import raw_http

SECRET_HEADER = "X-Slack-Signature"


async def echo(request: web.Request) -> web.StreamResponse:
    """Answer 200 with the body and the signature header, 403 without the header, chunked on /chunked."""
    if request.path == "/chunked":
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b"x")
        await response.write_eof()
        return response
    if SECRET_HEADER not in request.headers:
        return web.Response(status=403, text="no signature")
    return web.Response(body=request.headers[SECRET_HEADER].encode() + b":" + await request.read())


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    """The URL of an echo server on a free loopback port."""
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def test_prepared_requests_are_answered_on_kept_alive_connections(base_url: str) -> None:
    conns = await raw_http.connections([f"{base_url}/a", f"{base_url}/b"], 2)
    requests = [raw_http.prepared(f"{base_url}/slack/events", f"payload={i}".encode(), {SECRET_HEADER: f"v0={i}"})
                for i in range(2)]
    for _ in range(3):
        timings = await raw_http.fire(conns, requests)
        assert all(sent_s <= answered_s for sent_s, answered_s in timings)
    status, _ = await conns[0].send(requests[1])
    assert status == 200
    for conn in conns:
        conn.close()


async def test_a_refused_request_fails_the_burst(base_url: str) -> None:
    conns = await raw_http.connections([base_url], 2)
    good = raw_http.prepared(f"{base_url}/x", b"a=1", {SECRET_HEADER: "v0=1"})
    with pytest.raises(raw_http.HttpError, match=r"1 requests were not answered 200 .*HTTP 403"):
        await raw_http.fire(conns, [good, raw_http.prepared(f"{base_url}/x", b"a=1", {})])
    for conn in conns:
        conn.close()


async def test_an_answer_without_a_length_is_refused(base_url: str) -> None:
    conn = await raw_http.Connection.open(base_url)
    with pytest.raises(raw_http.HttpError, match="without Content-Length"):
        await conn.send(raw_http.prepared(f"{base_url}/chunked", b"", {}))
    conn.close()


def test_a_prepared_request_carries_its_own_length() -> None:
    request = raw_http.prepared("http://h:1/p?q=1", b"abc", {"Content-Length": "99", "X-A": "1"})
    assert request == b"POST /p?q=1 HTTP/1.1\r\nHost: h:1\r\nContent-Length: 3\r\nX-A: 1\r\n\r\nabc"
