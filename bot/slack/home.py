"""The App Home "Tasks" tab: my pending approvals (with batch and forced approval), reminders and requests."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from weakref import WeakKeyDictionary

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.core.admin import dismiss_reminder
from bot.core.service import Signoff
from bot.slack import digests
from bot.slack.command_kit import CommandContext, Reply, command
from bot.slack.payload import (
    action_value,
    event_user,
    input_state,
    input_text,
    mapping,
    private_metadata,
    small_int,
    state_values,
    string_list,
    text,
    trigger_id,
    user_id,
)
from engine.approvals import (
    ApprovalRequest,
    BatchMove,
    Decision,
    ForceKind,
    batch_move,
    force_kind,
    valid_reason,
)
from engine.delegation import Delegation, recipients_on_step, seat_for
from engine.errors import VoteRefusedError
from engine.notify import is_slack_user
from engine.records import Contact, Record
from messages.cards import record_view
from storage.models import ReminderTask
from storage.ports import Repository

log = logging.getLogger(__name__)

MAX_HOME_TASKS = 40
MAX_HOME_LINES = 10
MAX_HOME_REMINDER_TASKS = 4
MAX_BATCH = MAX_HOME_TASKS
PENDING_PER_PAGE = 8
REMINDER_ACTIONS = ("reminded", "reminder_sent", "escalated")


def task_value(request_id: str, seat: str, user: str) -> str:
    """Encode a task in a button value: the request, and whose seat when acting for someone."""
    return request_id if seat == user else f"{request_id}|{seat}"


def parse_task_value(value: str) -> tuple[str, str | None]:
    """Decode a task button value into (request id, seat or None)."""
    request_id, _, seat = value.partition("|")
    return request_id, seat or None


@dataclass(frozen=True)
class Task:
    """One approval waiting for a person: the request, whose seat, and what the Home shows of it."""

    request: ApprovalRequest
    seat: str
    record: Record | None = None
    contact_name: str | None = None
    force: ForceKind | None = None
    reminded_at: datetime | None = None
    away_until: datetime | None = None


@dataclass
class HomeData:
    """Everything one person's Home tab shows."""

    user: str
    now: datetime
    tasks: list[Task]
    tasks_total: int
    reminders: list[Task] = field(default_factory=list)
    reminder_tasks: list[ReminderTask] = field(default_factory=list)
    requests: list[Record] = field(default_factory=list)
    requests_total: int = 0
    away: Delegation | None = None
    covering: list[Delegation] = field(default_factory=list)
    notice: dict[str, Any] | None = None
    reminder_tasks_total: int = 0
    request_contacts: list[Contact | None] = field(default_factory=list)


# loading


async def open_tasks(repo: Repository, user: str, now: datetime) -> list[Task]:
    """Return every approval waiting for a person (their own seats and those of people away), oldest first."""
    principals = await repo.principals_of(user, now)
    requests = await repo.open_requests_awaiting([user, *principals])
    covering = await repo.delegations_active_at(now, delegate=user)
    seats = ((r, seat_for(r, user, principals)) for r in requests)
    return [Task(r, seat, away_until=_away_until(r, seat, user, covering, now))
            for r, seat in seats if seat is not None]


def _away_until(
    request: ApprovalRequest, seat: str, user: str, covering: Sequence[Delegation], now: datetime
) -> datetime | None:
    """Return until when the person whose seat a task takes is away, when the user stands in for them."""
    recipient = recipients_on_step(request, [seat], covering, now)[seat]
    return recipient.until if recipient.person == user and seat != user else None


async def _described(service: Signoff, repo: Repository, tasks: Sequence[Task], user: str) -> list[Task]:
    """Add to each task its document, its contact's name and whether approving it would be forced (few reads)."""
    records = await repo.records_by_key((t.request.record_type, t.request.record_id) for t in tasks)
    contacts = await repo.contacts_by_key(key for r in records.values() for key in _contact_keys(r))
    described = []
    for task in tasks:
        record = records.get((task.request.record_type, task.request.record_id))
        contact = next((contacts[k] for k in _contact_keys(record) if k in contacts), None) if record else None
        kind = force_kind(task.request, task.seat, is_admin=service.is_admin(user),
                          is_matching=await service.approvals.is_matching(repo, task.request, record))
        described.append(replace(task, record=record, force=kind,
                                 contact_name=contact.name if contact and contact.name else None))
    return described


def _contact_keys(record: Record) -> list[tuple[str, str]]:
    """Return the (kind, id) of a record's customer and vendor, customer first."""
    return [(kind, cid) for kind, cid in (("customer", record.customer), ("vendor", record.vendor)) if cid]


