"""Web API methods that open, describe and read conversations: conversations.*."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from bot.sandbox.errors import SlackCallError
from bot.sandbox.methods.paging import page
from bot.sandbox.params import Params
from bot.sandbox.state.messages import Messages
from bot.sandbox.state.model import ConversationKind

_TYPE_KINDS: dict[str, ConversationKind] = {
    "public_channel": "channel",
    "private_channel": "private",
    "im": "im",
}


def open_conversation(workspace: Messages, params: Params) -> dict[str, Any]:
    """Answer conversations.open: a channel, or the bot's DM with one person (opened on first use); a deactivated
    user is `user_disabled`, a bot `cannot_dm_bot`."""
    if params.has("channel"):
        conversation = workspace.conversation(params.required("channel"))
        return {"channel": conversation.as_slack()}
    listed = params.required("users", "users_list_not_supplied")
    user_ids = [user_id.strip() for user_id in listed.split(",")]
    if len(user_ids) != 1:
        raise SlackCallError("invalid_arguments", detail="group DMs are not supported")
    workspace.check_can_dm(user_ids[0])
    already_open = workspace.has_dm(user_ids[0])
    conversation = workspace.conversation(workspace.dm_channel_id(user_ids[0]))
    shown = conversation.as_slack() if params.flag("return_im") else {"id": conversation.id}
    extra = {"no_op": True, "already_open": True} if already_open else {}
    return {"channel": shown, **extra}


def info(workspace: Messages, params: Params) -> dict[str, Any]:
    """Answer conversations.info: one channel or DM."""
    conversation = workspace.conversation(params.required("channel", "channel_not_found"))
    return {"channel": conversation.as_slack()}


def list_conversations(workspace: Messages, params: Params) -> dict[str, Any]:
    """Answer conversations.list: the conversations of the types asked for, a page at a time."""
    types = (params.text("types") or "public_channel").split(",")
    kinds = {_TYPE_KINDS.get(kind.strip()) for kind in types}
    shown = [
        c.as_slack()
        for c in workspace.conversations()
        if c.kind in kinds and not (c.is_archived and params.flag("exclude_archived"))
    ]
    listed, cursor = page(shown, params)
    return {"channels": listed, "response_metadata": cursor}


def history(workspace: Messages, params: Params) -> dict[str, Any]:
    """Answer conversations.history: top-level messages, newest first, within ``oldest`` and ``latest``."""
    channel_id = workspace.conversation(params.required("channel", "channel_not_found")).id
    oldest = float(params.text("oldest") or 0)
    latest = float(params.text("latest") or math.inf)
    inclusive = params.flag("inclusive")
    shown = [
        m.as_slack()
        for m in reversed(workspace.messages_in(channel_id))
        if m.thread_ts in (None, m.ts) and _in_range(float(m.ts), oldest, latest, inclusive)
    ]
    listed, cursor = page(shown, params)
    has_more = bool(cursor["next_cursor"])
    return {"messages": listed, "has_more": has_more, "pin_count": 0, "response_metadata": cursor}


def replies(workspace: Messages, params: Params) -> dict[str, Any]:
    """Answer conversations.replies: a thread's parent and its replies."""
    channel_id = workspace.conversation(params.required("channel", "channel_not_found")).id
    parent = workspace.message(channel_id, params.required("ts", "thread_not_found"))
    thread = [m.as_slack() for m in workspace.messages_in(channel_id) if m.thread_ts == parent.ts]
    listed, cursor = page([parent.as_slack(), *thread], params)
    has_more = bool(cursor["next_cursor"])
    return {"messages": listed, "has_more": has_more, "response_metadata": cursor}


def members(workspace: Messages, params: Params) -> dict[str, Any]:
    """Answer conversations.members: the ids of a conversation's members."""
    conversation = workspace.conversation(params.required("channel", "channel_not_found"))
    listed, cursor = page(list(conversation.members), params)
    return {"members": listed, "response_metadata": cursor}


def _in_range(ts: float, oldest: float, latest: float, inclusive: bool) -> bool:
    if inclusive:
        return oldest <= ts <= latest
    return oldest < ts < latest


METHODS: dict[str, Callable[[Messages, Params], dict[str, Any]]] = {
    "conversations.open": open_conversation,
    "conversations.info": info,
    "conversations.list": list_conversations,
    "conversations.history": history,
    "conversations.replies": replies,
    "conversations.members": members,
}
