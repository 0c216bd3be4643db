"""REST API of workflow automation: the template catalog, run history, reminders and the company name."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request

from bot.api.deps import MAX_REF_CHARS, ExactNumbersRoute, Ref, refuse_unstorable_text, require_token, service_of
from bot.core.admin import set_company
from bot.errors import NotFound, Unprocessable
from engine.actions import CompanyInput
from engine.catalog import CatalogTemplate, catalog, customize, find_template
from engine.dates import utc_iso
from engine.errors import InvalidDefinitionError
from engine.records import RecordType
from engine.workflows import Workflow
from messages.catalog_text import localized
from storage.models import RunFilter

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_token), Depends(refuse_unstorable_text)],
                   route_class=ExactNumbersRoute)
MAX_CURSOR_DIGITS = 18
QueryRef = Annotated[str | None, Query(max_length=MAX_REF_CHARS)]




def _template(slug: str, request: Request) -> CatalogTemplate:
    template = find_template(slug)
    if template is None:
        raise NotFound(f"no template {slug!r}; GET /api/v1/templates lists them", "template", slug)
    return localized(template, service_of(request).settings.locale)


@router.get("/templates")
async def list_templates(request: Request, category: QueryRef = None) -> dict[str, Any]:
    """List the catalog of ready workflows in the installation's language, optionally of one category."""
    locale = service_of(request).settings.locale
    return {"templates": [localized(t, locale).summary() for t in catalog() if category in (None, t.category)]}


@router.get("/templates/{slug}")
async def get_template(slug: Ref, request: Request) -> dict[str, Any]:
    """Return one template with its full definition, in the installation's language."""
    template = _template(slug, request)
    return {**template.summary(), "definition": template.definition.model_dump(mode="json")}


@router.post("/templates/{slug}/create", status_code=201)
async def create_from_template(
    slug: Ref, request: Request, overrides: dict[str, Any] | None = Body(default=None)
) -> dict[str, Any]:
    """Create a workflow from a template (in the installation's language); overrides: name, approvers, status…"""
    try:
        data = customize(_template(slug, request), overrides)
        if "enabled" not in (overrides or {}):
            data.pop("enabled", None)  # a draft asked for without saying enabled is saved disabled
    except InvalidDefinitionError as exc:
        raise Unprocessable(str(exc), exc.details) from exc
    return await _shown(request, await service_of(request).workflows.create(data))


async def _shown(request: Request, workflow: Workflow) -> dict[str, Any]:
    """Return a workflow as the API shows it: its definition and what in it will not work as written today."""
    return {**workflow.model_dump(mode="json"), "warnings": await service_of(request).workflows.warnings(workflow)}


def _before_seq(cursor: str | None) -> int | None:
    if cursor is None or cursor == "":
        return None
    if not (cursor.isascii() and cursor.isdigit()):
        raise Unprocessable("cursor is not valid", [{"path": "cursor", "message": "use the next_cursor of a page"}])
    return int(cursor)


@router.get("/runs")
async def list_runs(
    request: Request,
    workflow_id: QueryRef = None,
    record_type: RecordType | None = None,
    record_id: QueryRef = None,
    limit: int = Query(50, ge=1, le=500),
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_DIGITS)] = None,
) -> dict[str, Any]:
    """Return run history, newest first, filtered by workflow and/or record; page with `cursor`."""
    flt = RunFilter(workflow_id, record_type.value if record_type else None, record_id, _before_seq(cursor), limit)
    async with service_of(request).db.read() as repo:
        runs = await repo.list_runs(flt)
    next_cursor = str(runs[-1].seq) if len(runs) == limit else None
    return {"runs": [r.as_json() for r in runs], "next_cursor": next_cursor}


@router.get("/runs/{run_id}")
async def get_run(run_id: Ref, request: Request) -> dict[str, Any]:
    """Return one run."""
    async with service_of(request).db.read() as repo:
        run = await repo.get_run(run_id)
    if run is None:
        raise NotFound.no("run", run_id)
    return run.as_json()


@router.get("/reminders")
async def list_reminders(
    request: Request,
    assignee: Annotated[str, Query(min_length=1, max_length=MAX_REF_CHARS)],
    include_done: bool = False,
    limit: int = Query(50, ge=1, le=500),
) -> dict[str, Any]:
    """Return the reminder tasks of a person or channel, newest first."""
    async with service_of(request).db.read() as repo:
        tasks = await repo.reminders_for(assignee, include_done, limit)
    return {"reminders": [
        {"id": t.id, "run_id": t.run_id, "assignee": t.assignee, "workflow_id": t.workflow_id,
         "record_type": t.record_type, "record_id": t.record_id, "text": t.text,
         "created_at": utc_iso(t.created_at), "done_at": utc_iso(t.done_at) if t.done_at else None}
        for t in tasks
    ]}


@router.get("/company")
async def get_company(request: Request) -> dict[str, Any]:
    """Return the company as workflow templates see it."""
    service = service_of(request)
    async with service.db.read() as repo:
        name = await repo.company_name()
    return {"name": name, "timezone": service.settings.timezone}


@router.put("/company")
async def put_company(request: Request, data: CompanyInput = Body(...)) -> dict[str, Any]:
    """Set the company name that templates show as `{{ company.name }}` (a body as GET returned it too)."""
    service = service_of(request)
    await set_company(service.deps, data)
    return {"name": data.name, "timezone": service.settings.timezone}


@router.get("/workflows")
async def list_workflows(request: Request) -> dict[str, Any]:
    """List every workflow."""
    workflows = await service_of(request).workflows.list_all()
    return {"workflows": [w.model_dump(mode="json") for w in workflows]}


@router.post("/workflows", status_code=201)
async def create_workflow(request: Request, data: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """Create a workflow from its definition."""
    return await _shown(request, await service_of(request).workflows.create(data))


@router.get("/workflows/{workflow_id}")
async def get_workflow(workflow_id: Ref, request: Request) -> dict[str, Any]:
    """Return one workflow."""
    return await _shown(request, await service_of(request).workflows.get(workflow_id))


@router.put("/workflows/{workflow_id}")
async def update_workflow(workflow_id: Ref, request: Request, data: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """Replace a workflow's definition."""
    return await _shown(request, await service_of(request).workflows.update(workflow_id, data))


@router.delete("/workflows/{workflow_id}", status_code=204)
async def delete_workflow(workflow_id: Ref, request: Request) -> None:
    """Delete a workflow."""
    await service_of(request).workflows.delete(workflow_id)


@router.post("/workflows/{workflow_id}/enable")
async def enable_workflow(workflow_id: Ref, request: Request) -> dict[str, Any]:
    """Enable a workflow."""
    return await _shown(request, await service_of(request).workflows.set_enabled(workflow_id, True))


@router.post("/workflows/{workflow_id}/disable")
async def disable_workflow(workflow_id: Ref, request: Request) -> dict[str, Any]:
    """Disable a workflow."""
    return await _shown(request, await service_of(request).workflows.set_enabled(workflow_id, False))


@router.post("/workflows/{workflow_id}/copy", status_code=201)
async def copy_workflow(workflow_id: Ref, request: Request) -> dict[str, Any]:
    """Copy a workflow as a disabled draft."""
    return await _shown(request, await service_of(request).workflows.copy(workflow_id))
