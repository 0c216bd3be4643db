"""The one place a Slack listener's failure is answered: a refusal is told to the person, anything else is logged."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.response import BoltResponse

from bot.core.service import Signoff
from bot.errors import NotFound, Refused
from bot.slack.payload import channel_id, user_id
from engine.errors import PrefillChoiceError, VoteRefusedError

log = logging.getLogger(__name__)

REFUSALS = (VoteRefusedError, PrefillChoiceError)


class ListenerErrors:
    """Tells the person why nothing changed (a refusal of the engine or of an application service: a rule or group
    removed meanwhile…); a failure that is no refusal stays a failure (the inbox retries it)."""

    def __init__(self, service: Signoff) -> None:
        self.service = service

    async def refuse(
        self, body: dict[str, Any], user: str, code: str, detail: str = "", params: dict[str, Any] | None = None,
    ) -> None:
        """Tell the clicking user, and only them, why nothing changed."""
        text = self.service.renderer.text("refusal.txt.j2", code=code, detail=detail, params=params or {})
        channel = channel_id(body)
        if channel:
            await self.service.slack.ephemeral(channel, user, text)
        else:
            await self.service.slack.dm(user, {"text": text})

    async def on_error(self, error: Exception, body: dict[str, Any]) -> BoltResponse | None:
        """Bolt's error handler: answer a refusal (the request is done), log anything else (it failed)."""
        user = user_id(body)
        if isinstance(error, REFUSALS) and user is not None:
            await self.refuse(body, user, error.code, str(error), getattr(error, "params", None))
            return BoltResponse(status=200)
        if isinstance(error, Refused) and user is not None:
            await self.refuse(body, user, "gone" if isinstance(error, NotFound) else error.code, error.message)
            return BoltResponse(status=200)
        log.exception("Failed to run listener function (error: %s)", error, exc_info=error)
        return None
