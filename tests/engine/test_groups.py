"""Groups: validation with field paths, filter matching, automatic and manual membership."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from engine.conditions import EvalContext
from engine.errors import InvalidDefinitionError
from engine.groups import (
    Group,
    GroupKind,
    Membership,
    auto_members,
    is_auto_member_after_change,
    is_filter_match,
    member_problems,
    needs_recompute,
    parse_group,
)
from engine.records import Contact, ContactKind

CTX = EvalContext.at(datetime(2026, 3, 1, 9, 0, tzinfo=UTC), UTC)

CALIFORNIA = {
    "name": "ca-mid",
    "kind": "customer",
    "filters": [
        {"field": "active", "op": "eq", "value": True},
        {"field": "state", "op": "eq", "value": "CA"},
        {"field": "balance", "op": "between", "value": ["100", "1000"]},
    ],
}


def customer(cid: str, **changes: Any) -> Contact:
    data: dict[str, Any] = {"kind": "customer", "id": cid, "name": cid, "state": "CA", "balance": "500"}
    data.update(changes)
    return Contact.model_validate(data)


@pytest.mark.parametrize(
    ("contact", "is_member"),
    [
        (customer("C1"), True),
        (customer("C2", balance="100"), True),
        (customer("C3", balance="1000"), True),
        (customer("C4", balance="99.99"), False),
        (customer("C5", balance="1000.01"), False),
        (customer("C6", state="NY"), False),
        (customer("C7", active=False), False),
        (customer("C8", state=None), False),
        (Contact(kind=ContactKind.VENDOR, id="C1", state="CA", balance="500"), False),
    ],
)
def test_filters_select_active_california_customers_with_a_mid_balance(contact: Contact, is_member: bool) -> None:
    assert is_filter_match(parse_group(CALIFORNIA), contact, CTX) is is_member


def test_custom_contact_fields_can_be_filtered() -> None:
    group = parse_group({"name": "gold", "kind": "vendor", "filters": [{"field": "fields.tier", "op": "eq",
                                                                         "value": "gold"}]})
    gold = Contact(kind=ContactKind.VENDOR, id="V1", fields={"tier": "gold"})
    assert is_filter_match(group, gold, CTX) and not is_filter_match(group, gold.model_copy(update={"fields": {}}), CTX)


def test_a_group_without_filters_matches_nobody() -> None:
    assert auto_members(parse_group({"name": "manual", "kind": "customer"}), [customer("C1")], CTX) == frozenset()


def test_auto_members_are_the_matching_contacts() -> None:
    contacts = [customer("C1"), customer("C2", state="NY"), customer("C3", balance="700")]
    assert auto_members(parse_group(CALIFORNIA), contacts, CTX) == {"C1", "C3"}


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"name": "has space"}, "name"),
        ({"name": ""}, "name"),
        ({"kind": "robots"}, "kind"),
        ({"filters": [{"field": "colour", "op": "eq", "value": "red"}]}, "filters[0].field"),
        ({"filters": [{"field": "amount", "op": "gt", "value": "1"}]}, "filters[0].field"),
        ({"filters": [{"field": "state", "op": "near", "value": "CA"}]}, "filters[0].op"),
        ({"filters": [{"field": "id", "op": "in_group", "value": "other"}]}, "filters[0].op"),
        ({"filters": [{"field": "state", "op": "eq", "value": "CA"}, {"field": "balance", "op": "gt",
                                                                      "value": "lots"}]}, "filters[1].value"),
        ({"filters": [{"field": "balance", "op": "between", "value": ["1000", "100"]}]}, "filters[0].value"),
        ({"filters": "state=CA"}, "filters"),
        ({"filters": ["state"]}, "filters[0]"),
        ({"kind": "people", "filters": [{"field": "state", "op": "eq", "value": "CA"}]}, "filters"),
        ({"auto_update": "sometimes"}, "auto_update"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_groups_name_the_field_path(changes: dict[str, Any], path: str) -> None:
    with pytest.raises(InvalidDefinitionError) as caught:
        parse_group({**CALIFORNIA, **changes})
    assert path in [d["path"] for d in caught.value.details]


def test_people_groups_are_manual() -> None:
    group = parse_group({"name": "finance-leads", "kind": "people"})
    assert not group.auto_update and not group.is_contact_group()


@pytest.mark.parametrize(
    ("kind", "ids", "paths"),
    [
        (GroupKind.PEOPLE, ["U01AAA", "W0B"], []),
        (GroupKind.PEOPLE, ["U01AAA", "alice@example.com"], ["m[1]"]),
        (GroupKind.CUSTOMER, ["C-ACME", ""], ["m[1]"]),
        (GroupKind.CUSTOMER, "C-ACME", ["m"]),
        (GroupKind.VENDOR, [7], ["m[0]"]),
    ],
)
def test_member_ids_fit_the_kind(kind: GroupKind, ids: Any, paths: list[str]) -> None:
    assert [p["path"] for p in member_problems(kind, ids, "m")] == paths


def test_a_manual_removal_survives_automatic_updates() -> None:
    membership = Membership(auto=frozenset({"C1", "C2"})).with_removed(["C2"])
    refreshed = Membership(frozenset({"C1", "C2", "C3"}), membership.added, membership.removed)
    assert refreshed.members() == {"C1", "C3"}


def test_a_manual_addition_undoes_a_removal_and_stays_when_filters_stop_matching() -> None:
    membership = Membership(auto=frozenset({"C1"})).with_removed(["C1"]).with_added(["C1", "C9"])
    assert membership.members() == {"C1", "C9"} and membership.removed == frozenset()
    assert Membership(frozenset(), membership.added, membership.removed).members() == {"C1", "C9"}


@pytest.mark.parametrize(
    ("changes", "contact", "expected"),
    [
        ({}, customer("C1"), True),
        ({}, customer("C1", state="NY"), False),
        ({"auto_update": False}, customer("C1"), None),
        ({}, Contact(kind=ContactKind.VENDOR, id="V1", state="CA", balance="500"), None),
    ],
)
def test_a_changed_contact_follows_automatic_groups_only(
    changes: dict[str, Any], contact: Contact, expected: bool | None
) -> None:
    assert is_auto_member_after_change(parse_group({**CALIFORNIA, **changes}), contact, CTX) is expected


def _stored(**changes: Any) -> Group:
    data = {"name": "vip", "kind": "customer", "filters": [{"field": "state", "op": "eq", "value": "CA"}],
            "auto_update": True, "id": "g1", "created_at": datetime(2026, 1, 1, tzinfo=UTC),
            "updated_at": datetime(2026, 1, 1, tzinfo=UTC)}
    return Group.model_validate({**data, **changes})


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (_stored(), _stored(), False),
        (_stored(), _stored(description="renamed"), False),
        (_stored(), _stored(filters=[{"field": "state", "op": "eq", "value": "NY"}]), True),
        (_stored(auto_update=False), _stored(), True),
        (_stored(), _stored(auto_update=False), False),
    ],
)
def test_which_group_changes_recompute_members(old: Group, new: Group, expected: bool) -> None:
    assert needs_recompute(old, new) is expected
