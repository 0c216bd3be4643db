"""Web API methods that look people up: users.*."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.sandbox.errors import SlackCallError, UnknownUserError
from bot.sandbox.methods.paging import page
from bot.sandbox.params import Params
from bot.sandbox.state.directory import Directory


def info(workspace: Directory, params: Params) -> dict[str, Any]:
    """Answer users.info: one person."""
    user = workspace.user(params.required("user", "user_not_found"))
    return {"user": user.as_slack(workspace.wall_clock())}


def list_users(workspace: Directory, params: Params) -> dict[str, Any]:
    """Answer users.list: every person, the bot included, a page at a time."""
    now_s = workspace.wall_clock()
    shown, cursor = page([u.as_slack(now_s) for u in workspace.users()], params)
    return {"members": shown, "cache_ts": int(now_s), "response_metadata": cursor}


def lookup_by_email(workspace: Directory, params: Params) -> dict[str, Any]:
    """Answer users.lookupByEmail: the person with an e-mail address."""
    try:
        user = workspace.user_by_email(params.required("email", "users_not_found"))
    except UnknownUserError:
        raise SlackCallError("users_not_found") from None
    return {"user": user.as_slack(workspace.wall_clock())}


METHODS: dict[str, Callable[[Directory, Params], dict[str, Any]]] = {
    "users.info": info,
    "users.list": list_users,
    "users.lookupByEmail": lookup_by_email,
}
