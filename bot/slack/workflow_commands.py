"""The workflow subcommands of `/signoff`: list, show, edit, enable, copy, delete, templates, new, history, remind."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from bot.core.reminders import InvoiceReminders, OwnText
from bot.core.service import Signoff
from bot.errors import NotFound
from bot.slack import workflow_modal
from bot.slack.command_kit import CommandContext, Reply, command, is_well_quoted
from bot.slack.workflow_words import with_previews, workflow_view
from engine.catalog import CatalogTemplate, catalog, find_template
from engine.records import RecordType
from engine.workflows import Workflow
from messages.catalog_text import localized
from storage.models import RunFilter, WorkflowRun

WORKFLOWS_PER_PAGE = 10
MIN_PREFIX_CHARS = 4


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
        raise NotFound.no("workflow", ref)
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
    categories = sorted({t.category for t in catalog()})
    if args and args[0].lower() not in categories:
        return ctx.note("unknown_category", category=args[0], categories=categories)
    entries = [t for t in catalog() if not args or t.category == args[0].lower()]
    pager = ctx.pager(len(entries), TEMPLATES_PER_PAGE)
    shown = [template_view(localized(t, ctx.service.settings.locale)) for t in pager.window(entries)]
    return ctx.reply("commands_templates.json.j2", templates=shown, pager=pager.view(), categories=categories)


async def new_command(ctx: CommandContext, args: list[str]) -> Reply | None:
    """Open the workflow modal, blank or pre-filled from a catalog template."""
    if len(args) > 1:
        return ctx.note("usage", usage="new [TEMPLATE]")
    template = find_template(args[0].lower()) if args else None
    if args and template is None:
        return ctx.note("not_found", kind="template", ref=args[0])
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
            "approvers": list(first.get("approvers", []))[:10], "escalated_to": list(first.get("to", []))[:10],
            "channels": list(first.get("channels", []))[:10], "count": first.get("count", 0),
            "governed_by_name": str(first.get("governed_by_name", "")), "seat": str(first.get("seat", "")),
            "why": str(first.get("why", "")), "min_approvers": first.get("min_approvers", 0),
            "left_out": list(first.get("left_out", []))[:10], "stand_ins": list(first.get("stand_ins", []))[:10],
            "min_approvers_asked": first.get("min_approvers_asked", 0)}


async def history_command(ctx: CommandContext, args: list[str]) -> Reply:
    """Show the latest workflow runs and approval events, of every workflow or of one."""
    workflow = await find_workflow(ctx.service, " ".join(args)) if args else None
    async with ctx.service.db.read() as repo:
        runs = await repo.list_runs(RunFilter(workflow.id if workflow else None, limit=RUNS_SHOWN))
    pager = ctx.pager(len(runs), RUNS_PER_PAGE)
    return ctx.reply("commands_history.json.j2", runs=[_run_view(r) for r in pager.window(runs)],
                     pager=pager.view(), workflow=workflow_view(workflow) if workflow else None)


RECORD_TYPES = frozenset(t.value for t in RecordType)
REMIND_USAGE = 'remind TYPE ID | remind invoice ID ["SUBJECT" ["MESSAGE"]]'


async def remind_command(ctx: CommandContext, args: list[str]) -> Reply:
    """Remind the approvers of a document waiting for approval now; for an invoice that is not, e-mail its customer a
    payment reminder now, with its own subject and message if given (quoted)."""
    if not 2 <= len(args) <= 4 or not is_well_quoted(ctx.args_text):  # an unclosed quote never reaches a customer
        return ctx.note("usage", usage=REMIND_USAGE)
    record_type = args[0].lower()
    if record_type not in RECORD_TYPES:
        return ctx.note("unknown_type", record_type=args[0], types=sorted(RECORD_TYPES))
    async with ctx.service.db.read() as repo:
        is_stored = await repo.get_record(record_type, args[1]) is not None
        is_waiting = await repo.open_request_for(record_type, args[1]) is not None
    if not is_stored:
        return ctx.note("not_found", kind=record_type, ref=args[1])
    if is_waiting and len(args) == 2:
        sent = await ctx.service.approver_reminders.remind_now(record_type, args[1], ctx.user)
        return ctx.note("reminded_approvers", record_type=record_type, record_id=args[1], approvers=sent["to"])
    if record_type != RecordType.INVOICE.value:
        return ctx.note("remind_nothing_waiting", record_type=record_type, record_id=args[1])
    own = OwnText.parse(args[2] if len(args) > 2 else None, args[3] if len(args) > 3 else None)
    sent = await InvoiceReminders(ctx.service).send_now(args[1], actor=ctx.user, own=own)
    return ctx.note("reminded", invoice=sent["invoice_id"], to=", ".join(sent["to"]), subject=sent["subject"])


# the workflow modal (bot/slack/workflow_modal.py)


def new_workflow_modal(service: Signoff, template: CatalogTemplate | None) -> dict[str, Any]:
    """Render the workflow modal from a catalog template (or blank), without group or contact choices."""
    return workflow_modal.new_modal(service, template, workflow_modal.Choices(), datetime.now(UTC))


SUBCOMMANDS = (
    command("workflows", workflows_command, admin=True, help_key="workflows"),
    command("workflow", workflow_command, admin=True, help_key="workflow", usage=WORKFLOW_USAGE),
    command("templates", templates_command, admin=True, help_key="templates", usage="templates [CATEGORY]"),
    command("new", new_command, admin=True, help_key="new", usage="new [TEMPLATE]"),
    command("history", history_command, admin=True, help_key="history", usage="history [NAME-OR-ID]"),
    command("remind", remind_command, admin=True, help_key="remind", usage=REMIND_USAGE),
)
