"""Benchmark: compiled conditions against rule-engine, json-logic and hand-written lambdas.

Run with `python -m bench.conditions`; `SIGNOFF_BENCH_QUICK=1` uses fewer records.
"""

from __future__ import annotations

import functools
import gc
import json
import os
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import json_logic
import rule_engine

from engine.conditions import (
    Condition,
    EvalContext,
    Predicate,
    compile_conditions,
    parse_conditions,
)

Facts = Mapping[str, Any]
Check = Callable[[Facts], Any]

TZ = ZoneInfo("Europe/Paris")
SEED = 20260329
WORKFLOWS = 50
STATES = ("CA", "NY", "TX", "WA", "FL", "IL", None)
COUNTRIES = ("US", "FR", "DE", "", None)
STATUSES = ("draft", "open", "open", "sent", "paid", "void")
SOURCES = ("manual", "app", "import", "receipt_capture", "spreadsheet_sync", "slack")
CURRENCIES = ("USD", "EUR", "GBP")
CATEGORIES = ("travel", "software", "hardware", "meals", "rent", None)
DEPARTMENTS = ("sales", "ops", "finance", "rnd", None)
MEMOS = ("ACME renewal", "urgent: PO-77", "Q3 acme licences", "office rent", "", None)
WORDS = ("acme", "urgent", "rent", "po-", "licence")


def record_count() -> int:
    """Return how many records to generate: 100,000, or 5,000 when SIGNOFF_BENCH_QUICK=1."""
    return 5_000 if os.environ.get("SIGNOFF_BENCH_QUICK") == "1" else 100_000


def _money(rng: random.Random) -> Decimal | None:
    return None if rng.random() < 0.03 else Decimal(rng.randrange(0, 2_000_000)) / 100


def make_records(n: int, seed: int = SEED) -> list[dict[str, Any]]:
    """Return n flat fact dicts keyed by condition paths (`customer.state`…)."""
    rng = random.Random(seed)
    return [
        {
            "amount": _money(rng),
            "balance": _money(rng),
            "status": rng.choice(STATUSES),
            "source": rng.choice(SOURCES),
            "currency": rng.choice(CURRENCIES),
            "category": rng.choice(CATEGORIES),
            "department": rng.choice(DEPARTMENTS),
            "memo": rng.choice(MEMOS),
            "email_status": rng.choice(("sent", "not_sent")),
            "customer.state": rng.choice(STATES),
            "customer.country": rng.choice(COUNTRIES),
        }
        for _ in range(n)
    ]


def peer_view(records: Sequence[Facts]) -> list[dict[str, Any]]:
    """Return the same records with identifier-safe keys (`customer_state`) for the peers."""
    return [{key.replace(".", "_"): value for key, value in rec.items()} for rec in records]


@dataclass(frozen=True)
class Workflow:
    """One workflow's conditions expressed for every engine under test."""

    conditions: list[Condition]
    rule_text: str
    logic: dict[str, Any]
    baseline: Check


def _q(text: str) -> str:
    return json.dumps(text)


def _shape_large(x: Decimal, states: list[str], status: str) -> Workflow:
    def is_match(f: Facts) -> bool:
        return (a := f.get("amount")) is not None and a > x and (
            f.get("customer.state") in frozen and f.get("status") == status
        )

    frozen = frozenset(states)
    return Workflow(
        parse_conditions(
            [
                {"field": "amount", "op": "gt", "value": str(x)},
                {"field": "customer.state", "op": "in", "value": states},
                {"field": "status", "op": "eq", "value": status},
            ]
        ),
        f"amount != null and amount > {x} and customer_state in {json.dumps(states)}"
        f" and status == {_q(status)}",
        {
            "and": [
                {">": [{"var": "amount"}, x]},
                {"in": [{"var": "customer_state"}, states]},
                {"==": [{"var": "status"}, status]},
            ]
        },
        is_match,
    )


def _shape_balance(low: Decimal, high: Decimal, source: str) -> Workflow:
    def is_match(f: Facts) -> bool:
        return (b := f.get("balance")) is not None and low <= b <= high and (
            f.get("source") != source
        )

    return Workflow(
        parse_conditions(
            [
                {"field": "balance", "op": "between", "value": [str(low), str(high)]},
                {"field": "source", "op": "ne", "value": source},
            ]
        ),
        f"balance != null and balance >= {low} and balance <= {high} and source != {_q(source)}",
        {"and": [{"<=": [low, {"var": "balance"}, high]}, {"!=": [{"var": "source"}, source]}]},
        is_match,
    )


