"""Groups in Slack: the list with member counts, members, filters, e-mail and delete (changes are for admins)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.core.rules import RulesService, group_users
from bot.core.service import Signoff
from bot.errors import Refused
from bot.slack.command_kit import CommandContext, Reply, command
from bot.slack.payload import action_value, first_action, mapping, state_values, trigger_id, user_id
from bot.slack.rules import (
    MAX_FORM_ROWS,
    FormRow,
    admin_refusal,
    dm_note,
    form_error,
    form_metadata,
    read_input,
    read_metadata,
    read_rows,
    refuse_click,
    row_count,
    row_errors,
    row_from_condition,
    update_view,
    with_picked,
)
from engine.conditions import Op
from engine.facts import CONTACT_FIELD_TYPES
from engine.groups import Group, GroupKind, Membership

GROUPS_PER_PAGE = 10
MEMBERS_PER_PAGE = 20
EMAIL_CHOICES = 100
CHECKBOXES_PER_BLOCK = 10
GROUP_SAVE, GROUP_MEMBERS, GROUP_EMAIL, GROUP_DELETE = "group_save", "group_members", "group_email", "group_delete"
GROUP_FORM_ACTIONS = ("group_form_field", "group_form_op", "group_form_add_filter")


def group_view(group: Group, membership: Membership) -> dict[str, Any]:
    """Return a group as the list shows it: kind, member count, filters and the auto-update switch."""
    return {"id": group.id, "name": group.name, "kind": group.kind.value, "description": group.description,
            "members": len(membership.members()), "filters": len(group.filters), "auto_update": group.auto_update}


async def groups_command(ctx: CommandContext, args: list[str]) -> Reply:
    """List customer, vendor and people groups with their size, with buttons to manage them."""
    groups = await RulesService(ctx.service.deps).list_groups()
    pager = ctx.pager(len(groups), GROUPS_PER_PAGE)
    shown = [group_view(g, m) for g, m in pager.window(groups)]
    return ctx.reply("commands_groups.json.j2", groups=shown, pager=pager.view())


# the group modal: name, kind, filters, auto-update


def filter_rows_view(rows: Sequence[FormRow]) -> list[dict[str, Any]]:
    """Return filter rows typed by their contact field (a group's own filters cannot use in_group)."""
    views = []
    for i, row in enumerate(rows):
        kind = CONTACT_FIELD_TYPES.get(row.field or "", "any" if (row.field or "").startswith("fields.") else "string")
        view = row.view(i, kind, ["true", "false"] if kind == "bool" else [])
        view["ops"] = [op for op in view["ops"] if op != Op.IN_GROUP]
        views.append(view)
    return views


def filter_kind(field: str | None) -> str:
    """Return the type of a contact field a filter reads."""
    return CONTACT_FIELD_TYPES.get(field or "", "string")


@dataclass(frozen=True)
class GroupForm:
    """What the group modal holds."""

    group_id: str | None
    name: str | None
    kind: str | None
    description: str | None
    auto_update: bool
    rows: tuple[FormRow, ...]

    @classmethod
    def of(cls, group: Group | None) -> GroupForm:
        """Return the form of a stored group (with a blank filter row), or a blank one."""
        if group is None:
            return cls(None, None, None, None, True, (FormRow(),))
        rows = tuple(row_from_condition(f.field, f.op.value, f.value) for f in group.filters[:MAX_FORM_ROWS])
        return cls(group.id, group.name, group.kind.value, group.description, group.auto_update,
                   (*rows, FormRow())[:MAX_FORM_ROWS])

    @classmethod
    def read(cls, view: Any) -> GroupForm:
        """Return the form as the admin left it."""
        meta, values = read_metadata(view), state_values(view) or {}
        auto = mapping(values.get("auto_update")).get("auto_update")
        picked = mapping(auto).get("selected_options")
        group_id = meta.get("id") if isinstance(meta.get("id"), str) else None
        kind = meta.get("k") if isinstance(meta.get("k"), str) else read_input(values, "kind")
        return cls(group_id, read_input(values, "name"), kind, read_input(values, "description"),
                   bool(picked) if isinstance(picked, list) else meta.get("a") is not False,
                   tuple(read_rows(values, "flt", row_count(meta, "n"))))

    def grown(self, action_id: str) -> GroupForm:
        """Return the form with one more filter row."""
        if action_id != "group_form_add_filter" or len(self.rows) >= MAX_FORM_ROWS:
            return self
        return GroupForm(self.group_id, self.name, self.kind, self.description, self.auto_update,
                         (*self.rows, FormRow()))

    def definition(self) -> dict[str, Any]:
        """Return the group definition the form describes (validated by the service)."""
        filters = [c for row in self.rows if (c := row.condition(filter_kind(row.field)))]
        data: dict[str, Any] = {"name": (self.name or "").strip(), "kind": self.kind,
                                "description": (self.description or "").strip() or None,
                                "auto_update": self.auto_update}
        return {**data, "filters": filters} if self.kind != GroupKind.PEOPLE.value else data


def group_modal(service: Signoff, form: GroupForm) -> dict[str, Any]:
    """Render the modal that creates or edits a group."""
    view: dict[str, Any] = service.renderer.json(
        "group_modal.json.j2", is_new=form.group_id is None, group_name=form.name, kind=form.kind,
        description=form.description, auto_update=form.auto_update, rows=filter_rows_view(form.rows),
        fields=[{"group": "contact", "fields": [f for f in CONTACT_FIELD_TYPES if f != "id"]}],
        can_add=len(form.rows) < MAX_FORM_ROWS,
        metadata=form_metadata(id=form.group_id, k=form.kind if form.group_id else None, n=len(form.rows),
                               a=form.auto_update))
    return view


# the members modal, the e-mail modal, the delete confirmation


def add_block(added: int) -> str:
    """Return the block id of the field to add members: a new one after each addition, so that it shows empty."""
    return f"add_{added}" if added else "add"


async def members_modal(service: Signoff, ref: str, page: int, added: int = 0) -> dict[str, Any]:
    """Render one page of a group's members, with Remove buttons and a field to add members."""
    group, membership = await RulesService(service.deps).get_group(ref)
    members = sorted(membership.members())
    pages = max(1, -(-len(members) // MEMBERS_PER_PAGE))
    page = min(max(page, 0), pages - 1)
    shown = [{"id": m, "added": m in membership.added} for m in
             members[page * MEMBERS_PER_PAGE:(page + 1) * MEMBERS_PER_PAGE]]
    view: dict[str, Any] = service.renderer.json(
        "group_members.json.j2", group=group_view(group, membership), members=shown, page=page + 1, pages=pages,
        removed=len(membership.removed), add_block=add_block(added),
        metadata=form_metadata(id=group.id, p=page, v=added))
    return view


async def email_modal(service: Signoff, ref: str) -> dict[str, Any]:
    """Render the modal that e-mails a group: members to pick (all ticked), subject and message."""
    group, membership = await RulesService(service.deps).get_group(ref)
    members = await recipients(service, group, sorted(membership.members())[:EMAIL_CHOICES])
    chunks = [members[i:i + CHECKBOXES_PER_BLOCK] for i in range(0, len(members), CHECKBOXES_PER_BLOCK)]
    view: dict[str, Any] = service.renderer.json(
        "group_email.json.j2", group=group_view(group, membership), chunks=chunks,
        more=max(0, len(membership.members()) - EMAIL_CHOICES), metadata=form_metadata(id=group.id))
    return view


async def recipients(service: Signoff, group: Group, members: list[str]) -> list[dict[str, Any]]:
    """Return the members to pick from as people know them: id, name and e-mail address."""
    async with service.db.read() as repo:
        contacts = [await repo.get_contact(group.kind.value, m) for m in members]
    return [{"id": m, "name": c.name if c and c.name else m, "email": c.email if c else None}
            for m, c in zip(members, contacts, strict=True)]


async def delete_modal(service: Signoff, ref: str) -> dict[str, Any]:
    """Render the delete confirmation; a group in use shows what uses it and cannot be deleted."""
    group, membership = await RulesService(service.deps).get_group(ref)
    async with service.db.read() as repo:
        users = await group_users(repo, group.name)
    view: dict[str, Any] = service.renderer.json(
        "group_delete.json.j2", group=group_view(group, membership), users=[u["message"] for u in users[:10]],
        metadata=form_metadata(id=group.id))
    return view


def checked_members(values: dict[str, Any]) -> list[str]:
    """Return the members ticked in the e-mail modal's checkbox blocks."""
    chosen = []
    for block_id, entries in values.items():
        if str(block_id).startswith("to_"):
            for entry in mapping(entries).values():
                chosen += [o.get("value") for o in mapping(entry).get("selected_options") or []
                           if isinstance(o, dict) and isinstance(o.get("value"), str)]
    return chosen


def typed_members(values: dict[str, Any]) -> list[str]:
    """Return the members typed (ids separated by spaces or commas) or picked (people) to add."""
    entry: Any = next((e for block, entries in values.items() if str(block).split("_")[0] == "add"
                  for e in mapping(entries).values()), {})
    users = mapping(entry).get("selected_users")
    if isinstance(users, list):
        return [u for u in users if isinstance(u, str)]
    typed = mapping(entry).get("value")
    return typed.replace(",", " ").split() if isinstance(typed, str) else []


class GroupListeners:
    """Buttons of `/signoff groups` and the group modals; every change is for admins only."""

    def __init__(self, service: Signoff) -> None:
        self.service = service
        self.groups = RulesService(service.deps)

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
            await self.service.slack.dm(user, self.service.renderer.json(
                "commands_note.json.j2", code="failed", detail={"message": exc.message, "details": exc.details[:5]}))
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
