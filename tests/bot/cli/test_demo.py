"""`signoff demo`: seeded states, a second run that changes nothing, loopback only, one clear line on errors."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot.cli.demo import main, start_demo
from bot.cli.demo_data import BOB, CARA, DAN, DOCUMENTS
from bot.cli.demo_seed import seed
from bot.sandbox.run import Sandbox, start_sandbox, state_path_for
from bot.settings import Settings
from tests.support.demo import demo_from, seeded_folder

EXPECTED_STATUS = {
    "INV-1001": "pending", "INV-1002": "pending", "INV-1003": "pending", "INV-1004": "pending",
    "INV-1005": "approved", "INV-1006": "rejected", "INV-1007": "approval_required",
    "INV-1008": "approval_required", "INV-1009": "none", "INV-1010": "pending",
    "INV-1011": "none", "BILL-2001": "none", "BILL-2002": "none",
}


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a freshly seeded demo database and its saved workspace."""
    return seeded_folder(tmp_path_factory)


@pytest.fixture
async def demo(seeded: Path, tmp_path: Path) -> AsyncIterator[Sandbox]:
    """The seeded demo run again from a copy of its files, on free loopback ports."""
    async with demo_from(seeded, tmp_path) as sandbox:
        yield sandbox


def api(sandbox: Sandbox) -> httpx.AsyncClient:
    """A REST API client with the sandbox's generated token."""
    headers = {"Authorization": f"Bearer {sandbox.runtime.settings.api_token}"}
    return httpx.AsyncClient(base_url=sandbox.runtime.url, headers=headers, timeout=30)


async def statuses(sandbox: Sandbox) -> dict[str, str]:
    """Return the approval status of every seeded document, read through the REST API."""
    async with api(sandbox) as client:
        answers = [await client.get(f"/api/v1/records/{d.type.value}/{d.id}") for d in DOCUMENTS]
    return {a.json()["id"]: a.json()["approval_status"] for a in answers}


def dm_counts(sandbox: Sandbox) -> dict[str, int]:
    """Return how many messages each person has in their DM with the bot."""
    return {u: len(sandbox.workspace.dm_messages(u)) for u in ("U0ADA", BOB, CARA, DAN)}


async def test_seed_leaves_documents_in_every_state(demo: Sandbox) -> None:
    assert len(DOCUMENTS) == 13
    assert await statuses(demo) == EXPECTED_STATUS


async def test_seed_creates_the_approval_workflow_and_the_two_defaults(demo: Sandbox) -> None:
    async with api(demo) as client:
        workflows = {w["name"]: w for w in (await client.get("/api/v1/workflows")).json()["workflows"]}
    assert set(workflows) == {"Invoice approval", "Bill payment reminder", "Unsent invoice reminder"}
    approval = workflows["Invoice approval"]["actions"][0]
    assert [s["approvers"] for s in approval["steps"]] == [[BOB], [CARA]]
    assert (approval["remind_every"], approval["escalate_after"], approval["expire_after"]) == ("P1D", "P3D", "P30D")
    assert approval["channel"] == "#finance"
    kinds = {w["actions"][0]["type"] for name, w in workflows.items() if name != "Invoice approval"}
    assert kinds <= {"reminder", "notification"} and all(w["enabled"] for w in workflows.values())


async def test_seed_sends_real_dms_through_the_workspace(demo: Sandbox) -> None:
    workspace = demo.workspace
    bob_asks = [m for m in workspace.dm_messages(BOB) if "approve" in m.action_ids()]
    assert {m.text.split()[1] for m in bob_asks} == {"INV-1001", "INV-1002", "INV-1010"}
    cara_asks = [m for m in workspace.dm_messages(CARA) if "approve" in m.action_ids()]
    assert {m.text.split()[1] for m in cara_asks} == {"INV-1003", "INV-1004"}
    outcomes = [m.all_text() for m in workspace.dm_messages(DAN)]
    assert any("INV-1005" in t and "approved" in t for t in outcomes)
    assert any("INV-1006" in t and "Duplicate of INV-0998" in t for t in outcomes)
    assert len(workspace.messages_in("#finance")) == 7
    assert all(m.user == "U0SIGNOFF" for m in workspace.dm_messages(DAN))


