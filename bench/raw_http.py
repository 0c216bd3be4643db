"""A lean HTTP/1.1 client for bursts: requests serialized before the clock starts, answers read by their
Content-Length. A full client library spends more CPU per request than the server under test spends per
acknowledgement, on the same cores; this one spends a few tens of microseconds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

Timing = tuple[float, float]


class HttpError(Exception):
    """The server answered with something this client does not read (no Content-Length, or closed)."""


def prepared(url: str, body: bytes, headers: Mapping[str, str]) -> bytes:
    """Serialize one POST of `body` to `url` with `headers`, keeping the connection alive."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"POST {target} HTTP/1.1", f"Host: {parts.netloc}", f"Content-Length: {len(body)}",
             *(f"{name}: {value}" for name, value in headers.items() if name.lower() != "content-length")]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class Connection:
    """One kept-alive connection to a server, sending one prepared request at a time."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, url: str) -> Connection:
        """Connect to the host and port of `url`."""
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        return cls(reader, writer)

    async def send(self, request: bytes) -> tuple[int, Timing]:
        """Send one prepared request; return its status, when it was sent and when its answer was read."""
        sent_s = time.perf_counter()
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status, length = _status_and_length(head)
        await self.reader.readexactly(length)
        return status, (sent_s, time.perf_counter())

    def close(self) -> None:
        """Close the connection."""
        self.writer.close()


def _status_and_length(head: bytes) -> tuple[int, int]:
    lines = head.decode("latin-1").split("\r\n")
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            return int(lines[0].split(" ", 2)[1]), int(value)
    raise HttpError(f"an answer without Content-Length: {lines[0]!r}")


async def connections(urls: Sequence[str], count: int) -> list[Connection]:
    """Open `count` connections, to the servers at `urls` in turn."""
    return list(await asyncio.gather(*(Connection.open(urls[i % len(urls)]) for i in range(count))))


async def fire(conns: Sequence[Connection], requests: Sequence[bytes]) -> list[Timing]:
    """Send request i on connection i, all at once; return each one's (sent, answered) times; raise unless every
    answer is a 200."""
    answers = await asyncio.gather(*(conn.send(request) for conn, request in zip(conns, requests, strict=True)))
    refused = [status for status, _ in answers if status != 200]
    if refused:
        raise HttpError(f"{len(refused)} requests were not answered 200 (e.g. HTTP {refused[0]})")
    return [timing for _, timing in answers]
