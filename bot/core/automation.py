"""Workflow actions on save: the workflows a saved record triggers, their actions planned by the engine, then run."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence
from datetime import datetime

from bot.core.action_run import ActionRun, ActionTexts
from bot.core.deps import Deps
from bot.core.webhooks import Webhooks
from engine.actions import Company, Planned, has_side_actions, plan_actions
from engine.approvals import ApprovalRequest, Outcome, RequestStatus
from engine.conditions import EvalContext, compile_conditions
from engine.events import RecordApproved
from engine.facts import facts_of
from engine.lifecycle import RELEASED, RunLine, changed_fields, held_for_approval, is_triggered
from engine.records import Contact, EmailStatus, Record
from engine.workflows import ReminderAction, SendAction, Trigger, Workflow, WorkflowDefinition
from storage.models import RunFilter
from storage.ports import Repository

SAVE_CAUSES = frozenset({"created", "updated"})
MAX_RUNS_READ = 500  # a document's latest runs, read for the actions held until it is approved


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
        """Publish an approval outcome's events as webhooks; once a document is approved, send what was held."""
        await self.webhooks.on_outcome(repo, outcome, now)
        if any(isinstance(event, RecordApproved) for event in outcome.events):
            await self.release_held(repo, outcome.request, now)

    async def release_held(self, repo: Repository, request: ApprovalRequest, now: datetime) -> None:
        """Run, once, the `send` actions held until the document was approved: of each live workflow (not a
        scheduled one: its next run sends) whose conditions still hold. Without such a workflow, nothing is read."""
        senders = {w.id: w for w in await repo.list_workflows() if w.is_live() and w.trigger is not Trigger.SCHEDULED
                   and any(isinstance(action, SendAction) for action in w.actions)}
        if not senders:
            return
        record = await repo.get_record(request.record_type, request.record_id)
        if record is None or record.email_status is EmailStatus.SENT:
            return  # e-mailed already (by hand, or by another workflow): nothing held is owed
        runs = await repo.list_runs(RunFilter(record_type=request.record_type, record_id=request.record_id,
                                              limit=MAX_RUNS_READ))
        lines = [RunLine(r.workflow_id, r.cause, r.at, tuple(r.actions)) for r in runs if r.event == "actions"]
        held = held_for_approval(lines, await self._last_approved(repo, request))
        workflows = [senders[w_id] for w_id in held if w_id in senders]
        for workflow in await self.matching(repo, workflows, record, now) if workflows else []:
            sends = [i for i in held[workflow.id] if i < len(workflow.actions)
                     and isinstance(workflow.actions[i], SendAction)]  # the workflow may have changed since
            if sends:
                await self.run_workflow(repo, workflow, record, now, cause=RELEASED, only=sends)

    async def _last_approved(self, repo: Repository, request: ApprovalRequest) -> datetime | None:
        """Return when the document was last approved before this approval (None: never): what was held since then
        was held for this one; restarts, rejections and cancellations in between hold it still."""
        earlier = [r.decided_at for r in await repo.requests_for_record(request.record_type, request.record_id)
                   if r.id != request.id and r.status is RequestStatus.APPROVED and r.decided_at is not None]
        return max(earlier, default=None)

    async def run_workflow(self, repo: Repository, workflow: Workflow, record: Record, now: datetime, *,
                           cause: str, digest: set[str] | None = None, only: Collection[int] | None = None) -> str:
        """Perform a workflow's non-approval actions for one record in the caller's transaction; return the run id.

        With `digest`, people's reminders are not sent one by one: they are added to the set, to get one digest.
        """
        current = await repo.get_record(record.type.value, record.id) or record
        company = Company(await repo.company_name(), self.deps.settings.timezone)
        run = ActionRun(self.texts, repo, f"run_{uuid.uuid4().hex[:16]}", workflow, current, now, company, digest)
        for item in await self._plan(repo, run, only):
            await run.perform(item)
        updated = await run.apply_fields()
        if updated is not None and cause not in SAVE_CAUSES:
            await self.webhooks.record_saved(repo, current, updated, now)
        await repo.insert_run(run.history(cause))
        await repo.add_reminder_tasks(run.tasks)
        return run.run_id

    async def _plan(self, repo: Repository, run: ActionRun, only: Collection[int] | None = None) -> list[Planned]:
        contact = _primary_contact(run.record, await repo.contacts_of(run.record))
        states = await repo.reminder_states(run.workflow.id, *run.record.key()) if _reminds(run.workflow) else {}
        return plan_actions(run.workflow, run.record, contact, run.now, run.company,
                            people_groups=await repo.people_groups(),
                            fallback=tuple(sorted(self.deps.settings.admins)), sender=self.texts.sender_address(),
                            is_email_on=self.texts.is_email_on, reminder_states=states, only=only)


def _primary_contact(record: Record, contacts: dict[str, Contact]) -> Contact | None:
    if record.customer and f"customer:{record.customer}" in contacts:
        return contacts[f"customer:{record.customer}"]
    return contacts.get(f"vendor:{record.vendor}") if record.vendor else None


def _reminds(workflow: WorkflowDefinition) -> bool:
    return any(isinstance(action, ReminderAction) for action in workflow.actions)


def _group_names(workflows: Iterable[WorkflowDefinition]) -> set[str]:
    return {str(c.value) for w in workflows for c in w.conditions if c.op == "in_group"}
