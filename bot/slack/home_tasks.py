"""Whose approvals wait for a person, and everything their App Home tab shows, read in one snapshot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from bot.core.service import Signoff
from bot.slack.home_pages import HomePages, page_count
from engine.approvals import ApprovalRequest, ForceKind, force_kind
from engine.delegation import Delegation, recipients_on_step, seat_for
from engine.limits import is_email
from engine.records import Contact, Record
from storage.models import ReminderTask
from storage.ports import Repository

MAX_HOME_TASKS = 40  # the tasks on one page of the Home tab (two blocks each, of Slack's 100)
MAX_HOME_LINES = 10  # the requests on one page, and the reminded approvals shown
MAX_HOME_REMINDER_TASKS = 4
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
    pages: HomePages = field(default_factory=HomePages)


async def open_tasks(repo: Repository, user: str, now: datetime) -> list[Task]:
    """Return every approval waiting for a person (their own seats and those of people away), oldest first."""
    principals = await repo.principals_of(user, now)
    requests = await repo.open_requests_awaiting([user, *principals])
    covering = await repo.delegations_active_at(now, delegate=user)
    own_emails = {p.lower() for p in principals if is_email(p)}  # Slack's e-mails of the user: never their task
    seats = ((r, seat_for(r, user, principals)) for r in requests if (r.requester or "").lower() not in own_emails)
    return [Task(r, seat, away_until=_away_until(r, seat, user, covering, now))
            for r, seat in seats if seat is not None]


def _away_until(
    request: ApprovalRequest, seat: str, user: str, covering: Sequence[Delegation], now: datetime
) -> datetime | None:
    """Return until when the person whose seat a task takes is away, when the user stands in for them."""
    recipient = recipients_on_step(request, [seat], covering, now)[seat]
    return recipient.until if recipient.person == user and seat != user else None


async def described(service: Signoff, repo: Repository, tasks: Sequence[Task], user: str) -> list[Task]:
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


async def load_home(
    service: Signoff, user: str, notice: dict[str, Any] | None = None, pages: HomePages | None = None
) -> HomeData:
    """Read everything a person's Home tab shows, on these pages of its lists (the last one of a shorter list)."""
    now, asked = service.clock.now(), pages or HomePages()
    async with service.db.read() as repo:
        tasks = await open_tasks(repo, user, now)
        tasks_page = min(asked.tasks, page_count(len(tasks), MAX_HOME_TASKS) - 1)
        shown = await described(service, repo, _window(tasks, tasks_page, MAX_HOME_TASKS), user)
        reminders = await described(service, repo, (await _reminded(repo, tasks))[:MAX_HOME_LINES], user)
        requests, requests_page, requests_total = await _requests_page(repo, user, asked.requests)
        request_contacts = [await _contact_of(repo, r) for r in requests]
        reminder_tasks, reminder_total = await repo.open_reminders(user, MAX_HOME_REMINDER_TASKS)
        away = await repo.delegations_active_at(now, principal=user)
        covering = await repo.delegations_active_at(now, delegate=user)
    return HomeData(user, now, shown, len(tasks), reminders, reminder_tasks, requests, requests_total,
                    away[-1] if away else None, covering, notice, reminder_total, request_contacts,
                    HomePages(tasks_page, requests_page))


def _window(items: Sequence[Any], page: int, per_page: int) -> list[Any]:
    return list(items[page * per_page:(page + 1) * per_page])


async def _requests_page(repo: Repository, user: str, page: int) -> tuple[list[Record], int, int]:
    """Return one page of a person's requests (the last one when `page` is past it), that page, and their total."""
    requests, total = await repo.records_created_by(user, MAX_HOME_LINES, page * MAX_HOME_LINES)
    last = page_count(total, MAX_HOME_LINES) - 1
    if page > last:
        page = last
        requests, total = await repo.records_created_by(user, MAX_HOME_LINES, page * MAX_HOME_LINES)
    return requests, page, total


async def _contact_of(repo: Repository, record: Record) -> Contact | None:
    """Return the customer or vendor of a record, to show its name."""
    return next(iter((await repo.contacts_of(record)).values()), None)

