"""Workflows read in snapshots are validated once per version of the table, and never stale."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.workflows import STORED, Workflow
from storage.ports import Store
from tests.storage.contract.backends import Backend

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def a_workflow(workflow_id: str, name: str, record_type: str = "invoice") -> Workflow:
    return Workflow.model_validate({
        "id": workflow_id, "name": name, "record_type": record_type, "trigger": "created", "enabled": True,
        "status": "published", "created_at": NOW, "updated_at": NOW,
        "actions": [{"type": "notification", "channel": "#finance", "message": "{{ record.id }}"}]})


DEFAULTS = {"Bill payment reminder", "Unsent invoice reminder"}


async def names(store: Store, record_type: str | None = None) -> list[str]:
    """Return the names of the workflows a snapshot lists, leaving out the two a new company starts with."""
    async with store.read() as repo:
        return [w.name for w in await repo.list_workflows(record_type) if w.name not in DEFAULTS]


async def test_a_snapshot_reuses_validated_workflows_until_any_process_writes_one(backend: Backend) -> None:
    one, other = await backend.open(), await backend.open()
    try:
        async with one.unit_of_work() as repo:
            await repo.save_workflow(a_workflow("wf_a", "A"))
        assert await names(one) == ["A"]
        async with one.read() as repo:
            first = await repo.list_workflows()
            assert await repo.list_workflows() is not first and (await repo.list_workflows())[0] is first[0]
        async with other.unit_of_work() as repo:
            await repo.save_workflow(a_workflow("wf_b", "B", "bill"))
        assert await names(one) == ["A", "B"] and await names(one, "bill") == ["B"]
        async with other.unit_of_work() as repo:
            await repo.delete_workflow("wf_a")
        assert await names(one) == ["B"]
    finally:
        await one.close()
        await other.close()


async def test_a_rolled_back_write_never_reaches_the_cache(store: Store) -> None:
    assert await names(store) == []
    with pytest.raises(RuntimeError):
        async with store.unit_of_work() as repo:
            await repo.save_workflow(a_workflow("wf_x", "Phantom"))
            assert "Phantom" in [w.name for w in await repo.list_workflows()]
            raise RuntimeError("rolled back")
    async with store.unit_of_work() as repo:
        await repo.save_workflow(a_workflow("wf_y", "Real"))
    assert await names(store) == ["Real"]


async def test_a_write_transaction_reuses_committed_workflows_and_sees_its_own_writes(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.save_workflow(a_workflow("wf_a", "A"))
    async with store.unit_of_work() as repo:
        first = await repo.list_workflows()
    async with store.unit_of_work() as repo:
        assert (await repo.list_workflows())[0] is first[0]
        await repo.save_workflow(a_workflow("wf_b", "B"))
        assert [w.name for w in await repo.list_workflows() if w.name not in DEFAULTS] == ["A", "B"]
        await repo.delete_workflow("wf_a")
        assert [w.name for w in await repo.list_workflows() if w.name not in DEFAULTS] == ["B"]
    assert await names(store) == ["B"]


async def test_the_version_moves_with_every_committed_write_and_not_with_a_rolled_back_one(store: Store) -> None:
    async with store.read() as repo:
        start = await repo.workflows_version()
    async with store.unit_of_work() as repo:
        await repo.save_workflow(a_workflow("wf_a", "A"))
    async with store.read() as repo:
        saved = await repo.workflows_version()
        assert saved > start and (await repo.get_workflow("wf_a")) == a_workflow("wf_a", "A")
    with pytest.raises(RuntimeError):
        async with store.unit_of_work() as repo:
            assert await repo.delete_workflow("wf_a") and not await repo.delete_workflow("wf_a")
            raise RuntimeError("rolled back")
    async with store.read() as repo:
        assert await repo.workflows_version() == saved and await repo.get_workflow("wf_a") is not None


async def test_a_workflow_saved_under_older_rules_is_read_back(store: Store) -> None:
    stored = {"id": "wf_old", "name": "Old", "record_type": "bill", "trigger": "created", "enabled": True,
              "status": "published", "created_at": NOW, "updated_at": NOW,
              "actions": [{"type": "approval", "steps": [{"approvers": ["U01AAA"]}], "remind_every": "PT30S",
                           "expire_after": "P99999999D"}]}
    with pytest.raises(ValueError, match="duration_too_short"):
        Workflow.model_validate(stored)
    async with store.unit_of_work() as repo:
        await repo.save_workflow(Workflow.model_validate(stored, context=STORED))
    async with store.read() as repo:
        (old,) = [w for w in await repo.list_workflows("bill") if w.id == "wf_old"]
    approval = old.approval()
    assert approval is not None and (approval.remind_every, approval.expire_after) == ("PT30S", "P99999999D")
