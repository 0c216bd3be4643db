"""Approval workflows a document could match together: it follows only one of them, so an admin is warned at save.

Two workflows cannot both match when a field one tests can never hold a value that passes both tests (amount at
most 1,000 and amount over 1,000; department eq Sales and department in [Ops, IT]; empty and not empty). Anything
this cannot prove apart is taken as able to overlap.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from engine.conditions import Condition, Op
from engine.lifecycle import governing_order
from engine.workflows import Workflow, WorkflowDefinition

_BOUNDED = frozenset({Op.EQ, Op.GT, Op.GTE, Op.LT, Op.LTE, Op.BETWEEN, Op.IN})
_NEEDS_VALUE = _BOUNDED | {Op.IS_NOT_EMPTY, Op.CONTAINS, Op.STARTS_WITH}


@dataclass(frozen=True)
class _Range:
    """The values a condition lets through, as an interval (None: unbounded on that side)."""

    low: Any = None
    low_open: bool = False
    high: Any = None
    high_open: bool = False

    def meets(self, other: _Range) -> bool:
        """Tell whether some value lies in both ranges."""
        return _below(self.low, self.low_open, other.high, other.high_open) and \
            _below(other.low, other.low_open, self.high, self.high_open)


def _below(low: Any, low_open: bool, high: Any, high_open: bool) -> bool:
    """Tell whether a lower bound leaves room under an upper bound."""
    if low is None or high is None:
        return True
    try:
        return bool(low < high or (low == high and not (low_open or high_open)))
    except TypeError:
        return True


def _key(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _range(condition: Condition) -> _Range | None:
    """Return the interval of an ordering or equality test, or None for other tests."""
    value = condition.value
    match condition.op:
        case Op.EQ:
            return _Range(_key(value), False, _key(value), False)
        case Op.GT | Op.GTE:
            return _Range(low=_key(value), low_open=condition.op is Op.GT)
        case Op.LT | Op.LTE:
            return _Range(high=_key(value), high_open=condition.op is Op.LT)
        case Op.BETWEEN:
            return _Range(_key(value[0]), False, _key(value[1]), False)
    return None


def _values(condition: Condition) -> set[Any] | None:
    """Return the only values an `eq` or `in` test lets through, or None for other tests."""
    if condition.op is Op.EQ:
        return {_key(condition.value)}
    if condition.op is Op.IN:
        return {_key(v) for v in condition.value}
    return None


def _is_value_excluded(values: set[Any], other: Condition) -> bool:
    """Tell whether none of `values` passes `other` (a `ne`, a `not_in`, or a range)."""
    if other.op is Op.NE:
        return values == {_key(other.value)}
    if other.op is Op.NOT_IN:
        return values <= {_key(v) for v in other.value}
    found = _range(other)
    return found is not None and not any(found.meets(_Range(v, False, v, False)) for v in values)


def excludes(one: Condition, other: Condition) -> bool:
    """Tell whether no value of their common field passes both tests."""
    if one.field != other.field:
        return False
    if Op.IS_EMPTY in (one.op, other.op):
        return (one.op if other.op is Op.IS_EMPTY else other.op) in _NEEDS_VALUE
    values, others = _values(one), _values(other)
    if values is not None and others is not None:
        return not values & others
    if values is not None or others is not None:
        return _is_value_excluded(values or others or set(), other if values is not None else one)
    ranges = _range(one), _range(other)
    return ranges[0] is not None and ranges[1] is not None and not ranges[0].meets(ranges[1])


def may_overlap(conditions: Sequence[Condition], others: Sequence[Condition]) -> bool:
    """Tell whether a document might meet both sets of conditions (no pair of tests proven to exclude each other)."""
    return not any(excludes(one, other) for one in conditions for other in others)


def overlap_warnings(definition: WorkflowDefinition, workflows: Iterable[Workflow],
                     own: Workflow | None = None) -> list[dict[str, str]]:
    """Return a warning for each other live approval workflow of the same document type that a document could match
    together with this one: it follows the one with more conditions (then the older) and passes the other over."""
    if definition.approval() is None:
        return []
    found = []
    for other in workflows:
        if (own is not None and other.id == own.id) or not other.is_live() or other.approval() is None \
                or other.record_type != definition.record_type \
                or not may_overlap(definition.conditions, other.conditions):
            continue
        is_first = _is_first(definition, own, other)
        winner = "this workflow" if is_first else f'"{other.name}"'
        found.append({"path": "conditions", "workflow_id": other.id, "workflow_name": other.name,
                      "follows": "this" if is_first else "other",
                      "message": f'a document ({definition.record_type}) can match both this workflow and '
                                 f'"{other.name}" ({other.id}): it follows {winner} only (more conditions, then the '
                                 "older)"})
    return found


def _is_first(definition: WorkflowDefinition, own: Workflow | None, other: Workflow) -> bool:
    """Tell whether this workflow governs a document both match (one not saved yet is the newest)."""
    if own is not None:
        return governing_order(own) < governing_order(other)
    return len(definition.conditions) > len(other.conditions)
