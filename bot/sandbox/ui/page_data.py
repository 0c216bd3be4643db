"""The JSON the page reads (people, messages, the app's replies) and the mentions typed in commands."""

from __future__ import annotations

import json
import re
from typing import Any

from bot.sandbox.app_link.link import AppReply
from bot.sandbox.state.model import Message, User

MENTION_WORD = re.compile(r"(?<![<\w@])@([A-Za-z0-9][A-Za-z0-9._-]*)")


def escape_mentions(text: str, users: list[User]) -> str:
    """Turn `@name` into `<@U…|name>` as Slack does for a command with escaping on (name, first name or id)."""
    known: dict[str, User] = {}
    for user in users:
        if user.deleted:
            continue
        first = (user.real_name or "").split(" ")[0]
        for alias in (user.id, user.name, first, (user.real_name or "").replace(" ", "")):
            if alias:
                known.setdefault(alias.casefold(), user)

    def replace(match: re.Match[str]) -> str:
        user = known.get(match.group(1).casefold())
        return f"<@{user.id}|{user.name}>" if user else match.group(0)

    return MENTION_WORD.sub(replace, text)


def user_json(user: User) -> dict[str, Any]:
    """Return what the page needs to show a person."""
    return {"id": user.id, "name": user.name, "real_name": user.real_name, "tz": user.tz,
            "is_admin": user.is_admin, "is_bot": user.is_bot}


def message_json(message: Message, state: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return a message as the page renders it, with what people picked in its elements."""
    return {"state": state or {}, "ts": message.ts, "user": message.user, "text": message.text,
            "blocks": message.blocks, "attachments": message.attachments, "edited": message.edited,
            "ephemeral": message.visible_to is not None, "thread_ts": message.thread_ts}


def top_level(messages: list[Message]) -> list[Message]:
    """Return the messages that are not replies in a thread."""
    return [m for m in messages if m.thread_ts in (None, m.ts)]


def reply_json(reply: AppReply) -> dict[str, Any]:
    """Return how the app answered a request, as the page shows it."""
    return {"ok": True, "status": reply.status, "ack": reply.ack_body() or None,
            "elapsed_ms": round(reply.elapsed_s * 1000, 1)}


def sse(event: str, data: dict[str, Any]) -> str:
    """Return one server-sent event."""
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"
