"""The ⚡ pre-fill menu of an approval message: an approver picks another offered value before approving."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.core.service import Signoff
from bot.slack.errors import ListenerErrors
from bot.slack.payload import first_action, selected_value, user_id
from engine.errors import PrefillChoiceError, VoteRefusedError

PREFILL_ACTION = "prefill_choice"
BLOCK_PREFIX = "prefill"


def parse_block_id(block_id: str) -> tuple[str, str] | None:
    """Return (request id, field) from a menu's block id `prefill:REQUEST:FIELD`, or None."""
    prefix, _, rest = block_id.partition(":")
    request_id, _, field = rest.partition(":")
    if prefix != BLOCK_PREFIX or not request_id or not field:
        return None
    return request_id, field


class PrefillChoiceListener:
    """Handles a pick in the pre-fill menu of an approval message."""

    def __init__(self, service: Signoff) -> None:
        self.service = service
        self.rules = service.rules
        self.refuse = ListenerErrors(service).refuse

    async def on_choice(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Apply the picked value, or refuse it (not an approver, value no longer offered)."""
        await ack()
        user = user_id(body)
        if user is None:
            return
        block_id = first_action(body).get("block_id")
        target = parse_block_id(block_id) if isinstance(block_id, str) else None
        option = selected_value(body)
        if target is None or option is None:
            await self.refuse(body, user, "not_found")
            return
        try:
            await self.rules.choose(target[0], target[1], option, user)
        except (VoteRefusedError, PrefillChoiceError) as exc:
            await self.refuse(body, user, exc.code, str(exc))




def register(app: AsyncApp, service: Signoff) -> None:
    """Register the pre-fill menu listener."""
    app.action(PREFILL_ACTION)(PrefillChoiceListener(service).on_choice)
