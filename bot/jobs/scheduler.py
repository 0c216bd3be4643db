"""The clock inside the bot: an APScheduler loop that sweeps the database for due work and performs it.

The database, not the scheduler's memory, holds what is due (`due_work`, one row per open request,
invoice and scheduled workflow, with its next due time). A sweep reads the rows due by now, asks the
engine what to do (`engine.planning.plan_sweep`), claims each action by its idempotency key and
performs it in the same transaction as its outbox messages; then it stores each subject's next due
time. The interval job and the workflows' cron jobs only wake the sweep.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.core.digests import digest_message
from bot.core.history import record_history
from bot.core.notices import as_message
from bot.core.reminders import InvoiceReminders
from bot.core.service import Signoff
from bot.outbox.worker import Deliverer
from engine.actions import Company, lapsed_reminders, template_context
from engine.approvals import ApprovalRequest, RequestStatus, close, escalate
from engine.conditions import EvalContext
from engine.cron import CronSpec
from engine.digests import channel_digest, channel_digests, digest_line, without_channels
from engine.facts import facts_of
from engine.history import escalated
from engine.invoice_reminders import InvoiceReminderSettings
from engine.nudges import (
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
    first_run,
    plan_sweep,
    schedule_of,
)
from engine.records import Record
from engine.scheduled import select_scheduled
from engine.workflows import Workflow
from messages.errors import TemplateInvalidError
from storage.models import AuditLine, DueRow, NewMessage
from storage.ports import Repository

log = logging.getLogger(__name__)

BATCH = 1000
MAX_BATCHES = 10_000
RECORD_PAGE = 1000
CRON_JOB_PREFIX = "workflow:"
CLOSE_WAIT_S = 5.0
WATCH_SECONDS = 1.0


def duration_parts(text: str) -> dict[str, Any]:
    """Return an ISO 8601 duration as the templates show it."""
    period = Period.parse(text)
    clock_s = int(period.clock.total_seconds())
    return {"days": period.days + clock_s // 86400, "hours": clock_s % 86400 // 3600,
            "minutes": clock_s % 3600 // 60, "iso": text}


class CronWake(BaseTrigger):
    """An APScheduler trigger firing at a workflow's cron times in the company time zone."""

    def __init__(self, spec: CronSpec, tz: ZoneInfo) -> None:
        self.spec = spec
        self.tz = tz

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        """Return the next cron time after the previous run (or after now)."""
        return self.spec.next_after(previous_fire_time or now, self.tz)

    def __str__(self) -> str:
        return f"cron[{self.spec.text}]"


@dataclass
class _Batch:
    """One sweep transaction: the repository, the moment, and what was loaded."""

    repo: Repository
    now: datetime
    state: SweepState
    requests: dict[str, ApprovalRequest]


