"""A workflow in plain words: its schedule as days and times, its messages rendered on a sample document."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from bot.core.template_checks import SAMPLE_COMPANY
from engine.actions import Company, sample_contact, sample_record, template_context, template_sources
from engine.cron import CronSpec
from engine.durations import parse_duration
from engine.errors import InvalidDefinitionError, InvalidDurationError
from engine.workflows import (
    ApprovalAction,
    NotificationAction,
    ReminderAction,
    SendAction,
    UpdateAction,
    Workflow,
    WorkflowDefinition,
)
from messages.errors import TemplateInvalidError
from messages.render import RENDERS_NOTHING, Renderer, describe

MAX_TIMES = 6
ALL_WEEKDAYS = frozenset(range(7))
WORK_WEEK = frozenset(range(1, 6))
PREVIEW_CHARS = 1500


def _times(spec: CronSpec) -> list[str] | None:
    times = [f"{h:02d}:{m:02d}" for h in sorted(spec.hours) for m in sorted(spec.minutes)]
    return times if len(times) <= MAX_TIMES else None


def _days(spec: CronSpec) -> dict[str, Any] | None:
    if len(spec.months) != 12:
        return None
    if spec.is_day_restricted and spec.is_weekday_restricted:
        return None
    if spec.is_day_restricted:
        return {"kind": "monthly", "days": sorted(spec.days)}
    if not spec.is_weekday_restricted or spec.weekdays == ALL_WEEKDAYS:
        return {"kind": "daily"}
    if spec.weekdays == WORK_WEEK:
        return {"kind": "weekdays"}
    return {"kind": "weekly", "weekdays": sorted(spec.weekdays, key=lambda d: (d + 6) % 7)}


def schedule_view(cron: str | None, timezone: str) -> dict[str, Any] | None:
    """Return a cron schedule as days and times the templates word ("every weekday at 09:00"), or as written."""
    if not cron:
        return None
    try:
        spec = CronSpec.parse(cron)
    except InvalidDefinitionError:
        return {"kind": "custom", "cron": cron, "timezone": timezone}
    days, times = _days(spec), _times(spec)
    if days is None or times is None:
        return {"kind": "custom", "cron": cron, "timezone": timezone}
    return {**days, "times": times, "cron": cron, "timezone": timezone}


def sample_context(definition: WorkflowDefinition, renderer: Renderer, now: datetime) -> dict[str, Any]:
    """Return the template variables of a workflow on a sample document of its type."""
    record = sample_record(definition.record_type, now, renderer.fmt.tz)
    company = Company(SAMPLE_COMPANY, renderer.timezone)
    return template_context(record, sample_contact(definition.record_type), definition, company, now)


def previews(definition: WorkflowDefinition, renderer: Renderer, now: datetime) -> dict[str, dict[str, Any]]:
    """Render each message, subject and body of a workflow on a sample document: `{path: {text, ok}}`."""
    context = sample_context(definition, renderer, now)
    shown: dict[str, dict[str, Any]] = {}
    for path, source in template_sources(definition):
        shown[path] = preview(source, context, renderer)
    return shown


def preview(source: str, context: dict[str, Any], renderer: Renderer, limit: int = PREVIEW_CHARS) -> dict[str, Any]:
    """Render one admin template on a sample: `{ok, text}`, the text being why when it fails or prints nothing (a
    name or field it does not know, as saving would say)."""
    try:
        text = renderer.slack_text(source, **context).strip()
    except TemplateInvalidError as exc:
        return {"ok": False, "text": describe(exc)[:300]}
    if not text:
        return {"ok": False, "text": (renderer.strict_problem(source, context) or RENDERS_NOTHING)[:300]}
    return {"ok": True, "text": text[:limit]}


def with_previews(view: dict[str, Any], definition: WorkflowDefinition, renderer: Renderer,
                  now: datetime) -> dict[str, Any]:
    """Add the schedule in words and each action's rendered sample messages to a workflow's view."""
    shown = previews(definition, renderer, now)
    actions = []
    for index, action in enumerate(view["actions"]):
        found = {key: shown[f"actions[{index}].{key}"] for key in ("message", "subject", "body")
                 if f"actions[{index}].{key}" in shown}
        actions.append({**action, "preview": found})
    return {**view, "actions": actions, "schedule_words": schedule_view(definition.schedule, renderer.timezone)}


# a workflow as the templates show it (no wording here)


def duration_view(iso: str | None) -> dict[str, Any] | None:
    """Split an ISO 8601 duration into days, hours and minutes for display."""
    if not iso:
        return None
    try:
        delta = parse_duration(iso)
    except InvalidDurationError:
        return {"iso": iso, "days": 0, "hours": 0, "minutes": 0}
    hours, rest_s = divmod(int(delta.total_seconds()) % 86400, 3600)
    return {"iso": iso, "days": delta.days, "hours": hours, "minutes": rest_s // 60}


def value_view(value: Any) -> dict[str, Any]:
    """Tag a condition value with its kind so templates can format it for the locale."""
    if value is None:
        return {"kind": "none"}
    if isinstance(value, list | tuple):
        return {"kind": "list", "items": [value_view(v) for v in value[:50]], "more": max(0, len(value) - 50)}
    if isinstance(value, bool):
        return {"kind": "bool", "value": value}
    if isinstance(value, datetime):
        return {"kind": "moment", "value": value}
    if isinstance(value, date):
        return {"kind": "date", "value": value}
    if isinstance(value, int | Decimal):
        return {"kind": "number", "value": value}
    return {"kind": "text", "value": str(value)}


def _action_view(action: Any) -> dict[str, Any]:
    if isinstance(action, ApprovalAction):
        steps = [{"name": s.name, "approvers": list(s.approvers), "min_approvers": s.min_approvers}
                 for s in action.steps]
        return {"type": "approval", "steps": steps, "channel": action.channel, "notify": list(action.notify),
                "remind_every": duration_view(action.remind_every),
                "escalate_after": duration_view(action.escalate_after), "escalate_to": list(action.escalate_to),
                "expire_after": duration_view(action.expire_after)}
    if isinstance(action, ReminderAction | NotificationAction):
        targets = [*([action.channel] if getattr(action, "channel", None) else []), *action.to]
        return {"type": action.type, "targets": targets, "message": action.message}
    if isinstance(action, SendAction):
        return {"type": "send", "subject": action.subject, "copy_sender": action.copy_sender}
    if isinstance(action, UpdateAction):
        return {"type": "update", "field": action.field, "value": value_view(action.value)}
    return {"type": str(getattr(action, "type", "unknown"))}


def workflow_view(workflow: Workflow) -> dict[str, Any]:
    """Return a workflow as the list and show templates render it."""
    return {
        "id": workflow.id, "name": workflow.name, "description": workflow.description,
        "record_type": workflow.record_type.value, "trigger": workflow.trigger.value,
        "trigger_fields": list(workflow.trigger_fields), "schedule": workflow.schedule,
        "enabled": workflow.enabled, "status": workflow.status.value, "created_at": workflow.created_at,
        "conditions": [{"field": c.field, "op": c.op.value, "value": value_view(c.value)}
                       for c in workflow.conditions],
        "actions": [_action_view(a) for a in workflow.actions],
        "action_types": list(dict.fromkeys(a.type for a in workflow.actions)),
    }
