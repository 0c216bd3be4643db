"""What the app's answers to people's interactions do: response URLs, command acks and modal submission acks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.sandbox.errors import InvalidAckError, ResponseUrlError, SlackCallError
from bot.sandbox.params import Params
from bot.sandbox.state.messages import Messages
from bot.sandbox.state.model import BOT_ID, BOT_USER_ID, TEAM_ID, Message
from bot.sandbox.state.views import Views, view_spec

RESPONSE_URL_USES = 5
RESPONSE_URL_TTL_S = 30 * 60.0


@dataclass
class _ResponseTarget:
    user_id: str
    channel: str
    message_ts: str | None
    is_ephemeral: bool
    issued_at_s: float
    uses_left: int = RESPONSE_URL_USES


class Interactions(Messages, Views):
    """Applies the app's answers to interactions the way Slack shows them."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._response_targets: dict[str, _ResponseTarget] = {}

    def issue_response_url(
        self,
        user_id: str,
        channel: str,
        message_ts: str | None = None,
        is_ephemeral: bool = False,
    ) -> str:
        """Issue a response_url for an interaction in a conversation."""
        channel_id = self.conversation(channel).id
        target = _ResponseTarget(user_id, channel_id, message_ts, is_ephemeral, self.clock())
        key = f"{TEAM_ID}-{next(self._sequence)}-{int(self.wall_clock())}"
        self._response_targets[key] = target
        base = self.base_url or "https://hooks.slack.com/"
        return f"{base}respond/{key}"

    def respond(self, key: str, payload: Mapping[str, Any]) -> None:
        """Apply a POST to a response_url the way Slack does."""
        target = self._response_target(key)
        if payload.get("delete_original"):
            self._delete_original(target)
            return
        try:
            text, blocks = self.message_content(Params(payload))
        except SlackCallError as error:
            raise InvalidAckError(str(error.body())) from error
        if payload.get("replace_original") and target.message_ts:
            self._replace_original(target, text, blocks)
        elif payload.get("response_type") == "in_channel":
            self.store(Message(target.channel, self.next_ts(), text, BOT_USER_ID, blocks, BOT_ID))
        else:
            self.store_ephemeral(target.channel, target.user_id, text, blocks)

    def apply_command_ack(self, user_id: str, channel: str, ack: Any) -> None:
        """Show a slash command's acknowledgement body the way Slack does."""
        if isinstance(ack, str) and ack.strip():
            ack = {"text": ack}
        if not isinstance(ack, dict) or not (ack.get("text") or ack.get("blocks")):
            return
        try:
            text, blocks = self.message_content(Params(ack))
        except SlackCallError as error:
            raise InvalidAckError(str(error.body())) from error
        channel_id = self.conversation(channel).id
        if ack.get("response_type") == "in_channel":
            self.store(Message(channel_id, self.next_ts(), text, BOT_USER_ID, blocks, BOT_ID))
        else:
            self.store_ephemeral(channel_id, user_id, text, blocks)

    def apply_view_submission_ack(self, view_id: str, ack: Any) -> None:
        """Close, update, push or annotate a submitted modal as the app's ack asks."""
        user_id = self.view_owner(view_id)
        action = ack.get("response_action") if isinstance(ack, dict) else None
        if action == "errors":
            self._view_errors[view_id] = dict(ack.get("errors") or {})
            self._notify("view_errors", user=user_id, view_id=view_id)
        elif action == "update":
            self.update_view(view_id, self._checked_ack_view(ack))
        elif action == "push":
            self.push_modal(user_id, self._checked_ack_view(ack))
        elif action == "clear":
            self.clear_modals(user_id)
        else:
            self.close_modal(user_id, view_id)

    def _checked_ack_view(self, ack: dict[str, Any]) -> dict[str, Any]:
        try:
            return view_spec(Params({"view": ack.get("view")}), "modal")
        except SlackCallError as error:
            raise InvalidAckError(str(error.body())) from error

    def _response_target(self, key: str) -> _ResponseTarget:
        target = self._response_targets.get(key)
        if target is None:
            raise ResponseUrlError(f"unknown response_url {key}")
        if target.uses_left <= 0 or self.clock() - target.issued_at_s > RESPONSE_URL_TTL_S:
            raise ResponseUrlError(f"response_url {key} is used up or expired")
        target.uses_left -= 1
        return target

    def _delete_original(self, target: _ResponseTarget) -> None:
        original = self._original(target)
        if original is None:
            return
        pool = self._ephemerals if target.is_ephemeral else self._messages[target.channel]
        pool.remove(original)
        self._notify("message_deleted", channel=target.channel, ts=original.ts)

    def _replace_original(
        self, target: _ResponseTarget, text: str, blocks: list[dict[str, Any]] | None
    ) -> None:
        original = self._original(target)
        if original is None:
            raise ResponseUrlError("the original message no longer exists")
        original.text, original.blocks = text, blocks
        original.edited = not target.is_ephemeral
        self._notify("message_changed", channel=target.channel, ts=original.ts)

    def _original(self, target: _ResponseTarget) -> Message | None:
        pool = self._ephemerals if target.is_ephemeral else self._messages[target.channel]
        matches = [m for m in pool if m.channel == target.channel and m.ts == target.message_ts]
        return matches[0] if matches else None
