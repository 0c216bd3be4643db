"""A workflow being built in the modal: the draft kept in the view, what its buttons change, what a value input is."""

from __future__ import annotations

import base64
import json
import re
import zlib
from collections.abc import Callable
from typing import Any

from engine.catalog import CatalogTemplate
from engine.conditions import DAY_COUNT_OPS, OPS_BY_TYPE, TODAY_OPS, Op
from engine.facts import CONTACT_FIELD_TYPES, RECORD_FIELD_TYPES, field_type
from engine.records import RecordType
from engine.workflows import Workflow

MAX_METADATA = 3000
MAX_CONDITIONS = 10
MAX_ACTIONS = 5
MAX_STEPS = 5
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
    return {**data, "id": workflow.id, "version": version_of(workflow),
            "publish": "publish" if workflow.is_live() else "draft"}


def version_of(workflow: Workflow) -> str:
    """Return the version an edit starts from: when the workflow was last changed."""
    return workflow.updated_at.isoformat()


def definition_of(draft: dict[str, Any], previous: Workflow | None = None) -> dict[str, Any]:
    """Return the workflow definition a draft saves (keeping an edited workflow's description)."""
    data = {k: v for k, v in draft.items() if k not in ("id", "version", "publish", "template")}
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


def action_target(action_id: str) -> str | None:
    """Return the change a block action makes (`wf_…`), or `wf_refresh` for pickers that re-render."""
    if action_id in CHANGES:
        return action_id
    match = BLOCK.match(action_id)
    return "wf_refresh" if match or action_id in ("wf_record_type", "wf_trigger") else None
