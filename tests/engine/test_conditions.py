"""The condition language: validation paths, every op on every type, compilation and safety."""

from __future__ import annotations

import random
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from engine.conditions import (
    DATE_OPS,
    GROUP_FIELDS,
    OP_DESCRIPTIONS,
    OPS_BY_TYPE,
    Condition,
    EvalContext,
    Op,
    compile_conditions,
    condition_key,
    evaluate,
    evaluate_reference,
    parse_conditions,
    validate_condition,
    validate_conditions,
)
from engine.errors import InvalidDefinitionError, NaiveDatetimeError
from engine.facts import field_type
from engine.records import ApprovalStatus, DocStatus, EmailStatus, RecordType, Source

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
UTC_ZONE = ZoneInfo("UTC")
GROUPS = {"vip": {"C-ACME"}, "big": {"V-1", "C-2"}}
# 2026-03-29 is the day Paris moves to summer time.
CTX = EvalContext.at(datetime.fromisoformat("2026-03-29T10:00:00+02:00"), PARIS, GROUPS)
MISSING = object()
D = Decimal


def at(text: str) -> datetime:
    """Parse an ISO date-time."""
    return datetime.fromisoformat(text)


def is_satisfied(cond: Condition, facts: Mapping[str, Any], ctx: EvalContext = CTX) -> bool:
    """Evaluate compiled and by the reference interpreter, which must agree."""
    compiled = evaluate([cond], facts, ctx)
    assert compiled is evaluate_reference([cond], facts, ctx)
    return compiled


def facts_with(name: str, fact: Any) -> dict[str, Any]:
    """Return facts holding one field, or none when the fact is MISSING."""
    return {} if fact is MISSING else {name: fact}


DECIMAL_CASES = [
    ("amount", "gt", "5000", D("5000.01"), True),
    ("amount", "gt", "5000", D("5000.00"), False),
    ("amount", "gt", 5000, D("4999.99"), False),
    ("amount", "gte", "5000", D("5000.00"), True),
    ("amount", "lt", "100.5", D("100.49"), True),
    ("amount", "lt", "100.5", D("100.50"), False),
    ("amount", "lte", "100.5", D("100.50"), True),
    ("amount", "eq", "5000", D("5000.00"), True),
    ("amount", "eq", "0.1", D("0.10"), True),
    ("amount", "ne", "5000", D("4000"), True),
    ("amount", "ne", "5000", D("5000.0"), False),
    ("amount", "between", ["100", "1000"], D("100"), True),
    ("amount", "between", ["100", "1000"], D("1000.00"), True),
    ("amount", "between", ["100", "1000"], D("1000.01"), False),
    ("amount", "between", ["100", "1000"], D("99.99"), False),
    ("amount", "in", ["1", "2.50"], D("2.5"), True),
    ("amount", "in", ["1", "2.50"], D("3"), False),
    ("amount", "not_in", ["1", "2.50"], D("3"), True),
    ("amount", "not_in", ["1", "2.50"], D("1.00"), False),
    ("amount", "is_empty", None, D("0"), False),
    ("amount", "is_not_empty", None, D("0"), True),
    ("balance", "lte", "0", D("-12.50"), True),
    ("customer.balance", "between", ["100", "1000"], D("500"), True),
]

STRING_CASES = [
    ("customer", "eq", "C-ACME", "C-ACME", True),
    ("customer", "eq", "C-ACME", "c-acme", False),
    ("customer", "ne", "C-ACME", "C-OTHER", True),
    ("customer", "ne", "C-ACME", "C-ACME", False),
    ("memo", "contains", "acme", "Renewal for ACME Corp", True),
    ("memo", "contains", "ACME", "acme corp", True),
    ("memo", "contains", "acme", "Renewal", False),
    ("memo", "starts_with", "po-", "PO-1001 parts", True),
    ("memo", "starts_with", "po-", "Ref PO-1001", False),
    ("customer.state", "in", ["CA", "NY"], "NY", True),
    ("customer.state", "in", ["CA", "NY"], "TX", False),
    ("customer.state", "not_in", ["CA", "NY"], "TX", True),
    ("customer.state", "not_in", ["CA", "NY"], "CA", False),
    ("memo", "is_empty", None, "", True),
    ("memo", "is_empty", None, "   ", True),
    ("memo", "is_empty", None, "x", False),
    ("memo", "is_not_empty", None, "x", True),
    ("memo", "is_not_empty", None, " ", False),
    ("id", "eq", 1001, "1001", True),
    ("vendor.city", "starts_with", "san", "San Francisco", True),
]

ENUM_CASES = [
    ("status", "eq", "open", DocStatus.OPEN, True),
    ("status", "eq", "open", "open", True),
    ("status", "eq", "open", DocStatus.PAID, False),
    ("status", "ne", "void", DocStatus.OPEN, True),
    ("status", "in", ["open", "sent"], DocStatus.SENT, True),
    ("status", "not_in", ["open", "sent"], DocStatus.PAID, True),
    ("type", "eq", "bill", RecordType.BILL, True),
    ("type", "ne", "invoice", RecordType.BILL, True),
    ("source", "in", ["app", "import"], Source.MANUAL, False),
    ("approval_status", "eq", "pending", ApprovalStatus.PENDING, True),
    ("email_status", "is_not_empty", None, EmailStatus.NOT_SENT, True),
    ("email_status", "is_empty", None, EmailStatus.SENT, False),
]

BOOL_CASES = [
    ("customer.active", "eq", False, False, True),
    ("customer.active", "eq", False, True, False),
    ("customer.active", "ne", True, False, True),
    ("customer.active", "is_not_empty", None, False, True),
    ("customer.active", "is_empty", None, False, False),
]

