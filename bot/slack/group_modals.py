"""The group modals: the group (name, kind, filters, auto-update), its members, an e-mail to it, its deletion."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.core.groups import group_users
from bot.core.service import Signoff
from bot.slack.admin_forms import (
    MAX_FORM_ROWS,
    FormRow,
    form_metadata,
    read_input,
    read_metadata,
    read_rows,
    row_count,
    row_from_condition,
)
from bot.slack.payload import mapping, state_values
from engine.conditions import Op
from engine.facts import CONTACT_FIELD_TYPES
from engine.groups import Group, GroupKind, Membership

MEMBERS_PER_PAGE = 20
EMAIL_CHOICES = 100
CHECKBOXES_PER_BLOCK = 10


def group_view(group: Group, membership: Membership) -> dict[str, Any]:
    """Return a group as the list shows it: kind, member count, filters and the auto-update switch."""
    return {"id": group.id, "name": group.name, "kind": group.kind.value, "description": group.description,
            "members": len(membership.members()), "filters": len(group.filters), "auto_update": group.auto_update}


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
    group, membership = await service.groups.get_group(ref)
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
    group, membership = await service.groups.get_group(ref)
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
    group, membership = await service.groups.get_group(ref)
    async with service.db.read() as repo:
        users = await group_users(repo, group.name)
    view: dict[str, Any] = service.renderer.json(
        "group_delete.json.j2", group=group_view(group, membership), users=users[:10],
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
