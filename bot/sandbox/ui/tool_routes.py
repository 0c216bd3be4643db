"""The routes of the page's tools: the mailbox, the settings panel, contacts and new documents."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from bot.sandbox.ui.bodies import DocumentBody
from bot.sandbox.ui.client import SandboxClient


def add_tool_routes(router: APIRouter, ui: SandboxClient) -> None:
    """Serve the e-mails caught, the sandbox's settings, the contacts and the New document form."""

    @router.get("/api/mail")
    async def mail() -> dict[str, Any]:
        return ui.mail()

    @router.get("/api/settings")
    async def settings() -> dict[str, Any]:
        return ui.sandbox_settings()

    @router.get("/api/contacts")
    async def contacts() -> dict[str, Any]:
        return {"contacts": ui.contacts}

    @router.post("/api/documents")
    async def documents(body: DocumentBody = Body(...)) -> dict[str, Any]:
        return await ui.new_document(body)
