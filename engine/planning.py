"""The clock's plan: which reminders, escalations, expiries, scheduled runs and invoice reminders are due.

Pure: the bot loads the state, calls `plan_sweep(state, now)` and performs the actions it returns.
Every action has an idempotency key derived from the state and the time it fell due (a reminder's
number is counted from the time elapsed), so planning twice, late or in two processes, yields the
same keys and the store performs each action once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from engine.approvals import ApprovalRequest, decided_other_step, is_same_person, resolve_step_approvers
from engine.cron import CronSpec
from engine.dates import add_calendar_days, local_date, require_aware
from engine.delegation import Delegation
from engine.durations import parse_duration
from engine.errors import InvalidDefinitionError, InvalidDurationError
from engine.invoice_reminders import InvoiceReminderSettings, is_owed, is_payable, reminder_moments
from engine.lifecycle import customer_hold
from engine.records import Record
from engine.workflows import DEFAULT_NOTIFY, ApprovalAction, Trigger, Workflow

DEFAULT_EXPIRE_AFTER = "P30D"
# An invoice reminder sent this late would reach the customer hours before the next one, which says the same.
SUPERSEDED_WITHIN = timedelta(days=1)


class ActionKind(StrEnum):
    """What the bot must do."""

    REMIND = "remind"
    ESCALATE = "escalate"
    EXPIRE = "expire"
    FIRE_WORKFLOW = "fire_workflow"
    INVOICE_REMINDER = "invoice_reminder"
    AWAY_ENDED = "away_ended"


class SubjectKind(StrEnum):
    """What a due time belongs to."""

    APPROVAL = "approval"
    INVOICE = "invoice"
    WORKFLOW = "workflow"
    DELEGATION = "delegation"


Subject = tuple[str, str]


@dataclass(frozen=True)
class DueAction:
    """One action that fell due; `covers` are keys it makes unnecessary (claimed with it)."""

    kind: ActionKind
    key: str
    subject: Subject
    due_at: datetime
    data: Mapping[str, Any] = field(default_factory=dict)
    covers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Period:
    """An ISO 8601 duration split into calendar days (kept at the same wall time across DST) and clock time."""

    days: int
    clock: timedelta

    @staticmethod
    def parse(text: str) -> Period:
        """Parse `P1D`, `PT4H`, `P1W`, `P3DT2H`; raise InvalidDurationError when it is not a duration."""
        return _parse_period(text)

    @classmethod
    def _parse(cls, text: str) -> Period:
        total = parse_duration(text)
        date_part = text.strip().upper().partition("T")[0]
        days = parse_duration(date_part).days if date_part != "P" else 0
        if total <= timedelta(0):
            raise InvalidDurationError(f"{text!r} must be a positive duration")
        return cls(days, total - timedelta(days=days))

    def after(self, start: datetime, times: int, tz: ZoneInfo) -> datetime:
        """Return the moment (UTC) `times` periods after `start`: the days in tz's calendar, then the clock time."""
        moved = add_calendar_days(start, self.days * times, tz) if self.days else start
        return moved.astimezone(UTC) + self.clock * times

    def half(self) -> timedelta:
        """Return half the period's nominal length (a day counted as 24 hours)."""
        return (timedelta(days=self.days) + self.clock) / 2

    def first_at_or_after(self, start: datetime, moment: datetime, tz: ZoneInfo) -> datetime:
        """Return the first time the period falls from `start` that is not before `moment`."""
        _, at, nxt = self.bracket(start, moment, tz)
        return at if at >= moment.astimezone(UTC) and at > start.astimezone(UTC) else nxt

    def count(self, start: datetime, now: datetime, tz: ZoneInfo) -> int:
        """Return how many whole periods have elapsed from `start` to `now` (0 before the first)."""
        return self.bracket(start, now, tz)[0]

    def bracket(self, start: datetime, now: datetime, tz: ZoneInfo) -> tuple[int, datetime, datetime]:
        """Return n, the whole periods elapsed by `now`, with the moments the n-th and the next one fall (UTC)."""
        start, now = start.astimezone(UTC), now.astimezone(UTC)
        nominal = timedelta(days=self.days) + self.clock
        n = max(0, int((now - start) / nominal)) if now >= start else 0
        at, nxt = self.after(start, n, tz), self.after(start, n + 1, tz)
        while nxt <= now:
            n, at, nxt = n + 1, nxt, self.after(start, n + 2, tz)
        while n > 0 and at > now:
            n, at, nxt = n - 1, self.after(start, n - 1, tz), at
        return n, at, nxt


