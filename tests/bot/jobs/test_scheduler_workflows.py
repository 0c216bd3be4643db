"""Scheduled workflows: cron jobs rebuilt from the database, channel digests, per-document actions, restarts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.jobs.scheduler import CronWake
from engine.cron import CronSpec
from tests.support.harness import Harness, running_signoff
from tests.support.smtp import Inbox

PARIS = ZoneInfo("Europe/Paris")
DIGEST: dict[str, Any] = {
    "name": "Unsent invoices", "record_type": "invoice", "trigger": "scheduled", "schedule": "0 9 * * 1-5",
    "conditions": [{"field": "email_status", "op": "eq", "value": "not_sent"}],
    "actions": [{"type": "reminder", "to": ["#finance"], "message": "Invoice {{ record.id }} for "
                 "{{ record.balance | money(record.currency) }} is not sent"}],
}
INVOICE = {"amount": "100.00", "currency": "EUR", "customer": "C-ACME", "created_by": "U0ADMIN"}


async def at(signoff: Harness, moment: datetime) -> int:
    """Move the clock, tick, and return how many scheduled workflows ran."""
    assert (await signoff.post("/api/v1/clock", {"now": moment.isoformat()})).status_code == 200
    return int((await signoff.post("/api/v1/scheduler/tick")).json()["fire_workflow"])


def paris(day: int, hh: int, mm: int = 0, month: int = 10) -> datetime:
    return datetime(2026, month, day, hh, mm, tzinfo=PARIS)


async def invoices(signoff: Harness) -> None:
    for record_id, status in (("INV-1", "not_sent"), ("INV-2", "not_sent"), ("INV-3", "sent")):
        assert (await signoff.put(f"/api/v1/records/invoice/{record_id}",
                                  {**INVOICE, "email_status": status})).status_code == 200


async def jobs(signoff: Harness) -> list[str]:
    return list((await signoff.api.get("/api/v1/scheduler")).json()["cron_jobs"])


def test_cron_wake_fires_at_the_schedules_times_in_company_time() -> None:
    trigger = CronWake(CronSpec.parse("0 9 * * 1-5"), PARIS)
    friday = paris(23, 10).astimezone(UTC)
    assert trigger.get_next_fire_time(None, friday) == paris(26, 9)
    assert trigger.get_next_fire_time(paris(26, 9), friday) == paris(27, 9)


async def test_a_weekday_digest_posts_once_per_run_to_the_channel(tmp_path: Path) -> None:
    async with running_signoff(tmp_path / "digest.db", timezone="Europe/Paris") as signoff:
        await at(signoff, paris(19, 7))
        await invoices(signoff)
        created = await signoff.post("/api/v1/workflows", DIGEST)
        assert created.status_code == 201 and created.json()["id"] in await jobs(signoff)
        assert [await at(signoff, moment) for moment in (paris(19, 8, 30), paris(19, 9, 5), paris(19, 9, 30))] == [
            0, 1, 0]
        assert [await at(signoff, paris(day, 9, 5)) for day in range(20, 28)] == [1, 1, 1, 1, 0, 0, 1, 1]
        posts = signoff.workspace.messages_in("C0FINANCE")
        assert len(posts) == 7
        text = posts[0].all_text()
        assert "Unsent invoices" in text and "2 documents" in text
        assert "Invoice INV-1 for €100.00 is not sent" in text and "INV-3" not in text
        runs = (await signoff.api.get("/api/v1/runs", params={"workflow_id": created.json()["id"]})).json()["runs"]
        assert len(runs) == 7 and runs[0]["event"] == "digest" and runs[0]["cause"] == "scheduled"
        assert runs[0]["actions"] == [{"type": "digest", "channels": ["#finance"], "count": 2, "result": "queued"}]
        history = await signoff.link.command("U0ADMIN", "/signoff", f"history {created.json()['id']}")
        assert "Digest of 2 documents posted to #finance" in history.text()


async def test_people_get_one_digest_of_the_documents_and_updates_apply(tmp_path: Path) -> None:
    flow = {**DIGEST, "actions": [{"type": "reminder", "to": ["U01AAA"], "message": "Send {{ record.id }}"},
                                  {"type": "update", "field": "memo", "value": "REMINDED"}]}
    async with running_signoff(tmp_path / "people.db", timezone="Europe/Paris") as signoff:
        await at(signoff, paris(19, 7))
        await invoices(signoff)
        assert (await signoff.post("/api/v1/workflows", flow)).status_code == 201
        assert await at(signoff, paris(19, 9, 5)) == 1
        [digest] = signoff.dm("U01AAA")
        text = digest.all_text()
        assert "2 documents to act on" in text and "Send INV-1" in text and "Send INV-2" in text
        memos = [(await signoff.api.get(f"/api/v1/records/invoice/{i}")).json()["memo"] for i in ("INV-1", "INV-3")]
        assert memos == ["REMINDED", None]


async def test_jobs_follow_workflow_changes(signoff: Harness) -> None:
    workflow_id = (await signoff.post("/api/v1/workflows", DIGEST)).json()["id"]
    assert workflow_id in await jobs(signoff)
    await signoff.post(f"/api/v1/workflows/{workflow_id}/disable")
    assert workflow_id not in await jobs(signoff)
    await signoff.post(f"/api/v1/workflows/{workflow_id}/enable")
    assert workflow_id in await jobs(signoff)
    changed = await signoff.api.put(f"/api/v1/workflows/{workflow_id}", json={**DIGEST, "trigger": "created",
                                                                              "schedule": None})
    assert changed.status_code == 200 and workflow_id not in await jobs(signoff)
    await signoff.api.put(f"/api/v1/workflows/{workflow_id}", json=DIGEST)
    assert workflow_id in await jobs(signoff)
    assert (await signoff.api.delete(f"/api/v1/workflows/{workflow_id}")).status_code == 204
    assert workflow_id not in await jobs(signoff)
    watched = (await signoff.api.get("/api/v1/scheduler")).json()["watched"]
    assert watched.get("workflow", 0) == len(await jobs(signoff))


async def test_a_run_missed_while_stopped_happens_once_after_restart(tmp_path: Path) -> None:
    database = tmp_path / "restart.db"
    async with running_signoff(database, timezone="Europe/Paris") as signoff:
        await at(signoff, paris(19, 7))
        await invoices(signoff)
        assert (await signoff.post("/api/v1/workflows", DIGEST)).status_code == 201
    async with running_signoff(database, timezone="Europe/Paris") as signoff:
        assert await at(signoff, paris(21, 18)) == 1
        assert await at(signoff, paris(21, 19)) == 0
        assert len(signoff.workspace.messages_in("C0FINANCE")) == 1


async def test_the_interval_job_sweeps_by_itself(tmp_path: Path) -> None:
    workflow = {"name": "Quick", "record_type": "bill", "trigger": "created",
                "actions": [{"type": "approval", "steps": [{"approvers": ["U01AAA"]}], "remind_every": "PT1H"}]}
    async with running_signoff(tmp_path / "interval.db", tick_seconds=0.2) as signoff:
        assert (await signoff.post("/api/v1/workflows", workflow)).status_code == 201
        await signoff.put("/api/v1/records/bill/B-1", {"amount": "10", "vendor": "V-1", "created_by": "U0REQ",
                                                       "source": "import"})
        await signoff.wait_for(lambda: signoff.dm("U01AAA"))
        await signoff.post("/api/v1/clock", {"advance": "PT1H1M"})
        reminder = await signoff.wait_for(lambda: [m for m in signoff.dm("U01AAA") if "Reminder" in m.text])
        assert len(reminder) == 1


async def test_a_scheduled_email_goes_once_for_the_values_its_conditions_read(tmp_path: Path, smtp: Inbox) -> None:
    flow = {"name": "Payment due soon", "record_type": "invoice", "trigger": "scheduled", "schedule": "0 9 * * *",
            "conditions": [{"field": "due_date", "op": "due_within_days", "value": 3},
                           {"field": "balance", "op": "gt", "value": "0"}],
            "actions": [{"type": "send", "subject": "Invoice {{ record.id }} is due {{ record.due_date }}",
                         "body": "Please pay {{ record.balance | money }}."}]}
    url = f"{smtp.url}?from=billing@signoff.example"
    async with running_signoff(tmp_path / "send.db", timezone="Europe/Paris", smtp_url=url) as signoff:
        await at(signoff, paris(19, 7))
        assert (await signoff.put("/api/v1/contacts/customer/C-ACME", {"email": "ap@acme.example"})).status_code == 200
        invoice = {**INVOICE, "due_date": "2026-10-22", "balance": "100.00", "status": "open"}
        assert (await signoff.put("/api/v1/records/invoice/INV-1", invoice)).status_code == 200
        assert (await signoff.post("/api/v1/workflows", flow)).status_code == 201
        assert [await at(signoff, paris(day, 9, 5)) for day in range(19, 23)] == [1, 1, 1, 1]
        await signoff.wait_for(lambda: len(smtp.messages) >= 1)
        moved = {**invoice, "due_date": "2026-10-24"}  # a new due date: due again
        assert (await signoff.put("/api/v1/records/invoice/INV-1", moved)).status_code == 200
        assert [await at(signoff, paris(day, 9, 5)) for day in range(23, 25)] == [1, 1]
        await signoff.wait_for(lambda: len(smtp.messages) >= 2)
        assert [m["Subject"] for m in smtp.parsed()] == ["Invoice INV-1 is due 2026-10-22",
                                                          "Invoice INV-1 is due 2026-10-24"]
        runs = (await signoff.api.get("/api/v1/runs")).json()
        skipped = [a for r in runs["runs"] for a in r["actions"] if a["result"] == "skipped"]
        assert len(skipped) == 4 and all("already e-mailed" in a["reason"] for a in skipped)
