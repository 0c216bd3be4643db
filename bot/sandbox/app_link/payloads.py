"""The interaction payloads Slack sends an app when people click in messages and views or submit modals."""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping
from typing import Any

from bot.sandbox.app_link.signing import VERIFICATION_TOKEN
from bot.sandbox.blockkit.elements import interactive_elements
from bot.sandbox.blockkit.state_values import action_state, current_state, state_entries, state_entry, submitted_values
from bot.sandbox.errors import ActionNotFoundError, NotVisibleError, UnknownViewError
from bot.sandbox.state.model import APP_ID, TEAM_DOMAIN, TEAM_ID, Message
from bot.sandbox.workspace import Workspace


def block_actions_payload(
    workspace: Workspace,
    user_id: str,
    channel: str,
    message_ts: str,
    action_id: str,
    *,
    value: Any = None,
    block_id: str | None = None,
    state: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Return the payload of a click on a message element (button, menu, picker).

    ``state`` holds what the person picked in the message's other elements, by block_id then action_id.
    """
    message = workspace.message(channel, message_ts)
    _check_sees_message(workspace, user_id, message)
    action = _action(message.blocks, action_id, value, f"message {message_ts}", block_id)
    picked = {**state_entries(message.blocks, state or {}), **action_state(message.blocks, action)}
    workspace.merge_message_state(message.channel, message.ts, picked)
    is_ephemeral = message.visible_to is not None
    conversation = workspace.conversation(message.channel)
    response_url = workspace.issue_response_url(user_id, message.channel, message.ts, is_ephemeral)
    payload = _interaction_base(workspace, "block_actions", user_id)
    payload["container"] = {
        "type": "message",
        "message_ts": message.ts,
        "channel_id": message.channel,
        "is_ephemeral": is_ephemeral,
    }
    payload["channel"] = {"id": message.channel, "name": conversation.name or "directmessage"}
    if not is_ephemeral:
        payload["message"] = message.as_slack()
    payload["state"] = {"values": current_state(message.blocks, workspace.message_state(message.channel, message.ts))}
    payload["response_url"] = response_url
    payload["actions"] = [action]
    return payload


def view_actions_payload(
    workspace: Workspace,
    user_id: str,
    action_id: str,
    *,
    view_id: str | None = None,
    value: Any = None,
    block_id: str | None = None,
    state: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Return the payload of a click in a view: the user's Home tab unless ``view_id``.

    ``state`` holds what the user typed or picked in the view's elements, kept in the view's ``state.values``.
    """
    view = _owned_view(workspace, user_id, view_id, home=True)
    action = _action(view["blocks"], action_id, value, f"view {view['id']}", block_id)
    picked = {**state_entries(view["blocks"], state or {}), **action_state(view["blocks"], action)}
    workspace.merge_view_state(view["id"], picked)
    payload = _interaction_base(workspace, "block_actions", user_id)
    payload["container"] = {"type": "view", "view_id": view["id"]}
    payload["view"] = copy.deepcopy(view)
    payload["view"]["state"] = {"values": current_state(view["blocks"], view["state"]["values"])}
    payload["state"] = copy.deepcopy(payload["view"]["state"])
    payload["actions"] = [action]
    return payload


def view_submission_payload(
    workspace: Workspace,
    user_id: str,
    values: Mapping[str, Any] | None = None,
    *,
    view_id: str | None = None,
    state: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Return the payload of a modal submission; ``values`` are keyed by action_id (or an input's block_id).

    ``state`` holds what the user picked in the view's other elements (menus in actions blocks…).
    """
    owned = _owned_view(workspace, user_id, view_id, home=False)
    workspace.merge_view_state(owned["id"], state_entries(owned["blocks"], state or {}))
    view = copy.deepcopy(owned)
    kept = current_state(view["blocks"], view["state"]["values"])
    view["state"] = {"values": {**kept, **submitted_values(view, values or {})}}
    payload = _interaction_base(workspace, "view_submission", user_id)
    payload["view"] = view
    payload["response_urls"] = []
    return payload


def view_closed_payload(
    workspace: Workspace, user_id: str, *, view_id: str | None = None
) -> dict[str, Any]:
    """Return the payload Slack sends when a user closes a modal with notify_on_close."""
    view = _owned_view(workspace, user_id, view_id, home=False)
    payload = _interaction_base(workspace, "view_closed", user_id)
    payload.pop("trigger_id")
    payload["view"] = copy.deepcopy(view)
    payload["is_cleared"] = False
    return payload


def _interaction_base(workspace: Workspace, kind: str, user_id: str) -> dict[str, Any]:
    user = workspace.user(user_id)
    return {
        "type": kind,
        "user": {"id": user.id, "username": user.name, "name": user.name, "team_id": TEAM_ID},
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": workspace.issue_trigger_id(user.id),
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
    }


def _check_sees_message(workspace: Workspace, user_id: str, message: Message) -> None:
    user = workspace.user(user_id)
    if message.visible_to is not None:
        visible = message.visible_to == user.id
    else:
        visible = user.id in workspace.conversation(message.channel).members
    if not visible:
        raise NotVisibleError(f"{user.id} cannot see message {message.channel} {message.ts}")


def _owned_view(
    workspace: Workspace, user_id: str, view_id: str | None, *, home: bool
) -> dict[str, Any]:
    if view_id is None:
        view = workspace.home_view(user_id) if home else _top_modal(workspace, user_id)
        if view is None:
            raise UnknownViewError(f"{user_id} has no {'Home view' if home else 'open modal'}")
        return view
    if workspace.view_owner(view_id) != workspace.user(user_id).id:
        raise NotVisibleError(f"view {view_id} is not shown to {user_id}")
    return workspace.view(view_id)


def _top_modal(workspace: Workspace, user_id: str) -> dict[str, Any] | None:
    modals = workspace.open_modals(user_id)
    return modals[-1] if modals else None


def _action(
    blocks: list[dict[str, Any]] | None, action_id: str, value: Any, where: str,
    block_id: str | None = None,
) -> dict[str, Any]:
    for block, element in interactive_elements(blocks):
        if element["action_id"] != action_id or block_id not in (None, block.get("block_id")):
            continue
        chosen = element.get("value") if value is None else value
        action = {"action_id": action_id, "block_id": block["block_id"]}
        action.update(state_entry(element, chosen))
        if "text" in element:
            action["text"] = copy.deepcopy(element["text"])
        action["action_ts"] = f"{time.time():.6f}"
        return action
    raise ActionNotFoundError(f"no element with action_id {action_id!r} in {where}")
