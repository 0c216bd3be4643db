"""Reminding the approvers of a document now, on an admin's word (`/signoff remind TYPE ID`, the API)."""

from __future__ import annotations

from typing import Any

from bot.core.deps import Deps
from bot.core.notices import as_message
from bot.errors import Conflict, NotFound
from engine.nudges import reminder_notices
from engine.planning import ApprovalPolicy, manual_reminder
from storage.models import AuditLine


class ApproverReminders:
    """Remind the approvers of the current step still to decide, as a scheduled reminder does (with the buttons, to
    a delegate while they are away, by e-mail where the step says so)."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def remind_now(self, record_type: str, record_id: str, actor: str | None) -> dict[str, Any]:
        """Queue the reminders and note them in the document's history; return whom they go to.

        Raise NotFound (no such document) or Conflict (no approval waiting, or nobody left to decide).
        """
        now = self.deps.clock.now()
        async with self.deps.unit_of_work() as repo:
            if await repo.get_record(record_type, record_id) is None:
                raise NotFound.no(record_type, record_id)
            request = await repo.open_request_for(record_type, record_id)
            if request is None:
                raise Conflict(f"{record_type} {record_id} has no approval waiting", why="no_approval_waiting")
            workflow = await repo.get_workflow(request.workflow_id)
            action = manual_reminder(request, ApprovalPolicy.of(workflow.approval() if workflow else None), now)
            if action is None:
                raise Conflict(f"nobody is left to decide on {record_type} {record_id}", why="nobody_left")
            delegations = await repo.delegations_of(action.data["to"], now)
            await repo.enqueue_many([as_message(n) for n in reminder_notices(action, request, delegations, now)], now)
            detail = {"step_index": action.data["step_index"], "to": list(action.data["to"]), "key": action.key,
                      "manual": True}
            await repo.audit_many([AuditLine(now, actor, "reminded", ("request", request.id), None, None, detail)])
        return {"record_type": record_type, "record_id": record_id, "request_id": request.id,
                "step": action.data["step_index"], "to": list(action.data["to"])}
