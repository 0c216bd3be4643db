"""Fixtures shared by the bot tests."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.harness import Harness, running_signoff
from tests.support.smtp import Inbox


def free_port() -> int:
    """Return a loopback port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def mailing(tmp_path: Path, smtp: Inbox) -> AsyncIterator[Harness]:
    """A running Signoff that sends e-mail to the test SMTP server, its links pointing back at itself."""
    async with running_signoff(tmp_path / "s.db", port=free_port(), smtp_url=smtp.url) as harness:
        yield harness
