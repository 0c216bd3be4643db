"""A workflow being built in the modal: the draft kept in the view, what the inputs change, and what is missing."""

from __future__ import annotations

import base64
import json
import re
import zlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from bot.slack.payload import input_state, mapping
from engine.catalog import CatalogTemplate
from engine.conditions import DAY_COUNT_OPS, OPS_BY_TYPE, TODAY_OPS, Op
from engine.durations import format_duration, parse_duration
from engine.errors import InvalidDurationError
from engine.facts import CONTACT_FIELD_TYPES, RECORD_FIELD_TYPES, field_type
from engine.notify import is_slack_user
from engine.records import RecordType
from engine.workflows import MAX_APPROVERS_PER_STEP, Workflow

MAX_METADATA = 3000
MAX_CONDITIONS = 10
MAX_ACTIONS = 5
MAX_STEPS = 5
UNITS = {"hours": 3600, "days": 86400, "weeks": 604800}
NEVER = "never"
ACTION_KINDS = ("approval", "reminder", "notification", "send", "update")
WRITABLE_FIELDS = ("memo", "status", "email_status", "location", "department", "class", "category")
ENUM_VALUES = {
    "type": [t.value for t in RecordType],
    "status": ["draft", "open", "sent", "paid", "void"],
    "email_status": ["not_sent", "sent"],
    "source": ["manual", "app", "import", "receipt_capture", "spreadsheet_sync", "slack"],
    "approval_status": ["none", "approval_required", "pending", "approved", "rejected", "expired"],
}
CONDITION_FIELDS = [f for f in RECORD_FIELD_TYPES if f not in ("type",)]
CONTACT_FIELDS = list(CONTACT_FIELD_TYPES)
BLOCK = re.compile(r"^(?:c(?P<cond>\d+)_|a(?P<action>\d+)_(?:s(?P<step>\d+)_)?)(?P<part>[a-z0-9_]+)$")


class DraftError(ValueError):
    """The view's draft cannot be read back (tampered or too old)."""


# the draft in private_metadata


def dump_draft(draft: dict[str, Any]) -> str | None:
    """Encode a draft for `private_metadata`: JSON, or compressed when long; None when it cannot fit."""
    text = json.dumps(draft, separators=(",", ":"), ensure_ascii=False)
    if len(text) <= MAX_METADATA:
        return text
    packed = "z:" + base64.b64encode(zlib.compress(text.encode(), 9)).decode()
    return packed if len(packed) <= MAX_METADATA else None


def load_draft(metadata: str | None) -> dict[str, Any]:
    """Decode a draft written by `dump_draft`; raise DraftError when it is not one."""
    text = metadata or ""
    try:
        if text.startswith("z:"):
            text = zlib.decompress(base64.b64decode(text[2:])).decode()
        draft = json.loads(text)
    except (ValueError, zlib.error) as exc:
        raise DraftError("not a workflow draft") from exc
    if not isinstance(draft, dict) or not isinstance(draft.get("actions"), list):
        raise DraftError("not a workflow draft")
    return draft


def blank_draft() -> dict[str, Any]:
    """Return the draft of a new workflow from scratch: invoices, on creation, one one-step approval."""
    return {"id": None, "name": "", "record_type": "invoice", "trigger": "created", "schedule": None,
            "conditions": [], "actions": [new_action("approval")], "publish": "publish"}


def template_draft(template: CatalogTemplate) -> dict[str, Any]:
    """Return the draft of a new workflow from a catalog template."""
    data = template.definition.model_dump(mode="json", exclude={"enabled", "status", "description"})
    return {**data, "id": None, "name": template.title, "publish": "publish", "template": template.slug}


def workflow_draft(workflow: Workflow) -> dict[str, Any]:
    """Return the draft that edits a stored workflow."""
    data = workflow.definition().model_dump(mode="json", exclude={"enabled", "status", "description"})
    return {**data, "id": workflow.id, "publish": "publish" if workflow.is_live() else "draft"}


