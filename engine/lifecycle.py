"""What saving a record means for its approval: the record lifecycle of the product."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from engine.approvals import is_same_person
from engine.records import AUTO_SUBMIT_SOURCES, ApprovalStatus, DocStatus, Record, RecordInput, Source
from engine.workflows import Trigger, Workflow

UNTRACKED_CHANGES = frozenset({"source", "created_by"})


DECIDED_FIELDS = frozenset({"amount", "currency", "customer", "vendor"})
# What follows an approved document's life after its approval (sent, paid) rather than what was approved.
BOOKKEEPING_FIELDS = frozenset({"status", "email_status", "balance"})
DECIDED_AGAINST = frozenset({ApprovalStatus.REJECTED, ApprovalStatus.EXPIRED})


class Plan(StrEnum):
    """What the bot must do with the record's approval after a save."""

    NOTHING = "nothing"
    START = "start"
    CANCEL = "cancel"
    RESTART = "restart"
    REFRESH = "refresh"  # the request goes on; its messages show the changed document


NO_LONGER_MATCHES = "the document no longer matches its workflow"
MOVED = "the document now falls under another workflow: it is asked for approval again"
CHANGED = "the document changed: it is asked for approval again"
REQUESTER_CHANGED = "the document's requester changed: it is asked for approval again"
VOIDED = "the document was voided"
RESTARTS = frozenset({MOVED, CHANGED, REQUESTER_CHANGED})


@dataclass(frozen=True)
class SaveDecision:
    """The approval status a saved record takes, what to do about its request, and why its open request ends
    (`reason`, for a cancel or a restart)."""

    approval_status: ApprovalStatus
    plan: Plan
    workflow: Workflow | None = None
    reason: str | None = None


def changed_fields(before: Record | None, after: RecordInput) -> frozenset[str]:
    """Return the writable fields whose values differ between two versions."""
    names = set(RecordInput.model_fields) - UNTRACKED_CHANGES
    if before is None:
        return frozenset(names)
    return frozenset(
        ("class" if n == "class_" else n) for n in names if getattr(before, n) != getattr(after, n)
    )


def field_changes(before: Record, after: Record) -> dict[str, list[Any]]:
    """Return, for the audit trail, each writable field a save changed as `[before, after]` JSON values (its
    `source` and `created_by` too, though they alone change nothing to an approval)."""
    old, new = before.model_dump(mode="json", by_alias=True), after.model_dump(mode="json", by_alias=True)
    names = changed_fields(before, after) | {n for n in UNTRACKED_CHANGES if old.get(n) != new.get(n)}
    return {name: [old.get(name), new.get(name)] for name in sorted(names)}


def is_requester_changed(before: Record | None, after: Record) -> bool:
    """Tell whether a save names another requester (`created_by`) than the document had (not the same e-mail in
    other letter case)."""
    return before is not None and before.created_by != after.created_by and not is_same_person(
        before.created_by, after.created_by)


def is_triggered(workflow: Workflow, is_new: bool, changed: frozenset[str]) -> bool:
    """Tell whether a save fires a workflow's trigger."""
    if workflow.trigger is Trigger.SCHEDULED:
        return False
    if is_new:
        return workflow.trigger in (Trigger.CREATED, Trigger.CREATED_OR_UPDATED)
    if workflow.trigger is Trigger.CREATED or not changed:
        return False
    watched = set(workflow.trigger_fields)
    return not watched or bool(watched & changed)


def approval_workflow_for(
    record: Record, workflows: Iterable[Workflow], matches: Callable[[Workflow], bool]
) -> Workflow | None:
    """Pick the live approval workflow that governs a record: most conditions, then oldest."""
    candidates = approval_workflows_for(record, workflows, matches)
    return candidates[0] if candidates else None


def approval_workflows_for(
    record: Record, workflows: Iterable[Workflow], matches: Callable[[Workflow], bool]
) -> list[Workflow]:
    """Return every live approval workflow a record matches, the one that governs it first (most conditions, then
    oldest); the others are passed over."""
    candidates = [w for w in workflows if is_approval_candidate(w, record) and matches(w)]
    return sorted(candidates, key=governing_order)


def governing_order(workflow: Workflow) -> tuple[int, datetime, str]:
    """Return where a workflow stands among approval workflows a document matches (the first governs it)."""
    return (-len(workflow.conditions), workflow.created_at, workflow.id)


def is_approval_candidate(workflow: Workflow, record: Record) -> bool:
    """Tell whether a workflow is a live approval workflow of the record's type (its conditions aside)."""
    return workflow.is_live() and workflow.record_type == record.type and workflow.approval() is not None


