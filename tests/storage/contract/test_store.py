"""The Store contract: units of work commit whole or not at all, snapshots, hooks tied to a commit, the schema guard."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from engine.approvals import ApprovalRequest, Decision, Step, decide
from engine.records import Record
from storage.errors import LeaseLostError, SchemaTooNewError, StorageError
from storage.ports import Repository, Store
from tests.storage.contract.backends import Backend

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def a_record(**changes: object) -> Record:
    data = {"type": "invoice", "id": "INV-1", "amount": "12500.10", "currency": "EUR", "created_at": NOW,
            "updated_at": NOW, "class": "Services", "fields": {"po": "PO-7"}}
    data.update(changes)
    return Record.model_validate(data)


def a_request() -> ApprovalRequest:
    return ApprovalRequest("AR-1", "invoice", "INV-1", "wf", "U0REQ",
                           (Step(0, ("UA", "UB", "UC"), 2), Step(1, ("UD",), 1)), NOW, NOW)


async def audit_actors(store: Store) -> list[str | None]:
    async with store.read() as repo:
        return [e.actor for e in await repo.audit_trail("test", "x")]


async def test_a_new_store_is_migrated_and_answers(store: Store) -> None:
    async with store.read() as repo:
        assert await repo.schema_version() > 0
    assert await store.ping()


async def test_a_store_written_by_a_newer_signoff_is_refused(backend: Backend) -> None:
    first = await backend.open()
    async with first.read() as repo:
        latest = await repo.schema_version()
    await first.close()
    backend.set_schema_version(latest + 1)
    with pytest.raises(SchemaTooNewError, match=str(latest + 1)):
        await backend.open()
    backend.set_schema_version(latest)
    again = await backend.open()
    assert await again.ping()
    await again.close()


async def test_a_unit_of_work_commits_on_success(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.save_record(a_record())
        assert await repo.get_record("invoice", "INV-1") == a_record()
    async with store.read() as repo:
        loaded = await repo.get_record("invoice", "INV-1")
    assert loaded == a_record() and loaded.amount == Decimal("12500.10") and loaded.class_ == "Services"


async def test_a_failed_unit_of_work_changes_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with store.unit_of_work() as repo:
            await repo.save_record(a_record())
            await repo.audit(NOW, "U1", "created", ("test", "x"))
            raise RuntimeError("boom")
    async with store.read() as repo:
        assert await repo.get_record("invoice", "INV-1") is None
    assert await audit_actors(store) == []


async def test_transaction_is_the_unit_of_work(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.save_record(a_record())
    async with store.read() as repo:
        assert await repo.count_records() == 1


async def test_units_of_work_are_serialised(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.insert_request(a_request())

    async def vote(who: str) -> None:
        async with store.unit_of_work() as repo:
            request = await repo.get_request("AR-1")
            assert request is not None
            await asyncio.sleep(0)
            await repo.update_request(decide(request, who, Decision.APPROVE, NOW).request)

    await asyncio.gather(*(vote(w) for w in ["UA", "UB", "UC"] * 10), return_exceptions=True)
    async with store.read() as repo:
        request = await repo.get_request("AR-1")
    assert request is not None and len(request.approvals_on(0)) == 2 and request.current_step == 1


async def test_a_snapshot_sees_the_last_commit_and_does_not_wait_for_a_unit_of_work(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.save_record(a_record(id="INV-OLD"))
    async with store.unit_of_work() as repo:
        await repo.save_record(a_record(id="INV-NEW"))
        async with asyncio.timeout(2), store.read() as reader:
            assert await reader.get_record("invoice", "INV-OLD") is not None
            assert await reader.get_record("invoice", "INV-NEW") is None
    async with store.read() as reader:
        assert await reader.get_record("invoice", "INV-NEW") is not None


async def test_a_snapshot_keeps_no_write(store: Store) -> None:
    with pytest.raises(Exception):  # noqa: B017 - the backend's own error
        async with store.read() as reader:
            await reader.save_record(a_record())
    async with store.read() as reader:
        assert await reader.get_record("invoice", "INV-1") is None


async def test_data_survives_reopening(backend: Backend) -> None:
    first = await backend.open()
    async with first.unit_of_work() as repo:
        await repo.save_record(a_record())
    await first.close()
    second = await backend.open()
    async with second.read() as repo:
        assert await repo.get_record("invoice", "INV-1") == a_record()
    await second.close()


async def test_on_commit_hooks_run_after_the_commit_in_order(store: Store) -> None:
    seen: list[tuple[str, int]] = []

    async def count(label: str) -> None:
        async with store.read() as repo:
            seen.append((label, await repo.count_records()))

    async with store.unit_of_work() as repo:
        await repo.save_record(a_record())
        store.on_commit(lambda: count("async"))
        store.on_commit(lambda: seen.append(("sync", -1)) or None)
        assert seen == []
    assert seen == [("async", 1), ("sync", -1)]


async def test_on_commit_hooks_never_run_after_a_rollback(store: Store) -> None:
    seen: list[str] = []
    with pytest.raises(RuntimeError):
        async with store.unit_of_work() as repo:
            await repo.save_record(a_record())
            store.on_commit(lambda: seen.append("ran") or None)
            raise RuntimeError("rolled back")
    async with store.unit_of_work():
        pass
    assert seen == []


async def test_an_on_commit_error_is_raised_after_every_hook_ran_and_the_commit_stands(store: Store) -> None:
    seen: list[str] = []

    def fail() -> None:
        raise ValueError("hook failed")

    with pytest.raises(ValueError, match="hook failed"):
        async with store.unit_of_work() as repo:
            await repo.save_record(a_record())
            store.on_commit(fail)
            store.on_commit(lambda: seen.append("second") or None)
    assert seen == ["second"]
    async with store.read() as repo:
        assert await repo.count_records() == 1


async def test_on_commit_hooks_belong_to_the_task_that_registered_them(store: Store) -> None:
    seen: list[str] = []
    with pytest.raises(StorageError):
        store.on_commit(lambda: None)
    async with store.read():
        with pytest.raises(StorageError):
            store.on_commit(lambda: None)
    async with store.unit_of_work():
        store.on_commit(lambda: seen.append("first") or None)
    async with store.unit_of_work():
        pass
    assert seen == ["first"]


async def test_a_carried_hook_commits_with_the_first_write_and_only_once(store: Store) -> None:
    calls: list[int] = []

    async def hook(repo: Repository) -> None:
        calls.append(await repo.count_records())

    with store.carrying(hook) as carried:
        async with store.unit_of_work() as repo:
            await repo.save_record(a_record())
            await repo.audit(NOW, "first", "x", ("test", "x"))
        async with store.unit_of_work() as repo:
            await repo.audit(NOW, "second", "x", ("test", "x"))
    assert carried.is_committed and calls == [1]
    assert await audit_actors(store) == ["first", "second"]


async def test_a_carried_hook_that_raises_rolls_its_unit_of_work_back(store: Store) -> None:
    async def lost(repo: Repository) -> None:
        raise LeaseLostError("taken over")

    with store.carrying(lost) as carried, pytest.raises(LeaseLostError):
        async with store.unit_of_work() as repo:
            await repo.audit(NOW, "effect", "x", ("test", "x"))
    assert not carried.is_committed and await audit_actors(store) == []


async def test_work_in_several_steps_carries_nothing(store: Store) -> None:
    calls: list[int] = []

    async def hook(repo: Repository) -> None:
        calls.append(1)

    with store.carrying(hook) as carried, store.carrying_nothing():
        async with store.unit_of_work() as repo:
            await repo.audit(NOW, "step", "x", ("test", "x"))
    assert not carried.is_committed and calls == []
