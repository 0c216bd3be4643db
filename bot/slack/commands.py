"""`/signoff help` and the workflow subcommands: list, show, edit, enable, copy, delete, templates, history, remind."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.core.reminders import InvoiceReminders, OwnText
from bot.core.service import Signoff
from bot.errors import NotFound
from bot.slack import workflow_modal
from bot.slack.command_kit import CommandContext, CommandRegistry, Reply, ack_body, command, run_command
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
from bot.slack.workflow_words import with_previews, workflow_view
from engine.catalog import CatalogTemplate, catalog, find_template
from engine.workflows import (
    Workflow,
)
from messages.catalog_text import localized
from storage.models import RunFilter, WorkflowRun

log = logging.getLogger(__name__)

PAGE_ACTIONS = ("page_previous", "page_next")
WORKFLOWS_PER_PAGE = 10
MIN_PREFIX_CHARS = 4
MAX_COMMAND_CHARS = 4000
MAX_PAGE = 10_000


# help


async def help_command(ctx: CommandContext, args: list[str]) -> Reply:
    """List the subcommands the caller may use."""
    allowed = sorted((c for c in ctx.commands if ctx.is_admin or not c.is_admin_only), key=lambda c: c.is_admin_only)
    entries = [{"usage": c.usage, "help_key": c.help_key, "is_admin_only": c.is_admin_only} for c in allowed]
    return ctx.reply("commands_help.json.j2", entries=entries, is_admin=ctx.is_admin)


class AmbiguousWorkflow(NotFound):
    """Several workflows answer to one name or prefix."""

    def __init__(self, ref: str, candidates: Sequence[Workflow]) -> None:
        names = ", ".join(f"{w.name} ({w.id})" for w in candidates[:10])
        super().__init__(f"{ref!r} names several workflows: {names}")
        self.ref = ref
        self.candidates = list(candidates)


def match_workflows(workflows: Sequence[Workflow], ref: str) -> list[Workflow]:
    """Return the workflows a reference names: the id, else the exact name (any case), else a unique prefix."""
    ref = ref.strip()
    folded = ref.casefold()
    for found in ([w for w in workflows if w.id == ref], [w for w in workflows if w.name.casefold() == folded]):
        if found:
            return found
    if len(ref) < MIN_PREFIX_CHARS:
        return []
    by_id = [w for w in workflows if w.id.startswith(ref)]
    return by_id or [w for w in workflows if w.name.casefold().startswith(folded)]


async def find_workflow(service: Signoff, ref: str) -> Workflow:
    """Return the workflow named by id, name (any case) or unique prefix; raise NotFound (AmbiguousWorkflow)."""
    found = match_workflows(await service.workflows.list_all(), ref)
    if not found:
        raise NotFound(f"no workflow {ref!r}")
    if len(found) > 1:
        raise AmbiguousWorkflow(ref, found)
    return found[0]


async def workflows_command(ctx: CommandContext, args: list[str]) -> Reply:
    """List every workflow, one page at a time."""
    workflows = await ctx.service.workflows.list_all()
    pager = ctx.pager(len(workflows), WORKFLOWS_PER_PAGE)
    shown = [workflow_view(w) for w in pager.window(workflows)]
    return ctx.reply("commands_workflows.json.j2", workflows=shown, pager=pager.view())


WORKFLOW_OPS = ("show", "edit", "enable", "disable", "copy", "delete")
WORKFLOW_USAGE = "workflow show|edit|enable|disable|copy|delete NAME|ID"


async def workflow_command(ctx: CommandContext, args: list[str]) -> Reply | None:
    """Show, edit, enable, disable, copy or delete one workflow, named by name or id."""
    if len(args) < 2 or args[0].lower() not in WORKFLOW_OPS:
        return ctx.note("usage", usage=WORKFLOW_USAGE)
    op = args[0].lower()
    try:
        workflow = await find_workflow(ctx.service, " ".join(args[1:]))
    except AmbiguousWorkflow as exc:
        return ctx.reply("workflow_choose.json.j2", ref=exc.ref, op=op,
                         workflows=[workflow_view(w) for w in exc.candidates[:20]], more=len(exc.candidates) > 20)
    return await _workflow_op(ctx, op, workflow)


async def _workflow_op(ctx: CommandContext, op: str, workflow: Workflow) -> Reply | None:
    if op == "show":
        shown = with_previews(workflow_view(workflow), workflow, ctx.service.renderer, ctx.now)
        return ctx.reply("commands_workflow.json.j2", workflow=shown)
    if op == "edit":
        options = await workflow_modal.choices(ctx.service)
        await ctx.open_modal(workflow_modal.edit_modal(ctx.service, workflow, options))
        return None
    if op in ("enable", "disable"):
        changed = await ctx.service.workflows.set_enabled(workflow.id, op == "enable")
        return ctx.note(f"workflow_{op}d", workflow=workflow_view(changed))
    if op == "copy":
        copied = await ctx.service.workflows.copy(workflow.id)
        return ctx.note("workflow_copied", workflow=workflow_view(copied), source=workflow_view(workflow))
    pending = await ctx.service.workflows.pending_of(workflow.id)
    return ctx.reply("workflow_delete.json.j2", workflow=workflow_view(workflow), pending=len(pending))


# the template catalog, run history, groups and rules


TEMPLATES_PER_PAGE = 8
RUNS_SHOWN = 100
RUNS_PER_PAGE = 10


def template_view(template: CatalogTemplate) -> dict[str, Any]:
    """Return a catalog entry as the templates list and the new-workflow modal show it."""
    return {**template.summary(), "workflow": workflow_view(_draft(template))}


def _draft(template: CatalogTemplate) -> Workflow:
    now = datetime.fromtimestamp(0, UTC)
    return Workflow(**template.definition.model_dump(), id=template.slug, created_at=now, updated_at=now)


async def templates_command(ctx: CommandContext, args: list[str]) -> Reply:
    """List the ready-made workflows, one page at a time, each with a button to use it."""
    entries = [t for t in catalog() if not args or t.category == args[0].lower()]
    pager = ctx.pager(len(entries), TEMPLATES_PER_PAGE)
    shown = [template_view(localized(t, ctx.service.settings.locale)) for t in pager.window(entries)]
    return ctx.reply("commands_templates.json.j2", templates=shown, pager=pager.view(),
                     categories=sorted({t.category for t in catalog()}))


async def new_command(ctx: CommandContext, args: list[str]) -> Reply | None:
    """Open the workflow modal, blank or pre-filled from a catalog template."""
    if len(args) > 1:
        return ctx.note("usage", usage="new [TEMPLATE]")
    template = find_template(args[0].lower()) if args else None
    if args and template is None:
        return ctx.note("not_found", message=f"template {args[0]!r} (`/signoff templates` lists them)")
    await workflow_modal.open_new(ctx.service, ctx.trigger_id or "", template)
    return None


def _run_view(run: WorkflowRun) -> dict[str, Any]:
    first = run.actions[0] if run.actions else {}
    return {"workflow_id": run.workflow_id, "workflow_name": run.workflow_name, "record_type": run.record_type,
            "record_id": run.record_id, "cause": run.cause, "outcome": run.outcome, "at": run.at,
            "actions": [{"type": str(a.get("type", "?")), "result": str(a.get("result", ""))}
                        for a in run.actions[:10]],
            "event": run.event, "actor": run.actor, "on_behalf_of": run.on_behalf_of, "decision": run.decision,
            "reason": run.reason, "step": run.step, "forced": first.get("forced"),
            "approvers": list(first.get("approvers", []))[:10], "escalated_to": list(first.get("to", []))[:10]}


async def history_command(ctx: CommandContext, args: list[str]) -> Reply:
    """Show the latest workflow runs and approval events, of every workflow or of one."""
    workflow = await find_workflow(ctx.service, args[0]) if args else None
    async with ctx.service.db.read() as repo:
        runs = await repo.list_runs(RunFilter(workflow.id if workflow else None, limit=RUNS_SHOWN))
    pager = ctx.pager(len(runs), RUNS_PER_PAGE)
    return ctx.reply("commands_history.json.j2", runs=[_run_view(r) for r in pager.window(runs)],
                     pager=pager.view(), workflow=workflow_view(workflow) if workflow else None)


REMIND_USAGE = 'remind invoice ID ["SUBJECT" ["MESSAGE"]]'


async def remind_command(ctx: CommandContext, args: list[str]) -> Reply:
    """E-mail a payment reminder for an invoice now, with its own subject and message if given (quoted)."""
    if not 2 <= len(args) <= 4:
        return ctx.note("usage", usage=REMIND_USAGE)
    if args[0].lower() != "invoice":
        return ctx.note("remind_invoices_only", record_type=args[0])
    own = OwnText.parse(args[2] if len(args) > 2 else None, args[3] if len(args) > 3 else None)
    sent = await InvoiceReminders(ctx.service).send_now(args[1], actor=ctx.user, own=own)
    return ctx.note("reminded", invoice=sent["invoice_id"], to=", ".join(sent["to"]), subject=sent["subject"])


# the workflow modal (bot/slack/workflow_modal.py)


def new_workflow_modal(service: Signoff, template: CatalogTemplate | None) -> dict[str, Any]:
    """Render the workflow modal from a catalog template (or blank), without group or contact choices."""
    return workflow_modal.new_modal(service, template, workflow_modal.Choices(), datetime.now(UTC))


# listeners


def _page_request(body: dict[str, Any]) -> tuple[str, int] | None:
    value = json_object(action_value(body)) or {}
    name, args, page = value.get("c"), value.get("a"), value.get("p")
    if not isinstance(name, str) or not isinstance(args, str) or type(page) is not int or not 0 <= page < MAX_PAGE:
        return None
    return f"{name} {args}".strip(), page


class CommandListeners:
    """Bolt listeners of the `/signoff` command, its pagers and its menus."""

    def __init__(self, service: Signoff, commands: CommandRegistry) -> None:
        self.service = service
        self.commands = commands

    async def on_command(self, ack: AsyncAck, command: dict[str, Any]) -> None:
        """`/signoff …`: run the subcommand and answer in the acknowledgement."""
        user, line = text(mapping(command).get("user_id"), 64), mapping(command).get("text") or ""
        if user is None or not isinstance(line, str):
            await ack()
            return
        try:
            reply = await run_command(self.service, self.commands, user, line[:MAX_COMMAND_CHARS],
                                      channel=text(command.get("channel_id"), 64), trigger_id=trigger_id(command))
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
                                  channel=channel_id(body), trigger_id=trigger_id(body))
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
                                                     detail={"message": exc.message}))
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
        reply = await run_command(self.service, self.commands, user, f"workflow {choice}", trigger_id=trigger_id(body))
        if reply is not None:
            await respond(replace_original=False, response_type="ephemeral", **reply.message)


def register(app: AsyncApp, service: Signoff, commands: CommandRegistry) -> None:
    """Wire the `/signoff` command, its pagers and menus into the Bolt app."""
    listeners = CommandListeners(service, commands)
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
    command("workflows", workflows_command, admin=True, help_key="workflows"),
    command("workflow", workflow_command, admin=True, help_key="workflow", usage=WORKFLOW_USAGE),
    command("templates", templates_command, admin=True, help_key="templates", usage="templates [CATEGORY]"),
    command("new", new_command, admin=True, help_key="new", usage="new [TEMPLATE]"),
    command("history", history_command, admin=True, help_key="history", usage="history [ID]"),
    command("remind", remind_command, admin=True, help_key="remind", usage=REMIND_USAGE),
)
