"""What a person's App Home tab and `/signoff pending` show of their tasks (no wording here: the templates word it)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.core.service import Signoff
from bot.slack.home_tasks import MAX_HOME_LINES, MAX_HOME_REMINDER_TASKS, MAX_HOME_TASKS, HomeData, Task, task_value
from engine.delegation import Delegation
from messages.cards import record_view
from storage.models import ReminderTask


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
    """Return the Home template's context, within Slack's limits: one page of the tasks and of the requests."""
    contacts = [*data.request_contacts, *[None] * len(data.requests)]
    requests = [{"record": record_view(r, c)} for r, c in zip(data.requests[:MAX_HOME_LINES], contacts, strict=False)]
    tasks = [task_view(t, data.user, data.now) for t in data.tasks[:MAX_HOME_TASKS]]
    return {
        "user": data.user, "notice": data.notice, "pages": data.pages.encode(),
        "tasks": tasks, "tasks_total": data.tasks_total,
        "tasks_pager": data.pages.pager("tasks", max(data.tasks_total, len(tasks)), MAX_HOME_TASKS, len(tasks)),
        "reminders": [task_view(t, data.user, data.now) for t in data.reminders[:MAX_HOME_LINES]],
        "reminder_tasks": [_reminder_task_view(t) for t in data.reminder_tasks[:MAX_HOME_REMINDER_TASKS]],
        "reminder_tasks_hidden": max(0, max(data.reminder_tasks_total, len(data.reminder_tasks))
                                     - len(data.reminder_tasks[:MAX_HOME_REMINDER_TASKS])),
        "requests": requests, "requests_total": data.requests_total,
        "requests_pager": data.pages.pager("requests", max(data.requests_total, len(requests)), MAX_HOME_LINES,
                                           len(requests)),
        "away": _delegation_view(data.away), "covering": [_delegation_view(d) for d in data.covering[:5]],
    }


def home_view(service: Signoff, data: HomeData) -> dict[str, Any]:
    """Render a person's Home tab."""
    view: dict[str, Any] = service.renderer.json("home.json.j2", home=home_context(data))
    return view
