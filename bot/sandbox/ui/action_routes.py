"""The routes of what people do on the page: clicks, submissions, commands, Home opens and clock moves."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body

from bot.sandbox.ui.bodies import ClickBody, ClockBody, CloseBody, CommandBody, SubmitBody, ViewerBody
from bot.sandbox.ui.client import SandboxClient
from bot.sandbox.ui.errors import translated_errors


def add_action_routes(router: APIRouter, ui: SandboxClient) -> None:
    """Serve the actions that reach the app as signed requests, and the test clock's moves."""

    @router.post("/api/click")
    async def click(body: ClickBody = Body(...)) -> dict[str, Any]:
        with translated_errors():
            return await ui.click(body)

    @router.post("/api/submit")
    async def submit(body: SubmitBody = Body(...)) -> dict[str, Any]:
        with translated_errors():
            return await ui.submit(body)

    @router.post("/api/close")
    async def close(body: CloseBody = Body(...)) -> dict[str, Any]:
        with translated_errors():
            return await ui.close_modal(body)

    @router.post("/api/command")
    async def command(body: CommandBody = Body(...)) -> dict[str, Any]:
        with translated_errors():
            return await ui.command(body)

    @router.post("/api/home")
    async def home(body: ViewerBody = Body(...)) -> dict[str, Any]:
        with translated_errors():
            return await ui.open_home(body.viewer)

    @router.post("/api/clock")
    async def clock(body: ClockBody = Body(...)) -> dict[str, Any]:
        return await ui.advance_clock(body.advance)
