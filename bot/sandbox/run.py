"""Sandbox mode: Signoff, a local Slack workspace and its web client in one process, on loopback only."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.clock import TestClock
from bot.runtime import Runtime, build_runtime
from bot.sandbox.app_link.link import AppLink
from bot.sandbox.mailbox import Mailbox
from bot.sandbox.state.model import DEFAULT_TOKEN
from bot.sandbox.ui.sandbox_ui import SandboxUI
from bot.sandbox.webapi import WebApiServer, start_webapi
from bot.sandbox.workspace import Workspace
from bot.settings import Settings

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
DEMO_ADMIN = "U0ADA"
SAVE_DELAY_S = 0.3


def sandbox_settings(
    base: Settings | None, database: str | Path, port: int, api_url: str, admins: str = DEMO_ADMIN, *,
    smtp_url: str | None = None, api_token: str | None = None,
) -> Settings:
    """Return settings for sandbox mode: local Slack, loopback only, fresh secrets, e-mail to the local catcher."""
    kept = base.model_dump(include={"timezone", "locale", "tick_seconds"}) if base else {}
    values: dict[str, Any] = {
        **kept, "sandbox": True, "slack_bot_token": DEFAULT_TOKEN, "slack_app_token": None,
        "slack_signing_secret": secrets.token_hex(32), "slack_api_url": api_url,
        "api_token": api_token or new_api_token(), "database": str(database), "host": LOOPBACK,
        "port": port, "admins_csv": admins, "test_clock": True, "smtp_url": smtp_url,
        "webhook_url": None, "webhook_secret": None,
    }
    return Settings.model_validate(values)


def new_api_token() -> str:
    """Return a fresh REST API token for a sandbox."""
    return f"sandbox-{secrets.token_urlsafe(24)}"


def state_path_for(database: str | Path) -> Path:
    """Return where the workspace's conversations are kept between runs, next to the database."""
    return Path(f"{database}.workspace.json")


class StateKeeper:
    """Writes the workspace's conversations (and the test clock) to a file shortly after each change."""

    def __init__(self, workspace: Workspace, clock: TestClock, path: Path, mailbox: Mailbox | None = None) -> None:
        self.workspace = workspace
        self.clock = clock
        self.path = path
        self.mailbox = mailbox
        self.api_token: str | None = None
        self._queue = workspace.subscribe()
        self._task: asyncio.Task[None] | None = None

    def load(self) -> bool:
        """Restore a saved workspace and clock; tell whether there was a readable one."""
        if not self.path.exists():
            return False
        try:
            state = json.loads(self.path.read_text(encoding="utf-8"))
            self.workspace.restore(state["workspace"])
            saved_now = _parse_moment(state.get("now"))
            self._restore_extras(state)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring the unreadable sandbox workspace %s (%s)", self.path, exc)
            return False
        if saved_now is not None and saved_now > self.clock.now():
            self.clock.set(saved_now)
        return True

    def _restore_extras(self, state: dict[str, Any]) -> None:
        token = state.get("api_token")
        self.api_token = token if isinstance(token, str) and token else None
        if self.mailbox is not None and isinstance(state.get("mails"), list):
            self.mailbox.restore(state["mails"])

    def start(self) -> None:
        """Start saving in the background."""
        self._task = asyncio.create_task(self._run())

    def save(self) -> None:
        """Write the state now, atomically."""
        state: dict[str, Any] = {"workspace": self.workspace.snapshot(), "now": self.clock.now().isoformat(),
                                 "api_token": self.api_token}
        if self.mailbox is not None:
            state["mails"] = self.mailbox.as_json()
        partial = self.path.with_name(self.path.name + ".tmp")
        partial.write_text(json.dumps(state), encoding="utf-8")
        os.replace(partial, self.path)

    def discard(self) -> None:
        """Forget a saved workspace that belongs to a database that is gone."""
        self.path.unlink(missing_ok=True)

    async def close(self) -> None:
        """Stop the background saver and write a last time if it was running."""
        self.workspace.unsubscribe(self._queue)
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self.save()

    async def _run(self) -> None:
        while True:
            await self._queue.get()
            await asyncio.sleep(SAVE_DELAY_S)
            while not self._queue.empty():
                self._queue.get_nowait()
            try:
                self.save()
            except OSError:
                log.exception("could not save the sandbox workspace to %s", self.path)


