"""Approval lines of the run history, written in the transaction of the event they tell."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from engine.history import HistoryEntry
from storage.models import WorkflowRun
from storage.ports import Repository


async def record_history(repo: Repository, entries: Sequence[HistoryEntry], now: datetime) -> None:
    """Store approval history lines as runs of their workflow (named as it is now, or by id once deleted)."""
    names: dict[str, str] = {}
    runs = []
    for entry in entries:
        request, workflow_id = entry.request, entry.run_workflow_id
        if workflow_id not in names:
            workflow = await repo.get_workflow(workflow_id)
            names[workflow_id] = workflow.name if workflow else workflow_id
        runs.append(WorkflowRun(
            f"run_{uuid.uuid4().hex[:16]}", workflow_id, names[workflow_id], request.record_type,
            request.record_id, entry.cause, entry.outcome, entry.actions(), now, event=entry.event.value,
            request_id=request.id, actor=entry.actor, on_behalf_of=entry.on_behalf_of, decision=entry.decision,
            reason=entry.reason, step=entry.step))
    if runs:
        await repo.insert_runs(runs)
