"""Assemble and run Signoff: database, Slack client, service, Bolt app and the HTTP server."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI
from slack_bolt.async_app import AsyncApp

from bot.clock import SystemClock, TestClock
from bot.core.default_workflows import localize_defaults
from bot.core.service import Signoff
from bot.errors import SettingsError
from bot.jobs.scheduler import Scheduler
from bot.outbox.handlers import bookkeeping_table, handler_table
from bot.outbox.posts import OutboxSlack
from bot.outbox.worker import Deliverer
from bot.senders.slack import make_client
from bot.server import create_app
from bot.settings import Settings
from bot.slack.app import build_bolt_app, command_registry
from bot.slack.command_kit import CommandRegistry
from bot.slack.front import ClickProcessor
from bot.slack.inbox import Inbox, InboxWorker
from storage import open_store
from storage.owners import new_owner
from storage.ports import Store

log = logging.getLogger(__name__)


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind a listening TCP socket (port 0 picks a free one)."""
    # Naming IPPROTO_TCP lets asyncio set TCP_NODELAY on every accepted connection: without it each
    # response on a kept-alive connection waits for the client's delayed ACK (about 40 ms).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise SettingsError(f"SIGNOFF_HOST / SIGNOFF_PORT: cannot listen on {host}:{port}: {reason}") from exc
    sock.setblocking(False)
    return sock


def server_config(app: FastAPI, graceful_s: float = 2.0, keep_alive_s: float = 5.0) -> uvicorn.Config:
    """Return the uvicorn settings Signoff serves with (the latency benchmark serves its floor alike)."""
    return uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                          timeout_graceful_shutdown=max(1, round(graceful_s)),
                          timeout_keep_alive=max(1, round(keep_alive_s)))


class QuietServer(uvicorn.Server):
    """A uvicorn server that leaves SIGTERM and SIGINT to Signoff, which shuts down in order and exits 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Install no signal handlers (uvicorn's re-raise the signal once serving stops)."""
        yield


@dataclass
class Runtime:
    """A running Signoff: its parts and the address it serves."""

    settings: Settings
    db: Store
    service: Signoff
    bolt: AsyncApp
    app: FastAPI
    inbox: InboxWorker
    commands: CommandRegistry
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
        self.sock = bind_socket(self.settings.host, self.settings.port)
        self.tasks.append(asyncio.create_task(self.inbox.run_forever()))
        if self.deliverer is not None:
            self.tasks.append(asyncio.create_task(self.deliverer.run_forever()))
        if self.scheduler is not None:
            await self.scheduler.start()
        config = server_config(self.app, self.settings.shutdown_s, self.settings.keep_alive_s)
        self.server = QuietServer(config)
        self.tasks.append(asyncio.create_task(self.server.serve(sockets=[self.sock])))
        while not self.server.started:
            if self.tasks[-1].done():
                self.tasks[-1].result()
            await asyncio.sleep(0.01)
        if self.settings.is_socket_mode:
            await self._connect_socket_mode()

    async def _connect_socket_mode(self) -> None:
        from bot.slack.socket_mode import InboxSocketModeHandler

        self.socket_mode = InboxSocketModeHandler(self.bolt, self.settings.slack_app_token, self.inbox)
        await self.socket_mode.connect_async()

    async def drain(self, drain_s: float, cut_short: asyncio.Event) -> None:
        """Serve on for `drain_s` (or until `cut_short` is set) while `/healthz` answers 503 and every response
        closes its connection: the load balancer sends the next requests to the other replicas meanwhile."""
        self.app.state.drain.is_draining = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(cut_short.wait(), timeout=drain_s)

    async def close(self, shutdown_s: float | None = None) -> None:
        """Stop accepting, let work in hand finish within `shutdown_s` (what does not stays queued), close all."""
        deadline = time.monotonic() + (self.settings.shutdown_s if shutdown_s is None else shutdown_s)
        if self.scheduler is not None:
            await self.scheduler.close()
        if self.socket_mode is not None:
            await self.socket_mode.close_async()
        if self.server is not None:
            self.server.should_exit = True
            await _settle(self.tasks.pop(), _left(deadline) + 1)
        await self.inbox.close(_left(deadline))
        if self.deliverer is not None:
            await self.deliverer.close(_left(deadline))
        for task in self.tasks:
            task.cancel()
            await _settle(task)
        await self.service.slack.client.session.close() if self.service.slack.client.session else None
        await self.db.close()


def _left(deadline: float) -> float:
    return max(0.0, deadline - time.monotonic())


async def _settle(task: asyncio.Task[Any], timeout_s: float = 5.0) -> None:
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await asyncio.wait_for(task, timeout=timeout_s)


def freeze_startup_heap() -> None:
    """Keep what start-up built, which lives as long as the process, out of full GC passes (shorter pauses)."""
    gc.collect()
    gc.freeze()


async def build_runtime(settings: Settings, clock: SystemClock | None = None) -> Runtime:
    """Open the database and wire every part together (not yet serving)."""
    db = await open_store(settings.database, migrate=settings.migrate or settings.sandbox)
    if clock is None:
        clock = TestClock() if (settings.test_clock or settings.sandbox) else SystemClock()
    client = make_client(settings.slack_bot_token, settings.slack_api_url, keep_alive=True)
    service = Signoff(db, settings, OutboxSlack(client), clock)
    try:
        await localize_defaults(service)
    except Exception:  # a wording nicety never stops start-up
        log.exception("could not reword the default workflows in the company language; they stay as they are")
    commands = command_registry()
    bolt = build_bolt_app(service, client, commands)
    inbox = InboxWorker(Inbox(db, new_owner()), ClickProcessor(bolt))
    deliverer = Deliverer(service, handler_table(service), bookkeeping=bookkeeping_table(service))
    deliverer.yield_to = inbox.until_idle
    deliverer.is_clicking = inbox.is_busy
    inbox.on_idle = deliverer.kick
    inbox.share_with_peers()
    service.on_queued = deliverer.kick
    db.on_committed_elsewhere(deliverer.kick)
    app = create_app(service, bolt, inbox)
    app.state.deliverer = deliverer
    scheduler = Scheduler(service, deliverer)
    scheduler.attach(app)
    return Runtime(settings, db, service, bolt, app, inbox, commands, deliverer=deliverer, scheduler=scheduler)
