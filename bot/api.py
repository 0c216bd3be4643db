"""The REST API under /api/v1: bearer-token auth, JSON in and out, errors as SPEC §3 says."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse

from bot.errors import ApiError
from bot.rules_service import on_contact_saved
from bot.service import Signoff
from engine.limits import Id
from engine.records import ApprovalStatus, Contact, ContactInput, ContactKind, Record, RecordInput, RecordType


def error_body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Return the JSON error envelope."""
    return {"error": {"code": code, "message": message, "details": details or []}}


def error_response(exc: ApiError) -> JSONResponse:
    """Turn an ApiError into its JSON response."""
    return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status)


def record_json(record: Record) -> dict[str, Any]:
    """Serialise a record for the API, decimals as strings."""
    return record.model_dump(mode="json", by_alias=True)


def _service(request: Request) -> Signoff:
    service: Signoff = request.app.state.service
    return service


async def require_token(request: Request) -> None:
    """Check the bearer token against SIGNOFF_API_TOKEN."""
    expected = _service(request).settings.api_token
    if not expected:
        raise ApiError(401, "api_disabled", "the API is off: set SIGNOFF_API_TOKEN")
    given = request.headers.get("authorization", "")
    scheme, _, token = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(token.encode(), expected.encode()):
        raise ApiError(401, "unauthorized", "missing or wrong bearer token")


router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_token)])


@router.put("/records/{record_type}/{record_id}")
async def put_record(
    record_type: RecordType, record_id: Id, request: Request, data: RecordInput = Body(...)
) -> dict[str, Any]:
    """Create or update a document (idempotent)."""
    record = await _service(request).put_record(record_type, record_id, data)
    return record_json(record)


@router.get("/records/{record_type}/{record_id}")
async def get_record(record_type: RecordType, record_id: str, request: Request) -> dict[str, Any]:
    """Return one document with its approval."""
    service = _service(request)
    record = await service.get_record(record_type.value, record_id)
    return {**record_json(record), "approval": await service.approval_summary(record)}


@router.get("/records")
async def list_records(
    request: Request,
    type: RecordType | None = None,
    approval_status: ApprovalStatus | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> dict[str, Any]:
    """List documents, filtered by type and approval status."""
    async with _service(request).db.read() as repo:
        records = await repo.list_records(
            type.value if type else None, approval_status.value if approval_status else None, limit, offset
        )
    return {"records": [record_json(r) for r in records], "limit": limit, "offset": offset}


@router.post("/records/{record_type}/{record_id}/submit")
async def submit_record(
    record_type: RecordType, record_id: str, request: Request,
    body: dict[str, Any] | None = Body(default=None),
) -> dict[str, Any]:
    """Send an approval_required document for approval."""
    actor = (body or {}).get("actor")
    record = await _service(request).submit(record_type, record_id, actor)
    return record_json(record)


@router.get("/records/{record_type}/{record_id}/audit")
async def record_audit(record_type: RecordType, record_id: str, request: Request) -> dict[str, Any]:
    """Return the audit trail of a document."""
    return {"events": await _service(request).audit_of(record_type.value, record_id)}


@router.put("/contacts/{kind}/{contact_id}")
async def put_contact(
    kind: ContactKind, contact_id: Id, request: Request, data: ContactInput = Body(...)
) -> dict[str, Any]:
    """Create or update a customer or vendor."""
    contact = Contact(**data.model_dump(), kind=kind, id=contact_id)
    service = _service(request)
    async with service.db.transaction() as repo:
        await repo.save_contact(contact, service.clock.now())
        await on_contact_saved(repo, contact, service.clock.now(), service.settings.tz)
    return contact.model_dump(mode="json")


@router.get("/workflows")
async def list_workflows(request: Request) -> dict[str, Any]:
    """List every workflow."""
    workflows = await _service(request).list_workflows()
    return {"workflows": [w.model_dump(mode="json") for w in workflows]}


@router.post("/workflows", status_code=201)
async def create_workflow(request: Request, data: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """Create a workflow from its definition."""
    return (await _service(request).create_workflow(data)).model_dump(mode="json")


@router.get("/workflows/{workflow_id}")
async def get_workflow(workflow_id: str, request: Request) -> dict[str, Any]:
    """Return one workflow."""
    return (await _service(request).get_workflow(workflow_id)).model_dump(mode="json")


@router.put("/workflows/{workflow_id}")
async def update_workflow(workflow_id: str, request: Request, data: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """Replace a workflow's definition."""
    return (await _service(request).update_workflow(workflow_id, data)).model_dump(mode="json")


@router.delete("/workflows/{workflow_id}", status_code=204)
async def delete_workflow(workflow_id: str, request: Request) -> None:
    """Delete a workflow."""
    await _service(request).delete_workflow(workflow_id)


@router.post("/workflows/{workflow_id}/enable")
async def enable_workflow(workflow_id: str, request: Request) -> dict[str, Any]:
    """Enable a workflow."""
    return (await _service(request).set_enabled(workflow_id, True)).model_dump(mode="json")


@router.post("/workflows/{workflow_id}/disable")
async def disable_workflow(workflow_id: str, request: Request) -> dict[str, Any]:
    """Disable a workflow."""
    return (await _service(request).set_enabled(workflow_id, False)).model_dump(mode="json")


@router.post("/workflows/{workflow_id}/copy", status_code=201)
async def copy_workflow(workflow_id: str, request: Request) -> dict[str, Any]:
    """Copy a workflow as a disabled draft."""
    return (await _service(request).copy_workflow(workflow_id)).model_dump(mode="json")