def _check_port_free(port: int) -> None:
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((LOOPBACK, port))


def _parse_moment(text: Any) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) else None


@dataclass
class Sandbox:
    """A running sandbox: the workspace, its Web API, Signoff and the web client."""

    workspace: Workspace
    webapi: WebApiServer
    runtime: Runtime
    link: AppLink
    ui: SandboxUI
    keeper: StateKeeper | None = None
    mailbox: Mailbox | None = None

    @property
    def url(self) -> str:
        """Return the address of the web client."""
        return f"{self.runtime.url}/sandbox"

    @property
    def clock(self) -> TestClock:
        """Return the test clock Signoff and the workspace share."""
        clock = self.runtime.service.clock
        assert isinstance(clock, TestClock)
        return clock

    async def close(self) -> None:
        """Stop everything, keeping the workspace's conversations for the next run."""
        self.ui.close()
        await self.runtime.close()
        if self.keeper is not None:
            await self.keeper.close()
        await self.webapi.close()
        if self.mailbox is not None:
            await self.mailbox.close()


async def start_sandbox(
    database: str | Path, port: int = 3000, *, base: Settings | None = None, is_persistent: bool = True,
    default_viewer: str | None = None,
) -> Sandbox:
    """Start the local workspace, Signoff and the web client at /sandbox, all on 127.0.0.1."""
    _check_port_free(port)
    clock = TestClock()
    workspace = Workspace.demo(wall_clock=lambda: clock.now().timestamp())
    mailbox = Mailbox(clock.now, lambda mail: workspace.notify("mail"))
    keeper = _restored(workspace, clock, Path(database), mailbox) if is_persistent else None
    api_token = (keeper.api_token if keeper else None) or new_api_token()
    if keeper is not None:
        keeper.api_token = api_token
    await mailbox.start()
    webapi = await start_webapi(workspace, LOOPBACK, 0)
    try:
        settings = sandbox_settings(base, database, port, webapi.url, smtp_url=mailbox.url, api_token=api_token)
        runtime = await build_runtime(settings, clock=clock)
    except BaseException:
        await webapi.close()
        await mailbox.close()
        raise
    sandbox = _assemble(workspace, webapi, runtime, keeper, default_viewer)
    sandbox.mailbox = sandbox.ui.mailbox = mailbox
    try:
        await runtime.serve()
    except BaseException:
        await sandbox.close()
        raise
    sandbox.link.app_url = f"{runtime.url}/slack/events"
    sandbox.ui.api_url = runtime.url
    if port == 0:  # links in e-mails name the port the server was given
        for settings_in_use in {id(s): s for s in (runtime.settings, runtime.service.settings)}.values():
            settings_in_use.public_url = runtime.url
    if keeper is not None:
        keeper.start()
    return sandbox


def _restored(workspace: Workspace, clock: TestClock, database: Path, mailbox: Mailbox) -> StateKeeper:
    keeper = StateKeeper(workspace, clock, state_path_for(database), mailbox)
    if database.exists():
        keeper.load()
    else:
        keeper.discard()
    return keeper


def _assemble(
    workspace: Workspace, webapi: WebApiServer, runtime: Runtime, keeper: StateKeeper | None,
    default_viewer: str | None,
) -> Sandbox:
    settings = runtime.settings
    events_url = f"http://{LOOPBACK}:{settings.port}/slack/events"
    link = AppLink(workspace, events_url, settings.slack_signing_secret or "")
    ui = SandboxUI(workspace, link, runtime.service.clock, settings, default_viewer)
    runtime.app.include_router(ui.router())
    return Sandbox(workspace, webapi, runtime, link, ui, keeper)
