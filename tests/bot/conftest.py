"""Fixtures shared by the bot tests."""

from __future__ import annotations

import contextlib
import errno
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.harness import Harness, running_signoff
from tests.support.smtp import Inbox

PORT_ATTEMPTS = 5


def free_port() -> int:
    """Return a loopback port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def mailing(tmp_path: Path, smtp: Inbox) -> AsyncIterator[Harness]:
    """A running Signoff that sends e-mail to the test SMTP server, its links pointing back at itself."""
    for attempt in range(PORT_ATTEMPTS):  # another process may take the free port before Signoff binds it
        stack = contextlib.AsyncExitStack()
        try:
            harness = await stack.enter_async_context(
                running_signoff(tmp_path / f"s{attempt}.db", port=free_port(), smtp_url=smtp.url))
        except OSError as exc:
            await stack.aclose()
            if exc.errno != errno.EADDRINUSE or attempt == PORT_ATTEMPTS - 1:
                raise
            continue
        async with stack:
            yield harness
        return
