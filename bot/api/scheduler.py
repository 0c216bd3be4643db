"""REST API of the clock: invoice reminder settings, manual reminders, the outbox and the schedule."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request

from bot.api.deps import (
    ExactNumbersRoute,
    Ref,
    known_keys,
    refuse_unstorable_text,
    require_token,
    service_of,
    token_actor,
)
from bot.core.reminders import InvoiceReminders, OwnText, settings_json
from bot.errors import Unprocessable
from engine.dates import utc_iso
from engine.records import RecordType
from storage.models import OutboxItem

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_token), Depends(refuse_unstorable_text)],
                   route_class=ExactNumbersRoute)

OutboxStatus = Literal["queued", "sending", "sent", "dead"]




def _reminders(request: Request) -> InvoiceReminders:
    return InvoiceReminders(service_of(request))


def outbox_json(item: OutboxItem) -> dict[str, Any]:
    """Return an outbox item as the API shows it."""
    return {"id": item.id, "key": item.key, "kind": item.kind, "target": item.target, "status": item.status,
            "attempts": item.attempts, "not_before": utc_iso(item.not_before),
            "created_at": utc_iso(item.created_at), "last_error": item.last_error, "payload": item.payload}


@router.get("/settings/invoice-reminders")
async def get_invoice_reminders(request: Request) -> dict[str, Any]:
    """Return the invoice payment reminder settings, with the default texts filled in."""
    return settings_json(await _reminders(request).settings(), request.app.state.service.settings.locale)


@router.put("/settings/invoice-reminders")
async def put_invoice_reminders(request: Request, data: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """Replace the invoice payment reminder settings (at most 3 schedules, -10 to +10 days from the due date)."""
    return settings_json(await _reminders(request).save(data), request.app.state.service.settings.locale)


@router.patch("/settings/invoice-reminders")
async def patch_invoice_reminders(request: Request, data: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """Change some of the invoice payment reminder settings (e.g. `{"enabled": false}`), keeping the others."""
    return settings_json(await _reminders(request).change(data), request.app.state.service.settings.locale)


@router.post("/records/invoice/{invoice_id}/remind")
async def remind_invoice(
    invoice_id: Ref, request: Request, body: dict[str, Any] | None = Body(default=None),
) -> dict[str, Any]:
    """E-mail a payment reminder for an invoice now (finalised and approved ones only).

    Body (all optional): `schedule` N picks whose texts to use; `subject` and `message` are the reminder's own
    texts (templates, like a schedule's: `{{ invoice.id }}`, `{{ customer.name }}`…) instead of the schedule's.
    """
    body = known_keys(body or {}, ("schedule", "subject", "message"))
    schedule = body.get("schedule")
    if schedule is not None and (isinstance(schedule, bool) or not isinstance(schedule, int)):
        raise Unprocessable("schedule must be a schedule number", [{"path": "schedule", "message": "an integer"}])
    own = OwnText.parse(body.get("subject"), body.get("message"))
    return await _reminders(request).send_now(invoice_id, token_actor(request), schedule, own)


@router.post("/records/{record_type}/{record_id}/remind-approvers")
async def remind_approvers(record_type: RecordType, record_id: Ref, request: Request) -> dict[str, Any]:
    """Remind the approvers of a document's current step still to decide, now (a Slack DM with the buttons, to a
    delegate while they are away, an e-mail where the step says so); 409 when no approval waits."""
    return await service_of(request).approver_reminders.remind_now(record_type.value, record_id,
                                                                     token_actor(request))


@router.get("/outbox")
async def list_outbox(
    request: Request, status: OutboxStatus | None = None, limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """List outbox items, newest first (`status=dead` shows the dead letters), with counts by status."""
    async with service_of(request).db.read() as repo:
        items = await repo.outbox_items(status, limit)
        counts = await repo.outbox_counts()
    return {"items": [outbox_json(i) for i in items], "counts": counts}


@router.get("/scheduler")
async def scheduler_state(request: Request) -> dict[str, Any]:
    """Return what the clock knows: the cron jobs and how many subjects it watches."""
    scheduler = getattr(request.app.state, "scheduler", None)
    async with service_of(request).db.read() as repo:
        watched = await repo.count_subjects()
        performed = await repo.count_performed()
    return {"cron_jobs": scheduler.cron_jobs() if scheduler else [], "watched": watched, "performed": performed}
