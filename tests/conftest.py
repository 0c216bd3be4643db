"""Shared fixtures: a running Signoff against the local Slack workspace."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.harness import Harness, running_signoff
from tests.support.postgres import cluster
from tests.support.smtp import Inbox, smtp_server


@pytest.fixture
async def signoff(tmp_path: Path) -> AsyncIterator[Harness]:
    """A running Signoff with a fresh database."""
    async with running_signoff(tmp_path / "signoff.db") as harness:
        yield harness


@pytest.fixture
def smtp() -> Iterator[Inbox]:
    """A real SMTP server on loopback; `.url` is its SIGNOFF_SMTP_URL."""
    with smtp_server() as inbox:
        yield inbox


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[str]:
    """The URL of the session's throwaway PostgreSQL cluster (its `postgres` database), started on first use."""
    with cluster() as url:
        yield url