# today is 2026-03-29 in Paris
DATE_CASES = [
    ("due_date", "eq", "2026-03-29", date(2026, 3, 29), True),
    ("due_date", "ne", "2026-03-29", date(2026, 3, 30), True),
    ("due_date", "gt", "2026-03-29", date(2026, 3, 30), True),
    ("due_date", "gte", "2026-03-29", date(2026, 3, 28), False),
    ("due_date", "lt", "2026-03-29", date(2026, 3, 28), True),
    ("due_date", "lte", "2026-03-29", date(2026, 3, 30), False),
    ("due_date", "between", ["2026-03-01", "2026-03-31"], date(2026, 3, 31), True),
    ("due_date", "between", ["2026-03-01", "2026-03-31"], date(2026, 4, 1), False),
    ("due_date", "in", ["2026-03-29", "2026-04-01"], date(2026, 4, 1), True),
    ("due_date", "not_in", ["2026-03-29"], date(2026, 4, 1), True),
    ("due_date", "due_within_days", 3, date(2026, 3, 29), True),
    ("due_date", "due_within_days", 3, date(2026, 4, 1), True),
    ("due_date", "due_within_days", 3, date(2026, 4, 2), False),
    ("due_date", "due_within_days", 3, date(2026, 3, 28), False),
    ("due_date", "due_within_days", 0, date(2026, 3, 29), True),
    ("due_date", "due_within_days", "3", date(2026, 4, 1), True),
    ("due_date", "overdue_by_days", 0, date(2026, 3, 28), True),
    ("due_date", "overdue_by_days", 0, date(2026, 3, 29), False),
    ("due_date", "overdue_by_days", 1, date(2026, 3, 28), True),
    ("due_date", "overdue_by_days", 30, date(2026, 2, 27), True),
    ("due_date", "overdue_by_days", 30, date(2026, 2, 28), False),
    ("txn_date", "days_since_at_least", 0, date(2026, 3, 29), True),
    ("txn_date", "days_since_at_least", 7, date(2026, 3, 22), True),
    ("txn_date", "days_since_at_least", 7, date(2026, 3, 23), False),
    ("txn_date", "days_since_at_most", 7, date(2026, 3, 22), True),
    ("txn_date", "days_since_at_most", 7, date(2026, 3, 21), False),
    ("txn_date", "days_since_at_most", 7, date(2026, 3, 30), False),
    ("due_date", "days_until_at_least", 2, date(2026, 3, 31), True),
    ("due_date", "days_until_at_least", 2, date(2026, 3, 30), False),
    ("due_date", "days_until_at_most", 2, date(2026, 3, 31), True),
    ("due_date", "days_until_at_most", 2, date(2026, 4, 1), False),
    ("due_date", "days_until_at_most", 2, date(2026, 3, 28), False),
    ("due_date", "before_today", None, date(2026, 3, 28), True),
    ("due_date", "before_today", None, date(2026, 3, 29), False),
    ("due_date", "on_or_before_today", None, date(2026, 3, 29), True),
    ("due_date", "on_or_before_today", None, date(2026, 3, 30), False),
    ("due_date", "is_today", None, date(2026, 3, 29), True),
    ("due_date", "is_today", None, date(2026, 3, 30), False),
    ("due_date", "on_or_after_today", None, date(2026, 3, 29), True),
    ("due_date", "on_or_after_today", None, date(2026, 3, 28), False),
    ("due_date", "after_today", None, date(2026, 3, 29), False),
    ("due_date", "after_today", None, date(2026, 3, 30), True),
    ("due_date", "is_empty", None, date(2026, 3, 30), False),
    ("due_date", "is_not_empty", None, date(2026, 3, 30), True),
]

# Paris switches from +01:00 to +02:00 at 2026-03-29T01:00Z
DATETIME_CASES = [
    ("created_at", "is_today", None, at("2026-03-28T23:30:00+00:00"), True),
    ("created_at", "is_today", None, at("2026-03-28T22:30:00+00:00"), False),
    ("created_at", "days_since_at_least", 1, at("2026-03-28T22:30:00+00:00"), True),
    ("created_at", "days_since_at_least", 1, at("2026-03-28T23:30:00+00:00"), False),
    ("sent_at", "days_since_at_least", 3, at("2026-03-26T08:00:00+01:00"), True),
    ("sent_at", "days_since_at_most", 0, at("2026-03-29T21:59:00+00:00"), True),
    ("sent_at", "after_today", None, at("2026-03-29T22:00:00+00:00"), True),
    ("sent_at", "due_within_days", 1, at("2026-03-30T21:59:00+00:00"), True),
    ("sent_at", "due_within_days", 1, at("2026-03-30T22:00:00+00:00"), False),
    ("created_at", "gte", "2026-03-29", at("2026-03-28T23:30:00+00:00"), True),
    ("created_at", "gte", "2026-03-29T00:00:00+00:00", at("2026-03-28T23:30:00+00:00"), False),
    ("created_at", "lt", "2026-03-29T00:00:00+00:00", at("2026-03-28T23:30:00+00:00"), True),
    ("created_at", "eq", "2026-03-29", at("2026-03-29T21:59:00+00:00"), True),
    ("created_at", "ne", "2026-03-29", at("2026-03-29T22:00:00+00:00"), True),
    ("created_at", "eq", "2026-03-29T10:00:00+02:00", at("2026-03-29T08:00:00+00:00"), True),
    ("created_at", "between", ["2026-03-01", "2026-03-28"], at("2026-03-28T23:30:00+00:00"), False),
    (
        "updated_at",
        "between",
        ["2026-03-28T00:00:00+00:00", "2026-03-29T00:00:00+00:00"],
        at("2026-03-28T23:30:00+00:00"),
        True,
    ),
    ("created_at", "gt", "2026-03-28", at("2026-03-28T23:30:00+00:00"), True),
    ("created_at", "gt", "2026-03-28T23:30:00+00:00", at("2026-03-28T23:30:00+00:00"), False),
    ("created_at", "lte", "2026-03-28T23:30:00+00:00", at("2026-03-29T00:30:00+01:00"), True),
    ("created_at", "lte", "2026-03-28", at("2026-03-28T23:30:00+00:00"), False),
    ("sent_at", "before_today", None, at("2026-03-28T22:59:00+00:00"), True),
    ("sent_at", "before_today", None, at("2026-03-28T23:00:00+00:00"), False),
    ("sent_at", "on_or_before_today", None, at("2026-03-29T21:59:59+00:00"), True),
    ("sent_at", "on_or_after_today", None, at("2026-03-28T23:00:00+00:00"), True),
    ("sent_at", "on_or_after_today", None, at("2026-03-28T22:59:00+00:00"), False),
    ("sent_at", "overdue_by_days", 0, at("2026-03-28T22:59:00+00:00"), True),
    ("sent_at", "overdue_by_days", 0, at("2026-03-29T00:00:00+00:00"), False),
    ("sent_at", "days_until_at_least", 1, at("2026-03-29T22:00:00+00:00"), True),
    ("sent_at", "days_until_at_least", 1, at("2026-03-29T21:59:00+00:00"), False),
    ("sent_at", "days_until_at_most", 1, at("2026-03-30T12:00:00+02:00"), True),
    ("sent_at", "days_until_at_most", 1, at("2026-03-28T12:00:00+01:00"), False),
    ("created_at", "is_empty", None, at("2026-03-28T23:30:00+00:00"), False),
    ("created_at", "is_not_empty", None, at("2026-03-28T23:30:00+00:00"), True),
]

