"""Reading Slack payloads defensively: each reader returns None when the part it wants is missing or malformed.

A request can be validly signed and still malformed (a replayed fixture, a client bug, an attacker holding a
leaked signing secret): listeners read every part through these functions and do nothing when one is None,
rather than failing with an exception.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from engine.limits import unstorable_path

MAX_VALUE_CHARS = 2000
MAX_METADATA_CHARS = 3000
MAX_URL_CHARS = 500
# Parts of a payload or event envelope that Bolt itself reads as objects (or lists of objects) before any listener.
OBJECT_PARTS = ("user", "team", "enterprise", "channel", "container", "view", "message", "state", "event")
LIST_PARTS = ("actions", "authorizations")
VIEW_EVENTS = frozenset({"view_submission", "view_closed"})
# Who and where, as Bolt reads them at every level of an envelope: an id, or an object whose `id` is one.
IDENTITY_PARTS = ("user", "channel", "team", "enterprise")
ID_PARTS = ("user_id", "channel_id", "team_id", "enterprise_id", "api_app_id")
NESTED_PARTS = ("event", "message", "previous_message")


def mapping(value: Any) -> dict[str, Any]:
    """Return the value when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def text(value: Any, max_chars: int = MAX_VALUE_CHARS) -> str | None:
    """Return the value when it is a non-empty string of at most `max_chars`, else None."""
    return value if isinstance(value, str) and 0 < len(value) <= max_chars else None


def user_id(body: Any) -> str | None:
    """Return the id of the user who acted (`user.id` of an interaction), or None."""
    return text(mapping(mapping(body).get("user")).get("id"), 64)


def event_user(event: Any) -> str | None:
    """Return the user of an event (`user`, a string id), or None."""
    return text(mapping(event).get("user"), 64)


def trigger_id(body: Any) -> str | None:
    """Return the trigger id that lets the app open a modal, or None."""
    return text(mapping(body).get("trigger_id"), 256)


def channel_id(body: Any) -> str | None:
    """Return the channel a click happened in (its container's, else the payload's), or None."""
    container, channel = mapping(mapping(body).get("container")), mapping(mapping(body).get("channel"))
    return text(container.get("channel_id"), 64) or text(channel.get("id"), 64)


def ephemeral_reply_url(body: Any) -> str | None:
    """Return the `response_url` that can replace the ephemeral message a click came from, or None."""
    if mapping(mapping(body).get("container")).get("is_ephemeral") is not True:
        return None
    url = text(mapping(body).get("response_url"), MAX_URL_CHARS)
    return url if url is not None and "\n" not in url else None


def first_action(body: Any) -> dict[str, Any]:
    """Return the first action of a `block_actions` payload, or an empty object."""
    actions = mapping(body).get("actions")
    return mapping(actions[0]) if isinstance(actions, list) and actions else {}


def action_value(body: Any) -> str | None:
    """Return the `value` of the first action (a button's), or None."""
    return text(first_action(body).get("value"))


def selected_value(body: Any) -> str | None:
    """Return the value of the option picked in the first action (a menu's), or None."""
    return text(mapping(first_action(body).get("selected_option")).get("value"))


def state_values(view: Any) -> dict[str, Any] | None:
    """Return a view's `state.values` (input block id → action id → state), or None when it has none."""
    values = mapping(mapping(view).get("state")).get("values")
    if not isinstance(values, dict) or not all(isinstance(block, dict) for block in values.values()):
        return None
    return values


def input_state(values: dict[str, Any], block_id: str, action_id: str | None = None) -> dict[str, Any]:
    """Return the state of one input (by block id, and action id, which defaults to the block id)."""
    return mapping(mapping(values.get(block_id)).get(action_id or block_id))


def input_text(values: dict[str, Any], block_id: str, action_id: str | None = None) -> str:
    """Return what was typed in a text input, or "" when nothing (or something else) is there."""
    value = input_state(values, block_id, action_id).get("value")
    return value if isinstance(value, str) else ""


def private_metadata(view: Any) -> str | None:
    """Return a view's `private_metadata`, or None when it is missing or too long."""
    return text(mapping(view).get("private_metadata"), MAX_METADATA_CHARS)


def string_list(encoded: str | None, max_items: int = 100) -> list[str] | None:
    """Decode a JSON list of strings (as the app writes into metadata), or None when it is anything else."""
    try:
        items = json.loads(encoded or "")
    except ValueError:
        return None
    is_valid = isinstance(items, list) and len(items) <= max_items and all(text(i) for i in items)
    return items if is_valid else None


