"""What the workflow modal must fix before saving, in codes the template words, and where each problem shows."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from bot.slack.workflow_draft import value_kind
from engine.workflows import MAX_APPROVERS_PER_STEP


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