def _shape_memo(word: str, currency: str) -> Workflow:
    def is_match(f: Facts) -> bool:
        return (m := f.get("memo")) is not None and word in m.casefold() and (
            f.get("currency") == currency
        )

    return Workflow(
        parse_conditions(
            [
                {"field": "memo", "op": "contains", "value": word},
                {"field": "currency", "op": "eq", "value": currency},
            ]
        ),
        f"memo != null and {_q(word)} in memo.as_lower and currency == {_q(currency)}",
        {
            "and": [
                {"var": "memo"},
                {"in": [word, {"method": [{"var": "memo"}, "casefold"]}]},
                {"==": [{"var": "currency"}, currency]},
            ]
        },
        is_match,
    )


def _shape_category(categories: list[str], departments: list[str], x: Decimal) -> Workflow:
    def is_match(f: Facts) -> bool:
        return (
            f.get("category") in cats
            and f.get("department") not in depts
            and (a := f.get("amount")) is not None
            and a <= x
        )

    cats, depts = frozenset(categories), frozenset(departments)
    return Workflow(
        parse_conditions(
            [
                {"field": "category", "op": "in", "value": categories},
                {"field": "department", "op": "not_in", "value": departments},
                {"field": "amount", "op": "lte", "value": str(x)},
            ]
        ),
        f"category in {json.dumps(categories)} and not (department in {json.dumps(departments)})"
        f" and amount != null and amount <= {x}",
        {
            "and": [
                {"in": [{"var": "category"}, categories]},
                {"!": {"in": [{"var": "department"}, departments]}},
                {"<=": [{"var": "amount"}, x]},
            ]
        },
        is_match,
    )


def _shape_unsent(x: Decimal) -> Workflow:
    def is_match(f: Facts) -> bool:
        return (
            f.get("email_status") == "not_sent"
            and (c := f.get("customer.country")) is not None
            and c.strip() != ""
            and (a := f.get("amount")) is not None
            and a >= x
        )

    return Workflow(
        parse_conditions(
            [
                {"field": "email_status", "op": "eq", "value": "not_sent"},
                {"field": "customer.country", "op": "is_not_empty"},
                {"field": "amount", "op": "gte", "value": str(x)},
            ]
        ),
        'email_status == "not_sent" and customer_country != null and customer_country != ""'
        f" and amount != null and amount >= {x}",
        {
            "and": [
                {"==": [{"var": "email_status"}, "not_sent"]},
                {"!!": {"var": "customer_country"}},
                {">=": [{"var": "amount"}, x]},
            ]
        },
        is_match,
    )


def single_rule() -> Workflow:
    """Return the reference 3-condition rule: amount > 5000, state in CA/NY, status open."""
    x, s = Decimal("5000"), frozenset({"CA", "NY"})
    shape = _shape_large(x, ["CA", "NY"], "open")
    return Workflow(
        shape.conditions,
        shape.rule_text,
        shape.logic,
        lambda f: (a := f.get("amount")) is not None
        and a > x
        and f.get("customer.state") in s
        and f.get("status") == "open",
    )


def _variant(rng: random.Random, index: int) -> Workflow:
    money = Decimal(rng.randrange(100, 15_000))
    states = [s for s in STATES if s is not None]
    names = [c for c in CATEGORIES if c is not None]
    shapes: list[Callable[[], Workflow]] = [
        lambda: _shape_large(money, rng.sample(states, 2), rng.choice(STATUSES)),
        lambda: _shape_balance(money, money + rng.randrange(500, 5000), rng.choice(SOURCES)),
        lambda: _shape_memo(rng.choice(WORDS), rng.choice(CURRENCIES)),
        lambda: _shape_category(rng.sample(names, 3), rng.sample(DEPARTMENTS[:3], 2), money),
        lambda: _shape_unsent(money),
    ]
    return shapes[index % len(shapes)]()


def make_workflows(count: int = WORKFLOWS, seed: int = SEED) -> list[Workflow]:
    """Return `count` workflows built from five hand-written shapes with varied constants."""
    rng = random.Random(seed + 1)
    return [_variant(rng, i) for i in range(count)]



def _count_compiled(
    predicates: Sequence[Predicate], records: Sequence[Facts], ctx: EvalContext
) -> int:
    matched = 0
    for predicate in predicates:
        for facts in records:
            if predicate(facts, ctx):
                matched += 1
    return matched


def _count_plain(checks: Sequence[Check], records: Sequence[Facts]) -> int:
    matched = 0
    for check in checks:
        for facts in records:
            if check(facts):
                matched += 1
    return matched


