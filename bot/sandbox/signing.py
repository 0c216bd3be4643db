"""Requests exactly as Slack sends them to an app: payloads, encoding and signatures."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from bot.sandbox.errors import (
    ActionNotFoundError,
    InputNotFoundError,
    NotVisibleError,
    UnknownOptionError,
    UnknownViewError,
)
from bot.sandbox.workspace import (
    APP_ID,
    BOT_USER_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    Message,
    Workspace,
    interactive_elements,
)

VERIFICATION_TOKEN = "sandbox-verification-token"
USER_AGENT = "Slackbot 1.0 (+https://api.slack.com/robots)"

SlackRequest = tuple[bytes, dict[str, str]]

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
_MULTI_KEYS = frozenset(
    {
        "selected_users",
        "selected_conversations",
        "selected_channels",
        "selected_options",
    }
)


def sign(body: bytes, secret: str, timestamp: int) -> dict[str, str]:
    """Return Slack's signature headers for a request body."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": f"v0={digest}"}


def form_request(fields: Mapping[str, str], secret: str, timestamp: int) -> SlackRequest:
    """Encode and sign a form body, as Slack sends slash commands and interactions."""
    body = urlencode(dict(fields)).encode()
    content_type = {"Content-Type": "application/x-www-form-urlencoded"}
    return body, {**content_type, "User-Agent": USER_AGENT, **sign(body, secret, timestamp)}


def json_request(payload: Mapping[str, Any], secret: str, timestamp: int) -> SlackRequest:
    """Encode and sign a JSON body, as Slack sends Events API requests."""
    body = json.dumps(payload).encode()
    content_type = {"Content-Type": "application/json"}
    return body, {**content_type, "User-Agent": USER_AGENT, **sign(body, secret, timestamp)}


def interaction_request(payload: Mapping[str, Any], secret: str, timestamp: int) -> SlackRequest:
    """Encode and sign an interaction payload in its ``payload=`` form field."""
    return form_request({"payload": json.dumps(payload)}, secret, timestamp)


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
    picked = {**state_entries(message.blocks, state or {}), **_action_state(message.blocks, action)}
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
    payload["state"] = {"values": _current(message.blocks, workspace.message_state(message.channel, message.ts))}
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
    picked = {**state_entries(view["blocks"], state or {}), **_action_state(view["blocks"], action)}
    workspace.merge_view_state(view["id"], picked)
    payload = _interaction_base(workspace, "block_actions", user_id)
    payload["container"] = {"type": "view", "view_id": view["id"]}
    payload["view"] = copy.deepcopy(view)
    payload["view"]["state"] = {"values": _current(view["blocks"], view["state"]["values"])}
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
    kept = _current(view["blocks"], view["state"]["values"])
    view["state"] = {"values": {**kept, **_state_values(view, values or {})}}
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


def slash_command_fields(
    workspace: Workspace,
    user_id: str,
    command: str,
    text: str = "",
    *,
    channel: str | None = None,
) -> dict[str, str]:
    """Return the form fields of a slash command; by default typed in the bot's DM."""
    user = workspace.user(user_id)
    conversation = workspace.conversation(channel or workspace.dm_channel_id(user.id))
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "team_domain": TEAM_DOMAIN,
        "channel_id": conversation.id,
        "channel_name": conversation.name or "directmessage",
        "user_id": user.id,
        "user_name": user.name,
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": workspace.issue_response_url(user.id, conversation.id),
        "trigger_id": workspace.issue_trigger_id(user.id),
    }


def event_callback_body(workspace: Workspace, event: Mapping[str, Any]) -> dict[str, Any]:
    """Wrap an event in the Events API ``event_callback`` envelope."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": TEAM_ID,
        "api_app_id": APP_ID,
        "event": dict(event),
        "type": "event_callback",
        "event_id": "Ev" + uuid.uuid4().hex[:10].upper(),
        "event_time": int(workspace.wall_clock()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-" + uuid.uuid4().hex,
    }


def app_home_opened_event(workspace: Workspace, user_id: str, tab: str = "home") -> dict[str, Any]:
    """Return the ``app_home_opened`` event for a user opening the app's Home or Messages tab."""
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": workspace.user(user_id).id,
        "channel": workspace.dm_channel_id(user_id),
        "tab": tab,
        "event_ts": f"{workspace.wall_clock():.6f}",
    }
    home = workspace.home_view(user_id)
    if home is not None and tab == "home":
        event["view"] = copy.deepcopy(home)
    return event


def url_verification_body(challenge: str) -> dict[str, str]:
    """Return the body Slack sends to verify an Events API request URL."""
    return {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}