async def _reminded(repo: Repository, tasks: Sequence[Task]) -> list[Task]:
    stamps = await repo.last_audit_of("request", [t.request.id for t in tasks], REMINDER_ACTIONS)
    found = [replace(t, reminded_at=stamps[t.request.id]) for t in tasks if t.request.id in stamps]
    return sorted(found, key=lambda t: t.reminded_at or t.request.created_at, reverse=True)


async def load_home(service: Signoff, user: str, notice: dict[str, Any] | None = None) -> HomeData:
    """Read everything a person's Home tab shows."""
    now = service.clock.now()
    async with service.db.read() as repo:
        tasks = await open_tasks(repo, user, now)
        shown = await _described(service, repo, tasks[:MAX_HOME_TASKS], user)
        reminders = await _described(service, repo, (await _reminded(repo, tasks))[:MAX_HOME_LINES], user)
        requests, requests_total = await repo.records_created_by(user, MAX_HOME_LINES)
        request_contacts = [await _contact_of(repo, r) for r in requests]
        reminder_tasks, reminder_total = await repo.open_reminders(user, MAX_HOME_REMINDER_TASKS)
        away = await repo.delegations_active_at(now, principal=user)
        covering = await repo.delegations_active_at(now, delegate=user)
    return HomeData(user, now, shown, len(tasks), reminders, reminder_tasks, requests, requests_total,
                    away[-1] if away else None, covering, notice, reminder_total, request_contacts)


async def _contact_of(repo: Repository, record: Record) -> Contact | None:
    """Return the customer or vendor of a record, to show its name."""
    return next(iter((await repo.contacts_of(record)).values()), None)


# what the templates show (no wording here)


def _age(since: datetime, now: datetime) -> dict[str, int]:
    waited = max(now - since, timedelta(0))
    return {"days": waited.days, "hours": waited.seconds // 3600}


def task_view(task: Task, user: str, now: datetime) -> dict[str, Any]:
    """Return one task as the Home and `/signoff pending` render it."""
    request = task.request
    record = record_view(task.record, None) if task.record else {
        "type": request.record_type, "id": request.record_id, "amount": None, "currency": "USD",
        "contact_name": "—", "memo": None, "due_date": None}
    if task.contact_name:
        record = {**record, "contact_name": task.contact_name}
    return {
        "request_id": request.id, "value": task_value(request.id, task.seat, user), "record": record,
        "requester": request.requester, "age": _age(request.step_started_at, now),
        "step": request.current_step + 1, "steps": len(request.steps),
        "seat": task.seat if task.seat != user else None, "force": task.force.value if task.force else None,
        "reminded_at": task.reminded_at, "away_until": task.away_until,
    }


def _reminder_task_view(task: ReminderTask) -> dict[str, Any]:
    return {"id": task.id, "text": task.text, "record_type": task.record_type, "record_id": task.record_id,
            "created_at": task.created_at}


def _delegation_view(delegation: Delegation | None) -> dict[str, Any] | None:
    if delegation is None:
        return None
    return {"principal": delegation.principal, "delegate": delegation.delegate, "until": delegation.end()}


def home_context(data: HomeData) -> dict[str, Any]:
    """Return the Home template's context, within Slack's limits."""
    contacts = [*data.request_contacts, *[None] * len(data.requests)]
    requests = [{"record": record_view(r, c)} for r, c in zip(data.requests[:MAX_HOME_LINES], contacts, strict=False)]
    return {
        "user": data.user, "notice": data.notice,
        "tasks": [task_view(t, data.user, data.now) for t in data.tasks[:MAX_HOME_TASKS]],
        "tasks_total": data.tasks_total,
        "tasks_hidden": max(0, data.tasks_total - min(len(data.tasks), MAX_HOME_TASKS)),
        "reminders": [task_view(t, data.user, data.now) for t in data.reminders[:MAX_HOME_LINES]],
        "reminder_tasks": [_reminder_task_view(t) for t in data.reminder_tasks[:MAX_HOME_REMINDER_TASKS]],
        "reminder_tasks_hidden": max(0, max(data.reminder_tasks_total, len(data.reminder_tasks))
                                     - len(data.reminder_tasks[:MAX_HOME_REMINDER_TASKS])),
        "requests": requests, "requests_total": data.requests_total,
        "requests_hidden": max(0, data.requests_total - len(requests)),
        "away": _delegation_view(data.away), "covering": [_delegation_view(d) for d in data.covering[:5]],
    }


def home_view(service: Signoff, data: HomeData) -> dict[str, Any]:
    """Render a person's Home tab."""
    view: dict[str, Any] = service.renderer.json("home.json.j2", home=home_context(data))
    return view


# refreshing


def _people(request: ApprovalRequest) -> set[str]:
    people = {p for step in request.steps for p in step.approvers}
    if request.requester:
        people.add(request.requester)
    return {p for p in people if is_slack_user(p)}


class HomeRefresher:
    """Republishes the Home tabs a change touches, for people who have a Home tab; bursts are coalesced."""

    def __init__(self, service: Signoff) -> None:
        self.service = service
        self.known: set[str] = set()
        self._pending: set[str] = set()
        self._is_flushing = False

    async def on_request_changed(self, request_id: str) -> None:
        """Refresh the Homes of everyone a request concerns (approvers, their delegates, the requester)."""
        try:
            async with self.service.db.read() as repo:
                request = await repo.get_request(request_id)
                people = _people(request) if request else set()
                delegates = await repo.delegates_of(people, self.service.clock.now())
        except Exception:
            log.exception("could not find whose Home shows request %s", request_id)
            return
        await self.refresh(people | set(delegates.values()))

    async def refresh(self, users: Iterable[str]) -> None:
        """Republish these people's Home tabs (those already shown); a refresh under way takes them over."""
        self._pending |= set(users) & self.known
        if self._is_flushing:
            return
        self._is_flushing = True
        try:
            while self._pending:
                users, self._pending = self._pending, set()
                for user in sorted(users):
                    await self.publish(user)
        finally:
            self._is_flushing = False

    async def publish(self, user: str, notice: dict[str, Any] | None = None) -> None:
        """Build and publish one person's Home tab now (failures are logged, never raised)."""
        try:
            view = home_view(self.service, await load_home(self.service, user, notice))
            await self.service.slack.publish_home(user, view)
        except Exception:
            log.exception("could not publish the Home tab of %s", user)
            return
        self.known.add(user)


_REFRESHERS: WeakKeyDictionary[Signoff, HomeRefresher] = WeakKeyDictionary()


def refresher_for(service: Signoff) -> HomeRefresher:
    """Return the service's Home refresher."""
    if service not in _REFRESHERS:
        _REFRESHERS[service] = HomeRefresher(service)
    return _REFRESHERS[service]


# approving from the Home tab (and forced approvals anywhere)


@dataclass
class BatchResult:
    """How a batch of approvals went."""

    approved: int = 0
    forced: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)

    def notice(self) -> dict[str, Any]:
        """Return the Home notice that reports this batch."""
        return {"kind": "batch", "approved": self.approved, "forced": self.forced,
                "refused": len(self.refused), "codes": sorted({code for _, code in self.refused})}