def _best(run: Callable[[], int], repeats: int) -> tuple[float, int]:
    """Return the best wall time of `repeats` runs (GC paused) and the match count."""
    best, matched = float("inf"), 0
    enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(repeats):
            start = time.perf_counter()
            matched = run()
            best = min(best, time.perf_counter() - start)
    finally:
        if enabled:
            gc.enable()
    return best, matched


@dataclass(frozen=True)
class Timing:
    """One engine's result on one case."""

    engine: str
    seconds: float
    matched: int
    records: int

    @property
    def per_record_us(self) -> float:
        """Return microseconds per record (all workflows of the case)."""
        return self.seconds / self.records * 1e6


def _engines(
    workflows: Sequence[Workflow], records: Sequence[Facts], peers: Sequence[Facts]
) -> dict[str, Callable[[], int]]:
    ctx = EvalContext.at(datetime(2026, 3, 29, 10, tzinfo=UTC), TZ)
    predicates = [compile_conditions(w.conditions, tz=TZ) for w in workflows]
    context = rule_engine.Context(default_value=None)
    rules = [rule_engine.Rule(w.rule_text, context=context).matches for w in workflows]
    logic = [functools.partial(json_logic.jsonLogic, w.logic) for w in workflows]
    baselines = [w.baseline for w in workflows]
    return {
        "lambda": lambda: _count_plain(baselines, records),
        "signoff": lambda: _count_compiled(predicates, records, ctx),
        "json-logic": lambda: _count_plain(logic, peers),
        "rule-engine": lambda: _count_plain(rules, peers),
    }


REPEATS = {"lambda": 5, "signoff": 5, "json-logic": 1, "rule-engine": 1}


def run_case(workflows: Sequence[Workflow], records: Sequence[Facts]) -> dict[str, Timing]:
    """Time every engine on the same workflows and records; all must match the same count."""
    engines = _engines(workflows, records, peer_view(records))
    timings = {}
    for name, run in engines.items():
        seconds, matched = _best(run, REPEATS[name])
        timings[name] = Timing(name, seconds, matched, len(records))
    counts = {t.matched for t in timings.values()}
    if len(counts) != 1:
        raise AssertionError(f"engines disagree on match counts: {timings}")
    return timings


def compile_cost(workflows: Sequence[Workflow]) -> float:
    """Return microseconds to compile one workflow's conditions with a cold cache."""
    fresh = [
        [Condition(field=c.field, op=c.op, value=c.value) for c in w.conditions] for w in workflows
    ]
    zone = ZoneInfo.no_cache("Europe/Paris")
    start = time.perf_counter()
    for conditions in fresh:
        compile_conditions(conditions, tz=zone)
    return (time.perf_counter() - start) / len(fresh) * 1e6



def _ratio(name: str, timings: Mapping[str, Timing]) -> str:
    own = timings[name].seconds
    vs_lambda = own / timings["lambda"].seconds
    if name == "lambda":
        return "1.00× lambda (baseline)"
    if name == "signoff":
        peers = "; ".join(
            f"{timings[peer].seconds / own:.0f}× faster than {peer}"
            for peer in ("json-logic", "rule-engine")
        )
        return f"{vs_lambda:.2f}× lambda; {peers}"
    return f"{vs_lambda:.0f}× lambda; signoff is {own / timings['signoff'].seconds:.0f}× faster"


def _rows(label: str, timings: Mapping[str, Timing]) -> list[dict[str, Any]]:
    return [
        {
            "benchmark": "conditions",
            "case": f"{label} / {name}",
            "value": round(timing.per_record_us, 4),
            "unit": "µs/record",
            "ratio": _ratio(name, timings),
        }
        for name, timing in timings.items()
    ]


def bench() -> list[dict[str, Any]]:
    """Run every case and return report rows."""
    n = record_count()
    records = make_records(n)
    workflows = make_workflows()
    single = run_case([single_rule()], records)
    many = run_case(workflows, records)
    rows = _rows(f"1 rule × 3 conditions, {n:,} records", single)
    rows += _rows(f"{len(workflows)} workflows × {n:,} records", many)
    rows.append(
        {
            "benchmark": "conditions",
            "case": f"compile {len(workflows)} workflows, cold cache / signoff",
            "value": round(compile_cost(workflows), 1),
            "unit": "µs/workflow",
            "ratio": "one-off per condition list (then cached)",
        }
    )
    return rows


def print_table(rows: Sequence[Mapping[str, Any]]) -> None:
    """Print report rows as an aligned text table."""
    width = max(len(str(row["case"])) for row in rows)
    for row in rows:
        value = f"{row['value']:>12.4f} {row['unit']}"
        print(f"{row['case']:<{width}}  {value:<24} {row['ratio']}")


if __name__ == "__main__":
    print_table(bench())