def json_object(encoded: str | None) -> dict[str, Any] | None:
    """Decode a JSON object (as the app writes into button values), or None when it is anything else."""
    try:
        value = json.loads(encoded or "")
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def small_int(encoded: str | None) -> int | None:
    """Read a non-negative integer of at most 18 digits, or None."""
    return int(encoded) if encoded and encoded.isascii() and encoded.isdigit() and len(encoded) <= 18 else None


def shape_problem(body: bytes, content_type: str) -> str | None:
    """Say why a (signed) Slack request body cannot be read as Slack sends them, or None when it can.

    The front door answers such a body 400 before Bolt, which would fail on it with an exception.
    """
    try:
        text_body = body.decode()
        if content_type.startswith("application/json"):
            return _request_problem(json.loads(text_body) if text_body else {})
        fields = dict(parse_qsl(text_body, keep_blank_values=True, errors="strict"))
        return _request_problem(json.loads(fields["payload"])) if "payload" in fields else None
    except UnicodeDecodeError:
        return "the body is not UTF-8"
    except ValueError:
        return "the payload is not JSON"
    except RecursionError:
        return "the payload is nested too deeply"



def envelope_problem(envelope: Any) -> str | None:
    """Say why a decoded Slack payload is not shaped as Slack sends them (parts of the wrong type), or None."""
    if not isinstance(envelope, dict):
        return "the payload is not a JSON object"
    for name in OBJECT_PARTS:
        if envelope.get(name) is not None and not isinstance(envelope[name], dict):
            return f"`{name}` is not an object"
    for name in LIST_PARTS:
        items = envelope.get(name)
        if items is not None and not (isinstance(items, list) and all(isinstance(i, dict) for i in items)):
            return f"`{name}` is not a list of objects"
    view = envelope.get("view")
    if envelope.get("type") in VIEW_EVENTS and isinstance(view, dict) and not isinstance(view.get("type"), str):
        return "`view` has no `type`"
    return _actions_problem(envelope) or next(filter(None, map(_identity_problem, _levels(envelope))), None)


def _levels(envelope: dict[str, Any], where: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Return the envelope and the objects nested in it that Bolt reads ids from (`event.message`…)."""
    found = [(where, envelope)]
    for name in NESTED_PARTS:
        inner = envelope.get(name)
        if isinstance(inner, dict) and where.count(".") < 2:
            found += _levels(inner, f"{where}{name}.")
    return found


def _identity_problem(level: tuple[str, dict[str, Any]]) -> str | None:
    """Say which id of one level of an envelope is neither a string nor an object with a string `id`."""
    where, part = level
    for name in IDENTITY_PARTS:
        value = part.get(name)
        is_id = value is None or isinstance(value, str) or (isinstance(value, dict)
                                                             and isinstance(value.get("id", ""), str))
        if not is_id:
            return f"`{where}{name}` is neither an id nor an object with one"
    bad = next((name for name in ID_PARTS if part.get(name) is not None and not isinstance(part[name], str)), None)
    return f"`{where}{bad}` is not a string" if bad else None


def _actions_problem(envelope: dict[str, Any]) -> str | None:
    """Say why a `block_actions` payload's actions are not Slack's: none, or one without a string `action_id`."""
    if envelope.get("type") != "block_actions":
        return None
    actions = envelope.get("actions")
    if "actions" in envelope and not actions:
        return "`actions` is empty"
    is_named = all(isinstance(a.get("action_id"), str) and isinstance(a.get("block_id") or "", str)
                   for a in actions or ())
    return None if is_named else "an action has no string `action_id` or `block_id`"


def click_problem(payload: Any) -> str | None:
    """Say why a stored click is not Slack's: as `envelope_problem`, or it holds a NUL or a lone surrogate."""
    problem = envelope_problem(payload)
    where = unstorable_path(payload) if problem is None else None
    return f"`{where}` holds a NUL character or a lone surrogate" if where is not None else problem


def _request_problem(payload: Any) -> str | None:
    """Say why a request's payload is not Slack's: as `envelope_problem`, or it holds a lone surrogate."""
    problem = envelope_problem(payload)
    where = unstorable_path(payload, allow_nul=True) if problem is None else None
    return f"`{where}` holds a lone surrogate" if where is not None else problem