async def test_seed_contacts_are_stored(demo: Sandbox) -> None:
    async with demo.runtime.db.read() as repo:
        acme = await repo.get_contact("customer", "C-ACME")
        cloud = await repo.get_contact("vendor", "V-CLOUD")
    assert acme is not None and acme.email == "billing@acme.example" and acme.state == "CA"
    assert cloud is not None and cloud.name == "CloudHost Ltd"


async def test_seed_groups_serve_the_catalog_templates(demo: Sandbox) -> None:
    async with api(demo) as client:
        groups = {g["name"]: g for g in (await client.get("/api/v1/groups")).json()["groups"]}
    assert set(groups) == {"finance-team", "finance-approvers", "finance-leads", "california-customers"}
    assert str(groups["finance-approvers"]["members"]).count("U0") == 2
    assert "C-ACME" in str(groups["california-customers"]["members"])
    assert "C-GLOBEX" not in str(groups["california-customers"]["members"])


async def test_seeding_twice_changes_nothing(demo: Sandbox) -> None:
    before = (await statuses(demo), dm_counts(demo), len(await demo.runtime.service.workflows.list_all()))
    report = await seed(demo.runtime.service)
    assert (report.contacts, report.groups, report.workflows, report.documents) == (0, [], [], [])
    assert report.rules == []
    assert (await statuses(demo), dm_counts(demo), len(await demo.runtime.service.workflows.list_all())) == before


async def test_a_second_run_on_the_same_database_keeps_conversations_and_adds_nothing(tmp_path: Path) -> None:
    database = tmp_path / "demo.db"
    first = await start_demo(database, 0)
    counts, finance = dm_counts(first), len(first.workspace.messages_in("#finance"))
    await first.close()
    assert state_path_for(database).exists()
    second = await start_demo(database, 0)
    try:
        assert dm_counts(second) == counts and len(second.workspace.messages_in("#finance")) == finance
        assert await statuses(second) == EXPECTED_STATUS
        assert len(await second.runtime.service.workflows.list_all()) == 3
        cara_dm = next(m for m in second.workspace.dm_messages(CARA) if "INV-1004" in m.text)
        await second.link.click(CARA, cara_dm.channel, cara_dm.ts, "approve")
        await second.workspace.wait_for(lambda: len(second.workspace.dm_messages(DAN)) == counts[DAN] + 1)
        posts = second.workspace.calls("chat.postMessage")
        assert posts and all(call.token == "xoxb-sandbox" for call in posts)
    finally:
        await second.close()


async def test_a_fresh_database_forgets_old_conversations(tmp_path: Path) -> None:
    database = tmp_path / "demo.db"
    state_path_for(database).write_text('{"workspace": {"broken": true}}', encoding="utf-8")
    sandbox = await start_sandbox(database, 0)
    try:
        assert sandbox.workspace.dm_messages(DAN) == [] and not state_path_for(database).exists()
    finally:
        await sandbox.close()


async def test_sandbox_binds_loopback_only_and_reaches_nothing_outside(tmp_path: Path) -> None:
    base = Settings(_env_file=None, host="0.0.0.0", smtp_url="smtp://u:p@mail.example:25",
                    webhook_url="https://hooks.example/x", slack_api_url="https://slack.com/api/")
    sandbox = await start_sandbox(tmp_path / "demo.db", 0, base=base)
    try:
        settings = sandbox.runtime.settings
        assert sandbox.runtime.sock is not None and sandbox.runtime.sock.getsockname()[0] == "127.0.0.1"
        assert sandbox.webapi.host == "127.0.0.1" and settings.host == "127.0.0.1"
        assert settings.slack_api_url == sandbox.webapi.url and settings.slack_api_url.startswith("http://127.0.0.1:")
        assert settings.smtp_url is not None and settings.smtp_url.startswith("smtp://127.0.0.1:")
        assert sandbox.mailbox is not None and settings.smtp_url.startswith(f"smtp://127.0.0.1:{sandbox.mailbox.port}")
        assert settings.webhook_url is None and settings.sandbox
        assert settings.test_clock and settings.admins == frozenset({"U0ADA"})
        assert sandbox.url.startswith("http://127.0.0.1:") and sandbox.url.endswith("/sandbox")
    finally:
        await sandbox.close()


