"""Slack surface of rules and groups: the ⚡ pre-fill menu, and `/signoff group …` / `/signoff rule …` (admins only)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.commands import CommandContext, Reply, subcommand
from bot.rules_service import RulesService
from bot.service import Signoff
from bot.slack_payload import channel_id, first_action, selected_value, user_id
from engine.errors import PrefillChoiceError, VoteRefusedError
from engine.rules import RuleStatus

log = logging.getLogger(__name__)

PREFILL_ACTION = "prefill_choice"
BLOCK_PREFIX = "prefill"
GROUP_USAGE = ("group create NAME customer|vendor|people [MEMBER …] | group add|remove NAME MEMBER … | "
               "group delete NAME")
RULE_USAGE = "rule apply YAML | rule publish|unpublish|delete ID"
GROUP_KINDS = ("customer", "vendor", "people")


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

    async def refuse(self, body: dict[str, Any], user: str, code: str, detail: str = "") -> None:
        """Tell the user, and only them, why nothing changed."""
        text = self.service.renderer.text("refusal.txt.j2", code=code, detail=detail)
        channel = channel_id(body)
        if channel:
            await self.service.slack.ephemeral(channel, user, text)
        else:
            await self.service.slack.dm(user, {"text": text})

    async def on_choice(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Apply the picked value, or refuse it (not an approver, value no longer offered)."""
        await ack()
        user = user_id(body)
        if user is None:
            return
        block_id = first_action(body).get("block_id")
        target = parse_block_id(block_id) if isinstance(block_id, str) else None
        option = selected_value(body)
        if target is None or option is None:
            await self.refuse(body, user, "not_found")
            return
        try:
            await self.rules.choose(target[0], target[1], option, user)
        except (VoteRefusedError, PrefillChoiceError) as exc:
            await self.refuse(body, user, exc.code, str(exc))


def register(app: AsyncApp, service: Signoff) -> None:
    """Register the pre-fill menu listener on the Bolt app."""
    app.action(PREFILL_ACTION)(PrefillChoiceListener(service).on_choice)


# managing groups and rules from Slack: admins only (the REST API lets only admin tokens do it)


def refused(ctx: CommandContext) -> Reply | None:
    """Return the clear refusal a non-admin gets (nothing changes), or None for an admin."""
    return None if ctx.is_admin else ctx.note("admin_only", command=ctx.name)


def rules_note(ctx: CommandContext, code: str, **detail: Any) -> Reply:
    """Answer a group or rule command with one short notice."""
    return ctx.reply("rules_note.json.j2", code=code, detail=detail)


@subcommand("group", admin=True, help_key="create a group, add or remove its members, delete it", usage=GROUP_USAGE)
async def group_command(ctx: CommandContext, args: list[str]) -> Reply:
    """Create a group, change its members by hand, or delete it (admins only)."""
    refusal = refused(ctx)
    if refusal is not None:
        return refusal
    op, rest = (args[0].lower(), args[1:]) if args else ("", [])
    service = RulesService(ctx.service)
    if op == "create" and len(rest) >= 2 and rest[1].lower() in GROUP_KINDS:
        group, membership = await service.create_group(
            {"name": rest[0], "kind": rest[1].lower(), "members": rest[2:]}, ctx.user)
        return rules_note(ctx, "group_created", name=group.name, id=group.id, members=len(membership.members()))
    if op in ("add", "remove") and len(rest) >= 2:
        add, remove = (rest[1:], []) if op == "add" else ([], rest[1:])
        group, membership = await service.change_members(rest[0], add, remove, ctx.user)
        return rules_note(ctx, "group_changed", name=group.name, members=len(membership.members()))
    if op == "delete" and len(rest) == 1:
        group, _ = await service.get_group(rest[0])
        await service.delete_group(group.id, ctx.user)
        return rules_note(ctx, "group_deleted", name=group.name, id=group.id)
    return ctx.note("usage", usage=GROUP_USAGE)


@subcommand("rule", admin=True, help_key="create or change pre-fill rules from YAML, publish, unpublish or delete one",
            usage=RULE_USAGE)
async def rule_command(ctx: CommandContext, args: list[str]) -> Reply:
    """Apply rules from YAML, publish, unpublish or delete a rule (admins only)."""
    refusal = refused(ctx)
    if refusal is not None:
        return refusal
    op = args[0].lower() if args else ""
    service = RulesService(ctx.service)
    if op == "apply" and len(args) > 1:
        results = await service.apply_yaml(ctx.args_text.partition(" ")[2].strip().strip("`"), ctx.user)
        return rules_note(ctx, "rules_applied", names=[r.rule.name for r in results if r.rule],
                          changed=sum(r.records_changed for r in results))
    if op in ("publish", "unpublish") and len(args) == 2:
        status = RuleStatus.PUBLISHED if op == "publish" else RuleStatus.DRAFT
        result = await service.set_status(args[1], status, ctx.user)
        return rules_note(ctx, f"rule_{op}ed", name=result.rule.name if result.rule else args[1],
                          changed=result.records_changed)
    if op == "delete" and len(args) == 2:
        result = await service.delete_rule(args[1], ctx.user)
        return rules_note(ctx, "rule_deleted", name=result.rule.name if result.rule else args[1],
                          changed=result.records_changed)
    return ctx.note("usage", usage=RULE_USAGE)