def _period(text: str | None) -> Period | None:
    """Return a policy's period; None when it has none, or one no save accepts any more (it never falls due)."""
    if not text:
        return None
    try:
        return Period.parse(text)
    except InvalidDurationError:
        return None


@lru_cache(maxsize=256)
def _parse_period(text: str) -> Period:
    return Period._parse(text)


@dataclass(frozen=True)
class ApprovalPolicy:
    """The timing of an approval: reminders, escalation and expiry, and how approvers are reached (`notify`), from
    the workflow's approval action."""

    remind_every: str | None = None
    escalate_after: str | None = None
    escalate_to: tuple[str, ...] = ()
    expire_after: str = DEFAULT_EXPIRE_AFTER
    notify: tuple[str, ...] = DEFAULT_NOTIFY

    @classmethod
    def of(cls, action: ApprovalAction | None) -> ApprovalPolicy:
        """Return the policy of an approval action (the defaults when the workflow is gone)."""
        if action is None:
            return cls()
        return cls(action.remind_every, action.escalate_after, tuple(action.escalate_to), action.expire_after,
                   tuple(action.notify))


@dataclass(frozen=True)
class ApprovalState:
    """An open approval request and the policy it follows."""

    request: ApprovalRequest
    policy: ApprovalPolicy
    nudged_at: datetime | None = None  # the last reminder or escalation sent on the current step


@dataclass(frozen=True)
class InvoiceState:
    """An invoice and its customer's e-mail address, if any."""

    record: Record
    email: str | None


@dataclass(frozen=True)
class WorkflowState:
    """A scheduled workflow (None when it was deleted) and when its next run was planned."""

    workflow_id: str
    workflow: Workflow | None
    due_at: datetime


@dataclass(frozen=True)
class SweepState:
    """Everything due at a sweep, as loaded by the bot."""

    tz: ZoneInfo
    approvals: Sequence[ApprovalState] = ()
    invoices: Sequence[InvoiceState] = ()
    workflows: Sequence[WorkflowState] = ()
    reminder_settings: InvoiceReminderSettings = field(default_factory=InvoiceReminderSettings)
    people_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    admins: tuple[str, ...] = ()
    delegations: Sequence[Delegation] = ()


@dataclass(frozen=True)
class SweepPlan:
    """The actions due now, in order, and the next due time of every subject looked at (None: nothing)."""

    actions: tuple[DueAction, ...]
    next_due: tuple[tuple[Subject, datetime | None], ...]


def stamp(moment: datetime) -> str:
    """Return a moment as the UTC text used inside keys."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _earliest(*moments: datetime | None) -> datetime | None:
    present = [m for m in moments if m is not None]
    return min(present) if present else None


def waiting_on(request: ApprovalRequest) -> tuple[str, ...]:
    """Return the current step's approvers who have not decided yet."""
    return tuple(p for p in request.step().approvers if not request.has_voted(p))


def _reminder(
    request: ApprovalRequest, period: Period, now: datetime, tz: ZoneInfo, nudged_at: datetime | None = None,
) -> tuple[DueAction | None, datetime]:
    """Plan the reminder the timetable owes now, if any (one, however many were missed); one owed sooner than half
    a period after the last reminder or escalation (sent late, after an outage) waits for the next one."""
    start, step = request.step_started_at, request.current_step
    n, at, nxt = period.bracket(start, now, tz)
    if n == 0:
        return None, nxt
    if nudged_at is not None and at < nudged_at + period.half():
        return None, period.first_at_or_after(start, nudged_at + period.half(), tz)
    data = {"request_id": request.id, "step_index": step, "n": n, "to": waiting_on(request),
            "since": start.isoformat()}
    key = f"remind:{request.id}:{step}:{n}"
    return DueAction(ActionKind.REMIND, key, (SubjectKind.APPROVAL, request.id), at, data), nxt


def manual_reminder(request: ApprovalRequest, policy: ApprovalPolicy, now: datetime) -> DueAction | None:
    """Return the reminder an admin asks for now to the approvers of the current step still to decide (None when the
    request is decided or nobody is left to decide); keyed by its moment, it never stands in for a scheduled one."""
    if not request.is_open() or not waiting_on(request):
        return None
    step = request.current_step
    data = {"request_id": request.id, "step_index": step, "n": 0, "to": waiting_on(request),
            "since": request.step_started_at.isoformat(), "notify": list(policy.notify)}
    key = f"remind:{request.id}:{step}:by{now.astimezone(UTC):%Y%m%dT%H%M%S%fZ}"
    return DueAction(ActionKind.REMIND, key, (SubjectKind.APPROVAL, request.id), now, data)


