"""The people of the workspace and its conversations: channels and the bot's DMs."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from bot.sandbox.errors import DuplicateIdError, SlackCallError, UnknownConversationError, UnknownUserError
from bot.sandbox.state.core import WorkspaceCore
from bot.sandbox.state.model import BOT_USER_ID, Conversation, ConversationKind, User


class Directory(WorkspaceCore):
    """People (the bot included), public and private channels, and the bot's DM with each person."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.bot = User(BOT_USER_ID, "signoff", "Signoff", is_bot=True)
        self._users: dict[str, User] = {BOT_USER_ID: self.bot}
        self._conversations: dict[str, Conversation] = {}
        self._dms: dict[str, str] = {}

    def add_user(
        self,
        name: str,
        real_name: str = "",
        *,
        email: str | None = None,
        tz: str = "UTC",
        is_admin: bool = False,
        user_id: str | None = None,
    ) -> User:
        """Add a person; they join every existing public channel."""
        user_id = user_id or self._new_id("U")
        if user_id in self._users or self._find_user_by_name(name) is not None:
            raise DuplicateIdError(f"user {user_id} / {name} already exists")
        ZoneInfo(tz)  # refuses an unknown IANA zone now rather than at users.info
        user = User(user_id, name, real_name or name, email, tz, is_admin)
        self._users[user_id] = user
        for conversation in self._conversations.values():
            if conversation.kind == "channel":
                conversation.members.append(user_id)
        self._notify("user_added", user=user_id)
        return user

    def add_channel(
        self,
        name: str,
        *,
        members: list[str] | None = None,
        is_private: bool = False,
        bot_is_member: bool = True,
        channel_id: str | None = None,
    ) -> Conversation:
        """Add a channel; by default every person and the bot are members."""
        channel_id = channel_id or self._new_id("G" if is_private else "C")
        name = name.lstrip("#")
        if channel_id in self._conversations or self._find_channel_by_name(name) is not None:
            raise DuplicateIdError(f"channel {channel_id} / #{name} already exists")
        people = members if members is not None else [u for u in self._users if u != BOT_USER_ID]
        for user_id in people:
            self.user(user_id)
        everyone = [*people, BOT_USER_ID] if bot_is_member else list(people)
        kind: ConversationKind = "private" if is_private else "channel"
        conversation = Conversation(channel_id, kind, int(self.wall_clock()), name, everyone)
        self._conversations[channel_id] = conversation
        self._notify("channel_added", channel=channel_id)
        return conversation

    def user(self, ref: str) -> User:
        """Return a user by id, ``@name`` or name."""
        user = self._users.get(ref) or self._find_user_by_name(ref.lstrip("@"))
        if user is None:
            raise UnknownUserError(ref)
        return user

    def users(self) -> list[User]:
        """Return every user, the bot included."""
        return list(self._users.values())

    def user_by_email(self, email: str) -> User:
        """Return the user with this e-mail address."""
        for user in self._users.values():
            if user.email and user.email.lower() == email.lower():
                return user
        raise UnknownUserError(email)

    def conversation(self, ref: str) -> Conversation:
        """Return a channel or DM by id, ``#name`` or name."""
        conversation = self._conversations.get(ref) or self._find_channel_by_name(ref.lstrip("#"))
        if conversation is None:
            raise UnknownConversationError(ref)
        return conversation

    def conversations(self) -> list[Conversation]:
        """Return every channel and DM."""
        return list(self._conversations.values())

    def dm_channel_id(self, user_id: str) -> str:
        """Return the id of the bot's DM with a user, opening it on first use."""
        user = self.user(user_id)
        if user.id not in self._dms:
            dm = Conversation(self._new_id("D"), "im", int(self.wall_clock()), user=user.id)
            dm.members = [user.id, BOT_USER_ID]
            self._conversations[dm.id] = dm
            self._dms[user.id] = dm.id
            self._notify("dm_opened", channel=dm.id, user=user.id)
        return self._dms[user.id]

    def check_can_dm(self, user_id: str) -> None:
        """Refuse a DM with someone Slack would not let the bot write to: `user_disabled` when deactivated,
        `cannot_dm_bot` for a bot."""
        user = self.user(user_id)
        if user.deleted:
            raise SlackCallError("user_disabled")
        if user.is_bot:
            raise SlackCallError("cannot_dm_bot")

    def has_dm(self, user_id: str) -> bool:
        """Tell whether the bot's DM with a user (id, ``@name`` or name) is open."""
        return self.user(user_id).id in self._dms

    def post_target(self, ref: str) -> Conversation:
        """Return the conversation a post names: a user id means the bot's DM with them."""
        if ref in self._users:
            return self._conversations[self.dm_channel_id(ref)]
        return self.conversation(ref)

    def _find_user_by_name(self, name: str) -> User | None:
        return next((u for u in self._users.values() if u.name == name), None)

    def _find_channel_by_name(self, name: str) -> Conversation | None:
        return next((c for c in self._conversations.values() if c.name == name), None)
