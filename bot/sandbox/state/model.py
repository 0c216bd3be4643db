"""The objects of a Slack workspace (people, conversations, messages) and the records of its activity."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple
from zoneinfo import ZoneInfo

from bot.sandbox.blockkit.elements import block_texts, interactive_elements

TEAM_ID = "T0SANDBOX"
TEAM_DOMAIN = "signoff-sandbox"
BOT_USER_ID = "U0SIGNOFF"
BOT_ID = "B0SIGNOFF"
APP_ID = "A0SIGNOFF"
DEFAULT_TOKEN = "xoxb-sandbox"

ConversationKind = Literal["channel", "private", "im"]


@dataclass
class User:
    """A person (or the bot) in the workspace."""

    id: str
    name: str
    real_name: str = ""
    email: str | None = None
    tz: str = "UTC"
    is_admin: bool = False
    is_bot: bool = False
    deleted: bool = False

    def as_slack(self, now_s: float) -> dict[str, Any]:
        """Return the user object as users.info shows it."""
        zone = ZoneInfo(self.tz)
        local = datetime.fromtimestamp(now_s, zone)
        offset = local.utcoffset()
        profile = {
            "real_name": self.real_name,
            "display_name": self.name,
            "email": self.email,
            "team": TEAM_ID,
        }
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": self.real_name,
            "tz": self.tz,
            "tz_label": local.tzname(),
            "tz_offset": int(offset.total_seconds()) if offset else 0,
            "is_admin": self.is_admin,
            "is_owner": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "profile": {k: v for k, v in profile.items() if v is not None},
        }


@dataclass
class Conversation:
    """A public or private channel, or the bot's DM with one user."""

    id: str
    kind: ConversationKind
    created: int
    name: str | None = None
    members: list[str] = field(default_factory=list)
    user: str | None = None
    topic: str = ""
    purpose: str = ""
    is_archived: bool = False

    def as_slack(self) -> dict[str, Any]:
        """Return the conversation object as conversations.info shows it."""
        if self.kind == "im":
            return {
                "id": self.id,
                "created": self.created,
                "is_im": True,
                "is_org_shared": False,
                "user": self.user,
                "is_user_deleted": False,
                "priority": 0,
            }
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": self.kind == "channel",
            "is_group": self.kind == "private",
            "is_im": False,
            "is_private": self.kind == "private",
            "is_archived": self.is_archived,
            "is_general": self.name == "general",
            "is_member": BOT_USER_ID in self.members,
            "created": self.created,
            "creator": BOT_USER_ID,
            "num_members": len(self.members),
            "topic": {"value": self.topic, "creator": "", "last_set": 0},
            "purpose": {"value": self.purpose, "creator": "", "last_set": 0},
        }


@dataclass
class Message:
    """A message in a conversation; ``visible_to`` is set for ephemeral messages."""

    channel: str
    ts: str
    text: str
    user: str
    blocks: list[dict[str, Any]] | None = None
    bot_id: str | None = None
    thread_ts: str | None = None
    edited: bool = False
    metadata: dict[str, Any] | None = None
    attachments: list[dict[str, Any]] | None = None
    visible_to: str | None = None

    def as_slack(self) -> dict[str, Any]:
        """Return the message object as Slack shows it in API answers and payloads."""
        shown: dict[str, Any] = {"type": "message", "user": self.user, "text": self.text}
        shown["ts"] = self.ts
        shown["team"] = TEAM_ID
        optional = {
            "bot_id": self.bot_id,
            "app_id": APP_ID if self.bot_id else None,
            "blocks": self.blocks,
            "thread_ts": self.thread_ts,
            "metadata": self.metadata,
            "attachments": self.attachments,
            "edited": {"user": self.user, "ts": self.ts} if self.edited else None,
        }
        shown.update({k: v for k, v in optional.items() if v is not None})
        return shown

    def action_ids(self) -> list[str]:
        """Return the action_id of every interactive element in the blocks."""
        return [element["action_id"] for _, element in interactive_elements(self.blocks)]

    def all_text(self) -> str:
        """Return the fallback text and every text in the blocks, one per line."""
        return "\n".join([self.text, *block_texts(self.blocks)])


@dataclass(frozen=True)
class Call:
    """One recorded Web API call and how it was answered."""

    method: str
    params: dict[str, Any]
    time: float
    status: int
    error: str | None
    token: str | None = None


@dataclass(frozen=True)
class Change:
    """A notification that the workspace state changed."""

    version: int
    kind: str
    channel: str | None = None
    user: str | None = None
    ts: str | None = None
    view_id: str | None = None


class ApiResponse(NamedTuple):
    """HTTP status, JSON body (or, as a proxy in front of Slack answers, plain text) and headers of one answer."""

    status: int
    body: dict[str, Any] | str
    headers: dict[str, str]
