"""One sweep of due work: the rows due by now, what the engine plans for them, performed in the same transaction.

The database holds what is due (`due_work`, one row per open request, invoice and scheduled workflow, with
its next due time). A batch leases the rows due by now (no other sweep, in any process, handles them meanwhile),
reads the state they need, asks the engine what to do
(`engine.planning.plan_sweep`), claims each action by its idempotency key and performs it in the same
transaction as its outbox messages (remind, escalate, expire, invoice reminder, fire a scheduled workflow);
then it stores each subject's next due time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.core.delegations import away_ended
from bot.core.history import record_history
from bot.core.notices import as_message
from bot.core.reminders import InvoiceReminders
from bot.core.retry import retrying
from bot.core.service import Signoff
from bot.jobs.scheduled import ScheduledRuns
from engine.approvals import ApprovalRequest, RequestStatus, close, escalate
from engine.history import escalated
from engine.invoice_reminders import InvoiceReminderSettings
from engine.notify import Notice
from engine.nudges import (
    digested,
    escalation_notices,
    escalation_people,
    reminded_people,
    reminder_notices,
)
from engine.planning import (
    ActionKind,
    ApprovalPolicy,
    ApprovalState,
    DueAction,
    InvoiceState,
    Period,
    SubjectKind,
    SweepState,
    WorkflowState,
    plan_sweep,
)
from engine.workflows import Workflow
from storage.models import AuditLine, DueRow
from storage.owners import new_owner
from storage.ports import Repository

BATCH = 1000
MAX_BATCHES = 10_000
LEASE_S = 300.0  # a sweep holds the subjects of its batch until it stores their next due time (or dies)


def duration_parts(text: str) -> dict[str, Any]:
    """Return an ISO 8601 duration as the templates show it."""
    period = Period.parse(text)
    clock_s = int(period.clock.total_seconds())
    return {"days": period.days + clock_s // 86400, "hours": clock_s % 86400 // 3600,
            "minutes": clock_s % 3600 // 60, "iso": text}


@dataclass
class Batch:
    """One sweep transaction: the repository, the moment, and what was loaded."""

    repo: Repository
    now: datetime
    state: SweepState
    requests: dict[str, ApprovalRequest]


class Sweep:
    """Performs the work due in the database, a batch per transaction."""

    def __init__(self, service: Signoff) -> None:
        self.service = service
        self.owner = new_owner()
        self.reminders = InvoiceReminders(service)
        self.scheduled = ScheduledRuns(service)

    @property
    def tz(self) -> ZoneInfo:
        """Return the company time zone."""
        return self.service.settings.tz

    async def run(self, now: datetime) -> Counter[str]:
        """Perform everything due by `now`, a batch per transaction; return how many actions of each kind."""
        counts: Counter[str] = Counter()
        for _ in range(MAX_BATCHES):
            looked_at, performed = await retrying(lambda: self.batch(now))
            counts.update(performed)
            if looked_at < BATCH:
                break
        return counts

    async def batch(self, now: datetime) -> tuple[int, Counter[str]]:
        """Perform one batch of the rows due by `now` in one transaction; return how many rows and actions."""
        async with self.service.db.unit_of_work() as repo:
            rows = await repo.claim_due_rows(now, BATCH, self.owner, LEASE_S)
            if not rows:
                return 0, Counter()
            batch = await self._load(repo, rows, now)
            plan = plan_sweep(batch.state, now)
            actions = await repo.claim_actions(plan.actions, now)
            await self._perform(batch, actions)
            planned = {(str(kind), subject_id): at for (kind, subject_id), at in plan.next_due}
            await repo.set_next_due(((r.kind, r.subject_id, planned.get((r.kind, r.subject_id))) for r in rows),
                                    owner=self.owner, forget=(SubjectKind.INVOICE, SubjectKind.DELEGATION))
        return len(rows), Counter(a.kind.value for a in actions)

    async def _load(self, repo: Repository, rows: Sequence[DueRow], now: datetime) -> Batch:
        ids: dict[str, list[str]] = {kind.value: [] for kind in SubjectKind}
        for row in rows:
            ids.setdefault(row.kind, []).append(row.subject_id)
        requests = await repo.requests_by_id(ids[SubjectKind.APPROVAL])
        workflows = {w.id: w for w in await repo.list_workflows()}
        nudges = await repo.last_nudges([r.id for r in requests.values() if r.is_open()])
        approvals = [ApprovalState(r, ApprovalPolicy.of(_approval_of(workflows.get(r.workflow_id))),
                                   nudges.get(r.id, {}).get(r.current_step))
                     for r in requests.values() if r.is_open()]
        needs_groups = any(ref.startswith("group:") for a in approvals for ref in a.policy.escalate_to)
        invoices, settings = await self._invoices(repo, ids[SubjectKind.INVOICE])
        scheduled = [WorkflowState(r.subject_id, workflows.get(r.subject_id), r.next_due_at or now)
                     for r in rows if r.kind == SubjectKind.WORKFLOW]
        delegations = await repo.latest_delegations(ids[SubjectKind.DELEGATION]) if ids[SubjectKind.DELEGATION] else []
        state = SweepState(self.tz, approvals, invoices, scheduled, settings,
                           await repo.people_groups() if needs_groups else {},
                           tuple(sorted(self.service.settings.admins)), delegations)
        return Batch(repo, now, state, requests)

    async def _invoices(
        self, repo: Repository, ids: list[str],
    ) -> tuple[list[InvoiceState], InvoiceReminderSettings]:
        settings = await self.reminders.load(repo) if ids else InvoiceReminderSettings()
        if not ids or not settings.enabled:
            return [], settings
        records = await repo.records_by_id("invoice", ids)
        customers = await repo.contacts_by_id("customer", sorted({r.customer for r in records.values() if r.customer}))
        return [InvoiceState(r, customers[r.customer].mail_address() if r.customer in customers else None)
                for r in records.values()], settings

    async def _perform(self, batch: Batch, actions: Sequence[DueAction]) -> None:
        """Perform the claimed actions; escalations' messages together, then reminders' (a late sweep escalates
        before it reminds): a person told of many documents at once gets one message listing them."""
        escalated: list[Notice] = []
        for action in actions:
            if action.kind is ActionKind.ESCALATE:
                escalated += await self._escalate(batch, action)
            elif action.kind is ActionKind.EXPIRE:
                await self._expire(batch, action)
            elif action.kind is ActionKind.INVOICE_REMINDER:
                await self.reminders.perform(batch.repo, action, batch.state.reminder_settings)
            elif action.kind is ActionKind.FIRE_WORKFLOW:
                await self.scheduled.fire(batch.repo, action, batch.now)
            elif action.kind is ActionKind.AWAY_ENDED:
                await away_ended(self.service.deps, batch.repo, action.data)
        await batch.repo.enqueue_many([as_message(n) for n in digested(escalated)], batch.now)
        await self._remind(batch, [a for a in actions if a.kind is ActionKind.REMIND])

    async def _remind(self, batch: Batch, actions: Sequence[DueAction]) -> None:
        """Queue a reminder DM to every approver still to decide (their delegate while away), note it in the history."""
        delegations = await batch.repo.delegations_of(reminded_people(actions), batch.now)
        messages = [as_message(n) for n in digested([n for a in actions for n in reminder_notices(
            a, batch.requests.get(a.data["request_id"]), delegations, batch.now, self.tz)])]
        await batch.repo.enqueue_many(messages, batch.now)
        await batch.repo.audit_many(_audit_lines(batch.now, "reminded", actions, ("step_index", "n", "to")))

    async def _escalate(self, batch: Batch, action: DueAction) -> list[Notice]:
        """Add the escalation targets to the step and note it; return the messages to its targets (why they may now
        decide) and to the approvers who did not act."""
        request = batch.requests[action.data["request_id"]]
        outcome = escalate(request, action.data["to"])
        if outcome.is_counted:
            await batch.repo.update_request(outcome.request)
            batch.requests[request.id] = outcome.request
        data = action.data
        delegations = await batch.repo.delegations_of(escalation_people(data), batch.now)
        notices = escalation_notices(action, batch.requests.get(request.id), delegations, batch.now, self.tz)
        await batch.repo.audit_many(_audit_lines(batch.now, "escalated", [action],
                                                 ("step_index", "level", "to", "waiting_on")))
        await record_history(batch.repo, [escalated(batch.requests[request.id], data["to"], data["level"],
                                                    data["waiting_on"])], batch.now)
        return notices

    async def _expire(self, batch: Batch, action: DueAction) -> None:
        """Reject the request as expired: everyone's copy is refreshed and the requester told."""
        request = batch.requests[action.data["request_id"]]
        reason = self.service.renderer.text("escalation_expired_reason.txt.j2",
                                            after=duration_parts(action.data["expire_after"]))
        outcome = close(request, RequestStatus.EXPIRED, batch.now, reason)
        if outcome.is_counted:
            await self.service.approvals.apply_outcome(batch.repo, request, outcome, None)


def _approval_of(workflow: Workflow | None) -> Any:
    return workflow.approval() if workflow is not None else None


def _audit_lines(now: datetime, verb: str, actions: Sequence[DueAction], fields: Sequence[str]) -> list[AuditLine]:
    return [AuditLine(now, None, verb, ("request", a.data["request_id"]), None, None,
                      {**{f: _list_if_tuple(a.data[f]) for f in fields}, "key": a.key}) for a in actions]


def _list_if_tuple(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
