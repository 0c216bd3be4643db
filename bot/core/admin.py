"""Small administrative changes: a dead letter queued again, the company name, a reminder dismissed."""

from __future__ import annotations

from bot.core.deps import Deps
from bot.errors import Conflict, NotFound, Unprocessable
from engine.actions import CompanyInput
from storage.models import OutboxItem


async def retry_dead_letter(deps: Deps, item_id: int) -> OutboxItem:
    """Queue a dead letter again, due now (its delivery horizon starts over); raise NotFound or Conflict."""
    async with deps.unit_of_work() as repo:
        if not await repo.requeue_dead(item_id, deps.clock.now()):
            item = await repo.outbox_item(item_id)
            if item is None:
                raise NotFound.no("outbox_item", item_id)
            raise Conflict(f"outbox item {item_id} is {item.status}; only dead letters can be retried")
        requeued = await repo.outbox_item(item_id)
    assert requeued is not None
    return requeued


async def set_company(deps: Deps, data: CompanyInput) -> None:
    """Set the company name templates show as `{{ company.name }}`; Unprocessable when the body repeats another time
    zone than the company's (a setting)."""
    if problems := data.time_zone_problems(deps.settings.timezone):
        raise Unprocessable("the time zone is a setting", problems)
    async with deps.unit_of_work() as repo:
        await repo.set_company_name(data.name)


async def dismiss_reminder(deps: Deps, user: str, task_id: int) -> bool:
    """Mark one reminder task done, only when it is the user's own; tell whether it was."""
    async with deps.unit_of_work() as repo:
        task = await repo.reminder_task(task_id)
        if task is None or task.assignee != user:
            return False
        await repo.complete_reminder(task_id, deps.clock.now())
    return True
