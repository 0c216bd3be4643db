"""Web API methods that check the connection and the token: api.test and auth.test."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.sandbox.errors import SlackCallError
from bot.sandbox.params import Params
from bot.sandbox.state.directory import Directory
from bot.sandbox.state.model import BOT_ID, BOT_USER_ID, TEAM_ID


def api_test(workspace: Directory, params: Params) -> dict[str, Any]:
    """Answer api.test: echo the arguments, or fail with the ``error`` asked for."""
    error = params.text("error")
    if error:
        raise SlackCallError(error, args=dict(params.raw))
    return {"args": dict(params.raw)}


def auth_test(workspace: Directory, params: Params) -> dict[str, Any]:
    """Answer auth.test: the team and the bot the token belongs to."""
    return {
        "url": workspace.web_url,
        "team": workspace.team_name,
        "user": workspace.bot.name,
        "team_id": TEAM_ID,
        "user_id": BOT_USER_ID,
        "bot_id": BOT_ID,
        "is_enterprise_install": False,
    }


METHODS: dict[str, Callable[[Directory, Params], dict[str, Any]]] = {
    "api.test": api_test,
    "auth.test": auth_test,
}
UNAUTHENTICATED = frozenset({"api.test"})
