"""Outbound status webhooks: queued in the deciding transaction; the outbox POSTs them signed (`bot.outbox.webhooks`).

Each event is the JSON `{id, event, record, approval, at}` (and `step` for a step's event), queued for
SIGNOFF_WEBHOOK_URL with the key `webhook:{id}` when webhooks are on; its delivery adds `sequence`.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic_core import to_jsonable_python

from bot.core.cards import approval_json
from bot.core.deps import Deps
from engine.approvals import ApprovalRequest, Outcome
from engine.events import ApprovalRequested, Event, RecordApproved, RecordRejected, StepApproved
from engine.records import Record
from storage.ports import Repository

REJECTED_EVENTS = {"rejected": "approval.rejected", "expired": "approval.expired", "cancelled": "approval.cancelled"}


def event_name(event: Event, request: ApprovalRequest) -> str | None:
    """Return the webhook event an approval event is published as, if any: `approval.requested` when an approval
    starts, `approval.step_approved` when a step but the last is approved (the next one is asked), then the end."""
    if isinstance(event, ApprovalRequested):
        return "approval.requested" if event.step_index == 0 and not request.votes else None
    if isinstance(event, StepApproved):
        return "approval.step_approved" if event.step_index + 1 < len(request.steps) else None
    if isinstance(event, RecordApproved):
        return "approval.approved"
    if isinstance(event, RecordRejected):
        return REJECTED_EVENTS.get(event.status)
    return None


class Webhooks:
    """Queues status events for SIGNOFF_WEBHOOK_URL (the outbox delivers them)."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @property
    def url(self) -> str | None:
        """Return where events go (None: webhooks are off)."""
        return self.deps.settings.webhook_url

    async def queue(
        self, repo: Repository, event: str, record: Record | None, request: ApprovalRequest | None, now: datetime,
        step: int | None = None,
    ) -> None:
        """Queue one event, in the caller's transaction, when webhooks are on (`step`: the step an approval event is
        about, 0-based)."""
        if not self.url:
            return
        event_id = f"evt_{uuid.uuid4().hex}"
        payload = {
            "id": event_id, "event": event, "at": to_jsonable_python(now),
            "record": record.model_dump(mode="json", by_alias=True) if record else None,
            "approval": approval_json(request) if request else None,
        } | ({"step": step} if step is not None else {})
        await repo.enqueue("webhook", self.url, payload, now, key=f"webhook:{event_id}")

    async def record_saved(self, repo: Repository, before: Record | None, after: Record, now: datetime) -> None:
        """Queue `record.created` or `record.updated`."""
        if not self.url:
            return
        requests = await repo.requests_for_record(after.type.value, after.id)
        name = "record.created" if before is None else "record.updated"
        await self.queue(repo, name, after, requests[-1] if requests else None, now)

    async def on_outcome(self, repo: Repository, outcome: Outcome, now: datetime) -> None:
        """Queue the approval events of an outcome (requested, approved, rejected, expired, cancelled)."""
        if not self.url:
            return
        request = outcome.request
        for event in outcome.events:
            name = event_name(event, request)
            if name is not None:
                record = await repo.get_record(request.record_type, request.record_id)
                await self.queue(repo, name, record, request, now, step=getattr(event, "step_index", None))
