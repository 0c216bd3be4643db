"""Crashes and concurrency with real bot processes (`python -m bot.cli.main run`) against the sandbox Slack here.

A bot killed with SIGKILL halfway through delivering a sweep's 500 reminders (five per approver, each approver's
in one message listing them), then restarted, delivers every reminder exactly once; two bots sweeping one
database never perform an action twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from bot.outbox.posts import METADATA_EVENT
from bot.outbox.worker import UNCHECKABLE_IN_FLIGHT
from bot.runtime import build_runtime
from bot.sandbox.state.model import DEFAULT_TOKEN
from bot.sandbox.webapi import WebApiServer, start_webapi
from bot.sandbox.workspace import Workspace
from engine.approvals import ApprovalRequest, Step
from engine.records import Record
from storage.ports import Repository
from tests.support.harness import API_TOKEN, SIGNING_SECRET, settings_for
from tests.support.postgres import fresh_database
from tests.support.smtp import Inbox

REQUESTS = 500
APPROVERS = [f"U0CR{i:03d}" for i in range(100)]
STARTED = datetime(2026, 10, 20, 7, 0, tzinfo=UTC)
REMIND_AT = STARTED + timedelta(days=1, minutes=5)
WORKFLOW = {"name": "Daily reminders", "record_type": "invoice", "trigger": "created",
            "actions": [{"type": "approval", "steps": [{"approvers": ["U0CR000"]}], "remind_every": "P1D"}]}


def crash_workspace() -> Workspace:
    """A workspace with the requester and a hundred approvers."""
    workspace = Workspace()
    workspace.add_user("reqina", user_id="U0REQ")
    for user in APPROVERS:
        workspace.add_user(user.lower(), user_id=user)
    return workspace


async def pending_approvals(database: str, api_url: str) -> None:
    """Store a workflow and REQUESTS pending approvals (five per approver) whose first reminder is due at REMIND_AT."""
    runtime = await build_runtime(settings_for(database, api_url))
    try:
        workflow = await runtime.service.workflows.create(WORKFLOW)
        async with runtime.db.unit_of_work() as repo:
            for i in range(REQUESTS):
                await store_pending(repo, f"{i:04d}", APPROVERS[i % len(APPROVERS)], workflow.id)
    finally:
        await runtime.close()


async def store_pending(repo: Repository, number: str, approver: str, workflow_id: str) -> None:
    """Store invoice INV-`number`, pending since STARTED on request AR-`number` to one approver."""
    record = Record.model_validate({"type": "invoice", "id": f"INV-{number}", "amount": "100.00", "created_by": "U0REQ",
                                    "approval_status": "pending", "created_at": STARTED, "updated_at": STARTED})
    await repo.save_record(record)
    await repo.insert_request(ApprovalRequest(f"AR-{number}", "invoice", record.id, workflow_id, "U0REQ",
                                              (Step(0, (approver,), 1),), STARTED, STARTED))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Bot:
    """A Signoff process and a REST client to it."""

    process: asyncio.subprocess.Process
    api: httpx.AsyncClient

    async def tick_at(self, moment: datetime) -> dict[str, Any]:
        """Set the process's test clock and run one sweep (with delivery)."""
        assert (await self.api.post("/api/v1/clock", json={"now": moment.isoformat()})).status_code == 200
        response = await self.api.post("/api/v1/scheduler/tick")
        assert response.status_code == 200, response.text
        return dict(response.json())


@contextlib.asynccontextmanager
async def bot_process(
    database: str, webapi: WebApiServer, workdir: Path, app_token: str | None = None, **settings: str,
) -> AsyncIterator[Bot]:
    """Run `python -m bot.cli.main run` on the database against the sandbox, with more `settings` (environment
    variables); stop (or reap) it after.

    With `app_token` the process runs in Socket Mode, connecting to the sandbox's hub with that app-level token.
    """
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIGNOFF_", "SLACK_"))}
    env.update(SLACK_API_URL=webapi.url, SLACK_BOT_TOKEN=DEFAULT_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
               SIGNOFF_DATABASE=database, SIGNOFF_HOST="127.0.0.1", SIGNOFF_PORT=str(port),
               SIGNOFF_API_TOKEN=API_TOKEN, SIGNOFF_TEST_CLOCK="1", SIGNOFF_TICK_SECONDS="3600")
    if app_token is not None:
        env.update(SLACK_APP_TOKEN=app_token)
    env.update(settings)
    with (workdir / f"bot-{port}.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(sys.executable, "-m", "bot.cli", "run", env=env, cwd=workdir,
                                                       stdout=log, stderr=log)
    api = httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {API_TOKEN}"},
                            timeout=45)
    try:
        await until_healthy(api, process)
        yield Bot(process, api)
    finally:
        await api.aclose()
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), timeout=20)