def definition_of(draft: dict[str, Any], previous: Workflow | None = None) -> dict[str, Any]:
    """Return the workflow definition a draft saves (keeping an edited workflow's description)."""
    data = {k: v for k, v in draft.items() if k not in ("id", "publish", "template")}
    live = draft.get("publish") != "draft"
    data.update(enabled=live, status="published" if live else "draft")
    if previous is not None and previous.description:
        data["description"] = previous.description
    if data.get("trigger") != "scheduled":
        data["schedule"] = None
    return data


# changes the buttons make


def new_action(kind: str) -> dict[str, Any]:
    """Return a new action of a kind, with the defaults the modal starts from."""
    defaults: dict[str, dict[str, Any]] = {
        "approval": {"type": "approval", "steps": [new_step()], "expire_after": "P30D"},
        "reminder": {"type": "reminder", "to": [], "message": "{{ record.type }} {{ record.id }} needs attention"},
        "notification": {"type": "notification", "to": [], "channel": None,
                         "message": "{{ record.type }} {{ record.id }} for {{ record.amount | money }}"},
        "send": {"type": "send", "subject": "{{ record.type }} {{ record.id }}",
                 "body": "Hello {{ contact.name }},\n\nPlease find {{ record.type }} {{ record.id }}.",
                 "copy_sender": False},
        "update": {"type": "update", "field": "memo", "value": "OVERDUE"},
    }
    return defaults[kind]


def new_step() -> dict[str, Any]:
    """Return an empty approval step."""
    return {"name": None, "approvers": [], "min_approvers": 1}


def _index(value: str | None, size: int) -> int | None:
    return int(value) if value and value.isdigit() and int(value) < size else None


def add_condition(draft: dict[str, Any], _value: str | None) -> None:
    """Add a condition on the amount (up to MAX_CONDITIONS)."""
    if len(draft["conditions"]) < MAX_CONDITIONS:
        draft["conditions"].append({"field": "amount", "op": "gt", "value": None})


def remove_condition(draft: dict[str, Any], value: str | None) -> None:
    """Remove the condition at the index the button carries."""
    index = _index(value, len(draft["conditions"]))
    if index is not None:
        del draft["conditions"][index]


def add_action(draft: dict[str, Any], value: str | None) -> None:
    """Add an action of the kind picked (up to MAX_ACTIONS; one approval at most)."""
    has_approval = any(a.get("type") == "approval" for a in draft["actions"])
    if value in ACTION_KINDS and len(draft["actions"]) < MAX_ACTIONS and not (value == "approval" and has_approval):
        draft["actions"].append(new_action(value))


def remove_action(draft: dict[str, Any], value: str | None) -> None:
    """Remove the action at the index the button carries."""
    index = _index(value, len(draft["actions"]))
    if index is not None:
        del draft["actions"][index]


def add_step(draft: dict[str, Any], value: str | None) -> None:
    """Add a step to the approval action at the index the button carries."""
    index = _index(value, len(draft["actions"]))
    if index is not None and len(draft["actions"][index].get("steps", [])) < MAX_STEPS:
        draft["actions"][index].setdefault("steps", []).append(new_step())


def remove_step(draft: dict[str, Any], value: str | None) -> None:
    """Remove the step `ACTION:STEP` the button carries (an approval keeps at least one)."""
    action_text, _, step_text = (value or "").partition(":")
    index = _index(action_text, len(draft["actions"]))
    steps = draft["actions"][index].get("steps", []) if index is not None else []
    step = _index(step_text, len(steps))
    if step is not None and len(steps) > 1:
        del steps[step]


def keep(draft: dict[str, Any], _value: str | None) -> None:
    """Change nothing (a picker that only re-renders the modal, or a preview refresh)."""


CHANGES: dict[str, Callable[[dict[str, Any], str | None], None]] = {
    "wf_add_condition": add_condition, "wf_remove_condition": remove_condition, "wf_add_action": add_action,
    "wf_remove_action": remove_action, "wf_add_step": add_step, "wf_remove_step": remove_step,
    "wf_preview": keep, "wf_refresh": keep,
}


# what a condition's value input is


