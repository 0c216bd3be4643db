"""The sandbox's web client: a Slack-like page at /sandbox and the JSON endpoints behind it."""

from __future__ import annotations

from fastapi import APIRouter

from bot.sandbox.ui.action_routes import add_action_routes
from bot.sandbox.ui.client import SandboxClient
from bot.sandbox.ui.page_routes import add_page_routes
from bot.sandbox.ui.tool_routes import add_tool_routes


class SandboxUI(SandboxClient):
    """The web client of one workspace, with the routes that serve it."""

    def router(self) -> APIRouter:
        """Return the routes of the page and its JSON endpoints, under /sandbox."""
        return build_router(self)


def build_router(ui: SandboxClient) -> APIRouter:
    """Return the APIRouter serving the page, its assets and its JSON endpoints."""
    router = APIRouter(prefix="/sandbox", include_in_schema=False)
    add_page_routes(router, ui)
    add_action_routes(router, ui)
    add_tool_routes(router, ui)
    return router
