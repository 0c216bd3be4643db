"""The slash command and Events API bodies Slack sends an app."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Mapping
from typing import Any

from bot.sandbox.app_link.signing import VERIFICATION_TOKEN
from bot.sandbox.state.model import APP_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID
from bot.sandbox.workspace import Workspace


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