CUSTOM_CASES = [
    ("fields.score", "gt", 3, 4, True),
    ("fields.score", "gt", 3, "4", True),
    ("fields.score", "gt", 3, "abc", False),
    ("fields.score", "gt", 3, True, False),
    ("fields.score", "gt", "3", 3.5, True),
    ("fields.score", "lte", "3", 3, True),
    ("fields.score", "gte", "3.0", D("3"), True),
    ("fields.score", "gte", 3, [3], False),
    ("fields.score", "lt", 3, "2.99", True),
    ("fields.score", "lt", 3, float("nan"), False),
    ("fields.score", "between", [1, 2], D("1.5"), True),
    ("fields.score", "eq", 0.1, 0.1, True),
    ("fields.score", "eq", 5, 5, True),
    ("fields.code", "eq", "A1", "A1", True),
    ("fields.code", "eq", "4", 4, True),
    ("fields.code", "eq", 4, "4.0", True),
    ("fields.code", "ne", "4", "4.5", True),
    ("fields.code", "eq", "A1", "a1", False),
    ("fields.code", "eq", "A1", ["A1"], False),
    ("fields.code", "ne", "A1", ["A1"], True),
    ("fields.code", "in", ["A1", "B2"], "B2", True),
    ("fields.code", "in", [1, 2], 2.0, True),
    ("fields.code", "in", ["A1"], ["A1"], True),  # a list: one of its items
    ("fields.code", "not_in", ["A1"], {"a": 1}, True),
    ("fields.note", "contains", "rush", "RUSH order", True),
    ("fields.note", "contains", "rush", 5, False),
    ("fields.note", "starts_with", "ru", "Rush", True),
    ("fields.flag", "eq", True, True, True),
    ("fields.flag", "ne", True, False, True),
    ("fields.x", "is_empty", None, [], True),
    ("fields.x", "is_empty", None, {}, True),
    ("fields.x", "is_empty", None, "", True),
    ("fields.x", "is_empty", None, 0, False),
    ("fields.x", "is_not_empty", None, [1], True),
    ("customer.fields.tier", "eq", "gold", "gold", True),
]

GROUP_CASES = [
    ("customer", "in_group", "vip", "C-ACME", True),
    ("customer", "in_group", "vip", "C-OTHER", False),
    ("customer", "in_group", "unknown", "C-ACME", False),
    ("vendor", "in_group", "big", "V-1", True),
    ("vendor.id", "in_group", "big", "V-1", True),
    ("customer.id", "in_group", "vip", "C-ACME", True),
]


@pytest.mark.parametrize(
    ("name", "op", "value", "fact", "expected"),
    DECIMAL_CASES
    + STRING_CASES
    + ENUM_CASES
    + BOOL_CASES
    + DATE_CASES
    + DATETIME_CASES
    + CUSTOM_CASES
    + GROUP_CASES,
)
def test_op_on_type(name: str, op: str, value: Any, fact: Any, expected: bool) -> None:
    cond = Condition(field=name, op=op, value=value)
    assert is_satisfied(cond, {name: fact}) is expected


def test_every_op_and_type_is_covered_by_the_tables() -> None:
    tables = (
        DECIMAL_CASES
        + STRING_CASES
        + ENUM_CASES
        + BOOL_CASES
        + DATE_CASES
        + DATETIME_CASES
        + CUSTOM_CASES
        + GROUP_CASES
    )
    covered = {(field_type(name), op) for name, op, *_ in tables}
    wanted = {(kind, op.value) for kind, ops in OPS_BY_TYPE.items() for op in ops}
    assert wanted - covered == set()
    assert set(OP_DESCRIPTIONS) == set(Op)


MISSING_CASES = [
    ("amount", "eq", "1"),
    ("amount", "ne", "1"),
    ("amount", "gt", "1"),
    ("amount", "gte", "1"),
    ("amount", "lt", "1"),
    ("amount", "lte", "1"),
    ("amount", "between", ["1", "2"]),
    ("amount", "in", ["1"]),
    ("amount", "not_in", ["1"]),
    ("amount", "is_empty", None),
    ("amount", "is_not_empty", None),
    ("memo", "eq", "a"),
    ("memo", "ne", "a"),
    ("memo", "contains", "a"),
    ("memo", "starts_with", "a"),
    ("memo", "in", ["a"]),
    ("memo", "not_in", ["a"]),
    ("memo", "is_empty", None),
    ("memo", "is_not_empty", None),
    ("status", "eq", "open"),
    ("status", "ne", "open"),
    ("customer", "in_group", "vip"),
    ("customer.active", "eq", True),
    ("customer.active", "ne", True),
    ("fields.x", "eq", "a"),
    ("fields.x", "ne", "a"),
    ("fields.x", "gt", 1),
    ("fields.x", "in", ["a"]),
    ("fields.x", "not_in", ["a"]),
    ("fields.x", "contains", "a"),
    ("fields.x", "is_empty", None),
    ("fields.x", "is_not_empty", None),
    ("created_at", "eq", "2026-03-29"),
    ("created_at", "ne", "2026-03-29"),
    ("created_at", "lt", "2026-03-29T00:00:00+00:00"),
    *[("due_date", op.value, 1 if op.value.startswith(("due", "overdue", "days")) else None)
      for op in sorted(DATE_OPS)],
    *[("sent_at", op.value, 1 if op.value.startswith(("due", "overdue", "days")) else None)
      for op in sorted(DATE_OPS)],
]
TRUE_WHEN_MISSING = {"ne", "not_in", "is_empty"}


@pytest.mark.parametrize("absent", [MISSING, None], ids=["key absent", "value None"])
@pytest.mark.parametrize(("name", "op", "value"), MISSING_CASES)
def test_missing_field(name: str, op: str, value: Any, absent: Any) -> None:
    cond = Condition(field=name, op=op, value=value)
    assert is_satisfied(cond, facts_with(name, absent)) is (op in TRUE_WHEN_MISSING)