def value_kind(field: str, op: str) -> str:
    """Return the kind of input a condition's value needs: none, days, number, date, enum, enums, contact, group…"""
    kind = field_type(field) or "string"
    if op in TODAY_OPS or op in ("is_empty", "is_not_empty"):
        return "none"
    if op in DAY_COUNT_OPS:
        return "days"
    if op == "in_group":
        return "group"
    if op == "between":
        return "range"
    if kind == "enum":
        return "enums" if op in ("in", "not_in") else "enum"
    if field in ("customer", "vendor") and op in ("eq", "ne"):
        return "contact"
    return {"decimal": "number", "date": "date", "datetime": "date", "bool": "bool"}.get(
        kind, "list" if op in ("in", "not_in") else "text")


def ops_for(field: str) -> list[str]:
    """Return the operators a field offers, in the order the picker lists them."""
    allowed = OPS_BY_TYPE.get(field_type(field) or "string", OPS_BY_TYPE["string"])
    if field not in ("customer", "vendor"):
        allowed = allowed - {Op.IN_GROUP}
    return [op.value for op in Op if op in allowed]


# reading the inputs into the draft


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
    hour, minute = _clock(at, current)
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


def _clock(at: Any, current: str | None) -> tuple[int, int]:
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


def _absorb_approval(action: dict[str, Any], values: dict[str, Any], prefix: str) -> None:
    for index, step in enumerate(action.get("steps", [])):
        people, groups = _picked(values, f"{prefix}s{index}_people"), _picked(values, f"{prefix}s{index}_groups")
        if people is not None or groups is not None:
            kept_people = [a for a in step["approvers"] if is_slack_user(a)] if people is None else people
            kept_groups = [a for a in step["approvers"] if a.startswith("group:")] if groups is None else groups
            others = [a for a in step["approvers"] if not is_slack_user(a) and not a.startswith("group:")]
            step["approvers"] = [*kept_people, *others, *kept_groups]
        minimum = _picked(values, f"{prefix}s{index}_min")
        if isinstance(minimum, str) and minimum.strip():
            step["min_approvers"] = int(minimum) if minimum.strip().isdigit() else minimum.strip()
    for name, key in (("remind", "remind_every"), ("escalate", "escalate_after"), ("expire", "expire_after")):
        number, unit = _picked(values, f"{prefix}{name}_n"), _picked(values, f"{prefix}{name}_u")
        if number is not None or unit is not None:
            action[key] = _duration(number, unit, action.get(key))
    _set(action, "escalate_to", _picked(values, prefix + "escalate_to"))


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


# what is missing, in plain words (codes the template words)


