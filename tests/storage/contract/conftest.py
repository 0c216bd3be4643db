"""The contract suite runs against every storage backend: `backend` opens stores, `store` is a fresh open one.

A new backend adds a class to backends.py and its name to BACKENDS (e.g. "postgresql", with a fresh schema per
test); the tests themselves use only storage.ports and storage.models.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from storage.ports import Store
from tests.storage.contract.backends import BACKENDS, Backend, make_backend


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """The backend under test (PostgreSQL in the session's cluster, started on first use)."""
    cluster_url = request.getfixturevalue("pg_cluster") if request.param == "postgresql" else None
    return make_backend(request.param, tmp_path, cluster_url)


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    """A freshly migrated, empty store."""
    opened = await backend.open()
    try:
        yield opened
    finally:
        await opened.close()