def _escalation(
    request: ApprovalRequest, period: Period, targets: tuple[str, ...], now: datetime, tz: ZoneInfo,
) -> tuple[DueAction | None, datetime | None]:
    if not targets:
        return None, None
    start, step = request.step_started_at, request.current_step
    at = period.after(start, 1, tz)
    if now < at:
        return None, at
    data = {"request_id": request.id, "step_index": step, "level": 1, "to": targets,
            "waiting_on": waiting_on(request), "since": start.isoformat()}
    key = f"escalate:{request.id}:{step}:1"
    return DueAction(ActionKind.ESCALATE, key, (SubjectKind.APPROVAL, request.id), at, data), None


def escalated_to(
    request: ApprovalRequest, policy: ApprovalPolicy, people_groups: Mapping[str, tuple[str, ...]],
    admins: tuple[str, ...],
) -> tuple[str, ...]:
    """Return who a step is escalated to: `escalate_to` without the requester or who decided another step; when that
    leaves nobody, the admins who are none of those nor on the step already (as a step left empty goes to them)."""
    targets = tuple(p for p in resolve_step_approvers(list(policy.escalate_to), people_groups, request.requester)
                    if not decided_other_step(request, p))
    if targets or not policy.escalate_to:
        return targets
    return tuple(p for p in admins if not is_same_person(p, request.requester) and p not in request.step().approvers
                 and not decided_other_step(request, p))


def plan_request(
    state: ApprovalState, now: datetime, tz: ZoneInfo, people_groups: Mapping[str, tuple[str, ...]] | None = None,
    admins: tuple[str, ...] = (),
) -> tuple[list[DueAction], datetime | None]:
    """Plan one open approval request: expiry first, else its escalation (once per step) and reminder number."""
    request, policy = state.request, state.policy
    if not request.is_open():
        return [], None
    expiry, remind, escalate = (_period(p) for p in (policy.expire_after, policy.remind_every, policy.escalate_after))
    expire_at = expiry.after(request.created_at, 1, tz) if expiry else None
    if expire_at is not None and now >= expire_at:
        data = {"request_id": request.id, "expire_after": policy.expire_after, "waiting_on": waiting_on(request)}
        return [DueAction(ActionKind.EXPIRE, f"expire:{request.id}", (SubjectKind.APPROVAL, request.id),
                          expire_at, data)], None
    reminder, next_reminder = _reminder(request, remind, now, tz, state.nudged_at) if remind else (None, None)
    targets = escalated_to(request, policy, people_groups or {}, admins)
    escalation, next_escalation = _escalation(request, escalate, targets, now, tz) if escalate else (None, None)
    if escalation and reminder and escalation.due_at >= reminder.due_at:
        escalation, reminder = replace(escalation, covers=(reminder.key,)), None
    actions = sorted((replace(a, data={**a.data, "notify": list(policy.notify)})
                      for a in (escalation, reminder) if a is not None), key=lambda a: a.due_at)
    return actions, _earliest(next_reminder, next_escalation, expire_at)


def plan_invoice(
    state: InvoiceState, settings: InvoiceReminderSettings, now: datetime, tz: ZoneInfo,
) -> tuple[list[DueAction], datetime | None]:
    """Plan one invoice: the latest reminder owed (one only, however late) and when the next one falls.

    A finalised invoice that is not approved yet gets no e-mail: its reminder is planned as skipped, with why.
    """
    record = state.record
    if not settings.enabled or not is_payable(record) or record.due_date is None:
        return [], None
    moments = reminder_moments(record.due_date, settings, tz)
    owed = [m for m in moments if is_owed(m, record, settings, now)]
    nxt = next((m.at for m in moments if m.at > now), None)
    if not owed:
        return [], nxt
    latest = owed[-1]
    data = {"invoice_id": record.id, "schedule_index": latest.index, "offset_days": latest.schedule.offset_days,
            "email": state.email, "due_date": record.due_date.isoformat()}
    key = f"invoice-reminder:{record.id}:{record.due_date.isoformat()}:{latest.schedule.offset_days:+d}"
    hold = customer_hold(record)
    if hold is not None:
        data, key = {**data, "skipped": hold}, f"{key}:held:{record.approval_status.value}"
    elif (skipped := _reminder_skipped(record, latest.at, nxt, now, tz, state.email)) is not None:
        data, key = {**data, "skipped": skipped}, f"{key}:skipped"
    return [DueAction(ActionKind.INVOICE_REMINDER, key, (SubjectKind.INVOICE, record.id), latest.at, data)], nxt


