"""`/signoff` itself: the command, `help`, the pagers of long lists and the menus and buttons under its answers."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.core.service import Signoff
from bot.errors import NotFound
from bot.slack import workflow_modal
from bot.slack.command_kit import CommandContext, CommandRegistry, Reply, ack_body, command, run_command
from bot.slack.home_refresh import HomeRefresher
from bot.slack.payload import (
    action_value,
    channel_id,
    first_action,
    json_object,
    mapping,
    selected_value,
    text,
    trigger_id,
    user_id,
)
from bot.slack.workflow_words import workflow_view
from engine.catalog import find_template

log = logging.getLogger(__name__)

PAGE_ACTIONS = ("page_previous", "page_next")
MAX_COMMAND_CHARS = 4000
MAX_PAGE = 10_000


# help


async def help_command(ctx: CommandContext, args: list[str]) -> Reply:
    """List the subcommands the caller may use."""
    allowed = sorted((c for c in ctx.commands if ctx.is_admin or not c.is_admin_only), key=lambda c: c.is_admin_only)
    entries = [{"usage": c.usage, "help_key": c.help_key, "is_admin_only": c.is_admin_only} for c in allowed]
    return ctx.reply("commands_help.json.j2", entries=entries, is_admin=ctx.is_admin)


# listeners


def _page_request(body: dict[str, Any]) -> tuple[str, int] | None:
    value = json_object(action_value(body)) or {}
    name, args, page = value.get("c"), value.get("a"), value.get("p")
    if not isinstance(name, str) or not isinstance(args, str) or type(page) is not int or not 0 <= page < MAX_PAGE:
        return None
    return f"{name} {args}".strip(), page


class CommandListeners:
    """Bolt listeners of the `/signoff` command, its pagers and its menus."""

    def __init__(self, service: Signoff, commands: CommandRegistry, refresher: HomeRefresher) -> None:
        self.service = service
        self.commands = commands
        self.refresher = refresher

    async def on_command(self, ack: AsyncAck, command: dict[str, Any]) -> None:
        """`/signoff …`: run the subcommand and answer in the acknowledgement."""
        user, line = text(mapping(command).get("user_id"), 64), mapping(command).get("text") or ""
        if user is None or not isinstance(line, str):
            await ack()
            return
        try:
            reply = await run_command(self.service, self.commands, user, line[:MAX_COMMAND_CHARS],
                                      channel=text(command.get("channel_id"), 64), trigger_id=trigger_id(command),
                                      homes=self.refresher)
        except Exception:
            log.exception("/signoff %s failed", command.get("text"))
            reply = Reply(self.service.renderer.json("commands_note.json.j2", code="error", detail={}))
        await ack(**ack_body(reply))

    async def on_page(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """Previous/Next: re-run the listing on the other page, replacing the message."""
        await ack()
        request, user = _page_request(body), user_id(body)
        if request is None or user is None:
            return
        reply = await run_command(self.service, self.commands, user, request[0], page=request[1],
                                  channel=channel_id(body), trigger_id=trigger_id(body), homes=self.refresher)
        if reply is not None:
            await respond(replace_original=True, **reply.message)

    async def on_template_use(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """A template's Use button: open the workflow modal pre-filled from it (admins only)."""
        await ack()
        slug, trigger = action_value(body), trigger_id(body)
        template = find_template(slug) if slug is not None else None
        if template is not None and trigger is not None and self.service.is_admin(user_id(body)):
            await workflow_modal.open_new(self.service, trigger, template)

    async def on_delete_answer(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """Delete it / Keep it under a deletion question: do it (admins only) and replace the question."""
        await ack()
        user, workflow_id = user_id(body), action_value(body)
        if workflow_id is None or not self.service.is_admin(user):
            return
        try:
            workflow = await self.service.workflows.get(workflow_id)
        except NotFound as exc:
            reply = Reply(self.service.renderer.json("commands_note.json.j2", code="not_found",
                                                     detail={"kind": exc.kind, "ref": exc.ref}))
            await respond(replace_original=True, **reply.message)
            return
        kept = first_action(body).get("action_id") == "workflow_delete_keep"
        cancelled = 0 if kept else await self.service.workflows.delete(workflow.id, actor=user)
        answer = self.service.renderer.json("workflow_deleted.json.j2", workflow=workflow_view(workflow),
                                            cancelled=cancelled, kept=kept)
        await respond(replace_original=True, **answer)

    async def on_workflow_menu(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """A workflow's menu in the list: run `workflow OP ID` and answer below."""
        await ack()
        choice, user = selected_value(body), user_id(body)
        if choice is None or user is None:
            return
        reply = await run_command(self.service, self.commands, user, f"workflow {choice}", trigger_id=trigger_id(body),
                                  homes=self.refresher)
        if reply is not None:
            await respond(replace_original=False, response_type="ephemeral", **reply.message)


def register(app: AsyncApp, service: Signoff, commands: CommandRegistry, refresher: HomeRefresher) -> None:
    """Wire the `/signoff` command, its pagers and menus into the Bolt app (`refresher` republishes Home tabs)."""
    listeners = CommandListeners(service, commands, refresher)
    app.command("/signoff")(listeners.on_command)
    for action_id in PAGE_ACTIONS:
        app.action(action_id)(listeners.on_page)
    app.action("workflow_menu")(listeners.on_workflow_menu)
    app.action("template_use")(listeners.on_template_use)
    for action_id in ("workflow_delete_confirm", "workflow_delete_keep"):
        app.action(action_id)(listeners.on_delete_answer)
    workflow_modal.register(app, service)


SUBCOMMANDS = (
    command("help", help_command, help_key="help"),
)