async def approve_many(
    service: Signoff, actor: str, values: Sequence[str], reason: str | None = None
) -> BatchResult:
    """Approve several tasks; forced ones only when a confirmation reason is given.

    Each approval is its own transaction and counts once however often it is tried, so a batch cut short
    by a crash is run again whole: its inbox row is completed after the last approval, not the first.
    """
    with service.db.carrying_nothing():
        return await _approve_each(service, actor, values, reason)


async def _approve_each(service: Signoff, actor: str, values: Sequence[str], reason: str | None) -> BatchResult:
    result = BatchResult()
    for value in values[:MAX_BATCH]:
        request_id, seat = parse_task_value(value)
        try:
            kind = await service.approvals.force_needed(request_id, actor, seat)
            if batch_move(kind, reason) is BatchMove.FORCE:
                outcome = await service.approvals.force(request_id, actor, reason or "", seat)
                result.forced += outcome.is_counted
            else:
                outcome = await service.approvals.decide(request_id, actor, Decision.APPROVE, on_behalf_of=seat)
            result.approved += outcome.is_counted
        except VoteRefusedError as exc:
            result.refused.append((request_id, exc.code))
    return result


def selected_values(view: Any) -> list[str]:
    """Return the task values ticked in a Home view's checkboxes, in display order (malformed ones left out)."""
    values, blocks = state_values(view) or {}, mapping(view).get("blocks")
    chosen: list[str] = []
    for block in blocks if isinstance(blocks, list) else []:
        block_id = mapping(block).get("block_id")
        picked = input_state(values, block_id, "task_select") if isinstance(block_id, str) else {}
        options = picked.get("selected_options")
        chosen += [v for o in (options if isinstance(options, list) else []) if (v := text(mapping(o).get("value")))]
    return list(dict.fromkeys(chosen))


