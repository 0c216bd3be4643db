"""Workflow actions on save: the workflows a saved record triggers, their actions planned by the engine, then run."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime

from bot.core.action_run import ActionRun, ActionTexts
from bot.core.deps import Deps
from bot.core.webhooks import Webhooks
from engine.actions import Company, Planned, has_side_actions, plan_actions
from engine.approvals import Outcome
from engine.conditions import EvalContext, compile_conditions
from engine.facts import facts_of
from engine.lifecycle import changed_fields, is_triggered
from engine.records import Contact, Record
from engine.workflows import ReminderAction, Workflow, WorkflowDefinition
from storage.ports import Repository

SAVE_CAUSES = frozenset({"created", "updated"})


class Automation:
    """Runs workflows' non-approval actions when records are saved, and keeps the run history."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.texts = ActionTexts(deps)
        self.webhooks = Webhooks(deps)

    async def on_record_saved(self, repo: Repository, before: Record | None, after: Record, now: datetime) -> None:
        """Run every live workflow whose trigger fires and conditions hold (approval is the lifecycle's)."""
        # every workflow sees the record as saved; the record webhook then carries the fields they set
        changed = changed_fields(before, after)
        candidates = [w for w in await repo.list_workflows(after.type.value)
                      if w.is_live() and has_side_actions(w) and is_triggered(w, before is None, changed)]
        cause = "created" if before is None else "updated"
        matching = await self.matching(repo, candidates, after, now) if candidates else []
        for workflow in matching:
            await self.run_workflow(repo, workflow, after, now, cause=cause)
        for workflow in (w for w in candidates if w not in matching and _reminds(w)):
            await repo.end_reminders(workflow.id, [after.key()], now)
        final = await repo.get_record(after.type.value, after.id) or after
        await self.webhooks.record_saved(repo, before, final, now)

    async def matching(
        self, repo: Repository, workflows: Sequence[Workflow], record: Record, now: datetime
    ) -> list[Workflow]:
        """Return the workflows whose conditions hold for the record at `now`."""
        facts = facts_of(record, await repo.contacts_of(record))
        groups = await repo.contact_group_members(_group_names(workflows))
        ctx = EvalContext.at(now, self.deps.settings.tz, groups)
        return [w for w in workflows if compile_conditions(w.conditions, tz=ctx.tz)(facts, ctx)]

    async def on_outcome(self, repo: Repository, outcome: Outcome, now: datetime) -> None:
        """Publish an approval outcome's events as webhooks."""
        await self.webhooks.on_outcome(repo, outcome, now)

    async def run_workflow(self, repo: Repository, workflow: Workflow, record: Record, now: datetime, *,
                           cause: str, digest: set[str] | None = None) -> str:
        """Perform a workflow's non-approval actions for one record in the caller's transaction; return the run id.

        With `digest`, people's reminders are not sent one by one: they are added to the set, to get one digest.
        """
        current = await repo.get_record(record.type.value, record.id) or record
        company = Company(await repo.company_name(), self.deps.settings.timezone)
        run = ActionRun(self.texts, repo, f"run_{uuid.uuid4().hex[:16]}", workflow, current, now, company, digest)
        for item in await self._plan(repo, run):
            await run.perform(item)
        updated = await run.apply_fields()
        if updated is not None and cause not in SAVE_CAUSES:
            await self.webhooks.record_saved(repo, current, updated, now)
        await repo.insert_run(run.history(cause))
        await repo.add_reminder_tasks(run.tasks)
        return run.run_id

    async def _plan(self, repo: Repository, run: ActionRun) -> list[Planned]:
        contact = _primary_contact(run.record, await repo.contacts_of(run.record))
        states = await repo.reminder_states(run.workflow.id, *run.record.key()) if _reminds(run.workflow) else {}
        return plan_actions(run.workflow, run.record, contact, run.now, run.company,
                            people_groups=await repo.people_groups(),
                            fallback=tuple(sorted(self.deps.settings.admins)), sender=self.texts.sender_address(),
                            is_email_on=self.texts.is_email_on, reminder_states=states)


def _primary_contact(record: Record, contacts: dict[str, Contact]) -> Contact | None:
    if record.customer and f"customer:{record.customer}" in contacts:
        return contacts[f"customer:{record.customer}"]
    return contacts.get(f"vendor:{record.vendor}") if record.vendor else None


def _reminds(workflow: WorkflowDefinition) -> bool:
    return any(isinstance(action, ReminderAction) for action in workflow.actions)


def _group_names(workflows: Iterable[WorkflowDefinition]) -> set[str]:
    return {str(c.value) for w in workflows for c in w.conditions if c.op == "in_group"}
