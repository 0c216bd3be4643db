"""Messages in conversations, ephemeral messages, and what people picked in their elements."""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from bot.sandbox.blockkit.limits import MAX_MESSAGE_TEXT_CHARS
from bot.sandbox.blockkit.validation import validate_message
from bot.sandbox.errors import SlackCallError, UnknownMessageError
from bot.sandbox.params import Params
from bot.sandbox.state.directory import Directory
from bot.sandbox.state.model import BOT_ID, BOT_USER_ID, Conversation, Message


class Messages(Directory):
    """The messages of every conversation, the ephemerals shown to one person, and message element state."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._messages: dict[str, list[Message]] = defaultdict(list)
        self._ephemerals: list[Message] = []
        self._message_states: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}

    def messages_in(self, channel: str) -> list[Message]:
        """Return the messages of a conversation (id or name), oldest first."""
        return list(self._messages[self.conversation(channel).id])

    def dm_messages(self, user_id: str) -> list[Message]:
        """Return the messages in the bot's DM with a user, oldest first."""
        dm_id = self._dms.get(self.user(user_id).id)
        return list(self._messages[dm_id]) if dm_id else []

    def message(self, channel: str, ts: str) -> Message:
        """Return one message, ephemeral or not, by conversation and timestamp."""
        channel_id = self.conversation(channel).id
        for message in [*self._messages[channel_id], *self._ephemerals]:
            if message.channel == channel_id and message.ts == ts:
                return message
        raise UnknownMessageError(f"{channel_id} {ts}")

    def ephemerals(self, user_id: str, channel: str | None = None) -> list[Message]:
        """Return the ephemeral messages shown to a user, oldest first."""
        channel_id = self.conversation(channel).id if channel else None
        return [
            message
            for message in self._ephemerals
            if message.visible_to == user_id and channel_id in (None, message.channel)
        ]

    def message_state(self, channel: str, ts: str) -> dict[str, dict[str, Any]]:
        """Return what people picked in a message's elements, as ``state.values``."""
        return copy.deepcopy(self._message_states.get((channel, ts), {}))

    def merge_message_state(self, channel: str, ts: str, values: Mapping[str, Mapping[str, Any]]) -> None:
        """Add what someone picked in a message's elements (checkboxes, menus, pickers) to its state."""
        stored = self._message_states.setdefault((channel, ts), {})
        for block_id, entries in values.items():
            stored.setdefault(block_id, {}).update(copy.deepcopy(dict(entries)))

    def message_content(self, params: Params) -> tuple[str, list[dict[str, Any]] | None]:
        """Return the text and blocks (with ids filled in) of a message, refusing them as Slack does."""
        text = params.text("text") or ""
        blocks = params.decoded("blocks", "invalid_blocks_format")
        if not text and not blocks and not params.has("attachments"):
            raise SlackCallError("no_text")
        if len(text) > MAX_MESSAGE_TEXT_CHARS:
            raise SlackCallError("msg_too_long")
        problems = validate_message(blocks, text or None) if blocks else []
        if problems:
            raise SlackCallError(
                "invalid_blocks", errors=problems, response_metadata={"messages": problems}
            )
        return text, self._with_ids(blocks) if blocks else None

    def check_can_post(self, conversation: Conversation) -> None:
        """Refuse a post to an archived conversation, one the bot is not in, or a DM with someone deactivated."""
        if conversation.is_archived:
            raise SlackCallError("is_archived")
        if conversation.kind == "im" and conversation.user:
            self.check_can_dm(conversation.user)
        if BOT_USER_ID not in conversation.members:
            raise SlackCallError("not_in_channel")

    def store(self, message: Message) -> Message:
        """Add a message to its conversation."""
        self._messages[message.channel].append(message)
        self._notify("message", channel=message.channel, ts=message.ts, user=message.user)
        return message

    def store_ephemeral(
        self, channel_id: str, user_id: str, text: str, blocks: list[dict[str, Any]] | None
    ) -> Message:
        """Show a message from the bot to one person in a conversation."""
        message = Message(channel_id, self.next_ts(), text, BOT_USER_ID, blocks, BOT_ID)
        message.visible_to = user_id
        self._ephemerals.append(message)
        self._notify("ephemeral", channel=channel_id, ts=message.ts, user=user_id)
        return message

    def edit_message(self, message: Message, text: str, blocks: list[dict[str, Any]] | None) -> None:
        """Replace a message's text and blocks, marking it edited."""
        message.text, message.blocks, message.edited = text, blocks, True
        self._notify("message_changed", channel=message.channel, ts=message.ts)

    def delete_message(self, message: Message) -> None:
        """Remove a message from its conversation."""
        self._messages[message.channel].remove(message)
        self._notify("message_deleted", channel=message.channel, ts=message.ts)
