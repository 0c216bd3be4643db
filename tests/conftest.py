"""Shared fixtures: a running Signoff against the local Slack workspace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.harness import Harness, running_signoff


@pytest.fixture
async def signoff(tmp_path: Path) -> AsyncIterator[Harness]:
    """A running Signoff with a fresh database."""
    async with running_signoff(tmp_path / "signoff.db") as harness:
        yield harness