def _reminder_skipped(
    record: Record, due_at: datetime, next_at: datetime | None, now: datetime, tz: ZoneInfo, email: str | None,
) -> str | None:
    """Return why an owed reminder is not e-mailed: the customer has no address, or it is so late that the next one
    is nearer and due within a day (two e-mails hours apart would say the same); None when it goes."""
    if not email:
        return f"customer {record.customer} has no e-mail address" if record.customer else "it names no customer"
    if next_at is not None and now - due_at >= (next_at - due_at) / 2 and next_at - now < SUPERSEDED_WITHIN:
        return f"late: the next reminder goes on {local_date(next_at, tz).isoformat()}"
    return None


def schedule_of(workflow: Workflow | None) -> CronSpec | None:
    """Return the cron schedule of a live scheduled workflow (None otherwise, or when it is not valid)."""
    if workflow is None or not workflow.is_live() or workflow.trigger is not Trigger.SCHEDULED:
        return None
    try:
        return CronSpec.parse(workflow.schedule or "")
    except InvalidDefinitionError:
        return None


def first_run(workflow: Workflow | None, now: datetime, tz: ZoneInfo) -> datetime | None:
    """Return when a newly scheduled workflow first runs (None when it does not run on a schedule)."""
    spec = schedule_of(workflow)
    return spec.next_after(now, tz) if spec else None


def plan_workflow(state: WorkflowState, now: datetime, tz: ZoneInfo) -> tuple[list[DueAction], datetime | None]:
    """Plan one scheduled workflow: one run for its due time, however late, then the next run after now; a run
    missed by half a period or more that would now come less than half a period before the next one is left to
    that one (two runs within minutes would tell the same twice)."""
    spec = schedule_of(state.workflow)
    if spec is None:
        return [], None
    if state.due_at > now:
        return [], state.due_at
    upcoming = spec.next_after(now, tz)
    half_period = (spec.next_after(upcoming, tz) - upcoming) / 2
    if now - state.due_at >= half_period and upcoming - now < half_period:
        return [], upcoming
    data = {"workflow_id": state.workflow_id, "run_at": state.due_at.isoformat()}
    key = f"fire:{state.workflow_id}:{stamp(state.due_at)}"
    action = DueAction(ActionKind.FIRE_WORKFLOW, key, (SubjectKind.WORKFLOW, state.workflow_id), state.due_at, data)
    return [action], upcoming


def plan_away_end(delegation: Delegation, now: datetime) -> tuple[list[DueAction], datetime | None]:
    """Plan the announcement that a principal's latest delegation ran out (one ended by hand was announced then)."""
    end = delegation.end()
    if delegation.ended_at is not None and delegation.ended_at < delegation.ends_at:
        return [], None
    if now < end:
        return [], end
    data = {"principal": delegation.principal, "delegate": delegation.delegate, "until": end.isoformat()}
    key = f"away_ended:{delegation.principal}:{end.isoformat()}"
    return [DueAction(ActionKind.AWAY_ENDED, key, (SubjectKind.DELEGATION, delegation.principal), end, data)], None


def plan_sweep(state: SweepState, now: datetime) -> SweepPlan:
    """Plan everything due at `now` for the subjects in the state, oldest due first."""
    require_aware(now, "now")
    actions: list[DueAction] = []
    next_due: list[tuple[Subject, datetime | None]] = []
    for approval in state.approvals:
        found, nxt = plan_request(approval, now, state.tz, state.people_groups, state.admins)
        actions += found
        next_due.append(((SubjectKind.APPROVAL, approval.request.id), nxt))
    for invoice in state.invoices:
        found, nxt = plan_invoice(invoice, state.reminder_settings, now, state.tz)
        actions += found
        next_due.append(((SubjectKind.INVOICE, invoice.record.id), nxt))
    for scheduled in state.workflows:
        found, nxt = plan_workflow(scheduled, now, state.tz)
        actions += found
        next_due.append(((SubjectKind.WORKFLOW, scheduled.workflow_id), nxt))
    for delegation in state.delegations:
        found, nxt = plan_away_end(delegation, now)
        actions += found
        next_due.append(((SubjectKind.DELEGATION, delegation.principal), nxt))
    actions.sort(key=lambda a: a.due_at)
    return SweepPlan(tuple(actions), tuple(next_due))
