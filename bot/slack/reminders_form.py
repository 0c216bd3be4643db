"""Reading the invoice reminders modal: its slots as typed, the settings they make, and where the API's errors show."""

from __future__ import annotations

import re
from typing import Any

from bot.core.reminders import TEXT_PARTS
from bot.errors import Unprocessable
from bot.slack.payload import input_state, mapping
from engine.invoice_reminders import MAX_SCHEDULES

NO_DAY = "none"
PREVIEW_ACTIONS = re.compile(r"^(s[0-9]_(days|subject|greeting|body)|reminders_preview)$")


def with_action(values: dict[str, Any], action: dict[str, Any]) -> dict[str, Any]:
    """Return the modal's state with the value the action just carried (typed text or picked day)."""
    block, action_id = action.get("block_id"), action.get("action_id")
    entry = {k: v for k, v in action.items() if k in ("type", "value", "selected_option")}
    if not isinstance(block, str) or not isinstance(action_id, str) or len(entry) < 2:
        return values
    return {**values, block: {**mapping(values.get(block)), action_id: entry}}


def slots_as_typed(values: dict[str, Any], kept: set[str]) -> list[dict[str, Any]]:
    """Return the modal's slots as the admin left them (texts kept aside stay marked as kept)."""
    slots = []
    for i in range(MAX_SCHEDULES):
        days = _entry(values, f"s{i}_days")
        texts = {part: value if isinstance(value := _entry(values, f"s{i}_{part}"), str) else ""
                 for part in TEXT_PARTS}
        slots.append({"index": i, "days": days if isinstance(days, str) and days else NO_DAY,
                      "copy_sender": "copy" in (_entry(values, f"s{i}_copy") or []),
                      "kept": [part for part in TEXT_PARTS if f"s{i}_{part}" in kept], **texts})
    return slots


def previewed(data: dict[str, Any], slots: list[int], action_id: str) -> tuple[dict[str, Any] | None, int]:
    """Return the schedule to preview and its slot: the one being edited when it is scheduled, else the first."""
    edited = action_id[1:].partition("_")[0] if PREVIEW_ACTIONS.fullmatch(action_id) else ""
    index = slots.index(int(edited)) if edited.isdigit() and int(edited) in slots else 0
    return (data["schedules"][index], slots[index]) if slots else (None, 0)


def _entry(values: dict[str, Any], block_id: str) -> Any:
    entry = input_state(values, block_id)
    if "selected_option" in entry:
        return mapping(entry["selected_option"]).get("value")
    if "selected_options" in entry:
        return [mapping(o).get("value") for o in entry["selected_options"] or []]
    return entry.get("value")


def read_settings(values: dict[str, Any], kept: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
    """Turn the modal's state into settings as the API takes them, and the slot of each schedule."""
    schedules, slots = [], []
    for slot in range(MAX_SCHEDULES):
        days = _entry(values, f"s{slot}_days")
        if not isinstance(days, str) or days in ("", NO_DAY):
            continue
        texts = {part: _text(values, kept, f"s{slot}_{part}") for part in TEXT_PARTS}
        schedules.append({"offset_days": int(days) if days.lstrip("-").isdigit() else days,
                          **{part: value for part, value in texts.items() if value},
                          "copy_sender": "copy" in (_entry(values, f"s{slot}_copy") or [])})
        slots.append(slot)
    return {"enabled": is_enabled(values), "schedules": schedules}, slots


def _text(values: dict[str, Any], kept: dict[str, Any], block_id: str) -> str | None:
    value = _entry(values, block_id)
    value = value.strip() if isinstance(value, str) else ""
    stored = kept.get(block_id)
    return value or (stored if isinstance(stored, str) else None)


def error_blocks(exc: Unprocessable, slots: list[int]) -> dict[str, tuple[str, str]]:
    """Map the API's error details to the modal's inputs: {block_id: (error code, problem)}."""
    errors: dict[str, tuple[str, str]] = {}
    for detail in exc.details:
        path, problem = str(detail.get("path", "")), str(detail.get("message", ""))
        block, code = _block_for(path, slots)
        errors.setdefault(block, (code, problem))
    return errors or {f"s{slots[0] if slots else 0}_days": ("invalid", exc.message)}


def _block_for(path: str, slots: list[int]) -> tuple[str, str]:
    """Return the input and error code of one error path such as `schedules[1].body`."""
    if path == "enabled":
        return "enabled", "invalid"
    head, _, part = path.partition(".")
    index = head[len("schedules["):-1] if head.startswith("schedules[") else ""
    slot = slots[int(index)] if index.isdigit() and int(index) < len(slots) else (slots[-1] if slots else 0)
    if part in TEXT_PARTS:
        return f"s{slot}_{part}", "template"
    return f"s{slot}_days", "days" if part == "offset_days" else "same_day"


def action_stamp(action: dict[str, Any]) -> float:
    """Return when Slack says the action happened (0 when it does not say)."""
    try:
        return float(action.get("action_ts") or 0)
    except (TypeError, ValueError):
        return 0.0


def is_enabled(values: dict[str, Any]) -> bool:
    """Tell whether the modal turns reminders on."""
    return bool(_entry(values, "enabled") == "on")
