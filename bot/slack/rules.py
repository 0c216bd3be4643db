"""`/signoff rules`: the list of pre-fill rules, its buttons, and the rule modals' listeners (admins only)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.core.rules import RuleResult
from bot.core.service import Signoff
from bot.errors import Refused
from bot.slack.admin_forms import (
    admin_refusal,
    dm_note,
    form_error,
    form_metadata,
    problem_text,
    read_metadata,
    refuse_click,
    update_view,
    with_picked,
)
from bot.slack.command_kit import CommandContext, Reply, command, dm_failed
from bot.slack.payload import action_value, first_action, trigger_id, user_id
from bot.slack.rule_modal import RuleForm, preview_view, rule_modal, rule_view
from engine.rules import RuleStatus

RULES_PER_PAGE = 10
RULE_SAVE, RULE_STATUS, RULE_DELETE = "rule_save", "rule_status_confirm", "rule_delete_confirm"
RULE_FORM_ACTIONS = ("rule_form_field", "rule_form_op", "rule_form_add_condition", "rule_form_add_result")


async def rules_command(ctx: CommandContext, args: list[str]) -> Reply:
    """List the pre-fill rules: status, conditions in words, results, with buttons to change them."""
    rules = await ctx.service.rules.list_rules()
    pager = ctx.pager(len(rules), RULES_PER_PAGE)
    return ctx.reply("commands_rules.json.j2", rules=[rule_view(r) for r in pager.window(rules)], pager=pager.view())


class RuleListeners:
    """Buttons of `/signoff rules` and the rule modals; every change is for admins only."""

    def __init__(self, service: Signoff) -> None:
        self.service = service
        self.rules = service.rules

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
            await dm_failed(self.service, user, exc)

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


def register(app: AsyncApp, service: Signoff) -> None:
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
    command("rules", rules_command, admin=True, help_key="rules"),
)
