"""Which records a scheduled workflow selects at a sweep."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from engine.conditions import EvalContext, compile_conditions
from engine.records import DocStatus
from engine.workflows import Trigger, Workflow

CLOSED_STATUSES = frozenset({DocStatus.VOID.value, DocStatus.PAID.value})


def is_closed_status_in_scope(workflow: Workflow) -> bool:
    """Tell whether the workflow's own conditions decide about the document status."""
    return any(cond.field == "status" for cond in workflow.conditions)


def select_scheduled(
    workflow: Workflow, candidates: Iterable[tuple[tuple[str, str], Mapping[str, Any]]], ctx: EvalContext
) -> list[tuple[str, str]]:
    """Return the keys (type, id) a live scheduled workflow selects at `ctx.now` (void/paid only if asked for)."""
    if workflow.trigger is not Trigger.SCHEDULED or not workflow.is_live():
        return []
    predicate = compile_conditions(workflow.conditions, tz=ctx.tz)
    record_type = workflow.record_type.value
    closed = frozenset() if is_closed_status_in_scope(workflow) else CLOSED_STATUSES
    return [
        key for key, facts in candidates
        if key[0] == record_type and facts.get("status") not in closed and predicate(facts, ctx)
    ]
