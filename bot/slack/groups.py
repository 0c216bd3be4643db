"""`/signoff groups`: the list with member counts, its buttons, and the group modals' listeners (admins only)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.core.service import Signoff
from bot.errors import Refused
from bot.slack.admin_forms import (
    admin_refusal,
    dm_note,
    form_error,
    read_input,
    read_metadata,
    refuse_click,
    row_errors,
    update_view,
    with_picked,
)
from bot.slack.command_kit import CommandContext, Reply, command, dm_failed
from bot.slack.group_modals import (
    GroupForm,
    add_block,
    checked_members,
    delete_modal,
    email_modal,
    group_modal,
    group_view,
    members_modal,
    typed_members,
)
from bot.slack.payload import action_value, first_action, mapping, state_values, trigger_id, user_id

GROUPS_PER_PAGE = 10
GROUP_SAVE, GROUP_MEMBERS, GROUP_EMAIL, GROUP_DELETE = "group_save", "group_members", "group_email", "group_delete"
GROUP_FORM_ACTIONS = ("group_form_field", "group_form_op", "group_form_add_filter")


async def groups_command(ctx: CommandContext, args: list[str]) -> Reply:
    """List customer, vendor and people groups with their size, with buttons to manage them."""
    groups = await ctx.service.groups.list_groups()
    pager = ctx.pager(len(groups), GROUPS_PER_PAGE)
    shown = [group_view(g, m) for g, m in pager.window(groups)]
    return ctx.reply("commands_groups.json.j2", groups=shown, pager=pager.view())


class GroupListeners:
    """Buttons of `/signoff groups` and the group modals; every change is for admins only."""

    def __init__(self, service: Signoff) -> None:
        self.service = service
        self.groups = service.groups

    async def _admin_click(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> str | None:
        await ack()
        if self.service.is_admin(user_id(body)) and trigger_id(body):
            return action_value(body) or ""
        await refuse_click(self.service, body, respond, "groups")
        return None

    async def _open(self, body: dict[str, Any], view: dict[str, Any]) -> None:
        await self.service.slack.open_view(trigger_id(body) or "", view)

    async def on_new(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """New group: open an empty group modal."""
        if await self._admin_click(ack, body, respond) is not None:
            await self._open(body, group_modal(self.service, GroupForm.of(None)))

    async def on_edit(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """Edit: open the group modal with its filters and auto-update switch."""
        ref = await self._admin_click(ack, body, respond)
        if ref:
            group, _ = await self.groups.get_group(ref)
            await self._open(body, group_modal(self.service, GroupForm.of(group)))

    async def on_members(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """Members: open the first page of members."""
        ref = await self._admin_click(ack, body, respond)
        if ref:
            await self._open(body, await members_modal(self.service, ref, 0))

    async def on_email(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """E-mail: open the e-mail modal with every member ticked."""
        ref = await self._admin_click(ack, body, respond)
        if ref:
            await self._open(body, await email_modal(self.service, ref))

    async def on_delete(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """Delete: ask to confirm, or say what uses the group."""
        ref = await self._admin_click(ack, body, respond)
        if ref:
            await self._open(body, await delete_modal(self.service, ref))

    async def on_form_change(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """A filter field or operator was picked, or a row added: redraw the group modal."""
        await ack()
        if self.service.is_admin(user_id(body)):
            form = GroupForm.read(with_picked(body)).grown(str(first_action(body).get("action_id")))
            await update_view(self.service, body, group_modal(self.service, form))

    async def on_kind(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Members are…: a new group's kind was picked; people groups have no filters, so redraw the modal."""
        if mapping(body.get("view")).get("callback_id") != GROUP_SAVE:
            await ack()
            return
        await self.on_form_change(ack, body)

    async def on_member_click(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """Remove a member by hand, or turn the page of the members modal."""
        await ack()
        meta, action = read_metadata(body.get("view")), first_action(body)
        ref, page = meta.get("id"), meta.get("p") if type(meta.get("p")) is int else 0
        user, value = user_id(body), action_value(body)
        if not isinstance(ref, str) or user is None or value is None:
            return
        if not self.service.is_admin(user):
            await refuse_click(self.service, body, respond, "groups")
            return
        if action.get("action_id") == "group_member_remove":
            await self._change(ref, [], [value], user)
        else:
            page = int(value) if value.isdigit() else 0
        rounds = v if isinstance(v := meta.get("v"), int) else 0
        await update_view(self.service, body, await members_modal(self.service, ref, page, rounds))

    async def _change(self, ref: str, add: list[str], remove: list[str], user: str) -> str | None:
        try:
            await self.groups.change_members(ref, add, remove, user)
        except Refused as exc:
            return exc.message[:150]
        return None

    async def on_submit(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        """A group modal was submitted: save, add members, e-mail or delete (admins only)."""
        user, callback = user_id(body), view.get("callback_id")
        if user is None or not self.service.is_admin(user):
            await self._refuse_submit(ack, view, user)
            return
        handler = {GROUP_SAVE: self._save, GROUP_MEMBERS: self._add, GROUP_EMAIL: self._email,
                   GROUP_DELETE: self._delete}.get(str(callback))
        if handler is not None:
            await handler(ack, view, user)

    async def _refuse_submit(self, ack: AsyncAck, view: dict[str, Any], user: str | None) -> None:
        first_input = next((b["block_id"] for b in view.get("blocks", []) if b.get("type") == "input"), None)
        if first_input:
            await ack(response_action="errors", errors={first_input: form_error(self.service, "admin_only")})
            return
        await ack()
        if user:
            await self.service.slack.dm(user, admin_refusal(self.service, "groups"))

    async def _save(self, ack: AsyncAck, view: dict[str, Any], user: str) -> None:
        form = GroupForm.read(view)
        try:
            if form.group_id is None:
                group, membership = await self.groups.create_group(form.definition(), user)
            else:
                group, membership = await self.groups.update_group(form.group_id, form.definition(), user)
        except Refused as exc:
            details = exc.details or [{"path": "name", "message": exc.message}]
            await ack(response_action="errors", errors=row_errors(details, "flt", "name"))
            return
        await ack()
        await self.service.slack.dm(user, self.service.renderer.json("group_saved.json.j2",
                                                                     group=group_view(group, membership)))

    async def _add(self, ack: AsyncAck, view: dict[str, Any], user: str) -> None:
        meta, added = read_metadata(view), typed_members(state_values(view) or {})
        ref, rounds = meta.get("id"), v if isinstance(v := meta.get("v"), int) else 0
        if not isinstance(ref, str):
            await ack()
            return
        problem = form_error(self.service, "no_member") if not added else await self._change(ref, added, [], user)
        if problem:
            await ack(response_action="errors", errors={add_block(rounds): problem})
            return
        await ack(response_action="update", view=await members_modal(self.service, ref, 0, rounds + 1))

    async def _email(self, ack: AsyncAck, view: dict[str, Any], user: str) -> None:
        values, ref = state_values(view) or {}, read_metadata(view).get("id")
        chosen = checked_members(values)
        if not chosen or not isinstance(ref, str):
            await ack(response_action="errors", errors={"subject": form_error(self.service, "no_recipient")})
            return
        try:
            sent = await self.groups.email_group(ref, read_input(values, "subject"), read_input(values, "message"),
                                                 user, to=chosen)
        except Refused as exc:
            errors = {d.get("path", "subject"): d.get("message", "")[:150] for d in exc.details}
            await ack(response_action="errors",
                      errors={k if k in ("subject", "message") else "subject": v for k, v in errors.items()}
                      or {"subject": exc.message[:150]})
            return
        await ack()
        group, _ = await self.groups.get_group(ref)
        await dm_note(self.service, user, "group_emailed", name=group.name, queued=sent["queued"],
                      skipped=len(sent["skipped"]))

    async def _delete(self, ack: AsyncAck, view: dict[str, Any], user: str) -> None:
        await ack()
        ref = read_metadata(view).get("id")
        if not isinstance(ref, str):
            return
        try:
            group, _ = await self.groups.get_group(ref)
            await self.groups.delete_group(ref, user)
        except Refused as exc:
            await dm_failed(self.service, user, exc)
            return
        await dm_note(self.service, user, "group_deleted", name=group.name, id=group.id)


def register(app: AsyncApp, service: Signoff) -> None:
    """Wire the group buttons and modals into the Bolt app."""
    listeners = GroupListeners(service)
    for action_id, handler in (("group_new", listeners.on_new), ("group_edit", listeners.on_edit),
                               ("group_members", listeners.on_members), ("group_email", listeners.on_email),
                               ("group_delete", listeners.on_delete)):
        app.action(action_id)(handler)
    for action_id in GROUP_FORM_ACTIONS:
        app.action(action_id)(listeners.on_form_change)
    app.action({"block_id": "kind", "action_id": "kind"})(listeners.on_kind)
    for action_id in ("group_member_remove", "group_members_page"):
        app.action(action_id)(listeners.on_member_click)
    for callback in (GROUP_SAVE, GROUP_MEMBERS, GROUP_EMAIL, GROUP_DELETE):
        app.view(callback)(listeners.on_submit)


SUBCOMMANDS = (
    command("groups", groups_command, admin=True, help_key="groups"),
)