def decide_on_save(
    before: Record | None, after: Record, governing: Workflow | None, is_admin_author: bool,
    asked_under: str | None = None,
) -> SaveDecision:
    """Decide the approval status of a record that was just created or changed (`asked_under`: the workflow its open
    approval request follows, if any)."""
    status = before.approval_status if before else ApprovalStatus.NONE
    is_new = before is None
    changed = changed_fields(before, after) if before else frozenset()
    is_new_requester = status is ApprovalStatus.PENDING and is_requester_changed(before, after)
    if not is_new and not changed and not is_new_requester:
        return SaveDecision(status, Plan.NOTHING)
    if after.status is DocStatus.VOID:
        return _voided(status)
    if status is ApprovalStatus.PENDING:
        return _while_pending(governing, changed, asked_under, is_new_requester=is_new_requester)
    if status is ApprovalStatus.APPROVED and (after.source is Source.APP or changed <= BOOKKEEPING_FIELDS):
        return SaveDecision(status, Plan.NOTHING)
    if status in DECIDED_AGAINST and changed <= BOOKKEEPING_FIELDS:  # marked sent or paid: nothing to ask again
        return SaveDecision(status, Plan.NOTHING)
    if governing is None:
        return SaveDecision(ApprovalStatus.NONE, Plan.NOTHING)
    if after.source in AUTO_SUBMIT_SOURCES:
        return SaveDecision(ApprovalStatus.PENDING, Plan.START, governing)
    if is_admin_author and status is ApprovalStatus.NONE:
        return SaveDecision(ApprovalStatus.NONE, Plan.NOTHING)
    return SaveDecision(ApprovalStatus.APPROVAL_REQUIRED, Plan.NOTHING, governing)


def _while_pending(
    governing: Workflow | None, changed: frozenset[str], asked_under: str | None, *, is_new_requester: bool = False,
) -> SaveDecision:
    """A pending document that changed: re-routed as `decide_on_reroute` says; else asked again from the first step
    when what the approvers approve (its amount, currency, customer or vendor) or who requested it changed (the
    request's requester never approves it, whoever the document names now), its request's messages refreshed
    when another field did."""
    rerouted = decide_on_reroute(governing, asked_under)
    if rerouted.plan is not Plan.NOTHING or governing is None:
        return rerouted
    if changed & DECIDED_FIELDS:
        return SaveDecision(ApprovalStatus.PENDING, Plan.RESTART, governing, CHANGED)
    if is_new_requester:
        return SaveDecision(ApprovalStatus.PENDING, Plan.RESTART, governing, REQUESTER_CHANGED)
    return replace(rerouted, plan=Plan.REFRESH) if changed else rerouted


def decide_on_reroute(governing: Workflow | None, asked_under: str | None) -> SaveDecision:
    """A pending document, after it or what its workflows read changed: cancelled when no workflow governs it any
    more, asked again under the workflow that governs it now when that is another one (`asked_under`: the
    workflow its open request follows; None when unknown), else left as it is."""
    if governing is None:
        return SaveDecision(ApprovalStatus.NONE, Plan.CANCEL, reason=NO_LONGER_MATCHES)
    if asked_under is not None and governing.id != asked_under:
        return SaveDecision(ApprovalStatus.PENDING, Plan.RESTART, governing, MOVED)
    return SaveDecision(ApprovalStatus.PENDING, Plan.NOTHING, governing)


def _voided(status: ApprovalStatus) -> SaveDecision:
    """A void document is asked of nobody: its open request is cancelled, and one awaiting submission needs none."""
    if status is ApprovalStatus.PENDING:
        return SaveDecision(ApprovalStatus.NONE, Plan.CANCEL, reason=VOIDED)
    if status is ApprovalStatus.APPROVAL_REQUIRED:
        return SaveDecision(ApprovalStatus.NONE, Plan.NOTHING)
    return SaveDecision(status, Plan.NOTHING)


def is_submittable(record: Record) -> bool:
    """Tell whether a record may be sent for approval now."""
    return record.approval_status in (ApprovalStatus.APPROVAL_REQUIRED, ApprovalStatus.NONE)


UNAPPROVED = frozenset(
    {ApprovalStatus.APPROVAL_REQUIRED, ApprovalStatus.PENDING, ApprovalStatus.REJECTED, ApprovalStatus.EXPIRED}
)
_HOLD_REASONS = {
    ApprovalStatus.APPROVAL_REQUIRED: "awaits submission for approval",
    ApprovalStatus.PENDING: "is pending approval",
    ApprovalStatus.REJECTED: "was rejected",
    ApprovalStatus.EXPIRED: "expired without approval",
}


HOLD_PREFIX = "not approved: "
RELEASED = "approved"  # the cause of the run that sends, once approved, what approval held


def customer_hold(record: Record) -> str | None:
    """Return why nothing may be sent to the record's customer or vendor yet (None: it may be sent)."""
    if record.approval_status not in UNAPPROVED:
        return None
    return f"{HOLD_PREFIX}{record.type.value} {record.id} {_HOLD_REASONS[record.approval_status]}"


@dataclass(frozen=True)
class RunLine:
    """What a run of a workflow's actions on a document says, as far as holding for approval goes."""

    workflow_id: str
    cause: str
    at: datetime
    actions: tuple[Mapping[str, Any], ...]


def held_for_approval(runs: Iterable[RunLine], since: datetime | None) -> dict[str, tuple[int, ...]]:
    """Return, by workflow, the `send` actions a document's runs (newest first) held until it was approved: those
    since `since` (the end of its previous approval, if any) and after the last run that sent what was held."""
    held: dict[str, set[int]] = {}
    for run in runs:
        if run.cause == RELEASED or (since is not None and run.at < since):
            break
        for action in run.actions:
            if action.get("type") == "send" and str(action.get("reason", "")).startswith(HOLD_PREFIX):
                held.setdefault(run.workflow_id, set()).add(int(action["index"]))
    return {workflow_id: tuple(sorted(indexes)) for workflow_id, indexes in held.items()}


def may_reach_contact(record: Record) -> bool:
    """Tell whether a document may be e-mailed to its customer or vendor (it needs no approval or has it)."""
    return customer_hold(record) is None