class RequestFactory:
    """Builds signed requests from one workspace, as Slack sends them to the app."""

    def __init__(
        self,
        workspace: Workspace,
        signing_secret: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.workspace = workspace
        self.signing_secret = signing_secret
        self.clock = clock

    def timestamp(self) -> int:
        """Return the request timestamp to sign with."""
        return int(self.clock())

    def block_actions(
        self, user_id: str, channel: str, message_ts: str, action_id: str, *, value: Any = None,
        block_id: str | None = None, state: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> SlackRequest:
        """Return a signed click on a message element."""
        payload = block_actions_payload(
            self.workspace, user_id, channel, message_ts, action_id, value=value, block_id=block_id, state=state
        )
        return interaction_request(payload, self.signing_secret, self.timestamp())

    def view_actions(
        self, user_id: str, action_id: str, *, view_id: str | None = None, value: Any = None,
        block_id: str | None = None, state: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> SlackRequest:
        """Return a signed click in the user's Home tab or in a modal."""
        payload = view_actions_payload(
            self.workspace, user_id, action_id, view_id=view_id, value=value, block_id=block_id, state=state
        )
        return interaction_request(payload, self.signing_secret, self.timestamp())

    def view_submission(
        self,
        user_id: str,
        values: Mapping[str, Any] | None = None,
        *,
        view_id: str | None = None,
        state: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> SlackRequest:
        """Return a signed modal submission."""
        payload = view_submission_payload(self.workspace, user_id, values, view_id=view_id, state=state)
        return interaction_request(payload, self.signing_secret, self.timestamp())

    def view_closed(self, user_id: str, *, view_id: str | None = None) -> SlackRequest:
        """Return a signed ``view_closed`` notification."""
        payload = view_closed_payload(self.workspace, user_id, view_id=view_id)
        return interaction_request(payload, self.signing_secret, self.timestamp())

    def slash_command(
        self, user_id: str, command: str, text: str = "", *, channel: str | None = None
    ) -> SlackRequest:
        """Return a signed slash command."""
        fields = slash_command_fields(self.workspace, user_id, command, text, channel=channel)
        return form_request(fields, self.signing_secret, self.timestamp())

    def event(self, event: Mapping[str, Any]) -> SlackRequest:
        """Return a signed Events API ``event_callback``."""
        body = event_callback_body(self.workspace, event)
        return json_request(body, self.signing_secret, self.timestamp())

    def app_home_opened(self, user_id: str, tab: str = "home") -> SlackRequest:
        """Return a signed ``app_home_opened`` event."""
        return self.event(app_home_opened_event(self.workspace, user_id, tab))

    def url_verification(self, challenge: str) -> SlackRequest:
        """Return a signed ``url_verification`` request."""
        return json_request(url_verification_body(challenge), self.signing_secret, self.timestamp())


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
        action.update(_state_entry(element, chosen))
        if "text" in element:
            action["text"] = copy.deepcopy(element["text"])
        action["action_ts"] = f"{time.time():.6f}"
        return action
    raise ActionNotFoundError(f"no element with action_id {action_id!r} in {where}")


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
        if not isinstance(picked, Mapping) or action_id not in picked or not _is_stateful(element):
            continue
        try:
            entries.setdefault(block_id, {})[action_id] = _state_entry(element, picked[action_id])
        except UnknownOptionError:
            continue
    return entries


def _is_stateful(element: dict[str, Any]) -> bool:
    return element.get("type") not in ("button", "overflow", "workflow_button")


def _action_state(blocks: list[dict[str, Any]] | None, action: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the state entry a click on a stateful element (checkboxes, menu, picker) leaves."""
    for block, element in interactive_elements(blocks):
        if block.get("block_id") == action["block_id"] and element["action_id"] == action["action_id"]:
            if not _is_stateful(element):
                return {}
            kept = {k: v for k, v in action.items() if k not in ("action_id", "block_id", "text", "action_ts")}
            return {action["block_id"]: {action["action_id"]: kept}}
    return {}


def _current(blocks: list[dict[str, Any]] | None, stored: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Return the stored state of the elements the blocks still have."""
    kept: dict[str, dict[str, Any]] = {}
    for block, element in interactive_elements(blocks):
        entry = stored.get(block.get("block_id") or "", {}).get(element["action_id"])
        if entry is not None and _is_stateful(element):
            kept.setdefault(block["block_id"], {})[element["action_id"]] = copy.deepcopy(entry)
    return kept


def _state_values(view: dict[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    stored = view.get("state", {}).get("values", {})
    state: dict[str, dict[str, Any]] = {}
    unused = set(values)
    for block, element in interactive_elements(view.get("blocks")):
        if block.get("type") != "input":
            continue
        block_id, action_id = block["block_id"], element["action_id"]
        key = action_id if action_id in values else block_id
        if key in values:
            entry = _state_entry(element, values[key])
            unused.discard(key)
        else:
            entry = stored.get(block_id, {}).get(action_id) or _state_entry(element, None)
        state[block_id] = {action_id: entry}
    if unused:
        raise InputNotFoundError(f"no input {sorted(unused)} in view {view['id']}")
    return state


def _state_entry(element: dict[str, Any], value: Any) -> dict[str, Any]:
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
