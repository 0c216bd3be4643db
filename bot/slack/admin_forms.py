"""Rule and group modals, shared pieces (admins only): condition rows, modal state and metadata, refusals, notes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncRespond

from bot.core.service import Signoff
from bot.slack.payload import first_action, json_object, mapping, private_metadata, user_id
from engine.conditions import DAY_COUNT_OPS, OPS_BY_TYPE, TODAY_OPS, Op

MAX_FORM_ROWS = 8
LIST_OPS = frozenset({Op.IN, Op.NOT_IN})
NO_VALUE_OPS = frozenset({Op.IS_EMPTY, Op.IS_NOT_EMPTY}) | TODAY_OPS


def op_choices(kind: str) -> list[str]:
    """Return the operators a field of this type takes, in the order the pickers show them."""
    allowed = OPS_BY_TYPE.get(kind, OPS_BY_TYPE["any"])
    return [op.value for op in Op if op in allowed]


def value_input(kind: str, op: str | None) -> str:
    """Return the picker a condition's value needs: none, number, date, choice or text."""
    if op in NO_VALUE_OPS:
        return "none"
    if op in DAY_COUNT_OPS or (kind == "decimal" and op not in LIST_OPS and op != Op.BETWEEN):
        return "number"
    if kind == "date" and op not in LIST_OPS and op != Op.BETWEEN:
        return "date"
    if kind in ("enum", "bool") and op in (Op.EQ, Op.NE):
        return "choice"
    return "text"


@dataclass(frozen=True)
class FormRow:
    """One condition (or filter) row of a modal: field, operator and the value as typed."""

    field: str | None = None
    op: str | None = None
    value: str | None = None

    def view(self, index: int, kind: str, choices: Sequence[str]) -> dict[str, Any]:
        """Return what the row template needs: the typed picker and the operators of the field."""
        ops = op_choices(kind)
        op = self.op if self.op in ops else None
        shown = value_input(kind, op)
        return {"i": index, "field": self.field, "op": op, "ops": ops, "input": shown, "choices": list(choices),
                "initial": initial_value(shown, self.value, choices), "decimal": op not in DAY_COUNT_OPS}

    def condition(self, kind: str) -> dict[str, Any] | None:
        """Return the row as a `{field, op, value}` condition, or None when it is blank."""
        if not self.field and not self.op and not self.value:
            return None
        found: dict[str, Any] = {"field": self.field, "op": self.op}
        if self.op not in NO_VALUE_OPS:
            found["value"] = typed_value(kind, self.op, self.value)
        return found


def initial_value(shown: str, value: str | None, choices: Sequence[str]) -> str | None:
    """Return the value a typed picker can start from (None when it cannot show it)."""
    patterns = {"number": NUMBER, "date": DATE}
    if value is None or (shown in patterns and not patterns[shown].match(value)):
        return None
    return None if shown == "choice" and value not in choices else value[:2000]


