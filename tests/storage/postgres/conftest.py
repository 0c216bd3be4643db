"""Fixtures of the PostgreSQL tests: a fresh database of the session's cluster (`pg_cluster`) for each test."""

from __future__ import annotations

import uuid

import pytest

from tests.support.postgres import fresh_database


@pytest.fixture
def pg_url(pg_cluster: str) -> str:
    """The URL of a new, empty database of the session's cluster."""
    return fresh_database(pg_cluster, f"test_{uuid.uuid4().hex}")
