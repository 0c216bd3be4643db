"""The table of outbox handlers: for each kind of item, what delivers it.

A handler takes the item and returns what to keep of its delivery (the Slack message, the e-mail id) or a
note of why it was skipped. It raises `Permanent` when retrying cannot help and `Retry` to ask for a given
wait; any other exception is classified by the worker (`bot.outbox.errors.classify`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.core.reminders import PAYMENT_REMINDER_KIND
from bot.core.service import Signoff
from bot.outbox.asking import (
    CLOSED_EMAIL_KIND,
    EMAIL_DIGEST_KIND,
    EMAIL_KIND,
    LOOKUP_DIGEST_KIND,
    LOOKUP_KIND,
    Asking,
)
from bot.outbox.errors import UNREACHABLE_ERRORS, Permanent, slack_error
from bot.outbox.nudges import Nudges, stand_in_of
from bot.outbox.payment_reminders import PaymentReminders
from bot.outbox.webhooks import WebhookPoster
from bot.senders.email import Email, send_email
from bot.senders.slack import Posted
from bot.settings import SmtpConfig
from engine.delegation import StoodIn
from engine.notify import is_slack_user
from storage.models import OutboxItem
from storage.ports import Repository

Handler = Callable[[OutboxItem], Awaitable[dict[str, Any] | None]]
SentHook = Callable[[Repository, OutboxItem, dict[str, Any] | None, datetime], Awaitable[None]]
DeadHook = Callable[[Repository, OutboxItem, str, datetime], Awaitable[None]]


@dataclass(frozen=True)
class Bookkeeping:
    """What recording an item of some kinds writes too, in the same transaction: once it is marked sent (with
    what its handler returned), or dead-lettered (with the error)."""

    sent: Mapping[str, SentHook] = field(default_factory=dict)
    dead: Mapping[str, DeadHook] = field(default_factory=dict)


def posted_json(posted: Posted) -> dict[str, Any]:
    """Return what is kept of a Slack post: its conversation and timestamp."""
    return {"channel": posted.channel, "ts": posted.ts}


class Messages:
    """The outbox handlers of request messages (asks, channel copies, refreshes, outcomes), messages and e-mails."""

    def __init__(self, service: Signoff, asking: Asking) -> None:
        self.service = service
        self.asking = asking

    async def ask(self, item: OutboxItem) -> dict[str, Any]:
        """DM an approver their copy of the request message (or the delegate of one away a copy deciding in their
        seat, unless they decided since); one Slack cannot DM (deactivated, a bot, gone) is taken off the step
        instead, which gets stand-ins when it falls short of its quorum."""
        payload, stand_in = item.payload, stand_in_of(item)
        messages = self.service.messages
        if stand_in is not None and not await messages.is_standing_in(payload["request_id"], payload["step_index"],
                                                                      stand_in):
            return {"skipped": "the delegate no longer decides in the seat of the approver away"}
        try:
            posted = await messages.post_request_copy(payload["request_id"], payload["step_index"], user=item.target,
                                                      stand_in=stand_in)
        except SlackApiError as exc:
            return await self._unreachable(item, exc, stand_in)
        if stand_in is not None and not await messages.is_standing_in(payload["request_id"], payload["step_index"],
                                                                      stand_in):
            await messages.redraw(payload["request_id"])  # what changed while it was posted missed this copy
        return posted_json(posted)

    async def _unreachable(self, item: OutboxItem, exc: SlackApiError, stand_in: StoodIn | None) -> dict[str, Any]:
        """Take an approver Slack cannot DM off the step; the delegate of one away is only skipped (the approver
        keeps their seat). Any other error is raised again, for the worker to classify."""
        error = slack_error(exc)
        if error is None or error not in UNREACHABLE_ERRORS:
            raise exc
        if stand_in is not None:
            return {"skipped": f"the delegate cannot be reached: {error}"}
        return await self.asking.unreachable(item, error)

    async def channel_copy(self, item: OutboxItem) -> dict[str, Any]:
        """Post the request message's copy to a channel."""
        posted = await self.service.messages.post_request_copy(item.payload["request_id"], None, channel=item.target)
        return posted_json(posted)

    async def refresh(self, item: OutboxItem) -> None:
        """Bring every copy of the request message up to date."""
        await self.service.messages.refresh_messages(item.payload["request_id"])

    async def outcome(self, item: OutboxItem) -> dict[str, Any]:
        """DM the requester the outcome of their request."""
        posted = await self.service.messages.tell_requester(item.payload["request_id"])
        return posted_json(posted) if posted else {}

    async def message(self, item: OutboxItem) -> dict[str, Any]:
        """Post a rendered message: a DM to a user, else to the channel."""
        message = item.payload["message"]
        slack = self.service.slack
        posted = await (slack.dm(item.target, message) if is_slack_user(item.target) else
                        slack.post(item.target, message))
        return posted_json(posted)

    async def email(self, item: OutboxItem) -> dict[str, Any]:
        """Send a composed e-mail (Permanent while e-mail is off)."""
        smtp_url = self.service.settings.smtp_url
        if not smtp_url:
            raise Permanent("e-mail is off: SIGNOFF_SMTP_URL is not set")
        message_id = await send_email(Email.from_json(item.payload), SmtpConfig.from_url(smtp_url), item.lasting_ref())
        return {"message_id": message_id}


def handler_table(service: Signoff) -> dict[str, Handler]:
    """Return the handler of each outbox kind, bound to the service's dependencies."""
    asking = Asking(service.deps, service.approvals)
    messages, nudges = Messages(service, asking), Nudges(service)
    return {
        "ask": messages.ask, "channel_copy": messages.channel_copy, "refresh": messages.refresh,
        "outcome": messages.outcome, "message": messages.message, "email": messages.email,
        "webhook": WebhookPoster(service.settings).deliver,
        LOOKUP_KIND: asking.lookup, EMAIL_KIND: asking.send, CLOSED_EMAIL_KIND: asking.send_closed,
        LOOKUP_DIGEST_KIND: asking.lookup_digest, EMAIL_DIGEST_KIND: asking.send_digest,
        "remind": nudges.remind, "remind_digest": nudges.remind_digest, "escalate": nudges.escalate,
        "escalate_digest": nudges.escalate_digest,
        PAYMENT_REMINDER_KIND: PaymentReminders(service).deliver,
    }


def bookkeeping_table(service: Signoff) -> Bookkeeping:
    """Return what recording an item writes too, by kind: a payment reminder stamps its invoice once delivered."""
    reminders = PaymentReminders(service)
    return Bookkeeping(sent={PAYMENT_REMINDER_KIND: reminders.sent}, dead={PAYMENT_REMINDER_KIND: reminders.dead})
