"""Reading the workflow modal's inputs into its draft: conditions, actions, durations and the schedule."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bot.slack.payload import input_state, mapping
from bot.slack.workflow_draft import ops_for, value_kind
from engine.durations import format_duration, parse_duration
from engine.errors import InvalidDurationError
from engine.notify import is_slack_user

UNITS = {"hours": 3600, "days": 86400, "weeks": 604800}
NEVER = "never"


def _picked(values: dict[str, Any], block_id: str) -> Any:
    """Return what an input holds (text, option value(s), people, date, time), or None when it holds nothing."""
    entry = input_state(values, block_id)
    for key in ("selected_users", "selected_conversations", "selected_channels"):
        if key in entry:
            return [v for v in entry[key] or [] if isinstance(v, str)]
    if "selected_options" in entry:
        return [mapping(o).get("value") for o in entry["selected_options"] or []]
    if "selected_option" in entry:
        return mapping(entry["selected_option"]).get("value") if entry["selected_option"] else None
    for key in ("selected_date", "selected_time", "value"):
        if key in entry:
            return entry[key]
    return None


def _duration(number: Any, unit: Any, current: str | None) -> str | None:
    if unit == NEVER:
        return None
    if unit not in UNITS:
        return current
    try:
        count = int(str(number).strip()) if number not in (None, "") else None
    except ValueError:
        return f"invalid:{number}"
    if count is None:
        return current if current else f"invalid:{number}"
    return format_duration(timedelta(seconds=count * UNITS[unit])) if count > 0 else f"invalid:{number}"


def duration_parts(iso: str | None) -> tuple[int | None, str]:
    """Split a duration into the number and unit the pickers show (`(None, "never")` for none)."""
    if not iso or iso.startswith("invalid:"):
        return None, NEVER
    try:
        seconds = int(parse_duration(iso).total_seconds())
    except InvalidDurationError:
        return None, NEVER
    for unit in ("weeks", "days", "hours"):
        if seconds % UNITS[unit] == 0:
            return seconds // UNITS[unit], unit
    return max(1, seconds // 3600), "hours"


def flatten(values: dict[str, Any] | None, action: dict[str, Any] | None = None) -> dict[str, Any]:
    """Key a view's state by action id (`{id: {id: state}}`), adding the element just used when given."""
    flat: dict[str, Any] = {}
    for block in (values or {}).values():
        for action_id, entry in mapping(block).items():
            flat[action_id] = {action_id: entry}
    if action and isinstance(action.get("action_id"), str):
        flat[action["action_id"]] = {action["action_id"]: action}
    return flat


def absorb(draft: dict[str, Any], values: dict[str, Any] | None) -> dict[str, Any]:
    """Copy what the inputs hold (state keyed by action id: `flatten`) into the draft; empty inputs keep it."""
    if not values:
        return draft
    _absorb_top(draft, values)
    for index, condition in enumerate(draft["conditions"]):
        _absorb_condition(condition, values, f"c{index}_")
    for index, action in enumerate(draft["actions"]):
        ABSORB.get(action.get("type", ""), _absorb_nothing)(action, values, f"a{index}_")
    return draft


def _set(target: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        target[key] = value


def _absorb_top(draft: dict[str, Any], values: dict[str, Any]) -> None:
    _set(draft, "name", _text(_picked(values, "name")))
    _set(draft, "record_type", _picked(values, "wf_record_type"))
    _set(draft, "trigger", _picked(values, "wf_trigger"))
    _set(draft, "publish", _picked(values, "publish"))
    days, at = _picked(values, "sched_days"), _picked(values, "sched_time")
    if days or at:
        draft["schedule"] = schedule_cron(days, at, draft.get("schedule"))


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) else None


WEEKDAY_CRON = {"mon": "1", "tue": "2", "wed": "3", "thu": "4", "fri": "5", "sat": "6", "sun": "0"}


def schedule_cron(days: Any, at: Any, current: str | None) -> str | None:
    """Return the cron of a days choice (daily, weekdays, mon…sun, month_N, or the cron kept) at HH:MM."""
    hour, minute = schedule_clock(at, current)
    if not isinstance(days, str):
        days = "daily" if current is None else None
    if days is None or days.startswith("cron:"):
        return days[5:] if days else current
    if days == "daily":
        return f"{minute} {hour} * * *"
    if days == "weekdays":
        return f"{minute} {hour} * * 1-5"
    if days in WEEKDAY_CRON:
        return f"{minute} {hour} * * {WEEKDAY_CRON[days]}"
    if days.startswith("month_") and days[6:].isdigit():
        return f"{minute} {hour} {int(days[6:])} * *"
    return current


def schedule_clock(at: Any, current: str | None) -> tuple[int, int]:
    """Return the (hour, minute) of a time picker's HH:MM, else of the current cron, else 09:00."""
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", at or "") if isinstance(at, str) else None
    if match and int(match[1]) < 24 and int(match[2]) < 60:
        return int(match[1]), int(match[2])
    parts = (current or "").split()
    if len(parts) == 5 and parts[0].isdigit() and parts[1].isdigit():
        return int(parts[1]), int(parts[0])
    return 9, 0


