"""The inbox contract: identities refuse replays, leases, compare-and-set completion, work carried by a commit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from storage.errors import LeaseLostError
from storage.models import InboxEntry
from storage.ports import Repository
from storage.sqlite import Database

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
T0 = 1_800_000_000.0


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "inbox.db")
    yield database
    await database.close()


async def accept(db: Database, *entries: InboxEntry, owner: str = "me", now_s: float = T0) -> dict[str, int]:
    async with db.transaction() as repo:
        return await repo.accept_inbox(list(entries), owner, now_s, 30.0)


async def audit_actors(db: Database) -> list[str | None]:
    async with db.read() as repo:
        return [e.actor for e in await repo.audit_trail("test", "x")]


async def test_an_identity_is_stored_once_whoever_sends_it_again(db: Database) -> None:
    first = await accept(db, InboxEntry("sig:a", "click", "{}"), InboxEntry("sig:b", "request"))
    assert set(first) == {"sig:a", "sig:b"}
    assert await accept(db, InboxEntry("sig:a", "click", "{}"), owner="other") == {}
    async with db.read() as repo:
        assert await repo.inbox_counts() == {"queued": 1, "seen": 1}


@pytest.mark.parametrize(
    ("claimer", "now_s", "dead", "claimed"),
    [
        ("other", T0 + 10, [], 0),            # the lease still runs
        ("other", T0 + 31, [], 1),            # the lease ran out
        ("other", T0 + 10, ["me"], 1),        # its owner is known dead
        ("other", T0 + 10, ["someone"], 0),   # another owner is dead, not this one
    ],
)
async def test_rows_are_claimed_when_their_lease_ends_or_their_owner_is_dead(
    db: Database, claimer: str, now_s: float, dead: list[str], claimed: int,
) -> None:
    await accept(db, InboxEntry("sig:a", "click", "{}"))
    async with db.transaction() as repo:
        rows = await repo.claim_inbox(claimer, now_s, 30.0, 10, dead)
    assert len(rows) == claimed and all(r.attempts == 2 for r in rows)


async def test_completion_is_a_compare_and_set_on_the_lease(db: Database) -> None:
    row_id = (await accept(db, InboxEntry("sig:a", "click", "{}")))["sig:a"]
    async with db.transaction() as repo:
        assert not await repo.complete_inbox(row_id, "other", T0)
        assert await repo.complete_inbox(row_id, "me", T0)
        assert not await repo.complete_inbox(row_id, "me", T0)


async def test_a_carried_hook_commits_with_the_first_write_and_only_once(db: Database) -> None:
    calls: list[int] = []

    async def hook(repo: Repository) -> None:
        calls.append(1)

    with db.carrying(hook) as carried:
        async with db.transaction() as repo:
            await repo.audit(NOW, "first", "x", ("test", "x"))
        async with db.transaction() as repo:
            await repo.audit(NOW, "second", "x", ("test", "x"))
    assert carried.is_committed and calls == [1]
    assert await audit_actors(db) == ["first", "second"]


async def test_a_hook_that_raises_rolls_its_transaction_back(db: Database) -> None:
    async def lost(repo: Repository) -> None:
        raise LeaseLostError("taken over")

    with db.carrying(lost) as carried, pytest.raises(LeaseLostError):
        async with db.transaction() as repo:
            await repo.audit(NOW, "effect", "x", ("test", "x"))
    assert not carried.is_committed and await audit_actors(db) == []


async def test_work_in_several_steps_carries_nothing(db: Database) -> None:
    calls: list[int] = []

    async def hook(repo: Repository) -> None:
        calls.append(1)

    with db.carrying(hook) as carried, db.carrying_nothing():
        async with db.transaction() as repo:
            await repo.audit(NOW, "step", "x", ("test", "x"))
    assert not carried.is_committed and calls == []


async def test_handing_back_and_purging(db: Database) -> None:
    row_id = (await accept(db, InboxEntry("sig:a", "click", "{}"), InboxEntry("sig:b", "request")))["sig:a"]
    async with db.transaction() as repo:
        assert await repo.release_inbox("me") == 1
        assert await repo.claimable_inbox(T0) == 1
        assert await repo.purge_inbox(T0 + 1) == 1  # the seen row; the queued one stays
        rows = await repo.claim_inbox("other", T0, 30.0, 10)
        assert [r.id for r in rows] == [row_id]
