"""Slack Bolt listeners: parse the payload, call the service, answer in Slack."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_bolt.logger.messages import warning_client_prioritized_and_token_skipped
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.service import Signoff
from bot.slack import (
    admin_commands,
    commands,
    delegation,
    groups,
    home,
    outbox,
    prefill_menu,
    reminders,
    request_modal,
    rules,
    workflow_commands,
)
from bot.slack.command_kit import CommandRegistry, run_command
from bot.slack.errors import ListenerErrors
from bot.slack.home import HomeListeners
from bot.slack.home_refresh import HomeRefresher
from bot.slack.home_tasks import parse_task_value
from bot.slack.payload import (
    action_value,
    ephemeral_reply_url,
    input_text,
    private_metadata,
    state_values,
    trigger_id,
    user_id,
)
from engine.approvals import Decision, check_may_decide, valid_reason

log = logging.getLogger(__name__)


class Listeners:
    """The Approve / Reject handlers, wherever the buttons are (messages, Home tab, /signoff pending)."""

    def __init__(self, service: Signoff, home_listeners: HomeListeners, errors: ListenerErrors,
                 commands: CommandRegistry) -> None:
        self.service = service
        self.home = home_listeners
        self.refuse = errors.refuse
        self.commands = commands

    async def on_approve(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """Approve button: count the approval, or ask for a confirmation first when it would be forced."""
        await ack()
        value, user = action_value(body), user_id(body)
        if value is None or user is None:
            return
        request_id, seat = parse_task_value(value)
        result = await self.service.approvals.decide(request_id, user, Decision.APPROVE, on_behalf_of=seat,
                                                     unless_forced=True)
        if result.forced is not None:
            await self.home.ask_confirmation(body, [value])
            return
        if not result.is_counted:
            await self.refuse(body, user, "already_voted")
        if ephemeral_reply_url(body) is not None:
            await self._pending_again(user, respond)

    async def _pending_again(self, user: str, respond: AsyncRespond) -> None:
        """Replace the `/signoff pending` answer a decision was taken in with the list as it is now (best effort:
        the decision is recorded whatever becomes of it; its `response_url` may have expired)."""
        try:
            listing = await run_command(self.service, self.commands, user, "pending")
            if listing is not None:
                await respond(replace_original=True, **listing.message)
        except Exception:
            log.info("could not refresh a /signoff pending answer", exc_info=True)

    async def on_reject(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Reject button: check the clicker may decide (maybe for someone away), then ask for the reason."""
        await ack()
        value, user, trigger = action_value(body), user_id(body), trigger_id(body)
        if value is None or user is None or trigger is None:
            return
        request_id, seat = parse_task_value(value)
        request = await self.service.approvals.request(request_id)
        if request is None:
            await self.refuse(body, user, "not_found")
            return
        approver = await delegation.acting_as(self.service, request, user, seat)
        check_may_decide(request, approver, Decision.APPROVE)
        card = {**await self.service.messages.card_for(request_id), "task_value": value,
                "reply_url": ephemeral_reply_url(body)}
        view = self.service.renderer.json("reject_modal.json.j2", card=card)
        await self.service.slack.open_view(trigger, view)

    async def on_reject_reason(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Reject modal submitted: record the rejection with its reason."""
        values, user, task = state_values(view), user_id(body), private_metadata(view)
        if values is None or user is None or task is None:
            await ack()
            return
        reason = valid_reason(input_text(values, "reason"))
        if reason is None:
            message = self.service.renderer.text("refusal.txt.j2", code="reason_required", detail="")
            await ack(response_action="errors", errors={"reason": message})
            return
        await ack()
        task, _, reply_url = task.partition("\n")
        request_id, seat = parse_task_value(task)
        await self.service.approvals.decide(request_id, user, Decision.REJECT, reason, on_behalf_of=seat)
        if reply_url:
            await self._pending_again(user, AsyncRespond(response_url=reply_url))


def command_registry() -> CommandRegistry:
    """Return every `/signoff` subcommand, in the order `/signoff help` lists them."""
    return CommandRegistry([*commands.SUBCOMMANDS, *workflow_commands.SUBCOMMANDS, *home.SUBCOMMANDS,
                            *delegation.SUBCOMMANDS, *request_modal.SUBCOMMANDS, *outbox.SUBCOMMANDS,
                            *admin_commands.SUBCOMMANDS, *rules.SUBCOMMANDS, *groups.SUBCOMMANDS,
                            *reminders.SUBCOMMANDS])


class TokenCarriedByClient(logging.Filter):
    """Leaves out Bolt's warning, at each start, that the bot token it read from SLACK_BOT_TOKEN is unused: the client
    Signoff gives it carries that token."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Tell whether to log the record: anything but that warning."""
        return record.getMessage() != warning_client_prioritized_and_token_skipped()


TOKEN_CARRIED = TokenCarriedByClient()


def build_bolt_app(service: Signoff, client: AsyncWebClient, registry: CommandRegistry) -> AsyncApp:
    """Create the Bolt app with every listener registered; it finishes each listener before it answers.

    An answer to Slack is an acknowledgement, and nothing is acknowledged before its work is durable: clicks
    come from the inbox, where they were committed first; everything else is done by the time it is answered.
    """
    settings = service.settings
    bolt_log = logging.getLogger("slack_bolt.AsyncApp")
    if TOKEN_CARRIED not in bolt_log.filters:
        bolt_log.addFilter(TOKEN_CARRIED)
    app = AsyncApp(
        client=client,
        signing_secret=settings.slack_signing_secret or "unused-in-socket-mode",
        request_verification_enabled=not settings.is_socket_mode,
        raise_error_for_unhandled_request=False,
        process_before_response=True,
    )
    errors = ListenerErrors(service)
    app.error(errors.on_error)
    homes = HomeRefresher(service)
    listeners = Listeners(service, HomeListeners(service, homes), errors, registry)
    # Bolt tries listeners in registration order: the busiest buttons first spares every click the other matchers.
    app.action("approve")(listeners.on_approve)
    app.action("reject")(listeners.on_reject)
    app.view("reject_reason")(listeners.on_reject_reason)
    home.register(app, service, homes)
    commands.register(app, service, registry, homes)
    request_modal.register(app, service, homes)
    reminders.register(app, service)
    prefill_menu.register(app, service)
    rules.register(app, service)
    groups.register(app, service)
    outbox.register(app, service, registry)
    return app
