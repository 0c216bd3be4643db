"""The render data of an approval request: the document, its contact, pre-fills and who acted for whom."""

from __future__ import annotations

from typing import Any

from bot.errors import UndeliverableError
from engine.approvals import ApprovalRequest
from engine.delegation import acted_by_steps
from engine.rules import prefilled_fields
from messages.cards import approval_card
from storage.ports import Store


async def request_card(db: Store, request_id: str, step_index: int | None) -> tuple[ApprovalRequest, dict[str, Any]]:
    """Return a request and what its message templates show, read in one snapshot; raise when it is gone."""
    async with db.read() as repo:
        request = await repo.get_request(request_id)
        if request is None:
            raise UndeliverableError(f"no approval request {request_id}")
        record = await repo.get_record(request.record_type, request.record_id)
        if record is None:
            raise UndeliverableError(f"no record for request {request_id}")
        contacts = await repo.contacts_of(record)
        prefills = await repo.prefills_of(request.record_type, request.record_id)
    contact = next(iter(contacts.values()), None)
    card = approval_card(record, request, contact, step_index, prefilled_fields(prefills), prefills)
    return request, {**card, "acted_by": acted_by_steps(request)}


def approval_json(request: ApprovalRequest) -> dict[str, Any]:
    """Return an approval request as JSON (the REST API's `approval`, the webhooks' events)."""
    return {
        "request_id": request.id, "workflow_id": request.workflow_id, "status": request.status.value,
        "requester": request.requester, "current_step": request.current_step, "reason": request.reason,
        "steps": [{"approvers": list(s.approvers), "min_approvers": s.min_approvers,
                   "approved_by": list(request.approvals_on(s.index))} for s in request.steps],
        "votes": [{"step": v.step_index, "approver": v.approver, "decision": v.decision.value,
                   "reason": v.reason, "at": v.at.isoformat()} for v in request.votes],
    }
