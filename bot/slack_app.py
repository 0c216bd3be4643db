"""Slack Bolt listeners: parse the payload, call the service, answer in Slack."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.service import Signoff
from engine.approvals import Decision, check_may_decide
from engine.errors import VoteRefusedError

log = logging.getLogger(__name__)


def _user(body: dict[str, Any]) -> str:
    return str(body["user"]["id"])


def _channel(body: dict[str, Any]) -> str | None:
    container = body.get("container") or {}
    return container.get("channel_id") or (body.get("channel") or {}).get("id")


class Listeners:
    """The handlers registered on the Bolt app."""

    def __init__(self, service: Signoff) -> None:
        self.service = service

    async def refuse(self, body: dict[str, Any], code: str, detail: str = "") -> None:
        """Tell the clicking user, and only them, why nothing changed."""
        text = self.service.renderer.text("refusal.txt.j2", code=code, detail=detail)
        channel = _channel(body)
        if channel:
            await self.service.slack.ephemeral(channel, _user(body), text)
        else:
            await self.service.slack.dm(_user(body), {"text": text})

    async def on_approve(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Approve button: count the approval."""
        await ack()
        request_id = body["actions"][0]["value"]
        try:
            result = await self.service.decide(request_id, _user(body), Decision.APPROVE)
        except VoteRefusedError as exc:
            await self.refuse(body, exc.code, str(exc))
            return
        if not result.is_counted:
            await self.refuse(body, "already_voted")

    async def on_reject(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Reject button: check the clicker may decide, then ask for the reason in a modal."""
        await ack()
        request_id = body["actions"][0]["value"]
        request = await self.service.request(request_id)
        if request is None:
            await self.refuse(body, "not_found")
            return
        try:
            check_may_decide(request, _user(body), Decision.APPROVE)
        except VoteRefusedError as exc:
            await self.refuse(body, exc.code, str(exc))
            return
        card = await self.service.card_for(request_id)
        view = self.service.renderer.json("reject_modal.json.j2", card=card)
        await self.service.slack.open_view(body["trigger_id"], view)

    async def on_reject_reason(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Reject modal submitted: record the rejection with its reason."""
        reason = ((view["state"]["values"].get("reason") or {}).get("reason") or {}).get("value") or ""
        if len(reason.strip()) < 3:
            message = self.service.renderer.text("refusal.txt.j2", code="reason_required", detail="")
            await ack(response_action="errors", errors={"reason": message})
            return
        await ack()
        try:
            await self.service.decide(view["private_metadata"], _user(body), Decision.REJECT, reason.strip())
        except VoteRefusedError as exc:
            await self.refuse(body, exc.code, str(exc))

    async def on_command(self, ack: AsyncAck, command: dict[str, Any]) -> None:
        """The /signoff command: answer with help."""
        text = self.service.renderer.text(
            "help.txt.j2", is_admin=self.service.is_admin(command.get("user_id"))
        )
        await ack(response_type="ephemeral", text=text)


def build_bolt_app(service: Signoff, client: AsyncWebClient) -> AsyncApp:
    """Create the Bolt app with every listener registered."""
    settings = service.settings
    app = AsyncApp(
        client=client,
        signing_secret=settings.slack_signing_secret or "unused-in-socket-mode",
        request_verification_enabled=not settings.is_socket_mode,
        raise_error_for_unhandled_request=False,
    )
    listeners = Listeners(service)
    app.action("approve")(listeners.on_approve)
    app.action("reject")(listeners.on_reject)
    app.view("reject_reason")(listeners.on_reject_reason)
    app.command("/signoff")(listeners.on_command)
    return app