@pytest.mark.parametrize(
    ("now", "tz", "name", "op", "value", "fact", "expected"),
    [
        # New York springs forward on 2026-03-08
        ("2026-03-08T00:30:00-05:00", NEW_YORK, "created_at", "days_since_at_least", 1,
         at("2026-03-07T23:59:00-05:00"), True),
        ("2026-03-08T00:30:00-05:00", NEW_YORK, "created_at", "is_today", None,
         at("2026-03-07T23:59:00-05:00"), False),
        ("2026-03-08T23:30:00-04:00", NEW_YORK, "created_at", "is_today", None,
         at("2026-03-09T03:00:00+00:00"), True),
        ("2026-03-08T23:30:00-04:00", UTC_ZONE, "created_at", "is_today", None,
         at("2026-03-08T04:30:00+00:00"), False),
        ("2026-03-10T09:00:00-04:00", NEW_YORK, "due_date", "overdue_by_days", 7,
         date(2026, 3, 3), True),
        ("2026-03-10T09:00:00-04:00", NEW_YORK, "due_date", "overdue_by_days", 7,
         date(2026, 3, 4), False),
        # New York falls back on 2026-11-01
        ("2026-11-01T23:30:00-05:00", NEW_YORK, "due_date", "is_today", None,
         date(2026, 11, 1), True),
        ("2026-11-01T23:30:00-05:00", UTC_ZONE, "due_date", "before_today", None,
         date(2026, 11, 1), True),
        ("2026-11-01T12:00:00-05:00", NEW_YORK, "created_at", "is_today", None,
         at("2026-11-01T05:30:00+00:00"), True),
        ("2026-11-01T12:00:00-05:00", NEW_YORK, "created_at", "is_today", None,
         at("2026-11-01T06:30:00+00:00"), True),
        ("2026-11-01T12:00:00-05:00", NEW_YORK, "created_at", "days_since_at_least", 1,
         at("2026-11-01T03:59:00+00:00"), True),
        # Paris falls back on 2026-10-25
        ("2026-10-25T23:30:00+01:00", PARIS, "sent_at", "is_today", None,
         at("2026-10-24T22:30:00+00:00"), True),
        ("2026-10-25T23:30:00+01:00", PARIS, "sent_at", "days_since_at_most", 0,
         at("2026-10-24T22:30:00+00:00"), True),
        ("2026-10-25T23:30:00+01:00", PARIS, "sent_at", "days_since_at_least", 1,
         at("2026-10-24T21:59:00+00:00"), True),
        ("2026-10-25T23:30:00+01:00", UTC_ZONE, "sent_at", "is_today", None,
         at("2026-10-24T22:30:00+00:00"), False),
        # Paris springs forward on 2026-03-29
        ("2026-03-29T00:30:00+01:00", PARIS, "due_date", "is_today", None,
         date(2026, 3, 29), True),
        ("2026-03-29T00:30:00+01:00", UTC_ZONE, "due_date", "after_today", None,
         date(2026, 3, 29), True),
        ("2026-03-27T12:00:00+01:00", PARIS, "due_date", "due_within_days", 3,
         date(2026, 3, 30), True),
        ("2026-03-27T12:00:00+01:00", PARIS, "due_date", "due_within_days", 3,
         date(2026, 3, 31), False),
        ("2026-03-31T00:30:00+02:00", PARIS, "created_at", "days_since_at_least", 3,
         at("2026-03-28T00:30:00+01:00"), True),
        ("2026-03-31T00:30:00+02:00", PARIS, "created_at", "days_since_at_least", 3,
         at("2026-03-28T23:30:00+00:00"), False),
    ],
)
def test_date_ops_across_dst(
    now: str, tz: ZoneInfo, name: str, op: str, value: Any, fact: Any, expected: bool
) -> None:
    ctx = EvalContext.at(at(now), tz)
    assert is_satisfied(Condition(field=name, op=op, value=value), {name: fact}, ctx) is expected


UTC_PLUS_1 = timezone(timedelta(hours=1))


@pytest.mark.parametrize(
    ("name", "op", "value", "normalized"),
    [
        ("amount", "gt", "5000", D("5000")),
        ("amount", "gt", 5000, D("5000")),
        ("amount", "gte", 12.5, D("12.5")),
        ("amount", "lt", " 7.25 ", D("7.25")),
        ("amount", "between", ["100", 1000], [D("100"), D("1000")]),
        ("amount", "in", ["1", "2.50"], [D("1"), D("2.50")]),
        ("status", "eq", "open", "open"),
        ("status", "eq", DocStatus.OPEN, "open"),
        ("type", "in", ["invoice", "bill"], ["invoice", "bill"]),
        ("source", "not_in", ["app"], ["app"]),
        ("memo", "contains", "Urgent", "Urgent"),
        ("id", "eq", 1001, "1001"),
        ("due_date", "eq", "2026-12-20", date(2026, 12, 20)),
        ("due_date", "eq", date(2026, 12, 20), date(2026, 12, 20)),
        ("txn_date", "between", ["2026-01-01", "2026-02-01"], [date(2026, 1, 1), date(2026, 2, 1)]),
        ("due_date", "due_within_days", 3, 3),
        ("due_date", "overdue_by_days", "7", 7),
        ("created_at", "gte", "2026-01-01", date(2026, 1, 1)),
        ("created_at", "lt", "2026-01-01T09:00+01:00", datetime(2026, 1, 1, 9, tzinfo=UTC_PLUS_1)),
        ("created_at", "lt", "2026-01-01T08:00:00Z", datetime(2026, 1, 1, 8, tzinfo=UTC)),
        ("customer.active", "eq", False, False),
        ("customer", "in_group", " vip ", "vip"),
        ("customer.balance", "gt", "0", D("0")),
        ("fields.po", "eq", "PO-1", "PO-1"),
        ("fields.po", "eq", "42", D("42")),
        ("fields.score", "gt", 3, D("3")),
        ("fields.score", "eq", 0.1, D("0.1")),
        ("fields.flag", "eq", True, True),
        ("memo", "is_empty", None, None),
        ("due_date", "before_today", None, None),
        ("vendor.fields.tier", "in", ["gold"], ["gold"]),
    ],
)
def test_values_are_parsed_for_the_field_type(
    name: str, op: str, value: Any, normalized: Any
) -> None:
    (cond,) = parse_conditions([{"field": name, "op": op, "value": value}])
    assert cond.value == normalized
    assert type(cond.value) is type(normalized)
    if isinstance(normalized, list):
        assert [type(v) for v in cond.value] == [type(v) for v in normalized]
    assert validate_condition(cond, "c") == []
    assert Condition.model_validate(cond.model_dump(mode="json")) == cond


