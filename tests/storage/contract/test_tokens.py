"""API tokens in storage: found by hash only, names are unique, roles checked, revocation sticks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage.models import ENV_TOKEN_NAME, ROLES, hash_token, new_token
from storage.ports import Store

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def test_tokens_are_random_and_hashed_with_sha256() -> None:
    first, second = new_token(), new_token()
    assert first != second and len(first) >= 40
    assert hash_token(first) != hash_token(second) and len(hash_token(first)) == 64


async def test_a_token_is_found_by_its_hash_only(store: Store) -> None:
    token = new_token()
    async with store.unit_of_work() as repo:
        assert await repo.add_api_token("erp", "integration", hash_token(token), NOW)
    async with store.read() as repo:
        found = await repo.api_token_by_hash(hash_token(token))
        assert await repo.api_token_by_hash(hash_token(token + "x")) is None
    assert found is not None and (found.name, found.role, found.created_at, found.is_active) == (
        "erp", "integration", NOW, True)


async def test_names_are_unique_and_roles_checked(store: Store) -> None:
    async with store.unit_of_work() as repo:
        assert await repo.add_api_token("erp", "read", hash_token("a"), NOW)
        assert not await repo.add_api_token("erp", "admin", hash_token("b"), NOW)
    with pytest.raises(Exception, match=r"(?i)check"):  # each backend raises its own constraint error
        async with store.unit_of_work() as repo:
            await repo.add_api_token("boss", "owner", hash_token("c"), NOW)
    async with store.read() as repo:
        assert [(t.name, t.role) for t in await repo.api_tokens()] == [("erp", "read")]


async def test_revoking_and_last_use(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.add_api_token("erp", "read", hash_token("a"), NOW)
        await repo.touch_api_token("erp", NOW + timedelta(hours=1))
        assert await repo.revoke_api_token("erp", NOW + timedelta(hours=2))
        assert not await repo.revoke_api_token("erp", NOW + timedelta(hours=3))
        assert not await repo.revoke_api_token("nobody", NOW)
    async with store.read() as repo:
        (token,) = await repo.api_tokens()
    assert token.last_used_at == NOW + timedelta(hours=1) and token.revoked_at == NOW + timedelta(hours=2)
    assert not token.is_active


async def test_the_environment_token_name_and_roles_are_shared_constants() -> None:
    assert ENV_TOKEN_NAME == "env" and ROLES == ("admin", "integration", "read")
