"""API tokens in storage: only hashes are kept, names are unique, revocation sticks."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from storage.models import hash_token, new_token
from storage.sqlite import Database

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
async def db(tmp_path: Path):
    database = await Database.open(tmp_path / "signoff.db")
    yield database
    await database.close()


def test_tokens_are_random_and_hashed_with_sha256() -> None:
    first, second = new_token(), new_token()
    assert first != second and len(first) >= 40
    assert hash_token(first) != hash_token(second) and len(hash_token(first)) == 64


async def test_a_token_is_found_by_its_hash_only(db: Database) -> None:
    token = new_token()
    async with db.transaction() as repo:
        assert await repo.add_api_token("erp", "integration", hash_token(token), NOW)
    async with db.read() as repo:
        found = await repo.api_token_by_hash(hash_token(token))
        assert await repo.api_token_by_hash(hash_token(token + "x")) is None
        stored = await repo._all("SELECT * FROM api_tokens")
    assert found is not None and (found.name, found.role, found.created_at, found.is_active) == (
        "erp", "integration", NOW, True)
    assert token not in repr([tuple(r) for r in stored])


async def test_names_are_unique_and_roles_checked(db: Database) -> None:
    async with db.transaction() as repo:
        assert await repo.add_api_token("erp", "read", hash_token("a"), NOW)
        assert not await repo.add_api_token("erp", "admin", hash_token("b"), NOW)
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        async with db.transaction() as repo:
            await repo.add_api_token("boss", "owner", hash_token("c"), NOW)
    async with db.read() as repo:
        assert [(t.name, t.role) for t in await repo.api_tokens()] == [("erp", "read")]


async def test_revoking_and_last_use(db: Database) -> None:
    async with db.transaction() as repo:
        await repo.add_api_token("erp", "read", hash_token("a"), NOW)
        await repo.touch_api_token("erp", NOW + timedelta(hours=1))
        assert await repo.revoke_api_token("erp", NOW + timedelta(hours=2))
        assert not await repo.revoke_api_token("erp", NOW + timedelta(hours=3))
        assert not await repo.revoke_api_token("nobody", NOW)
    async with db.read() as repo:
        (token,) = await repo.api_tokens()
    assert token.last_used_at == NOW + timedelta(hours=1) and token.revoked_at == NOW + timedelta(hours=2)
    assert not token.is_active