def test_decimal_values_never_become_floats() -> None:
    (cond,) = parse_conditions([{"field": "amount", "op": "between", "value": [0.1, "0.3"]}])
    assert cond.value == [D("0.1"), D("0.3")]
    assert all(isinstance(v, Decimal) for v in cond.value)
    assert cond.model_dump(mode="json")["value"] == ["0.1", "0.3"]


OK = {"field": "amount", "op": "gt", "value": "1"}
VALUE = "conditions[1].value"


@pytest.mark.parametrize(
    ("bad", "path", "message"),
    [
        ({"field": "nope", "op": "eq", "value": 1}, "conditions[1].field", "unknown field 'nope'"),
        ({"field": "customer.nope", "op": "eq", "value": 1}, "conditions[1].field", "unknown"),
        ({"field": "fields.", "op": "eq", "value": 1}, "conditions[1].field", "unknown field"),
        ({"op": "eq", "value": 1}, "conditions[1].field", "required"),
        ({"field": 3, "op": "eq", "value": 1}, "conditions[1].field", "required"),
        ({"field": "amount", "op": "bogus", "value": 1}, "conditions[1].op", "unknown op 'bogus'"),
        ({"field": "amount", "value": 1}, "conditions[1].op", "unknown op None"),
        ({"field": "amount", "op": ["gt"], "value": 1}, "conditions[1].op", "unknown op"),
        ({"field": "memo", "op": "gt", "value": "a"}, "conditions[1].op", "gt does not apply"),
        ({"field": "status", "op": "contains", "value": "op"}, "conditions[1].op", "enum field"),
        ({"field": "amount", "op": "due_within_days", "value": 3}, "conditions[1].op", "decimal"),
        ({"field": "amount", "op": "contains", "value": "1"}, "conditions[1].op", "does not apply"),
        ({"field": "created_at", "op": "in", "value": ["2026-01-01"]}, "conditions[1].op", "in"),
        ({"field": "memo", "op": "in_group", "value": "vip"}, "conditions[1].op", "customer or"),
        ({"field": "customer.active", "op": "gt", "value": True}, "conditions[1].op", "bool"),
        ({"field": "amount", "op": "gt", "value": "abc"}, VALUE, "decimal"),
        ({"field": "amount", "op": "gt", "value": True}, VALUE, "boolean"),
        ({"field": "amount", "op": "gt", "value": "NaN"}, VALUE, "finite"),
        ({"field": "amount", "op": "gt", "value": [1]}, VALUE, "decimal"),
        ({"field": "amount", "op": "gt"}, VALUE, "needs a value"),
        ({"field": "amount", "op": "eq", "value": None}, VALUE, "is_empty"),
        ({"field": "amount", "op": "between", "value": ["1"]}, VALUE, "two values"),
        ({"field": "amount", "op": "between", "value": "1,2"}, VALUE, "two"),
        ({"field": "amount", "op": "between", "value": ["10", "1"]}, VALUE, "low"),
        ({"field": "amount", "op": "between", "value": ["1", "x"]}, "conditions[1].value[1]", "x"),
        ({"field": "status", "op": "in", "value": "open"}, VALUE, "list"),
        ({"field": "status", "op": "in", "value": []}, VALUE, "non-empty list"),
        ({"field": "status", "op": "in", "value": ["open", "x"]}, "conditions[1].value[1]", "open"),
        (
            {"field": "status", "op": "eq", "value": "pending"},
            VALUE,
            "expected one of draft, open, sent, paid, void",
        ),
        ({"field": "type", "op": "eq", "value": "receipt"}, VALUE, "invoice, bill"),
        ({"field": "source", "op": "eq", "value": "email"}, VALUE, "manual"),
        ({"field": "memo", "op": "is_empty", "value": "x"}, VALUE, "no value"),
        ({"field": "due_date", "op": "is_today", "value": 0}, VALUE, "no value"),
        ({"field": "customer", "op": "in_group", "value": ""}, VALUE, "group"),
        ({"field": "customer", "op": "in_group", "value": ["vip"]}, VALUE, "group"),
        ({"field": "due_date", "op": "eq", "value": "20-12-2026"}, VALUE, "ISO"),
        ({"field": "due_date", "op": "eq", "value": 20261220}, VALUE, "ISO"),
        (
            {"field": "due_date", "op": "eq", "value": datetime(2026, 1, 1, tzinfo=UTC)},
            VALUE,
            "ISO date",
        ),
        ({"field": "created_at", "op": "gt", "value": "2026-01-01T09:00:00"}, VALUE,
         "offset"),
        ({"field": "created_at", "op": "gt", "value": "soon"}, VALUE, "offset"),
        (
            {"field": "created_at", "op": "between",
             "value": ["2026-01-01", "2026-02-01T00:00:00+00:00"]},
            VALUE,
            "both bounds",
        ),
        ({"field": "due_date", "op": "overdue_by_days", "value": -1}, VALUE, "0"),
        ({"field": "txn_date", "op": "overdue_by_days", "value": 1.5}, VALUE, "whole"),
        ({"field": "txn_date", "op": "is_today", "value": False}, VALUE, "no value"),
        ({"field": "due_date", "op": "due_within_days", "value": True}, VALUE, "whole"),
        ({"field": "due_date", "op": "due_within_days", "value": None}, VALUE, "days"),
        ({"field": "due_date", "op": "due_within_days", "value": 99999}, VALUE, "366"),
        ({"field": "memo", "op": "contains", "value": ""}, VALUE, "non-empty"),
        ({"field": "memo", "op": "starts_with", "value": 3}, VALUE, "text"),
        ({"field": "memo", "op": "eq", "value": "x" * 1001}, VALUE, "longer"),
        ({"field": "memo", "op": "eq", "value": {"a": 1}}, VALUE, "text"),
        ({"field": "customer.active", "op": "eq", "value": "yes"}, VALUE, "true"),
        ({"field": "fields.x", "op": "gt", "value": "abc"}, VALUE, "decimal"),
        ({"field": "fields.x", "op": "eq", "value": [1]}, VALUE, "text, a number"),
        ({"field": "fields.x", "op": "in", "value": [{"a": 1}]}, "conditions[1].value[0]", "text"),
        ({"field": "amount", "op": "in", "value": ["1"] * 1001}, VALUE, "at most"),
        ({**OK, "extra": 1}, "conditions[1].extra", "unknown key"),
        ({"field": "currency", "op": "eq", "value": "EURO"}, VALUE, "ISO 4217"),
        ({"field": "currency", "op": "in", "value": ["eur", "gbpx"]}, "conditions[1].value[1]", "ISO 4217"),
        ("amount > 5", "conditions[1]", "must be an object"),
        (None, "conditions[1]", "must be an object"),
    ],
)
def test_validation_errors_name_the_path(bad: Any, path: str, message: str) -> None:
    with pytest.raises(InvalidDefinitionError) as info:
        parse_conditions([OK, bad])
    assert [d["path"] for d in info.value.details] == [path]
    assert message in info.value.details[0]["message"]
    assert path in str(info.value)