class Scheduler:
    """Sweeps due work on a timer and on cron times, and delivers reminders and escalations."""

    def __init__(self, service: Signoff, deliverer: Deliverer) -> None:
        self.service = service
        self.deliverer = deliverer
        self.reminders = InvoiceReminders(service)
        self.metrics: Any = None
        self._aps: AsyncIOScheduler | None = None
        self._sweep_lock = asyncio.Lock()
        self._workflows_seen: int | None = None

    @property
    def tz(self) -> ZoneInfo:
        """Return the company time zone."""
        return self.service.settings.tz

    def attach(self, app: Any) -> None:
        """Wire the scheduler into the HTTP app (the test clock's tick) and the service (workflow changes)."""
        app.state.sweep = self.sweep
        app.state.scheduler = self
        self.metrics = app.state.metrics
        self.deliverer.metrics = app.state.metrics
        self.service.workflows.on_changed = self._workflows_changed

    async def start(self) -> None:
        """Start the APScheduler loop: the interval sweep and one wake-up job per scheduled workflow."""
        self._aps = AsyncIOScheduler(timezone=self.tz)
        trigger = IntervalTrigger(seconds=self.service.settings.tick_seconds, timezone=self.tz)
        self._aps.add_job(self._wake, trigger, id="sweep", coalesce=True, max_instances=1, misfire_grace_time=None)
        self._aps.add_job(self._watch, IntervalTrigger(seconds=min(WATCH_SECONDS, self.service.settings.tick_seconds),
                                                       timezone=self.tz),
                          id="workflows", coalesce=True, max_instances=1, misfire_grace_time=None)
        self._aps.start()
        await self.workflows_changed()

    async def close(self) -> None:
        """Stop the loop (a sweep in progress finishes its transaction or rolls back)."""
        if self._aps is not None and self._aps.running:
            self._aps.shutdown(wait=False)
        self._aps = None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._sweep_lock.acquire(), timeout=CLOSE_WAIT_S)
            self._sweep_lock.release()

    async def _wake(self) -> None:
        try:
            await self.sweep()
        except Exception:
            log.exception("scheduler sweep failed")

    # workflows on a schedule
    async def _workflows_changed(self) -> None:
        try:
            await self.workflows_changed()
        except Exception:
            log.exception("could not rebuild the scheduled workflows (done again at the next start)")

    async def _watch(self) -> None:
        try:
            await self.follow_workflows()
        except Exception:
            log.exception("could not check the workflows for changes (checked again at the next tick)")

    async def follow_workflows(self) -> bool:
        """Reload the scheduled workflows when any process changed a workflow since the last load; tell whether."""
        async with self.service.db.read() as repo:
            version = await repo.workflows_version()
        if version == self._workflows_seen:
            return False
        await self.workflows_changed()
        return True

    async def workflows_changed(self) -> None:
        """Rebuild scheduled workflows' due times and cron jobs from the database."""
        now, tz = self.service.clock.now(), self.tz
        async with self.service.db.transaction() as repo:
            version = await repo.workflows_version()
            live = {w.id: w for w in await repo.list_workflows() if schedule_of(w) is not None}
            known = {row.subject_id: row for row in await repo.subjects_of(SubjectKind.WORKFLOW)}
            for gone in known.keys() - live.keys():
                await repo.forget_subject(SubjectKind.WORKFLOW, gone)
            for workflow in live.values():
                spec = f"{workflow.schedule}|{tz.key}"
                row = known.get(workflow.id)
                if row is None or row.spec != spec:
                    await repo.schedule_subject(SubjectKind.WORKFLOW, workflow.id, first_run(workflow, now, tz), spec)
        self._rebuild_jobs(live.values())
        self._workflows_seen = version

    def _rebuild_jobs(self, workflows: Any) -> None:
        if self._aps is None:
            return
        for job in self._aps.get_jobs():
            if job.id.startswith(CRON_JOB_PREFIX):
                job.remove()
        for workflow in workflows:
            spec = schedule_of(workflow)
            if spec is not None:
                self._aps.add_job(self._wake, CronWake(spec, self.tz), id=CRON_JOB_PREFIX + workflow.id,
                                  coalesce=True, max_instances=1, misfire_grace_time=None)

    def cron_jobs(self) -> list[str]:
        """Return the ids of the workflows that have a cron job."""
        jobs = self._aps.get_jobs() if self._aps else []
        return sorted(j.id.removeprefix(CRON_JOB_PREFIX) for j in jobs if j.id.startswith(CRON_JOB_PREFIX))

    # the sweep
    async def sweep(self) -> dict[str, int]:
        """Perform everything due now, a batch per transaction; return how many actions of each kind."""
        counts: Counter[str] = Counter()
        async with self._sweep_lock:
            await self.follow_workflows()
            now = self.service.clock.now()
            for _ in range(MAX_BATCHES):
                looked_at, performed = await self._sweep_batch(now)
                counts.update(performed)
                if looked_at < BATCH:
                    break
        self.deliverer.kick()
        if self.metrics is not None:
            for kind, count in counts.items():
                self.metrics.inc(f"signoff_scheduler_{kind}_total", count)
        return {kind.value: counts.get(kind.value, 0) for kind in ActionKind}

    async def _sweep_batch(self, now: datetime) -> tuple[int, Counter[str]]:
        async with self.service.db.transaction() as repo:
            rows = await repo.due_rows(now, BATCH)
            if not rows:
                return 0, Counter()
            batch = await self._load(repo, rows, now)
            plan = plan_sweep(batch.state, now)
            actions = await repo.claim_actions(plan.actions, now)
            await self._perform(batch, actions)
            planned = {(str(kind), subject_id): at for (kind, subject_id), at in plan.next_due}
            await repo.set_next_due((r.kind, r.subject_id, planned.get((r.kind, r.subject_id))) for r in rows)
        return len(rows), Counter(a.kind.value for a in actions)

    async def _load(self, repo: Repository, rows: Sequence[DueRow], now: datetime) -> _Batch:
        ids: dict[str, list[str]] = {kind.value: [] for kind in SubjectKind}
        for row in rows:
            ids.setdefault(row.kind, []).append(row.subject_id)
        requests = await repo.requests_by_id(ids[SubjectKind.APPROVAL])
        workflows = {w.id: w for w in await repo.list_workflows()}
        approvals = [ApprovalState(r, ApprovalPolicy.of(_approval_of(workflows.get(r.workflow_id))))
                     for r in requests.values() if r.is_open()]
        needs_groups = any(ref.startswith("group:") for a in approvals for ref in a.policy.escalate_to)
        invoices, settings = await self._invoices(repo, ids[SubjectKind.INVOICE])
        scheduled = [WorkflowState(r.subject_id, workflows.get(r.subject_id), r.next_due_at or now)
                     for r in rows if r.kind == SubjectKind.WORKFLOW]
        state = SweepState(self.tz, approvals, invoices, scheduled, settings,
                           await repo.people_groups() if needs_groups else {})
        return _Batch(repo, now, state, requests)

    async def _invoices(
        self, repo: Repository, ids: list[str],
    ) -> tuple[list[InvoiceState], InvoiceReminderSettings]:
        settings = await self.reminders.load(repo) if ids else InvoiceReminderSettings()
        if not ids or not settings.enabled:
            return [], settings
        records = await repo.records_by_id("invoice", ids)
        customers = await repo.contacts_by_id("customer", sorted({r.customer for r in records.values() if r.customer}))
        return [InvoiceState(r, customers[r.customer].email if r.customer in customers else None)
                for r in records.values()], settings

    async def _perform(self, batch: _Batch, actions: Sequence[DueAction]) -> None:
        """Perform the claimed actions; reminders last and together (a late sweep escalates before it reminds)."""
        for action in actions:
            if action.kind is ActionKind.ESCALATE:
                await self._escalate(batch, action)
            elif action.kind is ActionKind.EXPIRE:
                await self._expire(batch, action)
            elif action.kind is ActionKind.INVOICE_REMINDER:
                await self.reminders.perform(batch.repo, action, batch.state.reminder_settings)
            elif action.kind is ActionKind.FIRE_WORKFLOW:
                await self._fire(batch, action)
        await self._remind(batch, [a for a in actions if a.kind is ActionKind.REMIND])

    async def _remind(self, batch: _Batch, actions: Sequence[DueAction]) -> None:
        """Queue a reminder DM to every approver still to decide (their delegate while away), note it in the history."""
        delegations = await batch.repo.delegations_of(reminded_people(actions), batch.now)
        messages = [as_message(n) for a in actions for n in reminder_notices(
            a, batch.requests.get(a.data["request_id"]), delegations, batch.now)]
        await batch.repo.enqueue_many(messages, batch.now)
        await batch.repo.audit_many(_audit_lines(batch.now, "reminded", actions, ("step_index", "n", "to")))

    async def _escalate(self, batch: _Batch, action: DueAction) -> None:
        """Add the escalation targets to the step, DM them why, and tell the approvers who did not act."""
        request = batch.requests[action.data["request_id"]]
        outcome = escalate(request, action.data["to"])
        if outcome.is_counted:
            await batch.repo.update_request(outcome.request)
            batch.requests[request.id] = outcome.request
        data = action.data
        delegations = await batch.repo.delegations_of(escalation_people(data), batch.now)
        notices = escalation_notices(action, batch.requests.get(request.id), delegations, batch.now)
        await batch.repo.enqueue_many([as_message(n) for n in notices], batch.now)
        await batch.repo.audit_many(_audit_lines(batch.now, "escalated", [action],
                                                 ("step_index", "level", "to", "waiting_on")))
        await record_history(batch.repo, [escalated(batch.requests[request.id], data["to"], data["level"],
                                                    data["waiting_on"])], batch.now)

    async def _expire(self, batch: _Batch, action: DueAction) -> None:
        """Reject the request as expired: everyone's copy is refreshed and the requester told."""
        request = batch.requests[action.data["request_id"]]
        reason = self.service.renderer.text("escalation_expired_reason.txt.j2",
                                            after=duration_parts(action.data["expire_after"]))
        outcome = close(request, RequestStatus.EXPIRED, batch.now, reason)
        if outcome.is_counted:
            await self.service.approvals.apply_outcome(batch.repo, request, outcome, None)

    # scheduled workflows
    async def _fire(self, batch: _Batch, action: DueAction) -> None:
        """Run a scheduled workflow: one digest per channel, and each selected document's own actions."""
        repo = batch.repo
        workflow = await repo.get_workflow(action.data["workflow_id"])
        if workflow is None or schedule_of(workflow) is None:
            return
        selected = await self._select(repo, workflow, batch.now)
        channels = await self._digests(batch, workflow, selected, action) if selected else []
        per_record, people = without_channels(workflow), set[str]()
        if per_record is not None:
            for record, _ in selected:
                await self.service.automation.run_workflow(repo, per_record, record, batch.now, cause="scheduled",
                                                           digest=people)
        known = await repo.reminded_documents(workflow.id)
        await repo.end_reminders(workflow.id, lapsed_reminders(known, (r.key() for r, _ in selected)), batch.now)
        digested = await self._person_digests(batch, workflow, sorted(people), action)
        await repo.audit(batch.now, None, "workflow_fired", ("workflow", workflow.id), None, None,
                         {"run_at": action.data["run_at"], "count": len(selected), "channels": channels,
                          "digests": digested})

    async def _person_digests(
        self, batch: _Batch, workflow: Workflow, people: Sequence[str], action: DueAction,
    ) -> list[str]:
        """DM each person reminded by this run one digest of the documents still to act on (not one per document)."""
        messages = []
        for person in people:
            message = await digest_message(self.service.renderer, batch.repo, person, workflow.id)
            if message is not None:
                messages.append(NewMessage("message", person, {"message": message}, f"{action.key}:digest:{person}"))
        await batch.repo.enqueue_many(messages, batch.now)
        return [m.target for m in messages]

    async def _select(self, repo: Repository, workflow: Workflow, now: datetime) -> list[tuple[Record, Any]]:
        """Return the (record, contact) pairs a scheduled workflow selects now."""
        records: list[Record] = []
        while page := await repo.list_records(workflow.record_type.value, None, RECORD_PAGE, len(records)):
            records += page
            if len(page) < RECORD_PAGE:
                break
        contacts = {f"customer:{c.id}": c for c in (await repo.contacts_by_id(
            "customer", sorted({r.customer for r in records if r.customer}))).values()}
        contacts |= {f"vendor:{c.id}": c for c in (await repo.contacts_by_id(
            "vendor", sorted({r.vendor for r in records if r.vendor}))).values()}
        groups = await repo.contact_group_members(
            {str(c.value) for c in workflow.conditions if c.op == "in_group"})
        ctx = EvalContext.at(now, self.tz, groups)
        candidates = [((r.type.value, r.id), facts_of(r, contacts)) for r in records]
        chosen = set(select_scheduled(workflow, candidates, ctx))
        return [(r, contacts.get(f"customer:{r.customer}") or contacts.get(f"vendor:{r.vendor}"))
                for r in records if (r.type.value, r.id) in chosen]

    async def _digests(
        self, batch: _Batch, workflow: Workflow, selected: list[tuple[Record, Any]], action: DueAction,
    ) -> list[str]:
        """Post one digest per channel a reminder or notification names: every selected document, one line each."""
        company = Company(await batch.repo.company_name(), self.service.settings.timezone)
        posted: list[str] = []
        for step in channel_digests(workflow):
            lines = self._digest_lines(workflow, step.template, selected, company, batch.now)
            digest = channel_digest(workflow, len(selected), lines, is_reminder=step.is_reminder)
            message = self.service.renderer.json("channel_digest.json.j2", digest=digest)
            await batch.repo.enqueue_many([NewMessage("message", c, {"message": message},
                                                      f"{action.key}:{step.index}:{c}") for c in step.channels],
                                          batch.now)
            posted += step.channels
        return posted

    def _digest_lines(
        self, workflow: Workflow, template: str, selected: list[tuple[Record, Any]], company: Company, now: datetime,
    ) -> list[str]:
        lines = []
        for record, contact in selected:
            try:
                text = self.service.automation.render_text(
                    template, template_context(record, contact, workflow, company, now))
            except TemplateInvalidError as exc:
                log.warning("digest line of %s %s in workflow %s failed: %s", record.type, record.id, workflow.id, exc)
                continue
            lines.append(digest_line(text))
        return lines


def _approval_of(workflow: Workflow | None) -> Any:
    return workflow.approval() if workflow is not None else None


def _audit_lines(now: datetime, verb: str, actions: Sequence[DueAction], fields: Sequence[str]) -> list[AuditLine]:
    return [AuditLine(now, None, verb, ("request", a.data["request_id"]), None, None,
                      {**{f: _list_if_tuple(a.data[f]) for f in fields}, "key": a.key}) for a in actions]


def _list_if_tuple(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
