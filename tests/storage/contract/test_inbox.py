"""The inbox contract: identities refuse replays, leases, compare-and-set completion, handing back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from storage.models import InboxEntry
from storage.ports import Store

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
T0 = 1_800_000_000.0


async def accept(store: Store, *entries: InboxEntry, owner: str = "me", now_s: float = T0) -> dict[str, int]:
    async with store.unit_of_work() as repo:
        return await repo.accept_inbox(list(entries), owner, now_s, 30.0)


async def audit_actors(store: Store) -> list[str | None]:
    async with store.read() as repo:
        return [e.actor for e in await repo.audit_trail("test", "x")]


async def test_an_identity_is_stored_once_whoever_sends_it_again(store: Store) -> None:
    first = await accept(store, InboxEntry("sig:a", "click", "{}"), InboxEntry("sig:b", "request"))
    assert set(first) == {"sig:a", "sig:b"}
    assert await accept(store, InboxEntry("sig:a", "click", "{}"), owner="other") == {}
    async with store.read() as repo:
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
    store: Store, claimer: str, now_s: float, dead: list[str], claimed: int,
) -> None:
    await accept(store, InboxEntry("sig:a", "click", "{}"))
    async with store.unit_of_work() as repo:
        rows = await repo.claim_inbox(claimer, now_s, 30.0, 10, dead)
    assert len(rows) == claimed and all(r.attempts == 2 for r in rows)


async def test_completion_is_a_compare_and_set_on_the_lease(store: Store) -> None:
    row_id = (await accept(store, InboxEntry("sig:a", "click", "{}")))["sig:a"]
    async with store.unit_of_work() as repo:
        assert not await repo.complete_inbox(row_id, "other", T0)
        assert await repo.complete_inbox(row_id, "me", T0)
        assert not await repo.complete_inbox(row_id, "me", T0)


async def test_handing_back_and_purging(store: Store) -> None:
    row_id = (await accept(store, InboxEntry("sig:a", "click", "{}"), InboxEntry("sig:b", "request")))["sig:a"]
    async with store.unit_of_work() as repo:
        assert await repo.release_inbox("me") == 1
        assert await repo.claimable_inbox(T0) == 1
        assert await repo.purge_inbox(T0 + 1) == 1  # the seen row; the queued one stays
        rows = await repo.claim_inbox("other", T0, 30.0, 10)
        assert [r.id for r in rows] == [row_id]


async def test_a_lease_is_renewed_only_by_the_owner_still_holding_it(store: Store) -> None:
    row_id = (await accept(store, InboxEntry("sig:a", "click", "{}")))["sig:a"]
    async with store.unit_of_work() as repo:
        await repo.renew_inbox("me", [row_id], T0 + 100)
        assert await repo.claimable_inbox(T0 + 99) == 0 and await repo.claimable_inbox(T0 + 100) == 1
        [taken] = await repo.claim_inbox("other", T0 + 100, 30.0, 10)
        await repo.renew_inbox("me", [row_id], T0 + 1000)
        assert await repo.inbox_owners() == ["other"] and await repo.claimable_inbox(T0 + 131) == 1
        assert not await repo.complete_inbox(row_id, "me", T0 + 131)
    assert taken.id == row_id and taken.attempts == 2 and taken.body == "{}" and taken.received_s == T0


async def test_a_failed_attempt_is_retried_later_and_the_last_one_kept_as_failed(store: Store) -> None:
    row_id = (await accept(store, InboxEntry("sig:a", "click", "{}")))["sig:a"]
    async with store.unit_of_work() as repo:
        await repo.retry_inbox(row_id, "other", T0 + 5, "not the owner: ignored")
        assert await repo.inbox_owners() == ["me"]
        await repo.retry_inbox(row_id, "me", T0 + 5, "boom")
        assert await repo.inbox_owners() == [] and await repo.claimable_inbox(T0 + 4) == 0
        [again] = await repo.claim_inbox("other", T0 + 5, 30.0, 10)
        await repo.fail_inbox(again.id, "other", "boom again")
        assert await repo.inbox_counts() == {"failed": 1}
        assert await repo.claim_inbox("other", T0 + 1000, 30.0, 10) == []
        assert not await repo.complete_inbox(row_id, "other", T0 + 1000)


async def test_claims_come_oldest_first_up_to_the_limit(store: Store) -> None:
    ids = await accept(store, *(InboxEntry(f"sig:{n}", "click", str(n)) for n in range(5)))
    async with store.unit_of_work() as repo:
        first = await repo.claim_inbox("other", T0 + 31, 30.0, 3)
        rest = await repo.claim_inbox("third", T0 + 31, 30.0, 10)
    assert [r.id for r in first] == [ids[f"sig:{n}"] for n in range(3)]
    assert [r.body for r in rest] == ["3", "4"]


async def test_a_row_is_in_hand_while_a_live_lease_holds_it(store: Store) -> None:
    ids = await accept(store, InboxEntry("sig:a", "click", "{}"), InboxEntry("sig:b", "click", "{}"),
                       InboxEntry("sig:c", "request"))
    async with store.read() as repo:
        assert await repo.is_inbox_in_hand(T0 + 10) and not await repo.is_inbox_in_hand(T0 + 31)
    async with store.unit_of_work() as repo:
        await repo.finish_inbox(ids["sig:a"], "me", T0 + 1)
        await repo.retry_inbox(ids["sig:b"], "me", T0 + 20, "failed")
    async with store.read() as repo:
        assert not await repo.is_inbox_in_hand(T0 + 10)  # one done, one waiting to be tried again by anyone


async def test_sharing_hands_back_only_the_rows_named_that_the_owner_holds_and_counts_no_attempt(
    store: Store,
) -> None:
    ids = list((await accept(store, *(InboxEntry(f"sig:{n}", "click", "{}") for n in range(4)))).values())
    await accept(store, InboxEntry("sig:theirs", "click", "{}"), owner="other")
    async with store.unit_of_work() as repo:
        assert await repo.complete_inbox(ids[0], "me", T0)
        assert await repo.share_inbox("me", [ids[0], ids[2], ids[3], 404]) == 2  # done and unknown rows stay
        assert await repo.share_inbox("someone", [ids[1]]) == 0
        rows = await repo.claim_inbox("peer", T0 + 1, 30.0, 10)
    assert [(r.id, r.attempts) for r in rows] == [(ids[2], 1), (ids[3], 1)]