def test_every_problem_is_reported_with_its_own_path() -> None:
    raw = [
        {"field": "nope", "op": "nah"},
        OK,
        {"field": "amount", "op": "gt", "value": "x"},
        {"field": "memo", "op": "gt", "value": "x", "junk": 1},
    ]
    with pytest.raises(InvalidDefinitionError) as info:
        parse_conditions(raw, "rules[2].conditions")
    assert [d["path"] for d in info.value.details] == [
        "rules[2].conditions[0].field",
        "rules[2].conditions[0].op",
        "rules[2].conditions[2].value",
        "rules[2].conditions[3].junk",
    ]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("amount > 5", "must be a list"),
        ({"field": "amount"}, "must be a list"),
        ([OK] * 101, "at most"),
    ],
)
def test_condition_list_shape(raw: Any, message: str) -> None:
    with pytest.raises(InvalidDefinitionError) as info:
        parse_conditions(raw)
    assert info.value.details[0]["path"] == "conditions"
    assert message in info.value.details[0]["message"]


def test_no_conditions() -> None:
    assert parse_conditions(None) == []
    assert parse_conditions([]) == []
    assert evaluate([], {}, CTX) is True
    assert evaluate_reference([], {}, CTX) is True


@pytest.mark.parametrize(
    ("raw", "loc", "message"),
    [
        ({"field": "nope", "op": "eq", "value": 1}, ("field",), "unknown field"),
        ({"field": "amount", "op": "bogus", "value": 1}, ("op",), "Input should be"),
        ({"field": "memo", "op": "gt", "value": "1"}, ("op",), "does not apply"),
        ({"field": "amount", "op": "gt", "value": "x"}, ("value",), "not a decimal"),
        ({"field": "amount", "op": "gt"}, ("value",), "needs a value"),
        ({"field": "status", "op": "in", "value": ["open", "x"]}, ("value",), "value[1]: 'x'"),
        ({"field": "amount", "op": "gt", "value": "1", "x": 1}, ("x",), "Extra inputs"),
    ],
)
def test_model_validation_locates_the_bad_part(
    raw: dict[str, Any], loc: tuple[str, ...], message: str
) -> None:
    with pytest.raises(ValidationError) as info:
        Condition.model_validate(raw)
    errors = info.value.errors()
    assert errors[0]["loc"] == loc
    assert message in errors[0]["msg"]


def test_validate_conditions_checks_unvalidated_models() -> None:
    sneaky = Condition.model_construct(field="amount", op=Op.GT, value="abc")
    good = Condition(field="amount", op=Op.GT, value="1")
    assert validate_conditions([good, sneaky], "wf.conditions") == [
        {"path": "wf.conditions[1].value", "message": "'abc' is not a decimal number"}
    ]
    assert validate_condition({"field": "amount", "op": "gt", "value": "1"}, "c") == []
    with pytest.raises(InvalidDefinitionError) as info:
        compile_conditions([good, sneaky], tz=PARIS)
    assert info.value.details[0]["path"] == "conditions[1].value"


def test_unvalidated_but_valid_models_are_normalized_before_compiling() -> None:
    raw = Condition.model_construct(field="amount", op=Op.GT, value="5000")
    assert evaluate([raw], {"amount": D("6000")}, CTX) is True
    assert evaluate_reference([raw], {"amount": D("6000")}, CTX) is True


def test_conditions_are_immutable() -> None:
    cond = Condition(field="amount", op="gt", value="1")
    with pytest.raises(ValidationError):
        cond.value = D("2")  # type: ignore[misc]


RULE = [
    {"field": "amount", "op": "gt", "value": "5000"},
    {"field": "customer.state", "op": "in", "value": ["CA", "NY"]},
    {"field": "status", "op": "eq", "value": "open"},
]


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({"amount": D("5000.01"), "customer.state": "CA", "status": DocStatus.OPEN}, True),
        ({"amount": D("5000.01"), "customer.state": "NY", "status": "open"}, True),
        ({"amount": D("5000.00"), "customer.state": "CA", "status": "open"}, False),
        ({"amount": D("9000"), "customer.state": "TX", "status": "open"}, False),
        ({"amount": D("9000"), "customer.state": "CA", "status": "paid"}, False),
        ({"customer.state": "CA", "status": "open"}, False),
        ({"amount": None, "customer.state": "CA", "status": "open"}, False),
        ({}, False),
    ],
)
def test_all_conditions_must_hold(facts: dict[str, Any], expected: bool) -> None:
    conditions = parse_conditions(RULE)
    predicate = compile_conditions(conditions, tz=PARIS)
    assert predicate(facts, CTX) is expected
    assert evaluate_reference(conditions, facts, CTX) is expected


def test_compiled_predicates_are_cached_by_content() -> None:
    first = compile_conditions(parse_conditions(RULE), tz=PARIS)
    again = compile_conditions(parse_conditions([dict(c) for c in RULE]), tz=PARIS)
    assert first is again
    assert compile_conditions(parse_conditions(RULE), tz=NEW_YORK) is not first
    changed = [*RULE[:2], {"field": "status", "op": "eq", "value": "sent"}]
    assert compile_conditions(parse_conditions(changed), tz=PARIS) is not first


