"""Slack listener for pre-fill choices: an approver picks another value from the ⚡ menu."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.rules_service import RulesService
from bot.service import Signoff
from engine.errors import PrefillChoiceError, VoteRefusedError

log = logging.getLogger(__name__)

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
        self.rules = RulesService(service)

    async def refuse(self, body: dict[str, Any], code: str, detail: str = "") -> None:
        """Tell the user, and only them, why nothing changed."""
        user = str(body["user"]["id"])
        text = self.service.renderer.text("refusal.txt.j2", code=code, detail=detail)
        channel = (body.get("container") or {}).get("channel_id") or (body.get("channel") or {}).get("id")
        if channel:
            await self.service.slack.ephemeral(channel, user, text)
        else:
            await self.service.slack.dm(user, {"text": text})

    async def on_choice(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Apply the picked value, or refuse it (not an approver, value no longer offered)."""
        await ack()
        action = body["actions"][0]
        target = parse_block_id(str(action.get("block_id", "")))
        option = ((action.get("selected_option") or {}).get("value")) or ""
        if target is None or not option:
            await self.refuse(body, "not_found")
            return
        try:
            await self.rules.choose(target[0], target[1], option, str(body["user"]["id"]))
        except VoteRefusedError as exc:
            await self.refuse(body, exc.code, str(exc))
        except PrefillChoiceError as exc:
            await self.refuse(body, exc.code, str(exc))


def register(app: AsyncApp, service: Signoff) -> None:
    """Register the pre-fill menu listener on the Bolt app."""
    app.action(PREFILL_ACTION)(PrefillChoiceListener(service).on_choice)
