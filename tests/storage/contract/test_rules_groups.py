"""Storage of rules, pre-fill provenance and groups: exact round trips and the membership queries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from engine.groups import Group, Membership, parse_group
from engine.records import Contact, ContactKind, Record
from engine.rules import ABSENT, AppliedPrefill, Prefill, Rule, parse_rule
from storage.models import AuditLine
from storage.ports import Store

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def a_rule(rule_id: str, status: str = "published", **changes: Any) -> Rule:
    data = {"name": rule_id, "conditions": [{"field": "amount", "op": "gt", "value": "100.50"}],
            "results": {"category": "Travel", "fields.vat": 20}, "status": status, **changes}
    return Rule(**parse_rule(data).model_dump(), id=rule_id, created_at=NOW, updated_at=NOW)


def a_group(group_id: str, name: str, kind: str = "customer") -> Group:
    return Group(**parse_group({"name": name, "kind": kind}).model_dump(), id=group_id, created_at=NOW,
                 updated_at=NOW)


def a_record(record_id: str, status: str = "none") -> Record:
    return Record.model_validate({"type": "bill", "id": record_id, "amount": "10", "approval_status": status,
                                  "created_at": NOW, "updated_at": NOW})


async def test_rules_round_trip_and_filter_by_status(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.save_rule(a_rule("r1"))
        await repo.save_rule(a_rule("r2", status="draft"))
    async with store.read() as repo:
        assert await repo.get_rule("r1") == a_rule("r1")
        assert [r.id for r in await repo.list_rules("published")] == ["r1"]
        assert [r.id for r in await repo.list_rules()] == ["r1", "r2"]


@pytest.mark.parametrize(
    "applied",
    [
        AppliedPrefill("category", Prefill("Travel", "r1", (("Meals", "r2"),)), previous=None),
        AppliedPrefill("fields.vat", Prefill(20, "r1"), previous=ABSENT),
        AppliedPrefill("fields.vat", Prefill(True, "r1"), previous=""),
        AppliedPrefill("class", Prefill("K", "r1", is_suggestion=True), previous="Mine", chosen_by="U01AAA"),
        AppliedPrefill("category", Prefill('say "hi"', "r1", (("a\\b", "r2"), ("café", "r3"))), previous='"'),
        AppliedPrefill("fields.note", Prefill("null", "r1"), previous=["kept", {"as": "is"}]),
    ],
)
async def test_prefill_provenance_round_trips_exactly(store: Store, applied: AppliedPrefill) -> None:
    async with store.unit_of_work() as repo:
        await repo.replace_prefills([(("bill", "B-1"), [applied.field], {applied.field: applied})], NOW)
    async with store.read() as repo:
        assert await repo.prefills_of("bill", "B-1") == {applied.field: applied}


async def test_records_using_a_rule_include_competing_ones(store: Store) -> None:
    rows = {
        ("bill", "B-1"): AppliedPrefill("category", Prefill("T", "r1", (("M", "r2"),))),
        ("bill", "B-2"): AppliedPrefill("category", Prefill("M", "r2")),
        ("bill", "B-3"): AppliedPrefill("category", Prefill("X", "r10")),
    }
    async with store.unit_of_work() as repo:
        await repo.replace_prefills([(key, ["category"], {"category": row}) for key, row in rows.items()], NOW)
    async with store.read() as repo:
        assert await repo.records_using_rule("r2") == {("bill", "B-1"), ("bill", "B-2")}
        assert await repo.records_using_rule("r1") == {("bill", "B-1")}


async def test_replacing_a_field_without_a_row_deletes_it(store: Store) -> None:
    row = AppliedPrefill("category", Prefill("T", "r1"))
    async with store.unit_of_work() as repo:
        await repo.replace_prefills([(("bill", "B-1"), ["category"], {"category": row})], NOW)
        await repo.replace_prefills([(("bill", "B-1"), ["category"], {})], NOW)
        assert await repo.prefills_of("bill", "B-1") == {}


async def test_only_records_not_yet_approved_are_open_to_prefill(store: Store) -> None:
    statuses = ["none", "approval_required", "pending", "rejected", "approved", "expired"]
    async with store.unit_of_work() as repo:
        for status in statuses:
            await repo.save_record(a_record(f"B-{status}", status))
    async with store.read() as repo:
        found = {r.id for r in await repo.records_open_to_prefill()}
    assert found == {"B-none", "B-approval_required", "B-pending", "B-rejected"}


async def test_records_open_to_prefill_are_found_by_customer_or_vendor(store: Store) -> None:
    rows = [("B-2", "approved", "V-1"), ("B-1", "none", "V-1"), ("A-0", "pending", "V-1"), ("B-3", "none", "V-2"),
            ("B-4", "none", None)]
    async with store.unit_of_work() as repo:
        for record_id, status, vendor in rows:
            await repo.save_record(a_record(record_id, status).model_copy(update={"vendor": vendor}))
        await repo.save_record(a_record("B-5").model_copy(update={"customer": "V-1"}))
    async with store.read() as repo:
        assert [r.id for r in await repo.records_open_to_prefill_of("vendor", ["V-1", "V-9"])] == ["A-0", "B-1"]
        assert [r.id for r in await repo.records_open_to_prefill_of("vendor", iter(["V-2", "V-1"]))] == [
            "A-0", "B-1", "B-3"]
        assert [r.id for r in await repo.records_open_to_prefill_of("customer", ["V-1"])] == ["B-5"]
        assert await repo.records_open_to_prefill_of("vendor", []) == []
        with pytest.raises(ValueError, match="no contact kind"):
            await repo.records_open_to_prefill_of("people", ["V-1"])


async def test_bulk_updates_and_audit(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.save_record(a_record("B-1"))
        changed = a_record("B-1").model_copy(update={"category": "Travel"})
        await repo.update_records([changed], NOW)
        await repo.audit_many([AuditLine(NOW, "U1", "prefilled", ("bill", "B-1"), detail={"rule_id": "r1"})])
    async with store.read() as repo:
        assert (await repo.get_record("bill", "B-1")) == changed
        assert [e.action for e in await repo.audit_trail("bill", "B-1")] == ["prefilled"]


async def test_membership_changes_are_stored_as_differences(store: Store) -> None:
    before = Membership(frozenset({"C1", "C2"}), frozenset({"C9"}))
    after = Membership(frozenset({"C1", "C3"}), frozenset({"C9"}), frozenset({"C3"}))
    async with store.unit_of_work() as repo:
        await repo.save_group(a_group("g1", "west"))
        await repo.save_membership("g1", Membership(), before)
        await repo.save_membership("g1", before, after)
        assert await repo.membership("g1") == after
        assert await repo.contact_group_members() == {"west": frozenset({"C1", "C9"})}
        assert await repo.contact_group_members({"east"}) == {}


async def test_people_groups_keep_the_order_members_were_added(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.save_group(a_group("g1", "finance-leads", "people"))
        await repo.save_group(a_group("g2", "west"))
        for member in ("U0ZED", "U0AMY", "U0BOB"):
            current = await repo.membership("g1")
            await repo.save_membership("g1", current, current.with_added([member]))
        current = await repo.membership("g1")
        await repo.save_membership("g1", current, current.with_removed(["U0AMY"]))
        assert await repo.people_groups() == {"finance-leads": ("U0ZED", "U0BOB")}
        assert "finance-leads" not in await repo.contact_group_members()


async def test_auto_members_follow_one_contact_and_deleting_a_group_drops_its_members(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.save_group(a_group("g1", "west"))
        await repo.set_auto_member("g1", "C1", True)
        await repo.set_auto_member("g1", "C1", True)
        assert (await repo.membership("g1")).auto == {"C1"}
        await repo.set_auto_member("g1", "C1", False)
        await repo.set_auto_member("g1", "C2", True)
        assert await repo.delete_group("g1") and await repo.membership("g1") == Membership()
        assert await repo.get_group("g1") is None and not await repo.delete_group("g1")


async def test_contacts_by_kind(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.save_contact(Contact(kind=ContactKind.CUSTOMER, id="C1", balance="10.10"), NOW)
        await repo.save_contact(Contact(kind=ContactKind.VENDOR, id="V1"), NOW)
        assert [c.id for c in await repo.all_contacts("customer")] == ["C1"]
        assert len(await repo.all_contacts()) == 2
        assert str((await repo.all_contacts("customer"))[0].balance) == "10.10"
