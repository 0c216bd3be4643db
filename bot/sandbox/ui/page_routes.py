"""The routes of the page itself: its HTML and assets, what it shows, and its live updates."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, StreamingResponse

from bot.errors import ApiError
from bot.sandbox.ui.bodies import APP_CONVERSATION
from bot.sandbox.ui.client import SandboxClient
from bot.sandbox.ui.errors import translated_errors

STATIC_DIR = Path(__file__).parent.parent / "static"
STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*\.(css|js|svg|html)$")
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def add_page_routes(router: APIRouter, ui: SandboxClient) -> None:
    """Serve the page, its static assets, its state for one viewer and the stream of changes."""

    @router.get("")
    @router.get("/")
    async def page() -> FileResponse:
        return _static("index.html")

    @router.get("/static/{name}")
    async def asset(name: str) -> FileResponse:
        return _static(name)

    @router.get("/api/state")
    async def state(viewer: str = Query(""), conversation: str = Query(APP_CONVERSATION)) -> dict[str, Any]:
        with translated_errors():
            return ui.state(viewer, conversation)

    @router.get("/api/events")
    async def events() -> StreamingResponse:
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(ui.changes(), media_type="text/event-stream", headers=headers)


def _static(name: str) -> FileResponse:
    path = STATIC_DIR / name
    if not STATIC_NAME.match(name) or not path.is_file():
        raise ApiError(404, "not_found", f"no file {name!r}")
    return FileResponse(path, headers=SECURITY_HEADERS)