def problems(draft: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return `{block_id: {code, …}}` for what the modal must fix before saving (empty when nothing)."""
    found: dict[str, dict[str, Any]] = {}
    if not (draft.get("name") or "").strip():
        found["name"] = {"code": "name_required"}
    if draft.get("trigger") == "scheduled" and not draft.get("schedule"):
        found["sched_days"] = {"code": "schedule_required"}
    for index, condition in enumerate(draft["conditions"]):
        if _needs_value(condition):
            found[f"c{index}_value"] = {"code": "value_required"}
    if not draft["actions"]:
        found["publish"] = {"code": "action_required"}
    for index, action in enumerate(draft["actions"]):
        CHECKS.get(action.get("type", ""), _no_problem)(action, f"a{index}_", found)
    return found


def _needs_value(condition: dict[str, Any]) -> bool:
    kind, value = value_kind(condition["field"], condition["op"]), condition.get("value")
    if kind == "none":
        return False
    if kind == "range":
        return not isinstance(value, list) or len(value) != 2 or None in value or "" in value
    return value in (None, "", [])


def _no_problem(action: dict[str, Any], prefix: str, found: dict[str, dict[str, Any]]) -> None:
    """An action the modal does not edit has nothing to fix here."""


def _check_approval(action: dict[str, Any], prefix: str, found: dict[str, dict[str, Any]]) -> None:
    for index, step in enumerate(action.get("steps", [])):
        _check_step(index, step, f"{prefix}s{index}_", found)
    for name, key in (("remind", "remind_every"), ("escalate", "escalate_after"), ("expire", "expire_after")):
        if str(action.get(key) or "").startswith("invalid:"):
            found[f"{prefix}{name}_n"] = {"code": "duration_invalid"}
    if action.get("escalate_after") and not action.get("escalate_to"):
        found[prefix + "escalate_to"] = {"code": "escalate_to_required"}
    if not action.get("expire_after"):
        found[prefix + "expire_n"] = {"code": "duration_invalid"}


def _check_step(index: int, step: dict[str, Any], prefix: str, found: dict[str, dict[str, Any]]) -> None:
    approvers, minimum = step.get("approvers", []), step.get("min_approvers")
    has_group = any(a.startswith("group:") for a in approvers)
    if not isinstance(minimum, int) or minimum < 1:
        found[prefix + "min"] = {"code": "quorum_invalid", "step": index + 1}
    elif not approvers:
        found[prefix + "people"] = {"code": "step_empty", "step": index + 1}
    elif len(approvers) > MAX_APPROVERS_PER_STEP:
        found[prefix + "people"] = {"code": "step_too_many", "step": index + 1, "max": MAX_APPROVERS_PER_STEP}
    elif not has_group and minimum > len(approvers):
        found[prefix + "people"] = {"code": "quorum_short", "step": index + 1, "quorum": minimum,
                                    "listed": len(approvers)}


def _check_message(action: dict[str, Any], prefix: str, found: dict[str, dict[str, Any]]) -> None:
    if not (action.get("message") or "").strip():
        found[prefix + "message"] = {"code": "message_required"}
    if not action.get("to") and not action.get("channel"):
        found[prefix + "to"] = {"code": "target_required"}


def _check_send(action: dict[str, Any], prefix: str, found: dict[str, dict[str, Any]]) -> None:
    for key in ("subject", "body"):
        if not (action.get(key) or "").strip():
            found[prefix + key] = {"code": "message_required"}


def _check_update(action: dict[str, Any], prefix: str, found: dict[str, dict[str, Any]]) -> None:
    if action.get("value") in (None, ""):
        found[prefix + "value"] = {"code": "value_required"}


CHECKS: dict[str, Callable[[dict[str, Any], str, dict[str, dict[str, Any]]], None]] = {
    "approval": _check_approval, "reminder": _check_message, "notification": _check_message,
    "send": _check_send, "update": _check_update,
}


def block_for(path: str, draft: dict[str, Any]) -> str:
    """Return the modal input where a definition problem at `path` (e.g. `actions[0].steps[1].approvers`) shows."""
    match = re.match(r"conditions\[(\d+)\](?:\.(\w+))?", path)
    if match:
        return f"c{match[1]}_{'value' if match[2] in (None, 'value') else match[2]}"
    match = re.match(r"actions\[(\d+)\](?:\.steps\[(\d+)\](?:\.(\w+))?|\.(\w+))?", path)
    if not match:
        return "sched_days" if path.startswith("schedule") else "name"
    prefix = f"a{match[1]}_"
    if match[2] is not None:
        return f"{prefix}s{match[2]}_{'min' if match[3] == 'min_approvers' else 'people'}"
    return prefix + _ACTION_INPUTS.get(match[4] or "", _first_input(draft, int(match[1])))


_ACTION_INPUTS = {"remind_every": "remind_n", "escalate_after": "escalate_n", "expire_after": "expire_n",
                  "escalate_to": "escalate_to", "message": "message", "to": "to", "channel": "to",
                  "subject": "subject", "body": "body", "field": "field", "value": "value"}


def _first_input(draft: dict[str, Any], index: int) -> str:
    kind = draft["actions"][index].get("type") if index < len(draft["actions"]) else None
    return {"approval": "s0_people", "reminder": "message", "notification": "message", "send": "subject",
            "update": "field"}.get(str(kind), "message")


def action_target(action_id: str) -> str | None:
    """Return the change a block action makes (`wf_…`), or `wf_refresh` for pickers that re-render."""
    if action_id in CHANGES:
        return action_id
    match = BLOCK.match(action_id)
    return "wf_refresh" if match or action_id in ("wf_record_type", "wf_trigger") else None
