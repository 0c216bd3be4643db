"""Groups: customers or vendors chosen by filters and by hand, and groups of people (Slack users)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from engine.conditions import Condition, EvalContext, Op, evaluate, validate_condition
from engine.echo import differing, identity_problems
from engine.errors import InvalidDefinitionError
from engine.facts import CONTACT_FIELD_TYPES
from engine.limits import SLACK_ID, check_storable
from engine.records import Contact
from engine.workflows import details_from, problem

GROUP_NAME: Final = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_FILTERS = 50
MAX_MEMBER_ID = 128
MAX_MEMBERS_PER_CHANGE = 1000


class GroupKind(StrEnum):
    """What a group holds: customers, vendors, or people (Slack users)."""

    CUSTOMER = "customer"
    VENDOR = "vendor"
    PEOPLE = "people"


class GroupFilter(BaseModel):
    """One filter over a contact field, written without the `customer.`/`vendor.` prefix."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str
    op: Op
    value: Any = None

    def condition(self, kind: str) -> Condition:
        """Return the filter as a condition over `kind.field` facts."""
        return Condition(field=f"{kind}.{self.field}", op=self.op, value=self.value)


class GroupDefinition(BaseModel):
    """What an admin writes: the group's name, kind, filters and whether it updates itself."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: GroupKind
    description: str | None = Field(default=None, max_length=2000)
    filters: list[GroupFilter] = Field(default_factory=list, max_length=MAX_FILTERS)
    auto_update: bool = Field(default=True, strict=True)

    @field_validator("name")
    @classmethod
    def _a_name(cls, value: str) -> str:
        if not GROUP_NAME.match(value):
            raise problem("group_name_invalid", "use letters, digits, '.', '_' or '-' only, at most 64 of them",
                          value=value[:100])
        return value

    @model_validator(mode="after")
    def _people_are_manual(self) -> GroupDefinition:
        if self.kind is GroupKind.PEOPLE:
            if self.filters:
                raise ValueError("a people group has manual members only, not filters")
            self.auto_update = False
        return self

    def is_contact_group(self) -> bool:
        """Tell whether the group holds customers or vendors."""
        return self.kind is not GroupKind.PEOPLE

    def conditions(self) -> list[Condition]:
        """Return the filters as conditions over the contact's facts."""
        return [f.condition(self.kind.value) for f in self.filters]


class Group(GroupDefinition):
    """A stored group."""

    id: str
    created_at: datetime
    updated_at: datetime


def _detail(path: str, message: str) -> dict[str, str]:
    return {"path": path, "message": message}


def is_contact_field(name: Any) -> bool:
    """Tell whether a filter may read this contact field."""
    if not isinstance(name, str):
        return False
    return name in CONTACT_FIELD_TYPES or (name.startswith("fields.") and len(name) > len("fields."))


def _filter_problems(item: Any, path: str, kind: str) -> list[dict[str, str]]:
    if not isinstance(item, Mapping):
        return [_detail(path, "must be an object with field, op and value")]
    if not is_contact_field(item.get("field")):
        known = ", ".join(CONTACT_FIELD_TYPES)
        return [_detail(f"{path}.field", f"unknown contact field {item.get('field')!r}; use one of {known} "
                        "or fields.<custom name>")]
    if item.get("op") == Op.IN_GROUP.value:
        return [_detail(f"{path}.op", "in_group cannot be used in a group's own filters")]
    return validate_condition({**item, "field": f"{kind}.{item['field']}"}, path)


