"""Conditional pre-fill rules: definitions, precedence, and the pre-fills they make on a record."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine.conditions import (
    MAX_CONDITIONS,
    Condition,
    EvalContext,
    Op,
    Predicate,
    compile_conditions,
    validate_condition,
)
from engine.errors import InvalidDefinitionError, PrefillChoiceError
from engine.facts import facts_of
from engine.limits import check_storable
from engine.records import ApprovalStatus, Contact, Record, RecordInput
from engine.workflows import details_from

PREFILL_FIELDS: Final = ("category", "location", "department", "class")
CUSTOM_FIELD = re.compile(r"^fields\.[A-Za-z0-9_][A-Za-z0-9_ .-]{0,63}$")
MAX_RESULTS = 20
MAX_FIELD_TEXT = 200
MAX_CUSTOM_TEXT = 1000
OPEN_TO_PREFILL: Final = frozenset(
    {ApprovalStatus.NONE, ApprovalStatus.APPROVAL_REQUIRED, ApprovalStatus.PENDING, ApprovalStatus.REJECTED}
)
PERSON_OPTION: Final = "-"
VENDOR_RANK, CATEGORY_RANK, OTHER_RANK = 2, 1, 0


class _Absent:
    """The value of a custom field the record does not have at all."""

    _instance: _Absent | None = None

    def __new__(cls) -> _Absent:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Final = _Absent()

ResultValue = str | int | bool


class RuleStatus(StrEnum):
    """Whether a rule is being drafted or pre-fills documents."""

    DRAFT = "draft"
    PUBLISHED = "published"


def is_prefill_field(name: str) -> bool:
    """Tell whether a rule may write this field: a coding field or `fields.NAME`."""
    return name in PREFILL_FIELDS or bool(CUSTOM_FIELD.match(name))


def _normal_result(value: Any) -> Any:
    if isinstance(value, float | Decimal) and not isinstance(value, bool):
        return str(Decimal(repr(value)) if isinstance(value, float) else value)
    return value


class RuleDefinition(BaseModel):
    """What an admin writes: conditions (all must hold) and the field values they pre-fill."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    conditions: list[Condition] = Field(default_factory=list)
    results: dict[str, ResultValue] = Field(default_factory=dict)
    status: RuleStatus = RuleStatus.DRAFT

    @field_validator("results", mode="before")
    @classmethod
    def _exact_numbers(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {key: _normal_result(item) for key, item in value.items()}
        return value

    def is_published(self) -> bool:
        """Tell whether the rule pre-fills documents."""
        return self.status is RuleStatus.PUBLISHED

    def level(self) -> tuple[int, int]:
        """Return the precedence level: more conditions first; alone, vendor beats category beats the rest."""
        count = len(self.conditions)
        if count != 1:
            return (count, OTHER_RANK)
        name = self.conditions[0].field
        if name == "vendor" or name.startswith("vendor."):
            return (1, VENDOR_RANK)
        return (1, CATEGORY_RANK if name == "category" else OTHER_RANK)

    def group_refs(self) -> set[str]:
        """Return every contact group the rule's conditions name."""
        return {str(c.value) for c in self.conditions if c.op is Op.IN_GROUP}


# What GET (and a write's answer) adds to a rule's definition: a body sent back as it was read repeats them.
ECHOED = ("id", "created_at", "updated_at", "records_changed")


class Rule(RuleDefinition):
    """A stored rule."""

    id: str
    created_at: datetime
    updated_at: datetime

    def definition(self) -> RuleDefinition:
        """Return the definition part, as it is exported to YAML."""
        return RuleDefinition.model_validate(self.model_dump(exclude={"id", "created_at", "updated_at"}))


def _detail(path: str, message: str) -> dict[str, str]:
    return {"path": path, "message": message}


def _condition_problems(raw: Any) -> list[dict[str, str]]:
    if not isinstance(raw, list) or not raw:
        return [_detail("conditions", "needs a non-empty list of {field, op, value} conditions")]
    if len(raw) > MAX_CONDITIONS:
        return [_detail("conditions", f"at most {MAX_CONDITIONS} conditions")]
    return [p for i, item in enumerate(raw) for p in validate_condition(item, f"conditions[{i}]")]


def _value_problem(name: str, value: Any) -> str | None:
    is_custom = name.startswith("fields.")
    if isinstance(value, bool | int | float | Decimal):
        return None if is_custom else "takes a text value"
    if not isinstance(value, str) or not value.strip():
        return "needs a non-empty value"
    limit = MAX_CUSTOM_TEXT if is_custom else MAX_FIELD_TEXT
    if len(value) > limit:
        return f"is longer than {limit} characters"
    return _refused_by_records(name, value)


def _refused_by_records(name: str, value: Any) -> str | None:
    """Return why a document would refuse this value in this field (what a rule writes, a document accepts)."""
    data = {"fields": {name.removeprefix("fields."): value}} if name.startswith("fields.") else {name: value}
    try:
        RecordInput.model_validate(data)
    except ValidationError as exc:
        return str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
    return None


def _result_problems(raw: Any) -> list[dict[str, str]]:
    if not isinstance(raw, Mapping) or not raw:
        return [_detail("results", "needs at least one field: value to pre-fill")]
    if len(raw) > MAX_RESULTS:
        return [_detail("results", f"at most {MAX_RESULTS} fields")]
    problems = []
    for name, value in raw.items():
        if not isinstance(name, str) or not is_prefill_field(name):
            allowed = ", ".join(PREFILL_FIELDS)
            problems.append(_detail(f"results.{name}", f"cannot be pre-filled; use one of {allowed} or fields.NAME"))
            continue
        problem = _value_problem(name, value)
        if problem:
            problems.append(_detail(f"results.{name}", problem))
    return problems


def parse_rule(data: Any) -> RuleDefinition:
    """Validate a rule definition; raise InvalidDefinitionError naming every bad field path."""
    if not isinstance(data, Mapping):
        raise InvalidDefinitionError("a rule must be an object", [_detail("(root)", "expected an object")])
    check_storable(data, "rule")
    problems = _condition_problems(data.get("conditions")) + _result_problems(data.get("results"))
    candidate = {**data, "conditions": [], "results": {}} if problems else dict(data)
    try:
        definition = RuleDefinition.model_validate(candidate)
        problems += _repeated_conditions(definition.conditions)
    except ValidationError as exc:
        problems += details_from(exc)
    if problems:
        raise InvalidDefinitionError(f"invalid rule: {problems[0]['path']}: {problems[0]['message']}", problems)
    return definition


def _repeated_conditions(conditions: Sequence[Condition]) -> list[dict[str, str]]:
    """Refuse a condition given twice: it would count twice towards "more conditions wins"."""
    first_at: dict[str, int] = {}
    problems = []
    for index, condition in enumerate(conditions):
        key = json.dumps(condition.model_dump(mode="json"), sort_keys=True)
        if key in first_at:
            problems.append(_detail(f"conditions[{index}]", f"repeats conditions[{first_at[key]}]"))
        first_at.setdefault(key, index)
    return problems


# reading and writing the fields rules fill


def read_field(record: Record, name: str) -> Any:
    """Return a writable field's value; ABSENT for a custom field the record lacks."""
    if name.startswith("fields."):
        return record.fields.get(name.removeprefix("fields."), ABSENT)
    return getattr(record, "class_" if name == "class" else name)


def write_fields(record: Record, values: Mapping[str, Any]) -> Record:
    """Return the record with these fields set; ABSENT removes a custom field."""
    if not values:
        return record
    update: dict[str, Any] = {}
    custom = dict(record.fields)
    for name, value in values.items():
        if name.startswith("fields."):
            key = name.removeprefix("fields.")
            if value is ABSENT:
                custom.pop(key, None)
            else:
                custom[key] = value
        else:
            update["class_" if name == "class" else name] = None if value is ABSENT else value
    if custom != record.fields:
        update["fields"] = custom
    return record.model_copy(update=update)


def is_blank(value: Any) -> bool:
    """Tell whether a field holds nothing a person entered (absent, None or blank text)."""
    return value is ABSENT or value is None or (isinstance(value, str) and not value.strip())


def is_same_value(a: Any, b: Any) -> bool:
    """Compare two field values strictly (True is not 1, None is not absent)."""
    return type(a) is type(b) and bool(a == b)


def kept_prefills(record: Record, applied: Mapping[str, AppliedPrefill]) -> Record:
    """Return a record rules no longer change with the values they filled back where a save left them blank: an
    integration re-sending an approved document without the coding it never knew does not erase it."""
    return write_fields(record, {name: a.prefill.value for name, a in applied.items()
                                 if not a.prefill.is_suggestion and is_blank(read_field(record, name))})


def is_open_to_prefill(record: Record) -> bool:
    """Tell whether rules may still change the record: it is not approved (or expired) yet."""
    return record.approval_status in OPEN_TO_PREFILL


# resolution


@dataclass(frozen=True)
class Prefill:
    """What rules give one field: the winning value, its rule, same-level competitors, suggestion or not."""

    value: Any
    rule_id: str
    competing: tuple[tuple[Any, str], ...] = ()
    is_suggestion: bool = False


def _order(rule: Rule) -> tuple[tuple[int, int], datetime, str]:
    return (rule.level(), rule.created_at, rule.id)


def _decide(offers: Sequence[tuple[Rule, Any]], person: Any) -> Prefill | None:
    winner, value = offers[0]
    if not is_blank(person) and is_same_value(person, value):
        return None
    seen = [value] if is_blank(person) else [value, person]
    competing = []
    for rule, other in offers[1:]:
        if rule.level() != winner.level():
            break
        if not any(is_same_value(other, known) for known in seen):
            competing.append((other, rule.id))
            seen.append(other)
    return Prefill(value, winner.id, tuple(competing), is_suggestion=not is_blank(person))


@dataclass(frozen=True)
class RuleBook:
    """The published rules, strongest first, with their conditions compiled for one time zone."""

    tz: ZoneInfo
    entries: tuple[tuple[Rule, Predicate], ...] = ()

    @classmethod
    def of(cls, rules: Iterable[Rule], tz: ZoneInfo) -> RuleBook:
        """Compile the published rules among `rules`; build once, use for many records."""
        if isinstance(rules, RuleBook) and rules.tz is tz:
            return rules
        published = sorted((r for r in rules if r.is_published()), key=_order, reverse=True)
        return cls(tz, tuple((r, compile_conditions(r.conditions, tz=tz)) for r in published))

    def __iter__(self) -> Iterator[Rule]:
        return (rule for rule, _ in self.entries)

    def matching(self, facts: Mapping[str, Any], ctx: EvalContext) -> list[Rule]:
        """Return the rules whose conditions hold, strongest first."""
        return [rule for rule, is_match in self.entries if is_match(facts, ctx)]


def matching_rules(facts: Mapping[str, Any], rules: Iterable[Rule], ctx: EvalContext) -> list[Rule]:
    """Return the published rules whose conditions hold, strongest first."""
    return RuleBook.of(rules, ctx.tz).matching(facts, ctx)


def resolve_prefills(
    facts: Mapping[str, Any], rules: Iterable[Rule], person_values: Mapping[str, Any], ctx: EvalContext
) -> dict[str, Prefill]:
    """Return, per field, the value published matching rules give it (SPEC §8 precedence)."""
    offers: dict[str, list[tuple[Rule, Any]]] = {}
    for rule in matching_rules(facts, rules, ctx):
        for name, value in rule.results.items():
            offers.setdefault(name, []).append((rule, value))
    decided = {name: _decide(found, person_values.get(name, ABSENT)) for name, found in offers.items()}
    return {name: prefill for name, prefill in decided.items() if prefill is not None}


# provenance and planning


@dataclass(frozen=True)
class AppliedPrefill:
    """Provenance of one field a rule filled (or suggested) on one record, and what was there before."""

    field: str
    prefill: Prefill
    previous: Any = ABSENT
    chosen_by: str | None = None


def prefilled_fields(applied: Mapping[str, AppliedPrefill]) -> frozenset[str]:
    """Return the fields whose current value a rule filled (marked ⚡)."""
    return frozenset(name for name, a in applied.items() if not a.prefill.is_suggestion)


def base_value(current: Any, applied: AppliedPrefill | None) -> Any:
    """Return the field's value without the rule's pre-fill; a person's (or chosen) value stays."""
    if applied is None or applied.prefill.is_suggestion or applied.chosen_by is not None:
        return current
    return applied.previous if is_same_value(current, applied.prefill.value) else current


@dataclass(frozen=True)
class Baseline:
    """A record's values without what rules made (person values stay), and which of them differ."""

    record: Record
    values: dict[str, Any]
    reverted: dict[str, Any]

    def person_values(self) -> dict[str, Any]:
        """Return the non-blank values a person entered."""
        return {name: value for name, value in self.values.items() if not is_blank(value)}


def rule_fields(rules: Iterable[Rule]) -> set[str]:
    """Return every field the rules write."""
    return {name for rule in rules for name in rule.results}


def baseline(record: Record, applied: Mapping[str, AppliedPrefill], fields: Iterable[str]) -> Baseline:
    """Return the record's values as they would be without rules, over these fields and every pre-filled one."""
    current = {name: read_field(record, name) for name in {*fields, *applied}}
    values = {name: base_value(value, applied.get(name)) for name, value in current.items()}
    reverted = {n: v for n, v in values.items() if not is_same_value(v, current[n])}
    return Baseline(record, values, reverted)


def baseline_facts(base: Baseline, contacts: Mapping[str, Contact] | None) -> dict[str, Any]:
    """Return the facts rules read: the record without its pre-fills, and its contacts."""
    facts = facts_of(base.record, contacts)
    for name, value in base.reverted.items():
        if value is ABSENT:
            facts.pop(name, None)
        else:
            facts[name] = value
    return facts


@dataclass(frozen=True)
class PrefillPlan:
    """The record after rules ran, its complete provenance, and what changed."""

    record: Record
    applied: dict[str, AppliedPrefill]
    changed_values: dict[str, tuple[Any, Any]]
    changed_rows: frozenset[str]

    def is_change(self) -> bool:
        """Tell whether anything (a value or its provenance) changed."""
        return bool(self.changed_values or self.changed_rows)


def _planned(name: str, prefill: Prefill | None, base: Any) -> tuple[AppliedPrefill | None, Any]:
    if prefill is None:
        return None, base
    return AppliedPrefill(name, prefill, base), base if prefill.is_suggestion else prefill.value


def plan_prefills(
    record: Record,
    applied: Mapping[str, AppliedPrefill],
    rules: Iterable[Rule],
    contacts: Mapping[str, Contact] | None,
    ctx: EvalContext,
    scope: Iterable[str] | None = None,
    base: Baseline | None = None,
    facts: Mapping[str, Any] | None = None,
) -> PrefillPlan:
    """Run the rules on a record; only fields in `scope` (default: all) change.

    Pass a RuleBook when planning many records; `base` and `facts` when already computed for this one.
    """
    book = RuleBook.of(rules, ctx.tz)
    base = base or baseline(record, applied, rule_fields(book))
    facts = baseline_facts(base, contacts) if facts is None else facts
    resolution = resolve_prefills(facts, book, base.person_values(), ctx)
    fields = set(base.values) if scope is None else set(scope) & set(base.values)
    rows, values, changed_rows = dict(applied), {}, set()
    for name in fields:
        row, value = _planned(name, resolution.get(name), base.values[name])
        if row != applied.get(name):
            changed_rows.add(name)
            if row is None:
                rows.pop(name, None)
            else:
                rows[name] = row
        values[name] = value
    changed = {n: (read_field(record, n), v) for n, v in values.items() if not is_same_value(read_field(record, n), v)}
    new_record = write_fields(record, {n: after for n, (_, after) in changed.items()})
    return PrefillPlan(new_record, rows, changed, frozenset(changed_rows))


# an approver's choice


def prefill_choices(applied: AppliedPrefill) -> list[tuple[str, Any]]:
    """Return the values an approver may pick, as (option, value): a person's value first, then rules'."""
    options: list[tuple[str, Any]] = []
    if not is_blank(applied.previous):
        options.append((PERSON_OPTION, applied.previous))
    prefill = applied.prefill
    options.append((prefill.rule_id, prefill.value))
    options += [(rule_id, value) for value, rule_id in prefill.competing]
    return options


def selected_option(applied: AppliedPrefill) -> str:
    """Return the option the field currently holds."""
    return PERSON_OPTION if applied.prefill.is_suggestion else applied.prefill.rule_id


def _rule_offers(applied: AppliedPrefill) -> list[tuple[str, Any]]:
    return [(o, v) for o, v in prefill_choices(applied) if o != PERSON_OPTION]


def choose_prefill(
    record: Record, applied: AppliedPrefill, option: str, actor: str
) -> tuple[Record, AppliedPrefill]:
    """Return the record and provenance after an approver picks an offered value."""
    offered = dict(prefill_choices(applied))
    if option not in offered:
        raise PrefillChoiceError("This value is no longer offered for this field.")
    offers = _rule_offers(applied)
    if option == PERSON_OPTION:
        first_id, first_value = offers[0]
        rest = tuple((v, o) for o, v in offers[1:])
        prefill = Prefill(first_value, first_id, rest, is_suggestion=True)
    else:
        rest = tuple((v, o) for o, v in offers if o != option)
        prefill = Prefill(offered[option], option, rest)
    chosen = AppliedPrefill(applied.field, prefill, applied.previous, chosen_by=actor)
    return write_fields(record, {applied.field: offered[option]}), chosen


@dataclass(frozen=True)
class RuleChange:
    """The records a rule change concerns and the fields to recompute on them."""

    scope: frozenset[str]
    old_id: str | None = None
    new_rule: Rule | None = None


def rule_change(old: Rule | None, new: Rule | None) -> RuleChange:
    """Describe what publishing, unpublishing, editing or deleting a rule must recompute."""
    was = old if old is not None and old.is_published() else None
    now = new if new is not None and new.is_published() else None
    scope = rule_fields([r for r in (was, now) if r is not None])
    return RuleChange(frozenset(scope), was.id if was else None, now)


# what a rule change does to the not-yet-approved records (publishing and its preview share this)


RecordKey = tuple[str, str]


@dataclass(frozen=True)
class ChangeInputs:
    """What planning a rule change reads: the records open to pre-fill, their pre-fills and contacts."""

    records: Sequence[Record]
    applied: Mapping[RecordKey, Mapping[str, AppliedPrefill]]
    contacts: Mapping[str, Contact]
    involved: frozenset[RecordKey] = frozenset()


def rules_after(published: Iterable[Rule], old: Rule | None, new: Rule | None) -> list[Rule]:
    """Return the published rules as they would be once `old` is replaced by `new` (None: deleted)."""
    gone = {r.id for r in (old, new) if r is not None}
    kept = [r for r in published if r.id not in gone and r.is_published()]
    return kept + ([new] if new is not None and new.is_published() else [])


def _plan_record(
    record: Record, inputs: ChangeInputs, book: RuleBook, ctx: EvalContext, change: RuleChange,
    fields: set[str], predicate: Predicate | None,
) -> PrefillPlan | None:
    is_involved = record.key() in inputs.involved
    if not is_involved and predicate is None:
        return None
    applied = inputs.applied.get(record.key(), {})
    base = baseline(record, applied, fields)
    facts = baseline_facts(base, inputs.contacts)
    if not is_involved and not (predicate and predicate(facts, ctx)):
        return None
    plan = plan_prefills(record, applied, book, inputs.contacts, ctx, change.scope, base, facts)
    return plan if plan.is_change() else None


def plan_rule_change(
    rules: Iterable[Rule], change: RuleChange, inputs: ChangeInputs, ctx: EvalContext
) -> list[tuple[RecordKey, PrefillPlan]]:
    """Plan what a rule change (publish, unpublish, edit, delete) does to every record it concerns.

    `rules` are the published rules after the change; `inputs.involved` the records the old rule pre-filled.
    """
    if not change.scope:
        return []
    predicate = compile_conditions(change.new_rule.conditions, tz=ctx.tz) if change.new_rule else None
    book = RuleBook.of(rules, ctx.tz)
    fields = rule_fields(book) | change.scope
    plans = []
    for record in inputs.records:
        if is_open_to_prefill(record):
            plan = _plan_record(record, inputs, book, ctx, change, fields, predicate)
            if plan is not None:
                plans.append((record.key(), plan))
    return plans


@dataclass(frozen=True)
class ChangePreview:
    """The documents whose values a rule change would change, by type and id (the count publishing reports)."""

    records: tuple[RecordKey, ...]

    @property
    def count(self) -> int:
        """Return how many documents would change."""
        return len(self.records)


def preview_of(plans: Iterable[tuple[RecordKey, PrefillPlan]]) -> ChangePreview:
    """Return the documents whose field values the plans change (provenance-only changes do not count)."""
    return ChangePreview(tuple(sorted(key for key, plan in plans if plan.changed_values)))
