"""The data an approval message shows, derived from a record and its request (no wording here)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.approvals import (
    ApprovalRequest,
    Decision,
    RequestStatus,
    Vote,
    forced_votes,
    stood_in_seat,
    viewer_vote,
)
from engine.records import Contact, Record
from engine.rules import AppliedPrefill, is_blank, prefill_choices, read_field, selected_option

EXTRA_FIELDS = ("category", "location", "department", "class")
MAX_EXTRA_FIELDS = 6


def _prefill_menu(applied: AppliedPrefill | None) -> dict[str, Any]:
    """Return a field's suggestion, competing values and the choices an approver may pick."""
    if applied is None:
        return {"suggestion": None, "competing": [], "choices": [], "selected": None}
    choices = [{"option": option, "text": str(value)} for option, value in prefill_choices(applied)]
    selected = next((c for c in choices if c["option"] == selected_option(applied)), choices[0])
    return {
        "suggestion": str(applied.prefill.value) if applied.prefill.is_suggestion else None,
        "competing": [str(value) for value, _ in applied.prefill.competing],
        "choices": choices if len(choices) > 1 else [], "selected": selected,
    }


def _extra_fields(
    record: Record, prefilled: frozenset[str], prefills: Mapping[str, AppliedPrefill] | None = None
) -> list[dict[str, Any]]:
    prefills = prefills or {}
    custom = sorted(name for name in {*prefilled, *prefills} if name.startswith("fields."))
    values = {name: read_field(record, name) for name in (*EXTRA_FIELDS, *custom)}
    return [
        {"field": name, "label": name.removeprefix("fields.") if name in custom else name.capitalize(),
         "value": str(value), "prefilled": name in prefilled, **_prefill_menu(prefills.get(name))}
        for name, value in values.items() if not is_blank(value)
    ][:MAX_EXTRA_FIELDS]


def record_view(
    record: Record, contact: Contact | None, prefilled: frozenset[str] = frozenset(),
    prefills: Mapping[str, AppliedPrefill] | None = None,
) -> dict[str, Any]:
    """Return the record's fields as templates show them."""
    return {
        "type": record.type.value, "id": record.id, "amount": record.amount,
        "currency": record.currency, "balance": record.effective_balance(), "exchange_rate": record.exchange_rate,
        "contact_kind": "customer" if record.customer else "vendor",
        "contact_name": (contact.name if contact and contact.name else record.contact_id()) or "—",
        "has_contact": bool(record.contact_id()),
        "due_date": record.due_date, "memo": record.memo, "status": record.status.value,
        "approval_status": record.approval_status.value, "created_by": record.created_by,
        "extra_fields": _extra_fields(record, prefilled, prefills),
    }


CLOSED_ICONS = {RequestStatus.EXPIRED: "⌛", RequestStatus.CANCELLED: "🚫"}


def _step_icon(request: ApprovalRequest, index: int) -> str:
    if index < request.current_step or request.status is RequestStatus.APPROVED:
        return "✅"
    if index == request.current_step:
        return "⏳" if request.is_open() else CLOSED_ICONS.get(request.status, "❌")
    return "▫️"


def _outcome(request: ApprovalRequest, step_index: int | None) -> dict[str, Any]:
    if request.status is RequestStatus.APPROVED:
        actors = [v.approver for v in request.votes if v.decision is Decision.APPROVE]
        return {"status": "approved", "actors": actors, "reason": None}
    if request.status is RequestStatus.REJECTED:
        actors = [v.approver for v in request.votes if v.decision is Decision.REJECT]
        return {"status": "rejected", "actors": actors, "reason": request.reason}
    if not request.is_open():
        return {"status": request.status.value, "actors": [], "reason": request.reason}
    is_past = step_index is not None and step_index < request.current_step
    return {"status": "step_done" if is_past else "waiting", "actors": [], "reason": None}


def approval_card(
    record: Record, request: ApprovalRequest, contact: Contact | None,
    step_index: int | None = None, prefilled: frozenset[str] = frozenset(),
    prefills: Mapping[str, AppliedPrefill] | None = None, earlier_rejection: Vote | None = None,
    viewer: str | None = None,
) -> dict[str, Any]:
    """Return everything an approval message, modal or outcome DM needs to render (`earlier_rejection`: the vote
    that rejected the document before it was resubmitted; `viewer`: the approver or delegate whose DM shows it,
    whose copy offers no buttons once their part in the current step is decided)."""
    steps = [
        {"number": s.index + 1, "name": s.name, "min_approvers": s.min_approvers,
         "approvals": list(request.approvals_on(s.index)), "icon": _step_icon(request, s.index),
         "forced": [{"by": v.acted_by or v.approver, "reason": v.reason} for v in forced_votes(request, s.index)]}
        for s in request.steps
    ]
    is_current = step_index is None or step_index == request.current_step
    voted = viewer_vote(request, viewer) if is_current else None
    outcome = _outcome(request, step_index) if voted is None else {
        "status": "voted", "actors": [voted.acted_by or voted.approver], "reason": None,
        "for_whom": None if voted.approver == viewer else stood_in_seat(voted)}
    return {
        "record": record_view(record, contact, prefilled, prefills), "request_id": request.id,
        "requester": request.requester, "steps": steps, "viewer": viewer,
        "is_actionable": request.is_open() and is_current and voted is None, "is_shared_copy": step_index is None,
        "outcome": outcome, "earlier_rejection": _rejection(earlier_rejection),
    }



def _rejection(vote: Vote | None) -> dict[str, Any] | None:
    """Return who rejected the document before it was resubmitted, when, and why."""
    if vote is None:
        return None
    return {"by": vote.acted_by or vote.approver, "at": vote.at, "reason": vote.reason}
