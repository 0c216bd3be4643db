"""Workflow runs (newest first, by cursor), reminder tasks (open, done, ended) and the company row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.actions import ReminderState
from storage.models import ReminderTask, RunFilter, WorkflowRun
from storage.ports import Store

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def a_run(run_id: str, workflow_id: str = "wf_a", record_id: str = "INV-1") -> WorkflowRun:
    return WorkflowRun(run_id, workflow_id, "A", "invoice", record_id, "created", "ok",
                       [{"type": "notification", "amount": "1.10"}], NOW)


def a_task(assignee: str, record_id: str = "INV-1", workflow_id: str = "wf_a", text: str = "pay") -> ReminderTask:
    return ReminderTask(0, "run-1", assignee, workflow_id, "invoice", record_id, text, NOW)


async def test_runs_list_newest_first_by_filter_and_cursor(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.insert_run(a_run("r1"))
        await repo.insert_runs([a_run("r2", "wf_b"), a_run("r3", record_id="INV-2"), a_run("r4")])
    async with store.read() as repo:
        every = await repo.list_runs(RunFilter())
        of_a = [r.id for r in await repo.list_runs(RunFilter(workflow_id="wf_a"))]
        of_record = [r.id for r in await repo.list_runs(RunFilter(record_type="invoice", record_id="INV-1"))]
        page = [r.id for r in await repo.list_runs(RunFilter(before_seq=every[1].seq, limit=1))]
        one = await repo.get_run("r3")
        assert await repo.get_run("r9") is None
    assert [r.id for r in every] == ["r4", "r3", "r2", "r1"] and of_a == ["r4", "r3", "r1"]
    assert of_record == ["r4", "r2", "r1"] and page == ["r2"]
    assert one is not None and one.actions == [{"type": "notification", "amount": "1.10"}] and one.at == NOW


async def test_reminder_tasks_are_open_until_done_and_live_until_ended(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.insert_run(a_run("run-1"))
        await repo.add_reminder_tasks([a_task("U1"), a_task("U2"), a_task("U1", "INV-2")])
        await repo.add_reminder_tasks([a_task("U1", "INV-3", "wf_b")])
        newest, second, _ = await repo.reminders_for("U1")
        assert await repo.complete_reminder(second.id, NOW) and not await repo.complete_reminder(second.id, NOW)
        await repo.retext_reminders("wf_a", ("invoice", "INV-1"), ["U1", "U2"], "pay now")
        await repo.end_reminders("wf_a", [("invoice", "INV-1")], NOW + timedelta(hours=1))
    async with store.read() as repo:
        open_u1 = [(t.record_id, t.text) for t in await repo.reminders_for("U1")]
        every_u1 = [t.record_id for t in await repo.reminders_for("U1", include_done=True)]
        page, total = await repo.open_reminders("U1", limit=1)
        of_wf_b, total_b = await repo.open_reminders("U1", workflow_id="wf_b")
        states = await repo.reminder_states("wf_a", "invoice", "INV-2")
        documents = await repo.reminded_documents("wf_a")
        task = await repo.reminder_task(newest.id)
    assert open_u1 == [("INV-3", "pay"), ("INV-1", "pay now")] and every_u1 == ["INV-3", "INV-2", "INV-1"]
    assert [t.record_id for t in page] == ["INV-3"] and total == 1 and len(of_wf_b) == total_b == 1
    assert states == {"U1": ReminderState.DISMISSED} and documents == {("invoice", "INV-2")}
    assert task is not None and task.assignee == "U1" and task.done_at is None


async def test_the_company_row(store: Store) -> None:
    async with store.unit_of_work() as repo:
        assert await repo.company_name() == ""
        await repo.set_company_name("Acme")
        await repo.set_company_name("Acme SAS")
    async with store.read() as repo:
        assert await repo.company_name() == "Acme SAS"
