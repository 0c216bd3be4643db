"""`/signoff group …` and `/signoff rule …`: admins (only) manage groups and pre-fill rules by text."""

from __future__ import annotations

from typing import Any

from bot.slack.command_kit import CommandContext, Reply, command, parse_person
from engine.rules import RuleStatus

GROUP_USAGE = ("group create NAME customer|vendor|people [MEMBER …] | group add|remove NAME MEMBER … | "
               "group delete NAME")
RULE_USAGE = "rule apply YAML | rule publish|unpublish|delete ID"
GROUP_KINDS = ("customer", "vendor", "people")


def refused(ctx: CommandContext) -> Reply | None:
    """Return the clear refusal a non-admin gets (nothing changes), or None for an admin."""
    return None if ctx.is_admin else ctx.note("admin_only", command=ctx.name)


def rules_note(ctx: CommandContext, code: str, **detail: Any) -> Reply:
    """Answer a group or rule command with one short notice."""
    return ctx.reply("rules_note.json.j2", code=code, detail=detail)


async def group_command(ctx: CommandContext, args: list[str]) -> Reply:
    """Create a group, change its members by hand, or delete it (admins only)."""
    refusal = refused(ctx)
    if refusal is not None:
        return refusal
    op, rest = (args[0].lower(), args[1:]) if args else ("", [])
    service = ctx.service.groups
    if op == "create" and len(rest) >= 2 and rest[1].lower() in GROUP_KINDS:
        group, membership = await service.create_group(
            {"name": rest[0], "kind": rest[1].lower(), "members": [parse_person(m) for m in rest[2:]]}, ctx.user)
        return rules_note(ctx, "group_created", name=group.name, id=group.id, members=len(membership.members()))
    if op in ("add", "remove") and len(rest) >= 2:
        named = [parse_person(m) for m in rest[1:]]
        add, remove = (named, []) if op == "add" else ([], named)
        group, membership = await service.change_members(rest[0], add, remove, ctx.user)
        return rules_note(ctx, "group_changed", name=group.name, members=len(membership.members()))
    if op == "delete" and len(rest) == 1:
        group, _ = await service.get_group(rest[0])
        await service.delete_group(group.id, ctx.user)
        return rules_note(ctx, "group_deleted", name=group.name, id=group.id)
    return ctx.note("usage", usage=GROUP_USAGE)


async def rule_command(ctx: CommandContext, args: list[str]) -> Reply:
    """Apply rules from YAML, publish, unpublish or delete a rule (admins only)."""
    refusal = refused(ctx)
    if refusal is not None:
        return refusal
    op = args[0].lower() if args else ""
    service = ctx.service.rules
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



SUBCOMMANDS = (
    command("group", group_command, admin=True, usage=GROUP_USAGE,
            help_key="create a group, add or remove its members, delete it"),
    command("rule", rule_command, admin=True, usage=RULE_USAGE,
            help_key="create or change pre-fill rules from YAML, publish, unpublish or delete one"),
)