def test_condition_key_is_stable_and_type_aware() -> None:
    a = parse_conditions([{"field": "fields.x", "op": "eq", "value": "true"}])
    b = parse_conditions([{"field": "fields.x", "op": "eq", "value": True}])
    same = parse_conditions([{"field": "fields.x", "op": "eq", "value": "true"}])
    assert condition_key(a) == condition_key(same)
    assert condition_key(a) != condition_key(b)
    hash(condition_key(parse_conditions(RULE)))
    assert is_satisfied(a[0], {"fields.x": "true"}) and not is_satisfied(b[0], {"fields.x": "true"})
    assert is_satisfied(b[0], {"fields.x": True}) and not is_satisfied(a[0], {"fields.x": True})


def test_predicate_reads_any_mapping() -> None:
    class Facts(Mapping[str, Any]):
        def __init__(self, data: dict[str, Any]) -> None:
            self.data = data

        def __getitem__(self, key: str) -> Any:
            return self.data[key]

        def __iter__(self) -> Any:
            return iter(self.data)

        def __len__(self) -> int:
            return len(self.data)

    conditions = parse_conditions(RULE)
    facts = Facts({"amount": D("6000"), "customer.state": "CA", "status": "open"})
    assert evaluate(conditions, facts, CTX) is True



def test_eval_context_localizes_today() -> None:
    now = at("2026-03-28T23:30:00+00:00")
    assert EvalContext.at(now, PARIS).today == date(2026, 3, 29)
    assert EvalContext.at(now, UTC_ZONE).today == date(2026, 3, 28)
    assert EvalContext.at(now, NEW_YORK).today == date(2026, 3, 28)
    ctx = EvalContext.at(now, PARIS, {"vip": ["C-1", "C-1"]})
    assert ctx.groups["vip"] == frozenset({"C-1"})
    assert ctx.tz is PARIS and ctx.now is now


def test_eval_context_rejects_naive_now() -> None:
    with pytest.raises(NaiveDatetimeError, match="timezone-aware"):
        EvalContext.at(datetime(2026, 3, 29, 9), PARIS)
    with pytest.raises(NaiveDatetimeError):
        EvalContext(today=date(2026, 3, 29), now=datetime(2026, 3, 29, 9))


def test_evaluate_uses_the_context_time_zone() -> None:
    cond = Condition(field="created_at", op="is_today")
    facts = {"created_at": at("2026-03-28T23:30:00+00:00")}
    now = at("2026-03-29T08:00:00+00:00")
    assert evaluate([cond], facts, EvalContext.at(now, PARIS)) is True
    assert evaluate([cond], facts, EvalContext.at(now, UTC_ZONE)) is False


HOSTILE = "x') or True or ('"


@pytest.mark.parametrize(
    "value",
    [HOSTILE, '"); import os; ("', "{get} {c0} {x0}", "\\n__import__('os')", "' + '"],
)
def test_hostile_values_are_plain_data(value: str) -> None:
    cond = Condition(field="memo", op="eq", value=value)
    assert is_satisfied(cond, {"memo": "harmless"}) is False
    assert is_satisfied(cond, {}) is False
    assert is_satisfied(cond, {"memo": value}) is True
    contains = Condition(field="memo", op="contains", value=value)
    assert is_satisfied(contains, {"memo": f"before {value} after"}) is True
    assert is_satisfied(contains, {"memo": "nothing"}) is False


def test_values_and_field_names_never_enter_the_source() -> None:
    name = 'fields.a") or True or ("'
    predicate = compile_conditions(
        parse_conditions([{"field": name, "op": "eq", "value": HOSTILE}]), tz=PARIS
    )
    code = predicate.__code__  # type: ignore[attr-defined]
    assert HOSTILE not in code.co_consts and name not in code.co_consts
    cells = [cell.cell_contents for cell in predicate.__closure__ or ()]  # type: ignore[attr-defined]
    assert HOSTILE in cells and name in cells


@pytest.mark.parametrize(
    "name",
    [
        'amount") or True or ("',
        "__import__('os').system('true')",
        "amount'] or True or ['",
        "customer.state') or True or ('",
        "amount\nimport os",
        "",
    ],
)
def test_hostile_field_names_are_unknown(name: str) -> None:
    with pytest.raises(InvalidDefinitionError) as info:
        parse_conditions([{"field": name, "op": "eq", "value": "1"}])
    assert info.value.details[0]["path"] == "conditions[0].field"


@pytest.mark.parametrize(
    "name",
    ['fields.a") or True or ("', "fields.{get}", "fields.x\nimport os", "customer.fields.'"],
)
def test_hostile_custom_field_names_are_plain_keys(name: str) -> None:
    cond = Condition(field=name, op="eq", value="v")
    assert is_satisfied(cond, {}) is False
    assert is_satisfied(cond, {"fields.a": "v"}) is False
    assert is_satisfied(cond, {name: "v"}) is True
    assert is_satisfied(Condition(field=name, op="is_empty"), {}) is True


FIELDS = [
    "amount", "customer.balance", "status", "type", "memo", "customer", "vendor",
    "customer.state", "customer.active", "due_date", "txn_date", "created_at", "sent_at",
    "fields.score", "fields.code",
]
DECIMALS = [D(x) for x in ("0", "99.99", "100", "100.00", "5000", "5000.01", "12500.50")]
STRINGS = ["", "  ", "C-ACME", "c-acme", "C-2", "V-1", "Urgent PO-1", "po-22 acme", "CA", "NY"]
NEEDLES = ["po", "acme", "Urgent", "c-", "zz", "C-2"]
ANY_FACTS = [1, 4, 3.5, "4", "abc", True, False, [], {}, "", D("4"), 0.1, "A1", ["A1"], 2.0]
ANY_OPERANDS = [1, 4, "4", "abc", 3.5, 0.1, True, "A1", 2]
ANY_NUMBERS = [1, 4, "4", 3.5, 0.1, "2.0"]
INSTANTS = [
    at("2026-03-08T06:30:00+00:00"),
    at("2026-03-29T00:30:00+00:00"),
    at("2026-10-25T00:30:00+00:00"),
    at("2026-11-01T05:30:00+00:00"),
]
OFFSETS = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))]


