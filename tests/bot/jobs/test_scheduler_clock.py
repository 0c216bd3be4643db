"""The clock end to end: reminders, escalations and expiry of a pending approval, driven by the test clock."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.outbox.lanes import Pacer
from engine.approvals import Decision
from tests.support.harness import Harness, running_signoff

PARIS = ZoneInfo("Europe/Paris")
START = date(2026, 10, 20)
WORKFLOW: dict[str, Any] = {
    "name": "Invoices over 5k", "record_type": "invoice", "trigger": "created",
    "conditions": [{"field": "amount", "op": "gt", "value": "5000"}],
    "actions": [{"type": "approval", "steps": [{"approvers": ["U01AAA"], "min_approvers": 1}],
                 "remind_every": "P1D", "escalate_after": "P3D", "escalate_to": ["U01DDD"]}],
}
INVOICE = {"amount": "12500.00", "currency": "EUR", "customer": "C-ACME", "due_date": "2026-12-20",
           "created_by": "U0REQ", "source": "manual"}
KINDS = ("remind", "escalate", "expire")


def paris(day: date, hh: int, mm: int) -> str:
    """Return a Paris wall time as an ISO moment with its offset (DST included)."""
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=PARIS).isoformat()


async def tick_at(signoff: Harness, moment: str) -> dict[str, int]:
    assert (await signoff.post("/api/v1/clock", {"now": moment})).status_code == 200
    summary = (await signoff.post("/api/v1/scheduler/tick")).json()
    return {kind: summary[kind] for kind in KINDS if summary[kind]}


async def pending_invoice(signoff: Harness, workflow: dict[str, Any] = WORKFLOW) -> None:
    signoff.runtime.deliverer.pacer = Pacer(per_s=200, burst=20)
    await tick_at(signoff, paris(START, 9, 0))
    assert (await signoff.post("/api/v1/workflows", workflow)).status_code == 201
    assert (await signoff.put("/api/v1/records/invoice/INV-1", INVOICE)).status_code == 200
    assert (await signoff.post("/api/v1/records/invoice/INV-1/submit")).json()["approval_status"] == "pending"


def expected_on(day: int) -> dict[str, int]:
    if day == 30:
        return {"expire": 1}
    return {"escalate": 1} if day == 3 else {"remind": 1}


async def days(signoff: Harness, first: int, last: int) -> None:
    for day in range(first, last + 1):
        today = START + timedelta(days=day)
        assert await tick_at(signoff, paris(today, 8, 30)) == {}, f"early on day {day}"
        assert await tick_at(signoff, paris(today, 9, 30)) == ({} if day > 30 else expected_on(day)), day


async def test_reminders_escalations_and_expiry_follow_paris_time_across_dst(tmp_path: Path) -> None:
    async with running_signoff(tmp_path / "clock.db", timezone="Europe/Paris") as signoff:
        await pending_invoice(signoff)
        await days(signoff, 1, 29)

        def texts(user: str) -> list[str]:
            return [m.text for m in signoff.dm(user)]

        alice, dimitri = texts("U01AAA"), texts("U01DDD")
        assert sum("Reminder" in t for t in alice) == 28 and sum("escalated to" in t for t in alice) == 1
        assert sum("Escalated to you" in t for t in dimitri) == 1 and sum("Reminder" in t for t in dimitri) == 26
        assert "Escalated to you" in dimitri[0] and "3 days" in dimitri[0]
        await days(signoff, 30, 31)
        assert any("expired" in t for t in texts("U0REQ"))
        for user in ("U01AAA", "U01DDD"):
            for message in signoff.dm(user):
                assert message.action_ids() == [], message.text
        record = (await signoff.api.get("/api/v1/records/invoice/INV-1")).json()
        assert record["approval_status"] == "expired" and "30 days" in record["approval"]["reason"]
        assert "U01DDD" in record["approval"]["steps"][0]["approvers"]
        events = (await signoff.api.get("/api/v1/records/invoice/INV-1/audit")).json()["events"]
        actions = [e["action"] for e in events]
        assert actions.count("reminded") == 28 and actions.count("escalated") == 1 and actions[-1] == "expired"


async def test_a_late_sweep_sends_one_reminder_not_a_burst(tmp_path: Path) -> None:
    async with running_signoff(tmp_path / "late.db", timezone="Europe/Paris") as signoff:
        workflow = {**WORKFLOW, "actions": [{**WORKFLOW["actions"][0], "escalate_after": None, "escalate_to": []}]}
        await pending_invoice(signoff, workflow)
        assert await tick_at(signoff, paris(START + timedelta(days=5), 12, 0)) == {"remind": 1}
        assert await tick_at(signoff, paris(START + timedelta(days=5), 13, 0)) == {}
        assert await tick_at(signoff, paris(START + timedelta(days=6), 9, 30)) == {"remind": 1}
        reminders = [m.text for m in signoff.dm("U01AAA") if "Reminder" in m.text]
        assert len(reminders) == 2 and "5 days" in reminders[0] and "6 days" in reminders[1]


async def test_a_reminder_sent_late_is_not_followed_by_another_minutes_later(tmp_path: Path) -> None:
    async with running_signoff(tmp_path / "catchup.db", timezone="Europe/Paris") as signoff:
        workflow = {**WORKFLOW, "actions": [{**WORKFLOW["actions"][0], "remind_every": "PT12H",
                                             "escalate_after": None, "escalate_to": []}]}
        await pending_invoice(signoff, workflow)
        # down from before the 21:00 reminder until a minute before the next morning's 09:00 one
        assert await tick_at(signoff, paris(START + timedelta(days=1), 8, 59)) == {"remind": 1}
        assert await tick_at(signoff, paris(START + timedelta(days=1), 9, 1)) == {}
        assert await tick_at(signoff, paris(START + timedelta(days=1), 20, 59)) == {}
        assert await tick_at(signoff, paris(START + timedelta(days=1), 21, 1)) == {"remind": 1}
        assert await tick_at(signoff, paris(START + timedelta(days=2), 9, 1)) == {"remind": 1}
        reminders = [m.text for m in signoff.dm("U01AAA") if "Reminder" in m.text]
        assert len(reminders) == 3


async def test_a_reminder_shows_on_the_app_home(tmp_path: Path) -> None:
    async with running_signoff(tmp_path / "home.db", timezone="Europe/Paris") as signoff:
        await pending_invoice(signoff)
        await signoff.link.open_home("U01AAA")
        await signoff.wait_for(lambda: signoff.workspace.home_view("U01AAA"))
        assert await tick_at(signoff, paris(START + timedelta(days=1), 9, 30)) == {"remind": 1}

        def reminders_block() -> str:
            view = signoff.workspace.home_view("U01AAA") or {}
            blocks = [b for b in view.get("blocks", []) if b.get("block_id") == "reminders"]
            return str(blocks[0]["text"]["text"]) if blocks else ""

        text = await signoff.wait_for(lambda: "INV-1" in reminders_block() and reminders_block())
        assert "reminded" in text


async def test_no_reminder_once_the_approver_decided(tmp_path: Path) -> None:
    async with running_signoff(tmp_path / "decided.db", timezone="Europe/Paris") as signoff:
        await pending_invoice(signoff)
        ask = await signoff.wait_for(lambda: signoff.dm("U01AAA"))
        await signoff.click("U01AAA", ask[0], "approve")
        await signoff.wait_for(lambda: signoff.dm("U0REQ"))
        assert await tick_at(signoff, paris(START + timedelta(days=4), 9, 30)) == {}
        assert [m.text for m in signoff.dm("U01AAA") if "Reminder" in m.text] == []


async def test_reminder_clicks_decide_like_the_original_message(tmp_path: Path) -> None:
    async with running_signoff(tmp_path / "click.db", timezone="Europe/Paris") as signoff:
        await pending_invoice(signoff)
        await tick_at(signoff, paris(START + timedelta(days=1), 9, 30))
        reminder = next(m for m in signoff.dm("U01AAA") if "Reminder" in m.text)
        await signoff.click("U01AAA", reminder, "approve")
        record = await signoff.wait_for(lambda: [m for m in signoff.dm("U0REQ") if "approved" in m.text])
        assert record
        refreshed = signoff.workspace.message(reminder.channel, reminder.ts)
        await signoff.wait_for(lambda: refreshed.action_ids() == [] or None)


@pytest.mark.parametrize("notify", [["dm", "home"], ["dm", "home", "email"]])
async def test_reminders_of_many_documents_at_once_come_as_one_message(tmp_path: Path, notify: list[str]) -> None:
    workflow = {**WORKFLOW, "actions": [{**WORKFLOW["actions"][0], "notify": notify}]}
    async with running_signoff(tmp_path / "digest.db", timezone="Europe/Paris") as signoff:
        await pending_invoice(signoff, workflow)
        for n in range(2, 7):
            assert (await signoff.put(f"/api/v1/records/invoice/INV-{n}", INVOICE)).status_code == 200
            assert (await signoff.post(f"/api/v1/records/invoice/INV-{n}/submit")).status_code == 200
        ask = await signoff.wait_for(lambda: [m for m in signoff.dm("U01AAA") if "INV-6" in m.all_text()])
        await signoff.click("U01AAA", next(m for m in signoff.dm("U01AAA") if "INV-2" in m.all_text()), "approve")
        await signoff.wait_for(lambda: [m for m in signoff.dm("U0REQ") if "INV-2" in m.all_text()])
        assert ask and await tick_at(signoff, paris(START + timedelta(days=1), 9, 30)) == {"remind": 5}
        reminders = [m for m in signoff.dm("U01AAA") if "Reminder" in m.text]
        assert len(reminders) == 1 and reminders[0].text == "⏰ Reminder: 5 documents are waiting for your decision."
        listed = reminders[0].all_text()
        assert all(f"INV-{n}" in listed for n in (1, 3, 4, 5, 6)) and "INV-2" not in listed
        assert "1 day" in listed and "/signoff pending" in listed
        events = (await signoff.api.get("/api/v1/records/invoice/INV-4/audit")).json()["events"]
        assert "reminded" in [e["action"] for e in events]


@pytest.mark.parametrize("notify", [["dm", "home"], ["dm", "home", "email"]])
async def test_escalations_of_many_documents_at_once_come_as_one_message_each_way(
        tmp_path: Path, notify: list[str]) -> None:
    action = {k: v for k, v in WORKFLOW["actions"][0].items() if k != "remind_every"}
    workflow = {**WORKFLOW, "actions": [{**action, "notify": notify}]}
    async with running_signoff(tmp_path / "escalated.db", timezone="Europe/Paris") as signoff:
        await pending_invoice(signoff, workflow)
        for n in range(2, 6):
            assert (await signoff.put(f"/api/v1/records/invoice/INV-{n}", INVOICE)).status_code == 200
            assert (await signoff.post(f"/api/v1/records/invoice/INV-{n}/submit")).status_code == 200
        await signoff.wait_for(lambda: [m for m in signoff.dm("U01AAA") if "INV-5" in m.all_text()])
        assert await tick_at(signoff, paris(START + timedelta(days=3), 9, 30)) == {"escalate": 5}
        [escalated] = [m for m in signoff.dm("U01DDD")]
        assert escalated.text == ("🚨 Escalated to you: 5 documents have had no decision for too long. "
                                  "You can now approve or reject them.")
        assert all(f"INV-{n}" in escalated.all_text() for n in range(1, 6)) and "3 days" in escalated.all_text()
        [passed_over] = [m for m in signoff.dm("U01AAA") if "escalated" in m.text]
        assert passed_over.text.startswith("🚨 5 documents waiting for your decision were escalated.")
        assert "escalated to <@U01DDD>" in passed_over.all_text()
        async with signoff.db.read() as repo:
            [request] = await repo.requests_for_record("invoice", "INV-3")
        await signoff.runtime.service.approvals.decide(request.id, "U01DDD", Decision.APPROVE)
        assert (await signoff.api.get("/api/v1/records/invoice/INV-3")).json()["approval_status"] == "approved"


async def test_a_tick_told_not_to_drain_answers_after_the_sweep_and_the_worker_sends_the_reminder(
    tmp_path: Path,
) -> None:
    async with running_signoff(tmp_path / "nodrain.db", timezone="Europe/Paris") as signoff:
        await pending_invoice(signoff)
        moved = await signoff.post("/api/v1/clock", {"now": paris(START + timedelta(days=1), 9, 30)})
        assert moved.status_code == 200
        answer = (await signoff.post("/api/v1/scheduler/tick?drain=false")).json()
        assert answer["remind"] == 1 and "delivered" not in answer
        await signoff.wait_for(lambda: [m for m in signoff.dm("U01AAA") if "Reminder" in m.text])
        drained = (await signoff.post("/api/v1/scheduler/tick")).json()
        assert drained["remind"] == 0 and "delivered" in drained