async def until_healthy(api: httpx.AsyncClient, process: asyncio.subprocess.Process) -> None:
    for _ in range(300):
        assert process.returncode is None, "the bot process exited at start-up"
        with contextlib.suppress(httpx.HTTPError):
            if (await api.get("/healthz")).status_code == 200:
                return
        await asyncio.sleep(0.05)
    raise TimeoutError("the bot process did not start")


def reminder_keys(workspace: Workspace) -> Counter[str]:
    """Count the reminders Slack holds, by outbox key: a DM of one counts its own key, a DM listing several the keys
    of the reminders it stands for."""
    keys: Counter[str] = Counter()
    for user in APPROVERS:
        for message in workspace.dm_messages(user):
            metadata = message.metadata or {}
            if metadata.get("event_type") == METADATA_EVENT and "Reminder" in message.text:
                payload = metadata["event_payload"]
                keys.update(payload.get("covers") or [payload["key"]])
    return keys


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the bots keep their state: a SQLite file, or a database of the session's PostgreSQL cluster."""
    if request.param == "sqlite":
        return str(tmp_path / "bots.db")
    return fresh_database(request.getfixturevalue("pg_cluster"), f"crash_{tmp_path.name.lower()}")


async def test_a_bot_killed_mid_sweep_delivers_every_message_once_after_restart(
    tmp_path: Path, database: str,
) -> None:
    workspace = crash_workspace()
    async with await start_webapi(workspace) as webapi:
        await pending_approvals(database, webapi.url)
        async with bot_process(database, webapi, tmp_path) as bot:
            tick = asyncio.create_task(bot.tick_at(REMIND_AT))
            await workspace.wait_for(lambda: sum(reminder_keys(workspace).values()) >= 150, timeout_s=30)
            bot.process.send_signal(signal.SIGKILL)
            await bot.process.wait()
            with contextlib.suppress(httpx.HTTPError):
                await tick
        delivered_before = sum(reminder_keys(workspace).values())
        assert 150 <= delivered_before < REQUESTS, "the bot died halfway through"
        async with bot_process(database, webapi, tmp_path) as bot:
            summary = await bot.tick_at(REMIND_AT + timedelta(minutes=10))
            outbox = (await bot.api.get("/api/v1/outbox")).json()["counts"]
        keys = reminder_keys(workspace)
        assert workspace.calls("conversations.history"), "messages in flight at the crash were looked up"
        logs = "".join(p.read_text() for p in tmp_path.glob("bot-*.log"))
        assert "was already delivered" in logs
        assert summary["remind"] == 0, "the sweep's actions were done once, before the crash"
        assert len(keys) == REQUESTS and set(keys.values()) == {1}
        assert set(outbox) == {"sent"}
        assert outbox["sent"] < REQUESTS, "an approver's five reminders came as one message"


async def delivered_all(bot: Bot, workspace: Workspace, expected: int, timeout_s: float = 30.0) -> None:
    """Poll until Slack holds `expected` reminders and the outbox holds nothing but what it sent."""
    deadline = time.monotonic() + timeout_s
    while (sum(reminder_keys(workspace).values()) < expected
           or set((await bot.api.get("/api/v1/outbox")).json()["counts"]) != {"sent"}):
        assert time.monotonic() < deadline, "the outbox never emptied"
        await asyncio.sleep(0.1)


