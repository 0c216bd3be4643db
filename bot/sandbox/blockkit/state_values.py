"""What people type or pick in elements, as Slack reports it in ``state.values`` and ``actions``."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from bot.sandbox.blockkit.elements import interactive_elements
from bot.sandbox.errors import InputNotFoundError, UnknownOptionError

_STATE_KEYS = {
    "plain_text_input": "value",
    "number_input": "value",
    "email_text_input": "value",
    "url_text_input": "value",
    "button": "value",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "datetimepicker": "selected_date_time",
    "users_select": "selected_user",
    "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation",
    "multi_conversations_select": "selected_conversations",
    "channels_select": "selected_channel",
    "multi_channels_select": "selected_channels",
    "static_select": "selected_option",
    "external_select": "selected_option",
    "radio_buttons": "selected_option",
    "overflow": "selected_option",
    "multi_static_select": "selected_options",
    "multi_external_select": "selected_options",
    "checkboxes": "selected_options",
}
# where an element holds its initial value, by the state key Slack reports the value under
_INITIAL_KEYS = {
    "value": "initial_value",
    "selected_date": "initial_date",
    "selected_time": "initial_time",
    "selected_date_time": "initial_date_time",
    "selected_user": "initial_user",
    "selected_users": "initial_users",
    "selected_conversation": "initial_conversation",
    "selected_conversations": "initial_conversations",
    "selected_channel": "initial_channel",
    "selected_channels": "initial_channels",
    "selected_option": "initial_option",
    "selected_options": "initial_options",
}
_MULTI_KEYS = frozenset(
    {
        "selected_users",
        "selected_conversations",
        "selected_channels",
        "selected_options",
    }
)


def state_entries(
    blocks: list[dict[str, Any]] | None, raw: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Turn picked values (block_id → action_id → value) into Slack's typed ``state.values`` entries.

    Values for elements the blocks no longer have, or options they no longer offer, are left out.
    """
    entries: dict[str, dict[str, Any]] = {}
    for block, element in interactive_elements(blocks):
        block_id, action_id = block.get("block_id"), element["action_id"]
        picked = raw.get(block_id) if isinstance(block_id, str) else None
        if not isinstance(picked, Mapping) or action_id not in picked or not is_stateful(element):
            continue
        try:
            entries.setdefault(block_id, {})[action_id] = state_entry(element, picked[action_id])
        except UnknownOptionError:
            continue
    return entries


def is_stateful(element: dict[str, Any]) -> bool:
    """Tell whether Slack keeps what was picked in the element in ``state.values``."""
    return element.get("type") not in ("button", "overflow", "workflow_button")


def action_state(blocks: list[dict[str, Any]] | None, action: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the state entry a click on a stateful element (checkboxes, menu, picker) leaves."""
    for block, element in interactive_elements(blocks):
        if block.get("block_id") == action["block_id"] and element["action_id"] == action["action_id"]:
            if not is_stateful(element):
                return {}
            kept = {k: v for k, v in action.items() if k not in ("action_id", "block_id", "text", "action_ts")}
            return {action["block_id"]: {action["action_id"]: kept}}
    return {}


def current_state(blocks: list[dict[str, Any]] | None, stored: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the stored state of the elements the blocks still have."""
    kept: dict[str, dict[str, Any]] = {}
    for block, element in interactive_elements(blocks):
        entry = stored.get(block.get("block_id") or "", {}).get(element["action_id"])
        if entry is not None and is_stateful(element):
            kept.setdefault(block["block_id"], {})[element["action_id"]] = copy.deepcopy(entry)
    return kept


def submitted_values(view: dict[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """Return the ``state.values`` of a view's input blocks, with ``values`` keyed by action_id or block_id."""
    stored = view.get("state", {}).get("values", {})
    state: dict[str, dict[str, Any]] = {}
    unused = set(values)
    for block, element in interactive_elements(view.get("blocks")):
        if block.get("type") != "input":
            continue
        block_id, action_id = block["block_id"], element["action_id"]
        key = action_id if action_id in values else block_id
        if key in values:
            entry = state_entry(element, values[key])
            unused.discard(key)
        else:
            entry = stored.get(block_id, {}).get(action_id) or initial_entry(element)
        state[block_id] = {action_id: entry}
    if unused:
        raise InputNotFoundError(f"no input {sorted(unused)} in view {view['id']}")
    return state


def initial_entry(element: dict[str, Any]) -> dict[str, Any]:
    """Return the entry Slack reports for an input nobody touched: its initial value, if it has one."""
    key = _STATE_KEYS.get(element.get("type", ""), "value")
    return state_entry(element, copy.deepcopy(element.get(_INITIAL_KEYS.get(key, "initial_value"))))


def state_entry(element: dict[str, Any], value: Any) -> dict[str, Any]:
    """Return the typed entry Slack reports for a value picked in an element."""
    kind = element.get("type", "")
    key = _STATE_KEYS.get(kind, "value")
    if key in ("selected_option", "selected_options"):
        value = _options_for(element, value, many=key == "selected_options")
    elif key in _MULTI_KEYS and value is None:
        value = []
    elif key in _MULTI_KEYS and isinstance(value, str):
        value = [value]
    return {"type": kind, key: value}


def _options_for(element: dict[str, Any], value: Any, *, many: bool) -> Any:
    if value is None:
        return [] if many else None
    wanted = value if isinstance(value, list) else [value]
    chosen = [_option(element, item) for item in wanted]
    return chosen if many else chosen[0]


def _option(element: dict[str, Any], value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    offered = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        offered.extend(group.get("options") or [])
    for option in offered:
        if option.get("value") == value:
            return copy.deepcopy(option)
    raise UnknownOptionError(f"{element.get('action_id')!r} offers no option {value!r}")
