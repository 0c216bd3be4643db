"""The REST API under /api/v1: bearer-token auth, JSON in and out, errors as SPEC §3 says."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Request

from bot.core.service import Signoff
from bot.core.tokens import touch_token
from bot.errors import ApiError, Unprocessable
from engine.limits import Id
from engine.records import ApprovalStatus, Contact, ContactInput, ContactKind, Record, RecordInput, RecordType
from storage.models import ENV_TOKEN_NAME, ApiToken, hash_token
from storage.ports import Repository

ROLES_KEY = "x-signoff-roles"
READ_METHODS = frozenset({"GET", "HEAD"})
MAX_TOKEN_CHARS = 200
MAX_OFFSET = 1_000_000
MAX_REF_CHARS = 200
MAX_CURSOR_CHARS = 400

# A path id of something to read or act on; `Id` (engine.limits) is what a new document or contact may use.
Ref = Annotated[str, Path(min_length=1, max_length=MAX_REF_CHARS)]


def record_json(record: Record) -> dict[str, Any]:
    """Serialise a record for the API, decimals as strings, with whether its customer was reminded."""
    return {**record.model_dump(mode="json", by_alias=True), "reminded": record.reminded()}


def _service(request: Request) -> Signoff:
    service: Signoff = request.app.state.service
    return service


@dataclass(frozen=True)
class Caller:
    """Who a REST request acts as: the name and role of its bearer token."""

    name: str
    role: str

    @property
    def actor(self) -> str:
        """Return how the audit trail names this caller."""
        return f"token:{self.name}"


def allow(*roles: str) -> dict[str, Any]:
    """Return the `openapi_extra` that lets these roles (and admin) call an operation."""
    return {ROLES_KEY: ["admin", *roles]}


RECORDS_READ = allow("integration", "read")
RECORDS_WRITE = allow("integration")


def allowed_roles(request: Request) -> list[str]:
    """Return the roles that may call the request's operation: admin, and read for GETs, unless widened."""
    extra = getattr(request.scope.get("route"), "openapi_extra", None) or {}
    if ROLES_KEY in extra:
        return list(extra[ROLES_KEY])
    return ["admin", "read"] if request.method in READ_METHODS else ["admin"]


async def _authenticate(request: Request) -> tuple[Caller, ApiToken | None]:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip() if scheme.lower() == "bearer" else ""
    service = _service(request)
    expected = service.settings.api_token
    if token and expected and hmac.compare_digest(token.encode(), expected.encode()):
        return Caller(ENV_TOKEN_NAME, "admin"), None
    found = None
    if token and len(token) <= MAX_TOKEN_CHARS:
        async with service.db.read() as repo:
            found = await repo.api_token_by_hash(hash_token(token))
    if found is None or not found.is_active:
        raise ApiError(401, "unauthorized", "missing, unknown or revoked bearer token")
    return Caller(found.name, found.role), found


def _audit_write(request: Request, caller: Caller) -> Callable[[Repository], Awaitable[None]]:
    async def run(repo: Repository) -> None:
        await repo.audit(_service(request).clock.now(), caller.actor, "api_write", ("api_token", caller.name),
                         detail={"method": request.method, "path": request.url.path})

    return run


async def require_token(request: Request) -> AsyncIterator[Caller]:
    """Authenticate the bearer token, check its role may call the operation, and audit what it writes."""
    caller, stored = await _authenticate(request)
    if caller.role not in allowed_roles(request):
        raise ApiError(403, "forbidden", f"a token with the {caller.role} role may not {request.method} "
                       f"{request.url.path}")
    if stored is not None:
        await touch_token(_service(request).db, stored, datetime.now(UTC))
    request.state.caller = caller
    if request.method in READ_METHODS:
        yield caller
        return
    with _service(request).db.carrying(_audit_write(request, caller)):
        yield caller


def token_actor(request: Request) -> str:
    """Return the audit actor of the request's token (`token:NAME`)."""
    caller: Caller = request.state.caller
    return caller.actor


router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_token)])


@router.put("/records/{record_type}/{record_id}", openapi_extra=RECORDS_WRITE)
async def put_record(
    record_type: RecordType, record_id: Id, request: Request, data: RecordInput = Body(...)
) -> dict[str, Any]:
    """Create or update a document (idempotent)."""
    record = await _service(request).records.put_record(record_type, record_id, data)
    return record_json(record)


@router.get("/records/{record_type}/{record_id}", openapi_extra=RECORDS_READ)
async def get_record(record_type: RecordType, record_id: Ref, request: Request) -> dict[str, Any]:
    """Return one document with its approval."""
    service = _service(request)
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
    except (binascii.Error, ValueError):
        key = None
    if not (isinstance(key, list) and len(key) == 2 and all(isinstance(part, str) for part in key)):
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
    async with _service(request).db.read() as repo:
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
    actor = (body or {}).get("actor")
    record = await _service(request).records.submit(record_type, record_id, actor)
    return record_json(record)


@router.get("/records/{record_type}/{record_id}/audit", openapi_extra=RECORDS_READ)
async def record_audit(record_type: RecordType, record_id: Ref, request: Request) -> dict[str, Any]:
    """Return the audit trail of a document."""
    return {"events": await _service(request).records.audit_of(record_type.value, record_id)}


@router.put("/contacts/{kind}/{contact_id}", openapi_extra=RECORDS_WRITE)
async def put_contact(
    kind: ContactKind, contact_id: Id, request: Request, data: ContactInput = Body(...)
) -> dict[str, Any]:
    """Create or update a customer or vendor."""
    contact = Contact(**data.model_dump(), kind=kind, id=contact_id)
    await _service(request).records.put_contact(contact)
    return contact.model_dump(mode="json")


@router.get("/workflows")
async def list_workflows(request: Request) -> dict[str, Any]:
    """List every workflow."""
    workflows = await _service(request).workflows.list_all()
    return {"workflows": [w.model_dump(mode="json") for w in workflows]}


@router.post("/workflows", status_code=201)
async def create_workflow(request: Request, data: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """Create a workflow from its definition."""
    return (await _service(request).workflows.create(data)).model_dump(mode="json")


@router.get("/workflows/{workflow_id}")
async def get_workflow(workflow_id: Ref, request: Request) -> dict[str, Any]:
    """Return one workflow."""
    return (await _service(request).workflows.get(workflow_id)).model_dump(mode="json")


@router.put("/workflows/{workflow_id}")
async def update_workflow(workflow_id: Ref, request: Request, data: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """Replace a workflow's definition."""
    return (await _service(request).workflows.update(workflow_id, data)).model_dump(mode="json")


@router.delete("/workflows/{workflow_id}", status_code=204)
async def delete_workflow(workflow_id: Ref, request: Request) -> None:
    """Delete a workflow."""
    await _service(request).workflows.delete(workflow_id)


@router.post("/workflows/{workflow_id}/enable")
async def enable_workflow(workflow_id: Ref, request: Request) -> dict[str, Any]:
    """Enable a workflow."""
    return (await _service(request).workflows.set_enabled(workflow_id, True)).model_dump(mode="json")


@router.post("/workflows/{workflow_id}/disable")
async def disable_workflow(workflow_id: Ref, request: Request) -> dict[str, Any]:
    """Disable a workflow."""
    return (await _service(request).workflows.set_enabled(workflow_id, False)).model_dump(mode="json")


@router.post("/workflows/{workflow_id}/copy", status_code=201)
async def copy_workflow(workflow_id: Ref, request: Request) -> dict[str, Any]:
    """Copy a workflow as a disabled draft."""
    return (await _service(request).workflows.copy(workflow_id)).model_dump(mode="json")