async def confirm_view(service: Signoff, actor: str, values: Sequence[str]) -> dict[str, Any] | None:
    """Return the confirmation modal for approvals that include forced ones, or None when none is forced."""
    forced = []
    for value in values[:MAX_BATCH]:
        request_id, seat = parse_task_value(value)
        kind = await service.approvals.force_needed(request_id, actor, seat)
        if kind is not None:
            forced.append(await _forced_line(service, request_id, kind))
    if not forced:
        return None
    view: dict[str, Any] = service.renderer.json(
        "home_confirm.json.j2", forced=forced, total=len(values[:MAX_BATCH]),
        metadata=json.dumps(list(values[:MAX_BATCH])))
    return view


async def _forced_line(service: Signoff, request_id: str, kind: ForceKind) -> dict[str, Any]:
    async with service.db.read() as repo:
        request = await repo.get_request(request_id)
        record = await repo.get_record(request.record_type, request.record_id) if request else None
    return {"kind": kind.value, "record": record_view(record, None) if record else {"type": "", "id": request_id}}


class HomeListeners:
    """Bolt listeners of the Home tab and of approvals that may need a forced confirmation."""

    def __init__(self, service: Signoff) -> None:
        self.service = service
        self.refresher = refresher_for(service)

    async def on_home_opened(self, event: dict[str, Any]) -> None:
        """The user opened the Home tab: publish it fresh."""
        user = event_user(event)
        if user is not None and mapping(event).get("tab", "home") == "home":
            await self.refresher.publish(user)

    async def on_select(self, ack: AsyncAck) -> None:
        """A task checkbox was ticked: nothing to do until the batch button."""
        await ack()

    async def on_refresh(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """The Refresh button."""
        await ack()
        user = user_id(body)
        if user is not None:
            await self.refresher.publish(user)

    async def on_reminder_done(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """A reminder's Done button: dismiss it if it is the clicker's (until its document matches anew), refresh."""
        await ack()
        user, task_id = user_id(body), small_int(action_value(body))
        if user is None or task_id is None:
            return
        await dismiss_reminder(self.service.deps, user, task_id)
        await self.refresher.publish(user)

    async def on_batch(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Approve selected: confirm first when a forced approval is involved, else approve at once."""
        await ack()
        user, values = user_id(body), selected_values(mapping(body).get("view"))
        if user is None:
            return
        if not values:
            await self.refresher.publish(user, {"kind": "nothing_selected"})
            return
        if await self.ask_confirmation(body, values):
            return
        result = await approve_many(self.service, user, values)
        await self.refresher.publish(user, result.notice())

    async def ask_confirmation(self, body: dict[str, Any], values: Sequence[str]) -> bool:
        """Open the forced-approval confirmation when needed; tell whether it was needed (opened if it could be)."""
        user, trigger = user_id(body), trigger_id(body)
        view = await confirm_view(self.service, user, values) if user is not None else None
        if view is not None and trigger is not None:
            await self.service.slack.open_view(trigger, view)
        return view is not None

    async def on_confirm(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        """The confirmation was submitted: approve everything, forcing where needed."""
        values, user = state_values(view), user_id(body)
        tasks = string_list(private_metadata(view), MAX_BATCH)
        if values is None or user is None or tasks is None:
            await ack()
            return
        reason = valid_reason(input_text(values, "force_reason"))
        if reason is None:
            message = self.service.renderer.text("refusal.txt.j2", code="force_reason_required", detail="")
            await ack(response_action="errors", errors={"force_reason": message})
            return
        await ack()
        result = await approve_many(self.service, user, tasks, reason)
        await self.refresher.publish(user, result.notice())


def register(app: AsyncApp, service: Signoff) -> HomeListeners:
    """Wire the Home tab into the Bolt app and refresh Homes after every change."""
    listeners = HomeListeners(service)
    service.messages.after_refresh.append(listeners.refresher.on_request_changed)
    app.event("app_home_opened")(listeners.on_home_opened)
    app.action("task_select")(listeners.on_select)
    app.action("home_refresh")(listeners.on_refresh)
    app.action("batch_approve")(listeners.on_batch)
    app.action("reminder_done")(listeners.on_reminder_done)
    digests.register(app, service, listeners.refresher.refresh)
    app.view("approve_confirm")(listeners.on_confirm)
    return listeners


# /signoff pending


async def pending_command(ctx: CommandContext, args: list[str]) -> Reply:
    """List the approvals waiting for me, oldest first, with Approve / Reject."""
    async with ctx.service.db.read() as repo:
        tasks = await open_tasks(repo, ctx.user, ctx.now)
        pager = ctx.pager(len(tasks), PENDING_PER_PAGE)
        shown = await _described(ctx.service, repo, pager.window(tasks), ctx.user)
    views = [task_view(t, ctx.user, ctx.now) for t in shown]
    return ctx.reply("commands_pending.json.j2", tasks=views, pager=pager.view())


SUBCOMMANDS = (
    command("pending", pending_command, help_key="pending"),
)