def test_demo_command_names_a_busy_port_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        base = Settings(_env_file=None, port=port)
        assert main(base) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"signoff: port {port} is in use; set SIGNOFF_PORT to another port"]


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_demo_command_prints_the_url_then_stops_cleanly(tmp_path: Path, stop_signal: signal.Signals) -> None:
    env = {**os.environ, "SIGNOFF_PORT": str(_free_port())}
    with subprocess.Popen([sys.executable, "-m", "bot.cli", "demo"], cwd=tmp_path, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert f"http://127.0.0.1:{env['SIGNOFF_PORT']}/sandbox" in line
            assert httpx.get(f"http://127.0.0.1:{env['SIGNOFF_PORT']}/sandbox").status_code == 200
        finally:
            process.send_signal(stop_signal)
            assert process.wait(timeout=20) == 0
    assert (tmp_path / "signoff-demo.db").exists() and (tmp_path / "signoff-demo.db.workspace.json").exists()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])



async def test_approvers_get_e_mails_from_the_first_minute(demo: Sandbox) -> None:
    assert demo.mailbox is not None
    asked = {(tuple(m.to), m.subject.split()[-3]) for m in demo.mailbox.mails}
    assert (("bob@example.com",), "INV-1001") in asked and (("cara@example.com",), "INV-1003") in asked


async def test_a_published_rule_pre_fills_a_pending_approval(demo: Sandbox) -> None:
    async with api(demo) as client:
        rules = (await client.get("/api/v1/rules")).json()["rules"]
        record = (await client.get("/api/v1/records/invoice/INV-1001")).json()
    assert [r["status"] for r in rules] == ["published"]
    assert record["department"] == "Enterprise sales" and record["approval_status"] == "pending"
    asks = [m.all_text() for m in demo.workspace.dm_messages(BOB) if "INV-1001" in m.text]
    assert any("⚡" in text or ":zap:" in text for text in asks)


async def test_a_customer_reminder_is_e_mailed_after_a_day(demo: Sandbox) -> None:
    assert demo.mailbox is not None
    async with api(demo) as client:
        settings = (await client.get("/api/v1/settings/invoice-reminders")).json()
        assert settings["enabled"]
        await client.post("/api/v1/clock", json={"advance": "P1D"})
        await client.post("/api/v1/scheduler/tick")
    reminders = [m for m in demo.mailbox.mails if m.to == ["ap@globex.example"]]
    assert len(reminders) == 1 and "INV-1011" in reminders[0].subject


async def test_the_api_token_stays_with_the_database(seeded: Path, tmp_path: Path) -> None:
    async with demo_from(seeded, tmp_path) as first:
        token = first.runtime.settings.api_token
    async with demo_from(seeded, tmp_path / "again") as second:
        assert second.runtime.settings.api_token == token


async def test_the_new_document_form_goes_through_the_rest_api(demo: Sandbox) -> None:
    async with httpx.AsyncClient(base_url=f"{demo.url}/api", timeout=30) as page:
        settings = (await page.get("/settings")).json()
        created = (await page.post("/documents", json={"type": "invoice", "amount": "4200.00", "contact": "C-ACME",
                                                        "created_by": DAN, "memo": "From the form"})).json()
        manual = (await page.post("/documents", json={"type": "bill", "amount": "20", "contact": "V-PAPER",
                                                       "source": "manual", "created_by": DAN})).json()
        contacts = (await page.get("/contacts")).json()["contacts"]
    assert settings["api_token"] == demo.runtime.settings.api_token and settings["smtp_url"].startswith("smtp://")
    assert created["record"]["id"] == "INV-3001" and created["record"]["approval_status"] == "pending"
    assert created["record"]["department"] == "Enterprise sales"
    assert manual["record"]["id"] == "BILL-3001" and {"kind": "vendor", "id": "V-PAPER"}.items() <= contacts[-2].items()
    await demo.workspace.wait_for(lambda: any("INV-3001" in m.text for m in demo.workspace.dm_messages(BOB)))
