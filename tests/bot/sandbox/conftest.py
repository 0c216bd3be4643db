"""Fixtures for the local Slack workspace tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.state.model import DEFAULT_TOKEN
from bot.sandbox.webapi import WebApiServer, start_webapi
from bot.sandbox.workspace import Workspace
from tests.bot.sandbox.helpers import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    """A monotonic clock the test moves by hand."""
    return FakeClock(1000.0)


@pytest.fixture
def workspace(clock: FakeClock) -> Workspace:
    """A demo workspace on a hand-moved monotonic clock."""
    return Workspace.demo(clock=clock)


@pytest.fixture
async def server(workspace: Workspace) -> AsyncIterator[WebApiServer]:
    """The workspace's Web API on a free loopback port."""
    running = await start_webapi(workspace)
    yield running
    await running.close()


@pytest.fixture
def client(server: WebApiServer) -> AsyncWebClient:
    """The real slack_sdk client pointed at the sandbox."""
    return AsyncWebClient(token=DEFAULT_TOKEN, base_url=server.url)