def _filters_problems(raw: Any, kind: Any) -> list[dict[str, str]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        return [_detail("filters", "must be a list of {field, op, value} objects")]
    if kind == GroupKind.PEOPLE.value and raw:
        return [_detail("filters", "a people group has manual members only, not filters")]
    prefix = kind if kind in (GroupKind.CUSTOMER.value, GroupKind.VENDOR.value) else GroupKind.CUSTOMER.value
    return [p for i, item in enumerate(raw) for p in _filter_problems(item, f"filters[{i}]", prefix)]


def parse_group(data: Any) -> GroupDefinition:
    """Validate a group definition; raise InvalidDefinitionError naming every bad field path."""
    if not isinstance(data, Mapping):
        raise InvalidDefinitionError("a group must be an object", [_detail("(root)", "expected an object")])
    check_storable(data, "group")
    problems = _filters_problems(data.get("filters"), data.get("kind"))
    candidate = {**data, "filters": []} if problems else dict(data)
    try:
        definition = GroupDefinition.model_validate(candidate)
    except ValidationError as exc:
        problems += details_from(exc)
    if problems:
        raise InvalidDefinitionError(f"invalid group: {problems[0]['path']}: {problems[0]['message']}", problems)
    return definition


def member_problems(kind: GroupKind, ids: Any, path: str) -> list[dict[str, str]]:
    """Return the problems of a list of member ids for a group of this kind."""
    if not isinstance(ids, list):
        return [_detail(path, "must be a list of ids")]
    if len(ids) > MAX_MEMBERS_PER_CHANGE:
        return [_detail(path, f"at most {MAX_MEMBERS_PER_CHANGE} ids at once")]
    problems = []
    for i, member in enumerate(ids):
        if kind is GroupKind.PEOPLE and not (isinstance(member, str) and SLACK_ID.match(member)):
            problems.append(_detail(f"{path}[{i}]", f"{member!r} is not a Slack user id such as U01AAA"))
        elif not isinstance(member, str) or not 0 < len(member) <= MAX_MEMBER_ID:
            problems.append(_detail(f"{path}[{i}]", f"must be a {kind.value} id"))
    return problems


@dataclass(frozen=True)
class Membership:
    """Who is in a group: matched by filters, added by hand, removed by hand (removal wins)."""

    auto: frozenset[str] = frozenset()
    added: frozenset[str] = frozenset()
    removed: frozenset[str] = frozenset()

    def members(self) -> frozenset[str]:
        """Return the current members."""
        return (self.auto | self.added) - self.removed

    def with_added(self, ids: Iterable[str]) -> Membership:
        """Return the membership after adding people by hand (undoing a manual removal)."""
        chosen = frozenset(ids)
        return replace(self, added=self.added | chosen, removed=self.removed - chosen)

    def with_removed(self, ids: Iterable[str]) -> Membership:
        """Return the membership after removing people by hand; automatic updates keep them out."""
        chosen = frozenset(ids)
        return replace(self, added=self.added - chosen, removed=self.removed | chosen)


# What GET adds to a group's definition: a body sent back as it was read repeats them.
ECHOED = ("id", "created_at", "updated_at", "members", "auto", "added", "removed")


def echo_problems(echoed: Mapping[str, Any], group_id: str, membership: Membership) -> list[dict[str, str]]:
    """Return why read-only keys a group's body repeats cannot be taken back: another id, or people added or removed
    by hand other than its own (they change through its members only); derived ones are ignored."""
    held = {"added": sorted(membership.added), "removed": sorted(membership.removed)}
    repeated = {key: sorted(value) if _is_id_list(value) else value for key, value in echoed.items() if key in held}
    return (identity_problems(echoed, {"id": group_id})
            + differing(repeated, held, "changes by adding or removing members only (it is {expected})"))


def _is_id_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def contact_facts(contact: Contact) -> dict[str, Any]:
    """Return a contact's fields keyed `kind.field`, as group filters read them."""
    prefix = contact.kind.value
    facts = {f"{prefix}.{name}": getattr(contact, name) for name in CONTACT_FIELD_TYPES}
    facts.update({f"{prefix}.fields.{name}": value for name, value in contact.fields.items()})
    return facts


def is_filter_match(
    group: GroupDefinition, contact: Contact, ctx: EvalContext, conditions: list[Condition] | None = None
) -> bool:
    """Tell whether a contact matches the group's filters (a group without filters matches nobody)."""
    if not group.filters or group.kind.value != contact.kind.value:
        return False
    return evaluate(group.conditions() if conditions is None else conditions, contact_facts(contact), ctx)


def auto_members(group: GroupDefinition, contacts: Iterable[Contact], ctx: EvalContext) -> frozenset[str]:
    """Return the ids of the contacts the group's filters select."""
    conditions = group.conditions()
    return frozenset(c.id for c in contacts if is_filter_match(group, c, ctx, conditions))


def is_auto_member_after_change(group: GroupDefinition, contact: Contact, ctx: EvalContext) -> bool | None:
    """Tell whether a changed contact now matches an automatic group; None when the group does not follow changes."""
    if not group.auto_update or not group.is_contact_group() or group.kind.value != contact.kind.value:
        return None
    return is_filter_match(group, contact, ctx)


def needs_recompute(old: Group, new: Group) -> bool:
    """Tell whether a group's change recomputes its members: its filters changed, or it turned automatic."""
    return old.filters != new.filters or (new.auto_update and not old.auto_update)