def _absorb_condition(condition: dict[str, Any], values: dict[str, Any], prefix: str) -> None:
    field, op = _picked(values, prefix + "field"), _picked(values, prefix + "op")
    if field and field != condition.get("field"):
        condition.update(field=field, value=None)
        if condition.get("op") not in ops_for(field):
            condition["op"] = ops_for(field)[0]
    if op and op != condition.get("op") and op in ops_for(condition["field"]):
        if value_kind(condition["field"], op) != value_kind(condition["field"], condition["op"]):
            condition["value"] = None
        condition["op"] = op
    _set(condition, "value", _condition_value(condition, values, prefix))


def _condition_value(condition: dict[str, Any], values: dict[str, Any], prefix: str) -> Any:
    kind = value_kind(condition["field"], condition["op"])
    raw = _picked(values, prefix + "value")
    if kind == "range":
        low, high = raw, _picked(values, prefix + "value2")
        current = condition.get("value")
        old: list[Any] = current if isinstance(current, list) and len(current) == 2 else [None, None]
        return [low if low not in (None, "") else old[0], high if high not in (None, "") else old[1]]
    if kind == "list" and isinstance(raw, str):
        return [part.strip() for part in raw.split(",") if part.strip()]
    if kind == "days" and isinstance(raw, str) and raw.strip().isdigit():
        return int(raw.strip())
    if kind == "bool" and raw in ("true", "false"):
        return raw == "true"
    return raw if raw not in ("", []) or kind in ("enums", "list") else None


def _absorb_nothing(action: dict[str, Any], values: dict[str, Any], prefix: str) -> None:
    """Leave an action the modal does not edit as it is."""


def merged_people(current: list[str], people: Any, groups: Any) -> list[str]:
    """Return who a list names once its people and group pickers are read (a picker not sent keeps its part); the
    e-mail addresses no picker shows are kept."""
    kept_people = [a for a in current if is_slack_user(a)] if people is None else list(people)
    kept_groups = [a for a in current if a.startswith("group:")] if groups is None else list(groups)
    others = [a for a in current if not is_slack_user(a) and not a.startswith("group:")]
    return [*kept_people, *others, *kept_groups]


def _absorb_approval(action: dict[str, Any], values: dict[str, Any], prefix: str) -> None:
    for index, step in enumerate(action.get("steps", [])):
        people, groups = _picked(values, f"{prefix}s{index}_people"), _picked(values, f"{prefix}s{index}_groups")
        if people is not None or groups is not None:
            step["approvers"] = merged_people(step["approvers"], people, groups)
        minimum = _picked(values, f"{prefix}s{index}_min")
        if isinstance(minimum, str) and minimum.strip():
            step["min_approvers"] = int(minimum) if minimum.strip().isdigit() else minimum.strip()
    for name, key in (("remind", "remind_every"), ("escalate", "escalate_after"), ("expire", "expire_after")):
        number, unit = _picked(values, f"{prefix}{name}_n"), _picked(values, f"{prefix}{name}_u")
        if number is not None or unit is not None:
            action[key] = _duration(number, unit, action.get(key))
    people, groups = _picked(values, prefix + "escalate_to"), _picked(values, prefix + "escalate_groups")
    if people is not None or groups is not None:
        action["escalate_to"] = merged_people(action.get("escalate_to", []), people, groups)


def _absorb_message(action: dict[str, Any], values: dict[str, Any], prefix: str) -> None:
    _set(action, "message", _picked(values, prefix + "message"))
    people, channel = _picked(values, prefix + "to"), _text(_picked(values, prefix + "channel"))
    current = action.get("to", [])
    people = people if people is not None else [t for t in current if is_slack_user(t)]
    others = [t for t in current if not is_slack_user(t)]
    if action["type"] == "notification":
        if channel is not None:
            action["channel"] = channel or None
    elif channel is not None:
        others = [c.strip() for c in channel.split(",") if c.strip()]
    action["to"] = [*people, *others]


def _absorb_send(action: dict[str, Any], values: dict[str, Any], prefix: str) -> None:
    _set(action, "subject", _picked(values, prefix + "subject"))
    _set(action, "body", _picked(values, prefix + "body"))
    copy = _picked(values, prefix + "copy")
    if copy is not None:
        action["copy_sender"] = "copy" in copy


def _absorb_update(action: dict[str, Any], values: dict[str, Any], prefix: str) -> None:
    _set(action, "field", _picked(values, prefix + "field"))
    _set(action, "value", _picked(values, prefix + "value"))


ABSORB: dict[str, Callable[[dict[str, Any], dict[str, Any], str], None]] = {
    "approval": _absorb_approval, "reminder": _absorb_message, "notification": _absorb_message,
    "send": _absorb_send, "update": _absorb_update,
}
