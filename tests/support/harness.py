"""A running Signoff wired to the local Slack workspace, for end-to-end tests and benchmarks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot.runtime import Runtime, build_runtime
from bot.sandbox.app_link.link import AppLink
from bot.sandbox.state.model import DEFAULT_TOKEN, Message
from bot.sandbox.webapi import WebApiServer, start_webapi
from bot.sandbox.workspace import Workspace
from bot.settings import Settings

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
API_TOKEN = "test-api-token"
PEOPLE = {
    "U0ADMIN": "admin", "U01AAA": "alice", "U01BBB": "bruno", "U01CCC": "chloe",
    "U01DDD": "dimitri", "U0REQ": "reqina", "U0OUT": "oscar",
}


@dataclass
class Harness:
    """Signoff, its Slack workspace, an API client and a person-player (`link`)."""

    runtime: Runtime
    workspace: Workspace
    webapi: WebApiServer
    api: httpx.AsyncClient
    link: AppLink

    @property
    def db(self) -> Any:
        """Return the runtime's database."""
        return self.runtime.db

    async def put(self, path: str, body: dict[str, Any]) -> httpx.Response:
        """PUT JSON to the REST API."""
        return await self.api.put(path, json=body)

    async def post(self, path: str, body: Any = None) -> httpx.Response:
        """POST JSON to the REST API."""
        return await self.api.post(path, json=body)

    def dm(self, user_id: str) -> list[Message]:
        """Return the DM messages the bot sent a user."""
        return self.workspace.dm_messages(user_id)

    async def wait_for(self, predicate: Any, timeout_s: float = 10.0) -> Any:
        """Wait until the predicate holds on the workspace."""
        return await self.workspace.wait_for(predicate, timeout_s=timeout_s)

    async def click(self, user_id: str, message: Message, action_id: str) -> Any:
        """Click a button of a message as a person."""
        return await self.link.click(user_id, message.channel, message.ts, action_id)


def make_workspace() -> Workspace:
    """A workspace with the people the end-to-end tests use."""
    workspace = Workspace()
    for user_id, name in PEOPLE.items():
        workspace.add_user(name, name.capitalize(), email=f"{name}@example.com", user_id=user_id)
    workspace.add_channel("finance", channel_id="C0FINANCE")
    return workspace


def settings_for(database: Path | str, api_url: str, **overrides: Any) -> Settings:
    """Settings of a test Signoff (explicit values, nothing from the environment)."""
    values: dict[str, Any] = {
        "slack_bot_token": DEFAULT_TOKEN, "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": api_url, "database": str(database), "host": "127.0.0.1", "port": 0,
        "api_token": API_TOKEN, "admins_csv": "U0ADMIN", "test_clock": True, "tick_seconds": 3600,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@asynccontextmanager
async def running_signoff(
    database: Path, workspace: Workspace | None = None, **overrides: Any
) -> AsyncIterator[Harness]:
    """Start Signoff against a workspace on free loopback ports; stop everything after."""
    workspace = workspace or make_workspace()
    webapi = await start_webapi(workspace)
    runtime = await build_runtime(settings_for(database, webapi.url, **overrides))
    try:
        await runtime.serve()
    except BaseException:
        await runtime.close()
        await webapi.close()
        raise
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    api = httpx.AsyncClient(base_url=runtime.url, headers=headers, timeout=30)
    link = AppLink(workspace, f"{runtime.url}/slack/events", SIGNING_SECRET)
    try:
        yield Harness(runtime, workspace, webapi, api, link)
    finally:
        await api.aclose()
        await runtime.close()
        await webapi.close()