class Cases:
    """Seeded generators of random valid conditions and facts around a random `now`."""

    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.now = now

    def day(self, spread: int = 10) -> date:
        """Return a date around now."""
        return self.now.date() + timedelta(days=self.rng.randint(-spread, spread))

    def instant(self) -> datetime:
        """Return an aware instant around now, in a random offset."""
        moment = self.now + timedelta(minutes=self.rng.randint(-14_400, 14_400))
        return moment.astimezone(self.rng.choice(OFFSETS))

    def operand(self, name: str, kind: str) -> Any:
        """Return a random valid operand for the field."""
        rng = self.rng
        choices: dict[str, Any] = {
            "decimal": lambda: str(rng.choice(DECIMALS)),
            "enum": lambda: rng.choice(
                [s.value for s in (DocStatus if name == "status" else RecordType)]
            ),
            "string": lambda: rng.choice(STRINGS),
            "bool": lambda: rng.random() < 0.5,
            "date": lambda: self.day().isoformat(),
            "datetime": lambda: rng.choice([self.day().isoformat(), self.instant().isoformat()]),
            "any": lambda: rng.choice(ANY_OPERANDS),
        }
        return choices[kind]()

    def ordered(self, name: str, kind: str) -> Any:
        """Return a random operand usable with an ordering op."""
        return self.rng.choice(ANY_NUMBERS) if kind == "any" else self.operand(name, kind)

    def pair(self, name: str, kind: str) -> list[Any]:
        """Return random [low, high] bounds for between."""
        if kind == "datetime":
            make = self.rng.choice([self.day, self.instant])
            low, high = make().isoformat(), make().isoformat()
            return sorted([low, high], key=datetime.fromisoformat)
        low, high = self.ordered(name, kind), self.ordered(name, kind)
        key: Any = {"decimal": Decimal, "any": lambda v: Decimal(str(v)), "date": str}[kind]
        return sorted([low, high], key=key)

    def value(self, name: str, kind: str, op: Op) -> Any:
        """Return a random valid value for the op."""
        rng = self.rng
        if op in (Op.IN, Op.NOT_IN):
            return [self.operand(name, kind) for _ in range(rng.randint(1, 3))]
        if op is Op.BETWEEN:
            return self.pair(name, kind)
        if op in (Op.GT, Op.GTE, Op.LT, Op.LTE):
            return self.ordered(name, kind)
        if op in (Op.CONTAINS, Op.STARTS_WITH):
            return rng.choice(NEEDLES)
        if op is Op.IN_GROUP:
            return rng.choice(["vip", "big", "none"])
        if op.value.startswith(("due", "overdue", "days")):
            return rng.randint(0, 10)
        return None if op.value.endswith(("empty", "today")) else self.operand(name, kind)

    def condition(self) -> Condition:
        """Return a random valid condition."""
        name = self.rng.choice(FIELDS)
        kind = field_type(name) or "any"
        ops = sorted(op for op in OPS_BY_TYPE[kind] if op != Op.IN_GROUP or name in GROUP_FIELDS)
        op = self.rng.choice(ops)
        return Condition(field=name, op=op, value=self.value(name, kind, op))

    def fact(self, name: str) -> Any:
        """Return a random fact of the field's type, sometimes None."""
        rng = self.rng
        kind = field_type(name) or "any"
        makers: dict[str, Any] = {
            "decimal": lambda: rng.choice(DECIMALS),
            "enum": lambda: rng.choice(list(DocStatus if name == "status" else RecordType)),
            "string": lambda: rng.choice(STRINGS),
            "bool": lambda: rng.random() < 0.5,
            "date": lambda: self.day(12),
            "datetime": self.instant,
            "any": lambda: rng.choice(ANY_FACTS),
        }
        return None if rng.random() < 0.1 else makers[kind]()

    def facts(self) -> dict[str, Any]:
        """Return random facts, some fields absent."""
        return {name: self.fact(name) for name in FIELDS if self.rng.random() > 0.1}


def test_compiled_agrees_with_reference_on_random_cases() -> None:
    rng = random.Random(20260329)
    outcomes = []
    for _ in range(4000):
        now = rng.choice(INSTANTS) + timedelta(minutes=rng.randint(-1800, 1800))
        ctx = EvalContext.at(now, rng.choice([PARIS, NEW_YORK, UTC_ZONE]), GROUPS)
        cases = Cases(rng, now.astimezone(ctx.tz))
        conditions = [cases.condition() for _ in range(rng.choice([1, 1, 1, 2, 3]))]
        facts = cases.facts()
        compiled = compile_conditions(conditions, tz=ctx.tz)(facts, ctx)
        reference = evaluate_reference(conditions, facts, ctx)
        assert compiled is reference, (conditions, facts, ctx)
        outcomes.append(compiled)
    assert 0.2 < sum(outcomes) / len(outcomes) < 0.8


def test_random_conditions_cover_every_op() -> None:
    rng = random.Random(7)
    cases = Cases(rng, at("2026-03-29T10:00:00+02:00"))
    seen = {cases.condition().op for _ in range(3000)}
    assert seen == set(Op)


@pytest.mark.parametrize(("cond", "currency", "expected"), [
    ({"field": "currency", "op": "eq", "value": "eur"}, "EUR", True),
    ({"field": "currency", "op": "in", "value": ["eur", "gbp"]}, "GBP", True),
    ({"field": "currency", "op": "not_in", "value": ["usd"]}, "USD", False),
    ({"field": "currency", "op": "starts_with", "value": "e"}, "EUR", True),
    ({"field": "currency", "op": "ne", "value": "Eur"}, "EUR", False),
])
def test_a_currency_condition_is_read_in_upper_case_as_documents_store_it(
    cond: dict[str, Any], currency: str, expected: bool,
) -> None:
    [parsed] = parse_conditions([cond])
    assert is_satisfied(parsed, {"currency": currency}) is expected


@pytest.mark.parametrize(("op", "value", "fact", "expected"), [
    ("contains", "capex", ["capex", "it"], True),
    ("contains", "CAP", ["capex", "it"], True),
    ("contains", "ops", ["capex", "it"], False),
    ("starts_with", "i", ["capex", "it"], True),
    ("in", ["capex"], ["capex", "it"], True),
    ("in", ["ops", "hr"], ["capex", "it"], False),
    ("in", [3], ["3", "x"], True),
    ("not_in", ["capex"], ["capex", "it"], False),
    ("not_in", ["ops"], ["capex", "it"], True),
    ("not_in", ["ops"], [], True),
    ("contains", "capex", [], False),
    ("contains", "capex", "capex, it", True),
    ("in", ["capex"], "capex", True),
])
def test_a_list_valued_custom_field_holds_when_one_of_its_items_does(
    op: str, value: Any, fact: Any, expected: bool,
) -> None:
    [parsed] = parse_conditions([{"field": "fields.tags", "op": op, "value": value}])
    assert is_satisfied(parsed, {"fields.tags": fact}) is expected
