"""Slack surface of rules and groups: the ⚡ pre-fill menu, and `/signoff group …` / `/signoff rule …` (admins only)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.core.rules import RuleResult, RulesService
from bot.core.service import Signoff
from bot.errors import Refused
from bot.slack.command_kit import CommandContext, Reply, command
from bot.slack.payload import (
    action_value,
    channel_id,
    first_action,
    json_object,
    mapping,
    private_metadata,
    selected_value,
    state_values,
    trigger_id,
    user_id,
)
from bot.slack.workflow_words import value_view
from engine.conditions import DAY_COUNT_OPS, ENUM_VALUES, OPS_BY_TYPE, TODAY_OPS, Op
from engine.errors import PrefillChoiceError, VoteRefusedError
from engine.facts import CONTACT_FIELD_TYPES, RECORD_FIELD_TYPES, field_type
from engine.rules import PREFILL_FIELDS, ChangePreview, Rule, RuleStatus

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
        self.rules = RulesService(service.deps)

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
    """Register the pre-fill menu listener, the rule buttons and modals, and the group ones."""
    app.action(PREFILL_ACTION)(PrefillChoiceListener(service).on_choice)
    register_rules(app, service)


# managing groups and rules from Slack: admins only (the REST API lets only admin tokens do it)


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
    service = RulesService(ctx.service.deps)
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


async def rule_command(ctx: CommandContext, args: list[str]) -> Reply:
    """Apply rules from YAML, publish, unpublish or delete a rule (admins only)."""
    refusal = refused(ctx)
    if refusal is not None:
        return refusal
    op = args[0].lower() if args else ""
    service = RulesService(ctx.service.deps)
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


# rules and groups in modals: shared pieces (admins only)

RULES_PER_PAGE = 10
MAX_FORM_ROWS = 8
LIST_OPS = frozenset({Op.IN, Op.NOT_IN})
NO_VALUE_OPS = frozenset({Op.IS_EMPTY, Op.IS_NOT_EMPTY}) | TODAY_OPS


def op_choices(kind: str) -> list[str]:
    """Return the operators a field of this type takes, in the order the pickers show them."""
    allowed = OPS_BY_TYPE.get(kind, OPS_BY_TYPE["any"])
    return [op.value for op in Op if op in allowed]


def value_input(kind: str, op: str | None) -> str:
    """Return the picker a condition's value needs: none, number, date, choice or text."""
    if op in NO_VALUE_OPS:
        return "none"
    if op in DAY_COUNT_OPS or (kind == "decimal" and op not in LIST_OPS and op != Op.BETWEEN):
        return "number"
    if kind == "date" and op not in LIST_OPS and op != Op.BETWEEN:
        return "date"
    if kind in ("enum", "bool") and op in (Op.EQ, Op.NE):
        return "choice"
    return "text"


@dataclass(frozen=True)
class FormRow:
    """One condition (or filter) row of a modal: field, operator and the value as typed."""

    field: str | None = None
    op: str | None = None
    value: str | None = None

    def view(self, index: int, kind: str, choices: Sequence[str]) -> dict[str, Any]:
        """Return what the row template needs: the typed picker and the operators of the field."""
        ops = op_choices(kind)
        op = self.op if self.op in ops else None
        shown = value_input(kind, op)
        return {"i": index, "field": self.field, "op": op, "ops": ops, "input": shown, "choices": list(choices),
                "initial": initial_value(shown, self.value, choices), "decimal": op not in DAY_COUNT_OPS}

    def condition(self, kind: str) -> dict[str, Any] | None:
        """Return the row as a `{field, op, value}` condition, or None when it is blank."""
        if not self.field and not self.op and not self.value:
            return None
        found: dict[str, Any] = {"field": self.field, "op": self.op}
        if self.op not in NO_VALUE_OPS:
            found["value"] = typed_value(kind, self.op, self.value)
        return found


