"""REST routes of documents and contacts under /api/v1: create, update, read, list by cursor, submit, audit."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request

from bot.api.deps import (
    RECORDS_READ,
    RECORDS_WRITE,
    ExactNumbersRoute,
    Ref,
    known_keys,
    refuse_unstorable_text,
    require_token,
    service_of,
    token_actor,
)
from bot.errors import Unprocessable
from engine.limits import Id, NewId, is_person_ref, unstorable_path
from engine.records import (
    ApprovalStatus,
    ContactEcho,
    ContactKind,
    Record,
    RecordEcho,
    RecordImport,
    RecordType,
)

MAX_OFFSET = 1_000_000
MAX_CURSOR_CHARS = 400


def record_json(record: Record) -> dict[str, Any]:
    """Serialise a record for the API, decimals as strings, with whether its customer was reminded."""
    return {**record.model_dump(mode="json", by_alias=True), "reminded": record.reminded()}


router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_token), Depends(refuse_unstorable_text)],
                   route_class=ExactNumbersRoute)


@router.put("/records/{record_type}/{record_id}", openapi_extra=RECORDS_WRITE)
async def put_record(
    record_type: RecordType, record_id: NewId, request: Request, data: RecordEcho = Body(...)
) -> dict[str, Any]:
    """Create or update a document (idempotent). A body sent back as GET returned it is taken: its read-only keys
    must name this document and its approval status, the others are ignored."""
    record = await service_of(request).records.put_record(record_type, record_id, data.writable(),
                                                          token_actor(request), data.echoed())
    return record_json(record)


@router.patch("/records/{record_type}/{record_id}", openapi_extra=RECORDS_WRITE)
async def patch_record(
    record_type: RecordType, record_id: Id, request: Request,
    changes: dict[str, Any] = Body(..., description="The fields to change, as PUT names them; null clears one"),
) -> dict[str, Any]:
    """Change some fields of a document (those left out are kept; PUT replaces the whole document)."""
    record = await service_of(request).records.patch_record(record_type, record_id, changes, token_actor(request))
    return record_json(record)


@router.post("/imports/{record_type}", openapi_extra=RECORDS_WRITE)
async def import_records(record_type: RecordType, request: Request, data: RecordImport = Body(...)) -> dict[str, Any]:
    """Create or update up to 1,000 documents of one type (each as PUT would; from source `import` unless a row says
    another): every row is checked before any is saved, and a refused import saves nothing."""
    report = await service_of(request).records.import_records(record_type, data, token_actor(request))
    return {"type": record_type.value, **report.counts,
            "records": [{"id": r.id, "approval_status": r.approval_status.value} for r in report.records]}


@router.get("/records/{record_type}/{record_id}", openapi_extra=RECORDS_READ)
async def get_record(record_type: RecordType, record_id: Ref, request: Request) -> dict[str, Any]:
    """Return one document with its approval."""
    service = service_of(request)
    record = await service.records.get_record(record_type.value, record_id)
    return {**record_json(record), "approval": await service.records.approval_summary(record)}


def page_cursor(record: Record) -> str:
    """Return the opaque cursor of the page that follows a record."""
    raw = json.dumps([record.type.value, record.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_key(cursor: str) -> tuple[str, str]:
    """Return the (type, id) a cursor points after; one that is not a cursor of this API is 422."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        key = None
    if not (isinstance(key, list) and len(key) == 2 and unstorable_path(key) is None
            and all(isinstance(part, str) for part in key)):
        raise Unprocessable("after is not a cursor this API gave", [{"path": "after", "message": "unknown cursor"}])
    return key[0], key[1]


@router.get("/records", openapi_extra=RECORDS_READ)
async def list_records(
    request: Request,
    type: RecordType | None = None,
    approval_status: ApprovalStatus | None = None,
    reminded: bool | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    after: str | None = Query(None, min_length=1, max_length=MAX_CURSOR_CHARS,
                              description="the `next` cursor of the previous page (faster than offset at any depth)"),
) -> dict[str, Any]:
    """List documents in (type, id) order, filtered by type, approval status and whether a reminder was sent."""
    if after is not None and offset:
        raise Unprocessable("give either after or offset", [{"path": "offset", "message": "not with after"}])
    async with service_of(request).db.read() as repo:
        records = await repo.list_records(
            type.value if type else None, approval_status.value if approval_status else None, limit, offset,
            reminded, cursor_key(after) if after is not None else None,
        )
    next_cursor = page_cursor(records[-1]) if len(records) == limit else None
    return {"records": [record_json(r) for r in records], "limit": limit, "offset": offset, "next": next_cursor}


@router.post("/records/{record_type}/{record_id}/submit", openapi_extra=RECORDS_WRITE)
async def submit_record(
    record_type: RecordType, record_id: Ref, request: Request,
    body: dict[str, Any] | None = Body(default=None),
) -> dict[str, Any]:
    """Send an approval_required document for approval."""
    stated = known_keys(body or {}, ("actor",)).get("actor")
    if stated is not None and not (isinstance(stated, str) and is_person_ref(stated)):
        raise Unprocessable("actor: a Slack user id or an e-mail address",
                            [{"path": "actor", "message": "must be a Slack user id or an e-mail address"}])
    record = await service_of(request).records.submit(record_type, record_id, token_actor(request), stated_by=stated)
    return record_json(record)


@router.get("/records/{record_type}/{record_id}/audit", openapi_extra=RECORDS_READ)
async def record_audit(record_type: RecordType, record_id: Ref, request: Request) -> dict[str, Any]:
    """Return the audit trail of a document."""
    return {"events": await service_of(request).records.audit_of(record_type.value, record_id)}


@router.get("/contacts/{kind}/{contact_id}", openapi_extra=RECORDS_READ)
async def get_contact(kind: ContactKind, contact_id: Id, request: Request) -> dict[str, Any]:
    """Return a customer or vendor, with the names of the groups it is in now."""
    contact, groups = await service_of(request).records.get_contact(kind.value, contact_id)
    return {**contact.model_dump(mode="json"), "groups": groups}


@router.put("/contacts/{kind}/{contact_id}", openapi_extra=RECORDS_WRITE)
async def put_contact(
    kind: ContactKind, contact_id: NewId, request: Request, data: ContactEcho = Body(...)
) -> dict[str, Any]:
    """Create or update a customer or vendor (a body as GET returned it too: `kind` and `id` must be the path's)."""
    contact = await service_of(request).records.put_contact(kind, contact_id, data)
    return contact.model_dump(mode="json")
