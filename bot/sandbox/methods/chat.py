"""Web API methods that post, change and link messages: chat.*."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.sandbox.errors import SlackCallError
from bot.sandbox.params import Params
from bot.sandbox.state.messages import Messages
from bot.sandbox.state.model import BOT_ID, BOT_USER_ID, Message


def post_message(workspace: Messages, params: Params) -> dict[str, Any]:
    """Answer chat.postMessage: post as the bot to a channel or a user's DM."""
    conversation = workspace.post_target(params.required("channel", "channel_not_found"))
    text, blocks = workspace.message_content(params)
    workspace.check_can_post(conversation)
    message = Message(conversation.id, workspace.next_ts(), text, BOT_USER_ID, blocks, BOT_ID)
    message.thread_ts = params.text("thread_ts")
    message.metadata = params.decoded("metadata", "invalid_metadata_format")
    message.attachments = params.decoded("attachments", "invalid_attachments")
    workspace.store(message)
    return {"channel": conversation.id, "ts": message.ts, "message": message.as_slack()}


def update(workspace: Messages, params: Params) -> dict[str, Any]:
    """Answer chat.update: change the text or blocks of one of the bot's messages."""
    channel_id = workspace.conversation(params.required("channel", "channel_not_found")).id
    message = _own_message(workspace, channel_id, params, "cant_update_message")
    new = Params({"text": message.text, "blocks": message.blocks, **_present(params)})
    text, blocks = workspace.message_content(new)
    workspace.edit_message(message, text, blocks)
    shown = message.as_slack()
    return {"channel": channel_id, "ts": message.ts, "text": text, "message": shown}


def delete(workspace: Messages, params: Params) -> dict[str, Any]:
    """Answer chat.delete: remove one of the bot's messages."""
    channel_id = workspace.conversation(params.required("channel", "channel_not_found")).id
    message = _own_message(workspace, channel_id, params, "cant_delete_message")
    workspace.delete_message(message)
    return {"channel": channel_id, "ts": message.ts}


def post_ephemeral(workspace: Messages, params: Params) -> dict[str, Any]:
    """Answer chat.postEphemeral: show a message to one member of a conversation."""
    conversation = workspace.post_target(params.required("channel", "channel_not_found"))
    user = workspace.user(params.required("user", "user_not_found"))
    text, blocks = workspace.message_content(params)
    if user.id not in conversation.members:
        raise SlackCallError("user_not_in_channel")
    workspace.check_can_post(conversation)
    message = workspace.store_ephemeral(conversation.id, user.id, text, blocks)
    return {"message_ts": message.ts}


def get_permalink(workspace: Messages, params: Params) -> dict[str, Any]:
    """Answer chat.getPermalink: the web address of a message."""
    channel_id = workspace.conversation(params.required("channel", "channel_not_found")).id
    ts = params.required("message_ts", "message_not_found")
    workspace.message(channel_id, ts)
    link = f"{workspace.web_url}archives/{channel_id}/p{ts.replace('.', '')}"
    return {"channel": channel_id, "permalink": link}


def _own_message(workspace: Messages, channel_id: str, params: Params, refusal: str) -> Message:
    ts = params.required("ts", "message_not_found")
    found = [m for m in workspace.messages_in(channel_id) if m.ts == ts]
    if not found:
        raise SlackCallError("message_not_found")
    if found[0].user != BOT_USER_ID:
        raise SlackCallError(refusal)
    return found[0]


def _present(params: Params) -> dict[str, Any]:
    return {key: params.raw[key] for key in ("text", "blocks") if params.has(key)}


METHODS: dict[str, Callable[[Messages, Params], dict[str, Any]]] = {
    "chat.postMessage": post_message,
    "chat.update": update,
    "chat.delete": delete,
    "chat.postEphemeral": post_ephemeral,
    "chat.getPermalink": get_permalink,
}