def initial_value(shown: str, value: str | None, choices: Sequence[str]) -> str | None:
    """Return the value a typed picker can start from (None when it cannot show it)."""
    patterns = {"number": NUMBER, "date": DATE}
    if value is None or (shown in patterns and not patterns[shown].match(value)):
        return None
    return None if shown == "choice" and value not in choices else value[:2000]


NUMBER = re.compile(r"^-?\d{1,15}(\.\d{1,6})?$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def typed_value(kind: str, op: str | None, raw: str | None) -> Any:
    """Turn what was typed into the condition's value (lists split on commas, day counts as numbers)."""
    raw = (raw or "").strip()
    if op in LIST_OPS or op == Op.BETWEEN:
        return [part.strip() for part in raw.split(",") if part.strip()]
    if op in DAY_COUNT_OPS and raw.isdigit():
        return int(raw)
    if kind == "bool" and raw in ("true", "false"):
        return raw == "true"
    return raw


def row_from_condition(field: str, op: str, value: Any) -> FormRow:
    """Return a stored condition as a row to edit."""
    if isinstance(value, list):
        text_value = ", ".join(str(v) for v in value)
    elif isinstance(value, bool):
        text_value = "true" if value else "false"
    else:
        text_value = None if value is None else str(value)
    return FormRow(field, op, text_value)


def state_entry_value(entry: dict[str, Any]) -> str | None:
    """Return what one input holds: typed text, a picked option or date, or None."""
    if isinstance(entry.get("selected_option"), dict):
        picked = entry["selected_option"].get("value")
        return picked if isinstance(picked, str) else None
    for key in ("value", "selected_date"):
        if isinstance(entry.get(key), str):
            return str(entry[key])
    return None


def read_input(values: dict[str, Any], block_id: str) -> str | None:
    """Return the single value of an input block of a submitted (or clicked) modal."""
    entries = list(mapping(values.get(block_id)).values())
    return state_entry_value(mapping(entries[0])) if len(entries) == 1 else None


def read_rows(values: dict[str, Any], prefix: str, count: int) -> list[FormRow]:
    """Return the condition rows `PREFIX_field_I`, `PREFIX_op_I`, `PREFIX_value_I` of a modal."""
    return [FormRow(read_input(values, f"{prefix}_field_{i}"), read_input(values, f"{prefix}_op_{i}"),
                    read_input(values, f"{prefix}_value_{i}")) for i in range(count)]


def row_errors(details: Sequence[dict[str, Any]], prefix: str, fallback: str,
               word: Callable[[dict[str, Any]], str] | None = None) -> dict[str, str]:
    """Place the problems of `conditions[i].x` (or `filters[i].x`) paths on the rows' inputs, worded by `word`."""
    errors: dict[str, str] = {}
    for detail in details:
        path, message = detail.get("path", ""), word(detail) if word else detail.get("message", "")
        match = ROW_PATH.match(path)
        if match:
            part = {"field": "field", "op": "op"}.get(match.group(2) or "", "value")
            block = f"{prefix}_{part}_{match.group(1)}"
        else:
            block = fallback
        errors.setdefault(block, message[:150])
    return errors


ROW_PATH = re.compile(r"^[a-z_]+\[(\d+)\](?:\.(\w+))?")


def form_metadata(**values: Any) -> str:
    """Encode what a modal must remember (ids, row counts, page) in its private metadata."""
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def read_metadata(view: Any) -> dict[str, Any]:
    """Decode a modal's private metadata (an empty dict when it is missing or broken)."""
    return json_object(private_metadata(view)) or {}


def row_count(metadata: dict[str, Any], key: str, default: int = 1) -> int:
    """Return a row count kept in the metadata, within 1..MAX_FORM_ROWS."""
    count = metadata.get(key)
    return min(max(count, 1), MAX_FORM_ROWS) if type(count) is int else default


INITIAL_KEYS = (("initial_option", "selected_option"), ("initial_value", "value"), ("initial_date", "selected_date"),
                ("initial_options", "selected_options"))


def _shown_values(view: dict[str, Any]) -> dict[str, Any]:
    """Return what the view's inputs start from, as state entries."""
    shown: dict[str, Any] = {}
    for block in view.get("blocks") or []:
        element = mapping(mapping(block).get("element"))
        for initial, key in INITIAL_KEYS:
            if initial in element and isinstance(block.get("block_id"), str):
                shown[block["block_id"]] = {element.get("action_id"): {key: element[initial]}}
    return shown


def _is_set(entries: Any) -> bool:
    return any(v not in (None, [], "") for e in mapping(entries).values() for k, v in mapping(e).items() if k != "type")


def with_picked(body: dict[str, Any]) -> dict[str, Any]:
    """Return the clicked view's state: what it showed, what was typed since, and the option just picked."""
    view = dict(mapping(body.get("view")))
    values = _shown_values(view)
    values.update({k: v for k, v in mapping(mapping(view.get("state")).get("values")).items() if _is_set(v)})
    action = first_action(body)
    block, action_id = action.get("block_id"), action.get("action_id")
    if isinstance(block, str) and isinstance(action_id, str) and "selected_option" in action:
        values[block] = {action_id: {"type": "static_select", "selected_option": action["selected_option"]}}
    view["state"] = {"values": values}
    return view


async def update_view(service: Signoff, body: dict[str, Any], view: dict[str, Any]) -> None:
    """Replace the modal a click came from (its hash guards against a concurrent change)."""
    current = mapping(body.get("view"))
    view_hash = current.get("hash")
    await service.slack.update_view(str(current.get("id")), view, view_hash if isinstance(view_hash, str) else None)


def admin_refusal(service: Signoff, command: str) -> dict[str, Any]:
    """Return the usual "Only Signoff admins…" notice, as a message."""
    message: dict[str, Any] = service.renderer.json("commands_note.json.j2", code="admin_only",
                                                    detail={"command": command})
    return message


async def refuse_click(service: Signoff, body: dict[str, Any], respond: AsyncRespond, command: str) -> None:
    """Tell a non-admin who clicked a management button that only admins may; nothing changes."""
    if mapping(body.get("container")).get("type") == "view":
        user = user_id(body)
        if user:
            await service.slack.dm(user, admin_refusal(service, command))
        return
    await respond(replace_original=False, response_type="ephemeral", **admin_refusal(service, command))


def problem_text(service: Signoff, detail: dict[str, Any]) -> str:
    """Return a definition problem as a modal shows it, worded by its code (`rule_form_error.txt.j2`)."""
    return service.renderer.text("rule_form_error.txt.j2", code="invalid", problem=detail.get("code"),
                                 params=detail.get("params") or {}, message=detail.get("message", ""))[:150]


def form_error(service: Signoff, code: str) -> str:
    """Return the text of a modal error (`rule_form_error.txt.j2` knows every code)."""
    return service.renderer.text("rule_form_error.txt.j2", code=code)[:150]


async def dm_note(service: Signoff, user: str, code: str, **detail: Any) -> None:
    """Send the admin a short DM saying what a modal did."""
    await service.slack.dm(user, service.renderer.json("rules_note.json.j2", code=code, detail=detail))


# rules: the list, the modal, publishing with a preview, deleting with a confirmation

RULE_SAVE, RULE_STATUS, RULE_DELETE = "rule_save", "rule_status_confirm", "rule_delete_confirm"
RULE_FORM_ACTIONS = ("rule_form_field", "rule_form_op", "rule_form_add_condition", "rule_form_add_result")
PREVIEW_SHOWN = 20


def rule_view(rule: Rule) -> dict[str, Any]:
    """Return a rule as the list and the confirmations show it: status, conditions in words, results."""
    return {"id": rule.id, "name": rule.name, "status": rule.status.value,
            "conditions": [{"field": c.field, "op": c.op.value, "value": value_view(c.value)}
                           for c in rule.conditions[:10]],
            "more_conditions": max(0, len(rule.conditions) - 10),
            "results": [{"field": k, "value": value_view(v)} for k, v in list(rule.results.items())[:5]]}


def condition_fields() -> list[dict[str, Any]]:
    """Return the fields a condition may read, grouped: the document, its customer, its vendor."""
    contact = [name for name in CONTACT_FIELD_TYPES if name != "id"]
    return [{"group": "document", "fields": list(RECORD_FIELD_TYPES)},
            {"group": "customer", "fields": [f"customer.{n}" for n in contact]},
            {"group": "vendor", "fields": [f"vendor.{n}" for n in contact]}]


def field_choices(name: str | None) -> list[str]:
    """Return the values a field takes when it has a fixed list (types, statuses, yes/no)."""
    if name is None:
        return []
    if field_type(name) == "bool":
        return ["true", "false"]
    return list(ENUM_VALUES.get(name, ()))


def rule_rows_view(rows: Sequence[FormRow]) -> list[dict[str, Any]]:
    """Return condition rows typed by their field."""
    return [row.view(i, field_type(row.field or "") or "string", field_choices(row.field))
            for i, row in enumerate(rows)]


@dataclass(frozen=True)
class RuleForm:
    """What the rule modal holds: the rule edited (None for a new one), its name, conditions and results."""

    rule_id: str | None
    name: str | None
    rows: tuple[FormRow, ...]
    results: tuple[tuple[str | None, str | None], ...]

    @classmethod
    def of(cls, rule: Rule | None) -> RuleForm:
        """Return the form of a stored rule (with one blank row to add), or a blank one."""
        if rule is None:
            return cls(None, None, (FormRow(),), ((None, None),))
        rows = tuple(row_from_condition(c.field, c.op.value, c.value) for c in rule.conditions[:MAX_FORM_ROWS])
        results = tuple((k, str(v)) for k, v in list(rule.results.items())[:MAX_FORM_ROWS])
        return cls(rule.id, rule.name, rows, results)

    @classmethod
    def read(cls, view: Any) -> RuleForm:
        """Return the form as the admin left it in the modal."""
        meta, values = read_metadata(view), state_values(view) or {}
        rows = read_rows(values, "cond", row_count(meta, "c"))
        results = tuple((read_input(values, f"res_field_{i}"), read_input(values, f"res_value_{i}"))
                        for i in range(row_count(meta, "r")))
        rule_id = meta.get("id") if isinstance(meta.get("id"), str) else None
        return cls(rule_id, read_input(values, "name"), tuple(rows), results)

    def grown(self, action_id: str) -> RuleForm:
        """Return the form with one more condition or result row."""
        if action_id == "rule_form_add_condition" and len(self.rows) < MAX_FORM_ROWS:
            return RuleForm(self.rule_id, self.name, (*self.rows, FormRow()), self.results)
        if action_id == "rule_form_add_result" and len(self.results) < MAX_FORM_ROWS:
            return RuleForm(self.rule_id, self.name, self.rows, (*self.results, (None, None)))
        return self

    def definition(self) -> dict[str, Any]:
        """Return the rule definition the form describes (validated by the service)."""
        conditions = [c for row in self.rows if (c := row.condition(field_type(row.field or "") or "string"))]
        return {"name": (self.name or "").strip(), "conditions": conditions,
                "results": {f: (v or "").strip() for f, v in self.results if f}}

    def errors(self, details: Sequence[dict[str, Any]], word: Callable[[dict[str, Any]], str]) -> dict[str, str]:
        """Place a definition's problems on the modal's inputs, worded by `word`."""
        results = {f"results.{f}": f"res_value_{i}" for i, (f, _) in enumerate(self.results) if f}
        results["results"] = "res_field_0"
        errors = {}
        for detail in details:
            path = detail.get("path", "")
            block = results.get(path) or ("cond_field_0" if path == "conditions" else None)
            errors.update(row_errors([detail], "cond", "name", word) if block is None else {block: word(detail)[:150]})
        return errors


def rule_modal(service: Signoff, form: RuleForm) -> dict[str, Any]:
    """Render the modal that creates or edits a rule."""
    view: dict[str, Any] = service.renderer.json(
        "rule_modal.json.j2", is_new=form.rule_id is None, rule_name=form.name, rows=rule_rows_view(form.rows),
        fields=condition_fields(), results=[{"i": i, "field": f, "value": v} for i, (f, v) in enumerate(form.results)],
        result_fields=list(dict.fromkeys([*PREFILL_FIELDS, *(f for f, _ in form.results if f)])),
        can_add={"conditions": len(form.rows) < MAX_FORM_ROWS, "results": len(form.results) < MAX_FORM_ROWS},
        metadata=form_metadata(id=form.rule_id, c=len(form.rows), r=len(form.results)))
    return view


def preview_view(preview: ChangePreview) -> dict[str, Any]:
    """Return the documents a change would touch, as the confirmations list them."""
    return {"count": preview.count, "more": max(0, preview.count - PREVIEW_SHOWN),
            "records": [{"type": t, "id": i} for t, i in preview.records[:PREVIEW_SHOWN]]}


async def rules_command(ctx: CommandContext, args: list[str]) -> Reply:
    """List the pre-fill rules: status, conditions in words, results, with buttons to change them."""
    rules = await RulesService(ctx.service.deps).list_rules()
    pager = ctx.pager(len(rules), RULES_PER_PAGE)
    return ctx.reply("commands_rules.json.j2", rules=[rule_view(r) for r in pager.window(rules)], pager=pager.view())


class RuleListeners:
    """Buttons of `/signoff rules` and the rule modals; every change is for admins only."""

    def __init__(self, service: Signoff) -> None:
        self.service = service
        self.rules = RulesService(service.deps)

    async def _admin_click(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> str | None:
        await ack()
        if self.service.is_admin(user_id(body)) and trigger_id(body):
            return action_value(body) or ""
        await refuse_click(self.service, body, respond, "rules")
        return None

    async def on_new(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """New rule: open an empty rule modal."""
        if await self._admin_click(ack, body, respond) is not None:
            await self.service.slack.open_view(trigger_id(body) or "", rule_modal(self.service, RuleForm.of(None)))

    async def on_edit(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """Edit: open the rule modal filled with the rule."""
        rule_id = await self._admin_click(ack, body, respond)
        if rule_id:
            rule = await self.rules.get_rule(rule_id)
            await self.service.slack.open_view(trigger_id(body) or "", rule_modal(self.service, RuleForm.of(rule)))

    async def on_status(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """Publish / Unpublish: show how many not-yet-approved documents will change, and ask to confirm."""
        rule_id = await self._admin_click(ack, body, respond)
        if rule_id:
            status = RuleStatus.PUBLISHED if first_action(body).get("action_id") == "rule_publish" else RuleStatus.DRAFT
            await self._confirm(body, rule_id, status, RULE_STATUS)

    async def on_delete(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """Delete: show what deleting undoes, and ask to confirm."""
        rule_id = await self._admin_click(ack, body, respond)
        if rule_id:
            await self._confirm(body, rule_id, RuleStatus.DRAFT, RULE_DELETE)

    async def _confirm(self, body: dict[str, Any], rule_id: str, status: RuleStatus, callback: str) -> None:
        rule, preview = await self.rules.preview_status(rule_id, status)
        view = self.service.renderer.json("rule_confirm.json.j2", callback=callback, status=status.value,
                                          rule=rule_view(rule), preview=preview_view(preview),
                                          metadata=form_metadata(id=rule.id, s=status.value))
        await self.service.slack.open_view(trigger_id(body) or "", view)

    async def on_form_change(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """A field or operator was picked, or a row added: redraw the modal with pickers typed by field."""
        await ack()
        if not self.service.is_admin(user_id(body)):
            return
        form = RuleForm.read(with_picked(body)).grown(str(first_action(body).get("action_id")))
        await update_view(self.service, body, rule_modal(self.service, form))

    async def on_save(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        """The rule modal was submitted: create (as a draft) or change the rule, or show what is wrong where."""
        user = user_id(body)
        if user is None or not self.service.is_admin(user):
            await ack(response_action="errors", errors={"name": form_error(self.service, "admin_only")})
            return
        form = RuleForm.read(view)
        try:
            result = await self._save(form, user)
        except Refused as exc:
            details = exc.details or [{"path": "name", "message": exc.message}]
            await ack(response_action="errors", errors=form.errors(details, lambda d: problem_text(self.service, d)))
            return
        await ack()
        name = result.rule.name if result.rule else ""
        await dm_note(self.service, user, "rule_saved", name=name, changed=result.records_changed)

    async def _save(self, form: RuleForm, user: str) -> RuleResult:
        data = form.definition()
        if form.rule_id is None:
            return await self.rules.create_rule(data, user)
        old = await self.rules.get_rule(form.rule_id)
        return await self.rules.update_rule(old.id, {**old.definition().model_dump(mode="json"), **data}, user)

    async def on_confirm(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        """A publish, unpublish or delete confirmation was submitted: do it and say how many documents changed."""
        await ack()
        user, meta = user_id(body), read_metadata(view)
        rule_id, status = meta.get("id"), meta.get("s")
        if user is None or not isinstance(rule_id, str) or status not in ("draft", "published"):
            return
        if not self.service.is_admin(user):
            await self.service.slack.dm(user, admin_refusal(self.service, "rules"))
            return
        try:
            await self._apply(view.get("callback_id"), rule_id, RuleStatus(status), user)
        except Refused as exc:
            await self.service.slack.dm(user, self.service.renderer.json(
                "commands_note.json.j2", code="failed", detail={"message": exc.message, "details": exc.details[:5]}))

    async def _apply(self, callback: Any, rule_id: str, status: RuleStatus, user: str) -> None:
        if callback == RULE_DELETE:
            name = (await self.rules.get_rule(rule_id)).name
            result = await self.rules.delete_rule(rule_id, user)
            code = "rule_deleted"
        else:
            result = await self.rules.set_status(rule_id, status, user)
            code = "rule_published" if status is RuleStatus.PUBLISHED else "rule_unpublished"
            name = result.rule.name if result.rule else rule_id
        await dm_note(self.service, user, code, name=name, changed=result.records_changed)


def register_rules(app: AsyncApp, service: Signoff) -> None:
    """Wire the rule buttons and modals into the Bolt app."""
    listeners = RuleListeners(service)
    app.action("rule_new")(listeners.on_new)
    app.action("rule_edit")(listeners.on_edit)
    for action_id in ("rule_publish", "rule_unpublish"):
        app.action(action_id)(listeners.on_status)
    app.action("rule_delete")(listeners.on_delete)
    for action_id in RULE_FORM_ACTIONS:
        app.action(action_id)(listeners.on_form_change)
    app.view(RULE_SAVE)(listeners.on_save)
    for callback in (RULE_STATUS, RULE_DELETE):
        app.view(callback)(listeners.on_confirm)



SUBCOMMANDS = (
    command("group", group_command, admin=True, usage=GROUP_USAGE,
            help_key="create a group, add or remove its members, delete it"),
    command("rule", rule_command, admin=True, usage=RULE_USAGE,
            help_key="create or change pre-fill rules from YAML, publish, unpublish or delete one"),
    command("rules", rules_command, admin=True, help_key="rules"),
)
