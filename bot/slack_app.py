"""Slack Bolt listeners: parse the payload, call the service, answer in Slack."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import commands, delegation, home, request_modal, rules_slack
from bot.home import HomeListeners, parse_task_value
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
    """The Approve / Reject handlers, wherever the buttons are (messages, Home tab, /signoff pending)."""

    def __init__(self, service: Signoff, home_listeners: HomeListeners) -> None:
        self.service = service
        self.home = home_listeners

    async def refuse(self, body: dict[str, Any], code: str, detail: str = "") -> None:
        """Tell the clicking user, and only them, why nothing changed."""
        text = self.service.renderer.text("refusal.txt.j2", code=code, detail=detail)
        channel = _channel(body)
        if channel:
            await self.service.slack.ephemeral(channel, _user(body), text)
        else:
            await self.service.slack.dm(_user(body), {"text": text})

    async def on_approve(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Approve button: count the approval, or ask for a confirmation first when it would be forced."""
        await ack()
        value = body["actions"][0]["value"]
        request_id, seat = parse_task_value(value)
        if await self.home.ask_confirmation(body, [value]):
            return
        try:
            result = await self.service.decide(request_id, _user(body), Decision.APPROVE, on_behalf_of=seat)
        except VoteRefusedError as exc:
            await self.refuse(body, exc.code, str(exc))
            return
        if not result.is_counted:
            await self.refuse(body, "already_voted")

    async def on_reject(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Reject button: check the clicker may decide (maybe for someone away), then ask for the reason."""
        await ack()
        value = body["actions"][0]["value"]
        request_id, seat = parse_task_value(value)
        request = await self.service.request(request_id)
        if request is None:
            await self.refuse(body, "not_found")
            return
        try:
            approver = await delegation.acting_as(self.service, request, _user(body), seat)
            check_may_decide(request, approver, Decision.APPROVE)
        except VoteRefusedError as exc:
            await self.refuse(body, exc.code, str(exc))
            return
        card = {**await self.service.card_for(request_id), "task_value": value}
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
        request_id, seat = parse_task_value(view["private_metadata"])
        try:
            await self.service.decide(request_id, _user(body), Decision.REJECT, reason.strip(), on_behalf_of=seat)
        except VoteRefusedError as exc:
            await self.refuse(body, exc.code, str(exc))


def build_bolt_app(service: Signoff, client: AsyncWebClient) -> AsyncApp:
    """Create the Bolt app with every listener registered; it finishes each listener before it answers.

    An answer to Slack is an acknowledgement, and nothing is acknowledged before its work is durable: clicks
    come from the inbox, where they were committed first; everything else is done by the time it is answered.
    """
    settings = service.settings
    app = AsyncApp(
        client=client,
        signing_secret=settings.slack_signing_secret or "unused-in-socket-mode",
        request_verification_enabled=not settings.is_socket_mode,
        raise_error_for_unhandled_request=False,
        process_before_response=True,
    )
    listeners = Listeners(service, HomeListeners(service))
    # Bolt tries listeners in registration order: the busiest buttons first spares every click the other matchers.
    app.action("approve")(listeners.on_approve)
    app.action("reject")(listeners.on_reject)
    app.view("reject_reason")(listeners.on_reject_reason)
    home.register(app, service)
    commands.register(app, service)
    request_modal.register(app, service)
    rules_slack.register(app, service)
    return app
