"""`/signoff outbox` for admins: the messages Signoff gave up on, each with a Retry button."""

from __future__ import annotations

import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.core import admin
from bot.core.service import Signoff
from bot.errors import Refused
from bot.slack.command_kit import CommandContext, CommandRegistry, Reply, command, run_command
from bot.slack.payload import action_value, user_id
from engine.notify import is_slack_user
from storage.models import DEAD, OutboxItem

DEAD_SHOWN = 200
PER_PAGE = 10
RETRY_ACTION = "outbox_retry"


SLACK_ERROR = re.compile(r"'error': '([a-z_]{1,40})'|^\w+: ([a-z_]{1,40})$")
WORDED = frozenset({"channel_not_found", "not_in_channel", "is_archived", "user_not_found", "user_disabled",
                    "cannot_dm_bot", "invalid_blocks", "msg_too_long"})
MAIL_KINDS = frozenset({"email", "approval_email", "approval_email_digest", "approval_closed_email",
                        "payment_reminder"})
MAIL_SERVER_ERRORS = ("SMTP", "ConnectionRefusedError", "ConnectionResetError", "TimeoutError", "OSError")


def error_code(item: OutboxItem) -> str | None:
    """Return what an admin is told went wrong with a dead letter, as a code its template words: Slack's error, the
    mail server's, or e-mail turned off; None when only the raw error can say."""
    text = item.last_error or ""
    found = SLACK_ERROR.search(text)
    code = next((g for g in found.groups() if g), None) if found else None
    if code in WORDED:
        return "user_not_found" if code == "channel_not_found" and is_slack_user(item.target) else code
    if "SIGNOFF_SMTP_URL is not set" in text:
        return "email_off"
    if item.kind in MAIL_KINDS and text.startswith(("SMTPRecipientsRefused", "SMTPRecipientRefused")):
        return "recipient_refused"
    return "smtp" if item.kind in MAIL_KINDS and text.startswith(MAIL_SERVER_ERRORS) else None


def _item_view(item: OutboxItem) -> dict[str, Any]:
    return {"id": item.id, "kind": item.kind, "target": item.target, "attempts": item.attempts,
            "created_at": item.created_at, "last_error": item.last_error, "error_code": error_code(item)}


async def outbox_command(ctx: CommandContext, args: list[str]) -> Reply:
    """List the dead letters, newest first, with a Retry button each."""
    async with ctx.service.db.read() as repo:
        items = await repo.outbox_items(DEAD, DEAD_SHOWN)
        counts = await repo.outbox_counts()
    pager = ctx.pager(len(items), PER_PAGE)
    return ctx.reply("commands_outbox.json.j2", items=[_item_view(i) for i in pager.window(items)],
                     counts=counts, pager=pager.view())


async def retry_dead_letter(ctx: CommandContext, item_id: int) -> Reply:
    """Queue a dead letter again (admins only), and say so."""
    if not ctx.is_admin:
        return ctx.note("admin_only", command="outbox")
    try:
        await admin.retry_dead_letter(ctx.service.deps, item_id)
    except Refused:
        return ctx.note("outbox_not_dead", id=item_id)
    return ctx.note("outbox_retried", id=item_id)


class OutboxListeners:
    """The Retry button of `/signoff outbox`."""

    def __init__(self, service: Signoff, commands: CommandRegistry) -> None:
        self.service = service
        self.commands = commands

    async def on_retry(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """Retry: queue the item again, then show the list as it is now."""
        await ack()
        user, value = user_id(body), action_value(body)
        if user is None or value is None or not value.isdigit() or len(value) > 18:
            return
        note = await retry_dead_letter(CommandContext(self.service, self.commands, user, "outbox"), int(value))
        await respond(replace_original=False, response_type="ephemeral", **note.message)
        listing = await run_command(self.service, self.commands, user, "outbox")
        if listing is not None:
            await respond(replace_original=True, **listing.message)


def register(app: AsyncApp, service: Signoff, commands: CommandRegistry) -> None:
    """Wire the Retry button into the Bolt app."""
    app.action(RETRY_ACTION)(OutboxListeners(service, commands).on_retry)


SUBCOMMANDS = (
    command("outbox", outbox_command, admin=True, help_key="outbox"),
)
