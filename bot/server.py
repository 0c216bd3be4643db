"""One HTTP server: Slack requests, health, metrics and the REST API."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from starlette.exceptions import HTTPException as StarletteHTTPException

from bot.api import approval_page
from bot.api import clock as api_clock
from bot.api import outbox as api_outbox
from bot.api import records as api
from bot.api import rules as api_rules
from bot.api import scheduler as api_scheduler
from bot.api import workflows as api_workflows
from bot.api.deps import declare_roles
from bot.api.errors import error_response
from bot.asgi import ApiQueries, BodyLimit, ClosingWhileDraining, Drain
from bot.core.service import Signoff
from bot.errors import ApiError, Refused, error_body
from bot.metrics import Metrics
from bot.slack.front import SLACK_EVENTS_PATH, SlackFront
from bot.slack.inbox import InboxWorker
from storage.errors import DatabaseUnavailableError

HTTP_CODES = {400: "bad_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed"}


def _path_of(loc: tuple[Any, ...]) -> str:
    parts = [p for p in loc if p not in ("body", "query", "path")]
    return ".".join(str(p) for p in parts) or "(body)"


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error with the JSON envelope."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"path": _path_of(tuple(e["loc"])), "message": e["msg"].removeprefix("Value error, ")}
                   for e in exc.errors()]
        is_json_error = any(e["type"] == "json_invalid" for e in exc.errors())
        status, code = (400, "bad_request") if is_json_error else (422, "invalid")
        return JSONResponse(error_body(code, "the request is not valid", details), status_code=status)

    @app.exception_handler(DatabaseUnavailableError)
    async def _unavailable(request: Request, exc: DatabaseUnavailableError) -> JSONResponse:
        return JSONResponse(error_body("unavailable", "the database cannot be reached now; try again"),
                            status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "error")
        return JSONResponse(error_body(code, str(exc.detail)), status_code=exc.status_code)


async def _queue_metrics(metrics: Metrics, service: Signoff, inbox: InboxWorker) -> None:
    """Refresh the gauges of the inbox and the outbox (read when scraped: counting costs a scan) and the inbox
    worker's counters."""
    async with service.db.read() as repo:
        inbox_counts, outbox_counts = await repo.inbox_counts(), await repo.outbox_counts()
    for status in ("queued", "failed"):
        metrics.set(f"signoff_inbox_{status}", inbox_counts.get(status, 0))
    for status in ("queued", "sending", "sent", "dead"):
        metrics.set(f"signoff_outbox_{status}", outbox_counts.get(status, 0))
    for outcome, total in inbox.counts.items():
        metrics.counters[f"signoff_inbox_{outcome}_total"] = total


def create_app(service: Signoff, bolt: AsyncApp, inbox: InboxWorker) -> FastAPI:
    """Assemble the FastAPI application around the service, the Bolt app and the inbox worker."""
    app = FastAPI(title="Signoff", version="0.1.0", openapi_url="/api/v1/openapi.json", docs_url=None,
                  redoc_url=None, redirect_slashes=False)
    app.state.service = service
    app.state.metrics = Metrics()
    handler = AsyncSlackRequestHandler(bolt)
    install_error_handlers(app)
    app.add_middleware(SlackFront, signing_secret=service.settings.slack_signing_secret, worker=inbox,
                       metrics=app.state.metrics)
    app.add_middleware(BodyLimit, exempt=frozenset({SLACK_EVENTS_PATH}))
    app.add_middleware(ApiQueries, prefix="/api/v1/")
    app.state.drain = Drain()
    app.add_middleware(ClosingWhileDraining, drain=app.state.drain)

    @app.post(SLACK_EVENTS_PATH, include_in_schema=False)
    async def slack_events(request: Request) -> Response:
        response = await handler.handle(request)
        if response.status_code == 404:  # no listener matched: a request this app never asks Slack to send
            return JSONResponse(error_body("bad_request", "no part of Signoff handles this Slack request"), 400)
        return response

    @app.api_route("/healthz", methods=["GET", "HEAD"], include_in_schema=False)
    async def healthz() -> JSONResponse:
        if app.state.drain.is_draining:
            return JSONResponse({"ok": False, "draining": True}, status_code=503)
        try:
            ok = await service.db.ping()
        except Exception:
            ok = False
        return JSONResponse({"ok": ok}, status_code=200 if ok else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> PlainTextResponse:
        await _queue_metrics(app.state.metrics, service, inbox)
        return PlainTextResponse(app.state.metrics.text(), media_type="text/plain; version=0.0.4")

    for router in (api.router, api_clock.router, api_rules.router, api_workflows.router, api_scheduler.router,
                   api_outbox.router, approval_page.router):
        declare_roles(router.routes)
        app.include_router(router)
    return app
