"""Pre-fill rules: validation with field paths, SPEC §8 precedence, planning, undo and approver choices."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from engine.conditions import EvalContext
from engine.errors import InvalidDefinitionError, PrefillChoiceError
from engine.records import Contact, ContactKind, Record
from engine.rules import (
    ABSENT,
    PERSON_OPTION,
    AppliedPrefill,
    Prefill,
    Rule,
    choose_prefill,
    kept_prefills,
    parse_rule,
    plan_prefills,
    prefill_choices,
    prefilled_fields,
    read_field,
    resolve_prefills,
    rule_change,
    selected_option,
)

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
CTX = EvalContext.at(T0, UTC, {"vip": ["C-ACME"]})

VENDOR = {"field": "vendor", "op": "eq", "value": "V-AIR"}
VENDOR_NAME = {"field": "vendor.name", "op": "contains", "value": "air"}
CATEGORY = {"field": "category", "op": "eq", "value": "Travel"}
AMOUNT = {"field": "amount", "op": "gt", "value": "100"}
CURRENCY = {"field": "currency", "op": "eq", "value": "EUR"}
MEMO = {"field": "memo", "op": "contains", "value": "flight"}
NOMATCH = {"field": "amount", "op": "gt", "value": "1000000"}
IN_VIP = {"field": "customer", "op": "in_group", "value": "vip"}

FACTS: dict[str, Any] = {
    "vendor": "V-AIR", "vendor.name": "Air France", "category": "Travel", "amount": Decimal("250"),
    "currency": "EUR", "memo": "flight to Lyon", "customer": "C-ACME",
}


def rule(rule_id: str, conditions: list[dict[str, Any]], results: dict[str, Any], age_min: int = 0,
         status: str = "published") -> Rule:
    """A rule created `age_min` minutes after T0 (bigger is more recent)."""
    at = T0 + timedelta(minutes=age_min)
    definition = parse_rule({"name": rule_id, "conditions": conditions, "results": results, "status": status})
    return Rule(**definition.model_dump(), id=rule_id, created_at=at, updated_at=at)


def record(**changes: Any) -> Record:
    data: dict[str, Any] = {"type": "bill", "id": "B-1", "amount": "250", "currency": "EUR", "vendor": "V-AIR",
                            "memo": "flight to Lyon", "created_by": "U0REQ", "created_at": T0, "updated_at": T0}
    data.update(changes)
    return Record.model_validate(data)


AIR = Contact(kind=ContactKind.VENDOR, id="V-AIR", name="Air France")
CONTACTS = {"vendor:V-AIR": AIR}


# (case, rules, person values, expected {field: (value, rule_id, competing, is_suggestion)})
PRECEDENCE: list[tuple[str, list[Rule], dict[str, Any], dict[str, tuple[Any, str, list[tuple[Any, str]], bool]]]] = [
    ("one matching rule fills the field",
     [rule("r1", [AMOUNT], {"department": "Ops"})], {},
     {"department": ("Ops", "r1", [], False)}),
    ("a rule whose conditions do not hold does nothing",
     [rule("r1", [NOMATCH], {"department": "Ops"})], {}, {}),
    ("a draft rule does nothing",
     [rule("r1", [AMOUNT], {"department": "Ops"}, status="draft")], {}, {}),
    ("more conditions beat a single vendor condition",
     [rule("vendor", [VENDOR], {"department": "A"}, age_min=9), rule("two", [AMOUNT, CURRENCY], {"department": "B"})],
     {}, {"department": ("B", "two", [], False)}),
    ("three conditions beat two",
     [rule("two", [AMOUNT, CURRENCY], {"department": "A"}, age_min=9),
      rule("three", [AMOUNT, CURRENCY, MEMO], {"department": "B"})],
     {}, {"department": ("B", "three", [], False)}),
    ("alone, vendor beats category",
     [rule("cat", [CATEGORY], {"department": "A"}, age_min=9), rule("ven", [VENDOR], {"department": "B"})],
     {}, {"department": ("B", "ven", [], False)}),
    ("alone, a vendor.* field counts as vendor",
     [rule("cat", [CATEGORY], {"department": "A"}, age_min=9), rule("ven", [VENDOR_NAME], {"department": "B"})],
     {}, {"department": ("B", "ven", [], False)}),
    ("alone, vendor beats any other field",
     [rule("amt", [AMOUNT], {"department": "A"}, age_min=9), rule("ven", [VENDOR], {"department": "B"})],
     {}, {"department": ("B", "ven", [], False)}),
    ("alone, category beats any other field",
     [rule("amt", [AMOUNT], {"department": "A"}, age_min=9), rule("cat", [CATEGORY], {"department": "B"})],
     {}, {"department": ("B", "cat", [], False)}),
    ("same level (other): the most recent wins and the other value competes",
     [rule("old", [AMOUNT], {"department": "A"}), rule("new", [CURRENCY], {"department": "B"}, age_min=5)],
     {}, {"department": ("B", "new", [("A", "old")], False)}),
    ("same level (vendor): the most recent wins and the other value competes",
     [rule("new", [VENDOR_NAME], {"department": "B"}, age_min=5), rule("old", [VENDOR], {"department": "A"})],
     {}, {"department": ("B", "new", [("A", "old")], False)}),
    ("same level (category): the most recent wins and the other value competes",
     [rule("old", [CATEGORY], {"department": "A"}), rule("new", [CATEGORY], {"department": "B"}, age_min=5)],
     {}, {"department": ("B", "new", [("A", "old")], False)}),
    ("same level (two conditions): the most recent wins and the other value competes",
     [rule("old", [AMOUNT, CURRENCY], {"department": "A"}), rule("new", [MEMO, VENDOR], {"department": "B"}, 5)],
     {}, {"department": ("B", "new", [("A", "old")], False)}),
    ("same level, same value: nothing competes",
     [rule("old", [AMOUNT], {"department": "A"}), rule("new", [CURRENCY], {"department": "A"}, age_min=5)],
     {}, {"department": ("A", "new", [], False)}),
    ("same level, three rules: each other value is listed once, most recent first",
     [rule("r1", [AMOUNT], {"department": "A"}), rule("r2", [CURRENCY], {"department": "C"}, 1),
      rule("r3", [MEMO], {"department": "C"}, 2), rule("r4", [IN_VIP], {"department": "B"}, 3)],
     {}, {"department": ("B", "r4", [("C", "r3"), ("A", "r1")], False)}),
    ("a lower level's different value does not compete",
     [rule("ven", [VENDOR], {"department": "A"}), rule("amt", [AMOUNT], {"department": "B"}, age_min=5)],
     {}, {"department": ("A", "ven", [], False)}),
    ("same creation time: the tie is broken by rule id, and still listed",
     [rule("r-a", [AMOUNT], {"department": "A"}), rule("r-b", [CURRENCY], {"department": "B"})],
     {}, {"department": ("B", "r-b", [("A", "r-a")], False)}),
    ("a person's value is kept and the rule's is a suggestion",
     [rule("r1", [AMOUNT], {"department": "Ops"})], {"department": "Sales"},
     {"department": ("Ops", "r1", [], True)}),
    ("a person's value equal to the rule's needs no pre-fill",
     [rule("r1", [AMOUNT], {"department": "Ops"})], {"department": "Ops"}, {}),
    ("a blank person value is filled",
     [rule("r1", [AMOUNT], {"department": "Ops"})], {"department": "  "},
     {"department": ("Ops", "r1", [], False)}),
    ("a person's value with a tie: suggestion plus competing, never the person's own value",
     [rule("old", [AMOUNT], {"department": "Sales"}), rule("mid", [MEMO], {"department": "A"}, 1),
      rule("new", [CURRENCY], {"department": "B"}, 5)],
     {"department": "Sales"}, {"department": ("B", "new", [("A", "mid")], True)}),
    ("each field is decided on its own",
     [rule("ven", [VENDOR], {"department": "A", "class": "K1"}), rule("two", [AMOUNT, MEMO], {"department": "B"}),
      rule("cat", [CATEGORY], {"fields.vat_code": "FR20"})],
     {}, {"department": ("B", "two", [], False), "class": ("K1", "ven", [], False),
          "fields.vat_code": ("FR20", "cat", [], False)}),
    ("in_group conditions read the context's groups",
     [rule("vip", [IN_VIP], {"location": "Paris"})], {}, {"location": ("Paris", "vip", [], False)}),
]


@pytest.mark.parametrize(("rules", "persons", "expected"), [c[1:] for c in PRECEDENCE], ids=[c[0] for c in PRECEDENCE])
def test_precedence(rules: list[Rule], persons: dict[str, Any], expected: dict[str, Any]) -> None:
    got = resolve_prefills(FACTS, rules, persons, CTX)
    assert {k: (p.value, p.rule_id, list(p.competing), p.is_suggestion) for k, p in got.items()} == expected


def test_resolution_does_not_depend_on_rule_order() -> None:
    rules = [rule(f"r{i}", [c], {"department": f"D{i % 3}"}, age_min=i)
             for i, c in enumerate([AMOUNT, CURRENCY, MEMO, VENDOR, CATEGORY, IN_VIP])]
    first = resolve_prefills(FACTS, rules, {}, CTX)
    assert resolve_prefills(FACTS, list(reversed(rules)), {}, CTX) == first


# validation


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"conditions": []}, "conditions"),
        ({"conditions": None}, "conditions"),
        ({"conditions": [{"field": "colour", "op": "eq", "value": "red"}]}, "conditions[0].field"),
        ({"conditions": [{"field": "amount", "op": "near", "value": "1"}]}, "conditions[0].op"),
        ({"conditions": [VENDOR, {"field": "amount", "op": "gt", "value": "lots"}]}, "conditions[1].value"),
        ({"conditions": [{"field": "amount", "op": "gt", "value": "1", "extra": 1}]}, "conditions[0].extra"),
        ({"conditions": [VENDOR, {"field": "amount", "op": "gt", "value": "0"}, VENDOR]}, "conditions[2]"),  # twice
        ({"results": {}}, "results"),
        ({"results": {"amount": "5"}}, "results.amount"),
        ({"results": {"memo": "x"}}, "results.memo"),
        ({"results": {"category": 12}}, "results.category"),
        ({"results": {"category": "  "}}, "results.category"),
        ({"results": {"category": "x" * 201}}, "results.category"),
        ({"results": {"category": "line1\nline2"}}, "results.category"),     # a document would refuse it
        ({"results": {"department": "a\u0007b"}}, "results.department"),
        ({"results": {"class": "tab\there"}}, "results.class"),
        ({"results": {"fields.vat": "FR\u000020"}}, "results.fields.vat"),
        ({"results": {"fields.vat": ""}}, "results.fields.vat"),
        ({"results": {"fields.": "x"}}, "results.fields."),
        ({"results": {"fields.vat": ["FR20"]}}, "results.fields.vat"),
        ({"name": ""}, "name"),
        ({"status": "live"}, "status"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_invalid_rules_name_the_field_path(changes: dict[str, Any], path: str) -> None:
    data = {"name": "Air travel", "conditions": [VENDOR], "results": {"category": "Travel"}, **changes}
    with pytest.raises(InvalidDefinitionError) as caught:
        parse_rule(data)
    assert path in [d["path"] for d in caught.value.details]


def test_a_rule_not_an_object_is_refused() -> None:
    with pytest.raises(InvalidDefinitionError) as caught:
        parse_rule(["not", "a", "rule"])
    assert caught.value.details[0]["path"] == "(root)"


@pytest.mark.parametrize(
    ("value", "stored"), [("FR20", "FR20"), (20, 20), (True, True), (12.5, "12.5"), (Decimal("0.20"), "0.20")]
)
def test_custom_field_results_keep_exact_values(value: Any, stored: Any) -> None:
    parsed = parse_rule({"name": "VAT", "conditions": [VENDOR], "results": {"fields.vat": value}})
    assert parsed.results["fields.vat"] == stored and type(parsed.results["fields.vat"]) is type(stored)


# planning: apply, keep a person's value, undo exactly


TRAVEL = rule("travel", [VENDOR], {"category": "Travel", "fields.vat": "FR20"})


def test_plan_fills_empty_fields_and_remembers_what_was_there() -> None:
    plan = plan_prefills(record(), {}, [TRAVEL], CONTACTS, CTX)
    assert plan.record.category == "Travel" and plan.record.fields == {"vat": "FR20"}
    assert plan.applied["category"].previous is None and plan.applied["fields.vat"].previous is ABSENT
    assert prefilled_fields(plan.applied) == {"category", "fields.vat"}


def test_plan_keeps_a_persons_value_and_suggests_the_rules() -> None:
    plan = plan_prefills(record(category="Meals"), {}, [TRAVEL], CONTACTS, CTX)
    assert plan.record.category == "Meals" and plan.applied["category"].prefill.is_suggestion
    assert plan.applied["category"].prefill.value == "Travel"
    assert prefilled_fields(plan.applied) == {"fields.vat"}


@pytest.mark.parametrize(
    "original",
    [record(), record(fields={"vat": None}), record(category="", fields={"other": 1})],
    ids=["absent", "explicit-none", "blank-text"],
)
def test_without_the_rule_the_record_comes_back_exactly(original: Record) -> None:
    filled = plan_prefills(original, {}, [TRAVEL], CONTACTS, CTX)
    undone = plan_prefills(filled.record, filled.applied, [], CONTACTS, CTX)
    assert undone.record.model_dump() == original.model_dump() and undone.applied == {}


def test_an_echoed_prefill_is_still_a_prefill() -> None:
    filled = plan_prefills(record(), {}, [TRAVEL], CONTACTS, CTX)
    again = plan_prefills(record(category="Travel", fields={"vat": "FR20"}), filled.applied, [TRAVEL], CONTACTS, CTX)
    assert not again.is_change() and again.applied == filled.applied


def test_a_person_changing_a_prefilled_value_keeps_it() -> None:
    filled = plan_prefills(record(), {}, [TRAVEL], CONTACTS, CTX)
    edited = plan_prefills(record(category="Meals", fields={"vat": "FR20"}), filled.applied, [TRAVEL], CONTACTS, CTX)
    assert edited.record.category == "Meals" and edited.applied["category"].prefill.is_suggestion


def test_rules_read_the_record_without_their_own_prefills() -> None:
    loop = rule("loop", [{"field": "category", "op": "is_empty"}], {"category": "Misc"})
    filled = plan_prefills(record(), {}, [loop], CONTACTS, CTX)
    again = plan_prefills(filled.record, filled.applied, [loop], CONTACTS, CTX)
    assert filled.record.category == "Misc" and not again.is_change()


def test_scope_limits_the_fields_that_change() -> None:
    plan = plan_prefills(record(), {}, [TRAVEL], CONTACTS, CTX, scope={"category"})
    assert plan.record.category == "Travel" and plan.record.fields == {} and set(plan.applied) == {"category"}


def test_contact_fields_come_from_the_contacts() -> None:
    by_name = rule("air", [VENDOR_NAME], {"department": "Travel desk"})
    assert plan_prefills(record(), {}, [by_name], CONTACTS, CTX).record.department == "Travel desk"
    assert plan_prefills(record(), {}, [by_name], {}, CTX).record.department is None


# an approver's choice

TIED = AppliedPrefill("category", Prefill("B", "new", (("A", "old"),)), previous=None)
SUGGESTED = AppliedPrefill("category", Prefill("Travel", "r1", (("Air", "r2"),), is_suggestion=True), previous="Meals")


@pytest.mark.parametrize(
    ("applied", "choices", "selected"),
    [
        (TIED, [("new", "B"), ("old", "A")], "new"),
        (SUGGESTED, [(PERSON_OPTION, "Meals"), ("r1", "Travel"), ("r2", "Air")], PERSON_OPTION),
        (AppliedPrefill("class", Prefill("K", "r")), [("r", "K")], "r"),
    ],
)
def test_choices_list_the_current_value_and_the_others(
    applied: AppliedPrefill, choices: list[tuple[str, Any]], selected: str
) -> None:
    assert prefill_choices(applied) == choices and selected_option(applied) == selected


def test_choosing_a_competing_value_swaps_it_in() -> None:
    after, chosen = choose_prefill(record(category="B"), TIED, "old", "U01AAA")
    assert after.category == "A" and chosen.prefill == Prefill("A", "old", (("B", "new"),))
    assert chosen.chosen_by == "U01AAA" and chosen.previous is None
    assert prefill_choices(chosen) == [("old", "A"), ("new", "B")]


def test_choosing_a_suggestion_replaces_the_persons_value_and_back() -> None:
    after, chosen = choose_prefill(record(category="Meals"), SUGGESTED, "r2", "U01AAA")
    assert after.category == "Air" and not chosen.prefill.is_suggestion and chosen.previous == "Meals"
    back, restored = choose_prefill(after, chosen, PERSON_OPTION, "U01AAA")
    assert back.category == "Meals" and restored.prefill.is_suggestion and selected_option(restored) == PERSON_OPTION


def test_a_chosen_value_is_a_persons_value_afterwards() -> None:
    after, chosen = choose_prefill(record(category="B"), TIED, "old", "U01AAA")
    rules = [rule("old", [AMOUNT], {"category": "A"}), rule("new", [CURRENCY], {"category": "B"}, 5)]
    replanned = plan_prefills(after, {"category": chosen}, rules, CONTACTS, CTX)
    assert replanned.record.category == "A"


def test_an_option_no_longer_offered_is_refused() -> None:
    with pytest.raises(PrefillChoiceError):
        choose_prefill(record(category="B"), TIED, "gone", "U01AAA")


# what a rule change recomputes


@pytest.mark.parametrize(
    ("old", "new", "scope", "old_id", "has_new"),
    [
        (None, rule("r", [VENDOR], {"category": "T"}), {"category"}, None, True),
        (None, rule("r", [VENDOR], {"category": "T"}, status="draft"), set(), None, False),
        (rule("r", [VENDOR], {"category": "T"}), None, {"category"}, "r", False),
        (rule("r", [VENDOR], {"category": "T"}), rule("r", [VENDOR], {"class": "K"}), {"category", "class"}, "r", True),
        (rule("r", [VENDOR], {"category": "T"}, status="draft"), rule("r", [VENDOR], {"class": "K"}, status="draft"),
         set(), None, False),
    ],
    ids=["publish", "draft-created", "unpublish", "edit-published", "edit-draft"],
)
def test_rule_change_scope(old: Rule | None, new: Rule | None, scope: set[str], old_id: str | None,
                           has_new: bool) -> None:
    change = rule_change(old, new)
    assert change.scope == scope and change.old_id == old_id and (change.new_rule is not None) == has_new


def test_read_field_knows_class_and_custom_fields() -> None:
    item = record(**{"class": "K1"}, fields={"vat": "FR20"})
    assert read_field(item, "class") == "K1" and read_field(item, "fields.vat") == "FR20"
    assert read_field(item, "fields.none") is ABSENT


FILLED = AppliedPrefill("category", Prefill("Travel", "r1"))


@pytest.mark.parametrize(
    ("changes", "applied", "expected"),
    [
        ({}, {"category": FILLED}, {"category": "Travel"}),
        ({"category": " "}, {"category": FILLED}, {"category": "Travel"}),
        ({"category": "Meals"}, {"category": FILLED}, {"category": "Meals"}),
        ({}, {"category": AppliedPrefill("category", Prefill("Travel", "r1", is_suggestion=True))}, {"category": None}),
        ({}, {"fields.vat": AppliedPrefill("fields.vat", Prefill("FR20", "r1"))}, {"fields.vat": "FR20"}),
    ],
)
def test_what_rules_filled_stays_on_a_closed_document_saved_without_it(changes, applied, expected) -> None:
    kept = kept_prefills(record(**changes), applied)
    assert {name: read_field(kept, name) for name in expected} == expected