async def test_two_bots_on_one_database_never_perform_an_action_twice(tmp_path: Path, database: str) -> None:
    workspace = crash_workspace()
    async with await start_webapi(workspace) as webapi:
        await pending_approvals(database, webapi.url)
        async with bot_process(database, webapi, tmp_path) as one, bot_process(database, webapi, tmp_path) as two:
            first, second = await asyncio.gather(one.tick_at(REMIND_AT), two.tick_at(REMIND_AT))
            # A tick answers once its own bot delivered what it holds; the clock, shared, must not jump past the
            # other's leases while it still posts (they would end, as a lease of a stuck process does).
            await delivered_all(one, workspace, REQUESTS)
            again = await asyncio.gather(one.tick_at(REMIND_AT), two.tick_at(REMIND_AT + timedelta(hours=1)))
            watched = (await one.api.get("/api/v1/scheduler")).json()
        assert first["remind"] + second["remind"] == REQUESTS
        assert again[0]["remind"] + again[1]["remind"] == 0
        assert watched["performed"] == REQUESTS
        keys = reminder_keys(workspace)
        assert len(keys) == REQUESTS and set(keys.values()) == {1}


CUSTOMERS = 120
KILL_AT_MAIL = 30
DUE = datetime(2026, 10, 27, 12, 0, tzinfo=UTC)


class KillingInbox(Inbox):
    """An SMTP server's inbox that SIGKILLs a process as it takes the `kill_at`-th message (not yet answered)."""

    def __init__(self, port: int, kill_at: int) -> None:
        super().__init__(port)
        self.kill_at = kill_at
        self.pid: int | None = None

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Keep the message; at the `kill_at`-th, kill the process before answering."""
        answer = await super().handle_DATA(server, session, envelope)
        if len(self.messages) == self.kill_at and self.pid is not None:
            os.kill(self.pid, signal.SIGKILL)
        return answer


async def owe_reminders(bot: Bot) -> None:
    """Store CUSTOMERS customers with an address, each with an open invoice due at DUE, and a reminder 3 days before."""
    assert (await bot.api.post("/api/v1/clock", json={"now": (DUE - timedelta(days=7)).isoformat()})).status_code == 200
    settings = {"enabled": True, "schedules": [{"offset_days": -3}]}
    assert (await bot.api.put("/api/v1/settings/invoice-reminders", json=settings)).status_code == 200
    for n in range(CUSTOMERS):
        contact = {"name": f"Customer {n}", "email": f"ap{n}@example.com"}
        assert (await bot.api.put(f"/api/v1/contacts/customer/C-{n}", json=contact)).status_code == 200
        invoice = {"amount": "100.00", "customer": f"C-{n}", "due_date": DUE.date().isoformat(), "status": "sent",
                   "created_by": "U0REQ"}
        assert (await bot.api.put(f"/api/v1/records/invoice/INV-{n}", json=invoice)).status_code == 200


async def test_a_bot_killed_mid_mail_burst_sends_again_only_the_mails_in_flight(tmp_path: Path, database: str) -> None:
    inbox = KillingInbox(free_port(), KILL_AT_MAIL)
    controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
    controller.start()
    try:
        async with await start_webapi(crash_workspace()) as webapi:
            async with bot_process(database, webapi, tmp_path, SIGNOFF_SMTP_URL=inbox.url) as bot:
                await owe_reminders(bot)
                inbox.pid = bot.process.pid
                with contextlib.suppress(httpx.HTTPError):
                    await bot.tick_at(DUE - timedelta(days=3, hours=-1))
                await bot.process.wait()
            sent_before = len(inbox.messages)
            async with bot_process(database, webapi, tmp_path, SIGNOFF_SMTP_URL=inbox.url) as bot:
                await bot.tick_at(DUE - timedelta(days=3, hours=-2))
                outbox = (await bot.api.get("/api/v1/outbox")).json()["counts"]
    finally:
        controller.stop()
    copies = Counter(str(message["To"]) for message in inbox.parsed())
    assert KILL_AT_MAIL <= sent_before < CUSTOMERS, "the bot died halfway through"
    assert len(copies) == CUSTOMERS and set(outbox) == {"sent"}, "every customer was reminded"
    sent_twice = sum(n - 1 for n in copies.values())
    assert sent_twice <= 2 * UNCHECKABLE_IN_FLIGHT, f"{sent_twice} customers got the reminder twice"
