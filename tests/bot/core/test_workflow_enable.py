"""One meaning of enable: enabling makes a workflow live, over REST, Slack and YAML; every save takes effect at once."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from tests.support.harness import Harness, running_signoff

PARIS = ZoneInfo("Europe/Paris")
ADMIN, ALICE = "U0ADMIN", "U01AAA"
BIG_BILLS: dict[str, Any] = {
    "name": "Big bills", "record_type": "bill", "trigger": "created",
    "conditions": [{"field": "amount", "op": "gt", "value": "1000"}],
    "actions": [{"type": "approval", "steps": [{"approvers": [ALICE]}]}],
}
WEEKLY: dict[str, Any] = {
    "id": "wf_weekly_digest", "name": "Weekly unsent invoices", "record_type": "invoice", "trigger": "scheduled",
    "schedule": "0 9 * * 1", "conditions": [{"field": "email_status", "op": "eq", "value": "not_sent"}],
    "actions": [{"type": "reminder", "to": ["#finance"], "message": "Invoice {{ record.id }} is not sent"}],
}


def bill(amount: str) -> dict[str, Any]:
    return {"amount": amount, "currency": "EUR", "vendor": "V-1", "created_by": "U0REQ", "source": "import"}


async def copy_of(signoff: Harness) -> dict[str, Any]:
    source = await signoff.post("/api/v1/workflows", {**BIG_BILLS, "enabled": False})
    copied = await signoff.post(f"/api/v1/workflows/{source.json()['id']}/copy")
    assert copied.status_code == 201 and copied.json()["status"] == "draft" and copied.json()["enabled"] is False
    return dict(copied.json())


async def test_a_copy_that_is_enabled_is_published_and_fires(signoff: Harness) -> None:
    copy = await copy_of(signoff)
    before = await signoff.put("/api/v1/records/bill/B-0", bill("5000"))
    assert before.json()["approval_status"] == "none"
    enabled = await signoff.post(f"/api/v1/workflows/{copy['id']}/enable")
    assert enabled.status_code == 200 and (enabled.json()["enabled"], enabled.json()["status"]) == (True, "published")
    assert (await signoff.api.get(f"/api/v1/workflows/{copy['id']}")).json()["status"] == "published"
    after = await signoff.put("/api/v1/records/bill/B-1", bill("5000"))
    assert after.json()["approval_status"] == "pending"
    await signoff.wait_for(lambda: signoff.dm(ALICE))
    disabled = (await signoff.post(f"/api/v1/workflows/{copy['id']}/disable")).json()
    assert (disabled["enabled"], disabled["status"]) == (False, "published")
    assert (await signoff.put("/api/v1/records/bill/B-2", bill("5000"))).json()["approval_status"] == "none"


async def test_slack_workflow_enable_publishes_a_draft(signoff: Harness) -> None:
    copy = await copy_of(signoff)
    reply = await signoff.link.command(ADMIN, "/signoff", f"workflow enable {copy['id']}")
    assert reply.status == 200
    shown = await signoff.wait_for(lambda: signoff.workspace.ephemerals(ADMIN))
    assert "is enabled" in shown[-1].all_text()
    stored = (await signoff.api.get(f"/api/v1/workflows/{copy['id']}")).json()
    assert (stored["enabled"], stored["status"]) == (True, "published")
    assert (await signoff.put("/api/v1/records/bill/B-1", bill("5000"))).json()["approval_status"] == "pending"


async def test_definitions_say_enabled_once(signoff: Harness) -> None:
    enabled_draft = (await signoff.post("/api/v1/workflows", {**BIG_BILLS, "status": "draft", "enabled": True})).json()
    assert (enabled_draft["enabled"], enabled_draft["status"]) == (True, "published")
    draft = (await signoff.post("/api/v1/workflows", {**BIG_BILLS, "status": "draft"})).json()
    assert (draft["enabled"], draft["status"]) == (False, "draft")
    assert (await signoff.put("/api/v1/records/bill/B-1", bill("5000"))).json()["approval_status"] == "pending"


async def cli(*args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        cwd=str(Path(__file__).resolve().parents[3]))
    out, _ = await process.communicate()
    return int(process.returncode or 0), out.decode()


async def at(signoff: Harness, moment: datetime) -> int:
    assert (await signoff.post("/api/v1/clock", {"now": moment.isoformat()})).status_code == 200
    return int((await signoff.post("/api/v1/scheduler/tick")).json()["fire_workflow"])


async def test_a_weekly_digest_applied_from_the_cli_fires_without_a_restart(tmp_path: Path) -> None:
    database = tmp_path / "cli.db"
    async with running_signoff(database, timezone="Europe/Paris") as signoff:
        await at(signoff, datetime(2026, 10, 18, 12, 0, tzinfo=PARIS))  # a Sunday
        await signoff.put("/api/v1/records/invoice/INV-1", {"amount": "10", "customer": "C-1", "created_by": ADMIN})
        path = tmp_path / "weekly.yml"
        path.write_text(yaml.safe_dump({**WEEKLY, "enabled": False, "status": "draft"}), encoding="utf-8")
        assert (await cli("workflows", "apply", str(path), "--database", str(database)))[0] == 0
        assert await at(signoff, datetime(2026, 10, 19, 9, 5, tzinfo=PARIS)) == 0  # a draft never fires
        path.write_text(yaml.safe_dump({**WEEKLY, "enabled": True, "status": "draft"}), encoding="utf-8")
        code, out = await cli("workflows", "apply", str(path), "--database", str(database))
        assert code == 0 and "updated: wf_weekly_digest" in out
        stored = (await signoff.api.get("/api/v1/workflows/wf_weekly_digest")).json()
        assert (stored["enabled"], stored["status"]) == (True, "published")
        fired = [await at(signoff, datetime(2026, 10, day, 9, 5, tzinfo=PARIS)) for day in (20, 26, 27)]
        assert fired == [0, 1, 0]
        assert "wf_weekly_digest" in (await signoff.api.get("/api/v1/scheduler")).json()["cron_jobs"]
        assert len(signoff.workspace.messages_in("C0FINANCE")) == 1
        path.write_text(yaml.safe_dump({**WEEKLY, "enabled": False}), encoding="utf-8")
        assert (await cli("workflows", "apply", str(path), "--database", str(database)))[0] == 0
        assert await at(signoff, datetime(2026, 11, 2, 9, 5, tzinfo=PARIS)) == 0


async def test_a_change_from_another_process_is_noticed_without_a_tick(tmp_path: Path) -> None:
    database = tmp_path / "watch.db"
    async with running_signoff(database, timezone="Europe/Paris") as signoff:
        path = tmp_path / "weekly.yml"
        path.write_text(yaml.safe_dump(WEEKLY), encoding="utf-8")
        assert (await cli("workflows", "apply", str(path), "--database", str(database)))[0] == 0

        async def jobs() -> list[str]:
            return list((await signoff.api.get("/api/v1/scheduler")).json()["cron_jobs"])

        async with asyncio.timeout(10):
            while "wf_weekly_digest" not in await jobs():
                await asyncio.sleep(0.1)
