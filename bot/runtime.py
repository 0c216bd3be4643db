"""Assemble and run Signoff: database, Slack client, service, Bolt app and the HTTP server."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI
from slack_bolt.async_app import AsyncApp

from bot.clock import SystemClock, TestClock
from bot.delivery import Deliverer, OutboxSlack
from bot.scheduler import Scheduler
from bot.server import create_app
from bot.service import Signoff
from bot.settings import Settings
from bot.slack_app import build_bolt_app
from bot.slack_front import ClickRunner
from bot.slack_out import make_client
from storage.db import Database

log = logging.getLogger(__name__)


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind a listening TCP socket (port 0 picks a free one)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def server_config(app: FastAPI) -> uvicorn.Config:
    """Return the uvicorn settings Signoff serves with (the latency benchmark serves its floor alike)."""
    return uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2)


@dataclass
class Runtime:
    """A running Signoff: its parts and the address it serves."""

    settings: Settings
    db: Database
    service: Signoff
    bolt: AsyncApp
    app: FastAPI
    clicks: ClickRunner
    deliverer: Deliverer | None = None
    scheduler: Scheduler | None = None
    server: uvicorn.Server | None = None
    sock: socket.socket | None = None
    tasks: list[asyncio.Task[Any]] = field(default_factory=list)
    socket_mode: Any = None

    @property
    def url(self) -> str:
        """Return the base URL the server listens on."""
        assert self.sock is not None
        host, port = self.sock.getsockname()[:2]
        return f"http://{host}:{port}"

    async def serve(self) -> None:
        """Start the outbox worker and serve HTTP in the background; return once ready."""
        if self.deliverer is not None:
            self.tasks.append(asyncio.create_task(self.deliverer.run_forever()))
        if self.scheduler is not None:
            await self.scheduler.start()
        self.sock = bind_socket(self.settings.host, self.settings.port)
        config = server_config(self.app)
        self.server = uvicorn.Server(config)
        self.tasks.append(asyncio.create_task(self.server.serve(sockets=[self.sock])))
        while not self.server.started:
            if self.tasks[-1].done():
                self.tasks[-1].result()
            await asyncio.sleep(0.01)
        if self.settings.is_socket_mode:
            await self._connect_socket_mode()

    async def _connect_socket_mode(self) -> None:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        self.socket_mode = AsyncSocketModeHandler(self.bolt, self.settings.slack_app_token)
        await self.socket_mode.connect_async()

    async def close(self) -> None:
        """Stop serving, finish the clicks in hand, stop the workers and close the database."""
        if self.scheduler is not None:
            await self.scheduler.close()
        if self.socket_mode is not None:
            await self.socket_mode.close_async()
        if self.server is not None:
            self.server.should_exit = True
            await _settle(self.tasks.pop())
        await self.clicks.drain()
        for task in self.tasks:
            task.cancel()
            await _settle(task)
        await self.service.slack.client.session.close() if self.service.slack.client.session else None
        await self.db.close()


async def _settle(task: asyncio.Task[Any]) -> None:
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await asyncio.wait_for(task, timeout=5)


def freeze_startup_heap() -> None:
    """Keep what start-up built, which lives as long as the process, out of full GC passes (shorter pauses)."""
    gc.collect()
    gc.freeze()


async def build_runtime(settings: Settings, clock: SystemClock | None = None) -> Runtime:
    """Open the database and wire every part together (not yet serving)."""
    db = await Database.open(settings.database)
    if clock is None:
        clock = TestClock() if (settings.test_clock or settings.sandbox) else SystemClock()
    client = make_client(settings.slack_bot_token, settings.slack_api_url, keep_alive=True)
    service = Signoff(db, settings, OutboxSlack(client), clock)
    bolt = build_bolt_app(service, client)
    clicks = ClickRunner(build_bolt_app(service, client, is_processing_before_response=True))
    deliverer = Deliverer(service)
    service.on_queued = deliverer.kick
    app = create_app(service, bolt, clicks)
    app.state.deliverer = deliverer
    scheduler = Scheduler(service, deliverer)
    scheduler.attach(app)
    return Runtime(settings, db, service, bolt, app, clicks, deliverer=deliverer, scheduler=scheduler)
