"""The render data of an approval request: the document, its contact, pre-fills and who acted for whom."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.errors import UndeliverableError
from engine.approvals import ApprovalRequest, Vote
from engine.dates import utc_iso
from engine.delegation import CopyStanding, StoodIn, acted_by_steps
from engine.records import Contact, Record
from engine.rules import AppliedPrefill, prefilled_fields
from messages.cards import approval_card
from storage.ports import Repository, Store


@dataclass(frozen=True)
class CardData:
    """What a request's message shows, read in one snapshot: the request, its document, contact and pre-fills, and
    the vote that rejected the document before it was resubmitted."""

    request: ApprovalRequest
    record: Record
    contact: Contact | None
    prefills: Mapping[str, AppliedPrefill]
    earlier_rejection: Vote | None = None


async def read_card_data(repo: Repository, request_id: str) -> CardData:
    """Read what a request's message shows, in the caller's snapshot; raise when the request or document is gone."""
    request = await repo.get_request(request_id)
    if request is None:
        raise UndeliverableError(f"no approval request {request_id}")
    record = await repo.get_record(request.record_type, request.record_id)
    if record is None:
        raise UndeliverableError(f"no record for request {request_id}")
    contacts = await repo.contacts_of(record)
    prefills = await repo.prefills_of(request.record_type, request.record_id)
    earlier = await repo.earlier_rejection(request)
    return CardData(request, record, next(iter(contacts.values()), None), prefills, earlier)


def card_of(data: CardData, step_index: int | None, viewer: str | None = None) -> dict[str, Any]:
    """Return what the message of a request shows (to the approvers of `step_index`, or to a channel; in
    `viewer`'s DM, what they decided)."""
    card = approval_card(data.record, data.request, data.contact, step_index, prefilled_fields(data.prefills),
                         data.prefills, data.earlier_rejection, viewer)
    return {**card, "acted_by": acted_by_steps(data.request)}


def behalf_view(request_id: str, stood: StoodIn | None) -> dict[str, Any]:
    """Return what a delegate's copy shows of whom they stand in for (`behalf`), and its buttons' value: the request,
    with the away approver's seat while it is theirs (as bot.slack.home_tasks.task_value encodes it)."""
    if stood is None or stood.recipient.on_behalf_of is None:
        return {"behalf": None, "value": request_id}
    who = stood.recipient.on_behalf_of
    behalf = {"who": who, "until": stood.recipient.until, "standing": stood.standing.value}
    is_acting = stood.standing is CopyStanding.ACTING
    return {"behalf": behalf, "value": f"{request_id}|{who}" if is_acting else request_id}


async def request_card(db: Store, request_id: str, step_index: int | None) -> tuple[ApprovalRequest, dict[str, Any]]:
    """Return a request and what its message templates show, read in one snapshot; raise when it is gone."""
    async with db.read() as repo:
        data = await read_card_data(repo, request_id)
    return data.request, card_of(data, step_index)


def approval_json(request: ApprovalRequest) -> dict[str, Any]:
    """Return an approval request as JSON (the REST API's `approval`, the webhooks' events)."""
    return {
        "request_id": request.id, "workflow_id": request.workflow_id, "status": request.status.value,
        "requester": request.requester, "current_step": request.current_step, "reason": request.reason,
        "steps": [{"approvers": list(s.approvers), "min_approvers": s.min_approvers,
                   "approved_by": list(request.approvals_on(s.index))} for s in request.steps],
        "votes": [{"step": v.step_index, "approver": v.approver, "decision": v.decision.value,
                   "reason": v.reason, "at": utc_iso(v.at), "acted_by": v.acted_by} for v in request.votes],
    }