NUMBER = re.compile(r"^-?\d{1,15}(\.\d{1,6})?$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def typed_value(kind: str, op: str | None, raw: str | None) -> Any:
    """Turn what was typed into the condition's value (lists split on commas, day counts as numbers)."""
    raw = (raw or "").strip()
    if op in LIST_OPS or op == Op.BETWEEN:
        return [part.strip() for part in raw.split(",") if part.strip()]
    if op in DAY_COUNT_OPS and raw.isdigit():
        return int(raw)
    if kind == "bool" and raw in ("true", "false"):
        return raw == "true"
    return raw


def row_from_condition(field: str, op: str, value: Any) -> FormRow:
    """Return a stored condition as a row to edit."""
    if isinstance(value, list):
        text_value = ", ".join(str(v) for v in value)
    elif isinstance(value, bool):
        text_value = "true" if value else "false"
    else:
        text_value = None if value is None else str(value)
    return FormRow(field, op, text_value)


def state_entry_value(entry: dict[str, Any]) -> str | None:
    """Return what one input holds: typed text, a picked option or date, or None."""
    if isinstance(entry.get("selected_option"), dict):
        picked = entry["selected_option"].get("value")
        return picked if isinstance(picked, str) else None
    for key in ("value", "selected_date"):
        if isinstance(entry.get(key), str):
            return str(entry[key])
    return None


def read_input(values: dict[str, Any], block_id: str) -> str | None:
    """Return the single value of an input block of a submitted (or clicked) modal."""
    entries = list(mapping(values.get(block_id)).values())
    return state_entry_value(mapping(entries[0])) if len(entries) == 1 else None


def read_rows(values: dict[str, Any], prefix: str, count: int) -> list[FormRow]:
    """Return the condition rows `PREFIX_field_I`, `PREFIX_op_I`, `PREFIX_value_I` of a modal."""
    return [FormRow(read_input(values, f"{prefix}_field_{i}"), read_input(values, f"{prefix}_op_{i}"),
                    read_input(values, f"{prefix}_value_{i}")) for i in range(count)]


def row_errors(details: Sequence[dict[str, Any]], prefix: str, fallback: str,
               word: Callable[[dict[str, Any]], str] | None = None) -> dict[str, str]:
    """Place the problems of `conditions[i].x` (or `filters[i].x`) paths on the rows' inputs, worded by `word`."""
    errors: dict[str, str] = {}
    for detail in details:
        path, message = detail.get("path", ""), word(detail) if word else detail.get("message", "")
        match = ROW_PATH.match(path)
        if match:
            part = {"field": "field", "op": "op"}.get(match.group(2) or "", "value")
            block = f"{prefix}_{part}_{match.group(1)}"
        else:
            block = fallback
        errors.setdefault(block, message[:150])
    return errors


ROW_PATH = re.compile(r"^[a-z_]+\[(\d+)\](?:\.(\w+))?")


def form_metadata(**values: Any) -> str:
    """Encode what a modal must remember (ids, row counts, page) in its private metadata."""
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def read_metadata(view: Any) -> dict[str, Any]:
    """Decode a modal's private metadata (an empty dict when it is missing or broken)."""
    return json_object(private_metadata(view)) or {}


def row_count(metadata: dict[str, Any], key: str, default: int = 1) -> int:
    """Return a row count kept in the metadata, within 1..MAX_FORM_ROWS."""
    count = metadata.get(key)
    return min(max(count, 1), MAX_FORM_ROWS) if type(count) is int else default


INITIAL_KEYS = (("initial_option", "selected_option"), ("initial_value", "value"), ("initial_date", "selected_date"),
                ("initial_options", "selected_options"))


def _shown_values(view: dict[str, Any]) -> dict[str, Any]:
    """Return what the view's inputs start from, as state entries."""
    shown: dict[str, Any] = {}
    for block in view.get("blocks") or []:
        element = mapping(mapping(block).get("element"))
        for initial, key in INITIAL_KEYS:
            if initial in element and isinstance(block.get("block_id"), str):
                shown[block["block_id"]] = {element.get("action_id"): {key: element[initial]}}
    return shown


def _is_set(entries: Any) -> bool:
    return any(v not in (None, [], "") for e in mapping(entries).values() for k, v in mapping(e).items() if k != "type")


def with_picked(body: dict[str, Any]) -> dict[str, Any]:
    """Return the clicked view's state: what it showed, what was typed since, and the option just picked."""
    view = dict(mapping(body.get("view")))
    values = _shown_values(view)
    values.update({k: v for k, v in mapping(mapping(view.get("state")).get("values")).items() if _is_set(v)})
    action = first_action(body)
    block, action_id = action.get("block_id"), action.get("action_id")
    if isinstance(block, str) and isinstance(action_id, str) and "selected_option" in action:
        values[block] = {action_id: {"type": "static_select", "selected_option": action["selected_option"]}}
    view["state"] = {"values": values}
    return view


async def update_view(service: Signoff, body: dict[str, Any], view: dict[str, Any]) -> None:
    """Replace the modal a click came from (its hash guards against a concurrent change)."""
    current = mapping(body.get("view"))
    view_hash = current.get("hash")
    await service.slack.update_view(str(current.get("id")), view, view_hash if isinstance(view_hash, str) else None)


def admin_refusal(service: Signoff, command: str) -> dict[str, Any]:
    """Return the usual "Only Signoff admins…" notice, as a message."""
    message: dict[str, Any] = service.renderer.json("commands_note.json.j2", code="admin_only",
                                                    detail={"command": command})
    return message


async def refuse_click(service: Signoff, body: dict[str, Any], respond: AsyncRespond, command: str) -> None:
    """Tell a non-admin who clicked a management button that only admins may; nothing changes."""
    if mapping(body.get("container")).get("type") == "view":
        user = user_id(body)
        if user:
            await service.slack.dm(user, admin_refusal(service, command))
        return
    await respond(replace_original=False, response_type="ephemeral", **admin_refusal(service, command))


def problem_text(service: Signoff, detail: dict[str, Any]) -> str:
    """Return a definition problem as a modal shows it, worded by its code (`rule_form_error.txt.j2`)."""
    return service.renderer.text("rule_form_error.txt.j2", code="invalid", problem=detail.get("code"),
                                 params=detail.get("params") or {}, message=detail.get("message", ""))[:150]


def form_error(service: Signoff, code: str) -> str:
    """Return the text of a modal error (`rule_form_error.txt.j2` knows every code)."""
    return service.renderer.text("rule_form_error.txt.j2", code=code)[:150]


async def dm_note(service: Signoff, user: str, code: str, **detail: Any) -> None:
    """Send the admin a short DM saying what a modal did."""
    await service.slack.dm(user, service.renderer.json("rules_note.json.j2", code=code, detail=detail))
