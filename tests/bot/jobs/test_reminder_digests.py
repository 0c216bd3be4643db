"""Team reminders without noise: one digest per person per reminder run, Done holds until a document matches anew."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from bot.sandbox.blockkit.validation import validate_message
from bot.sandbox.state.model import Message
from tests.support.harness import Harness, running_signoff

TEAM = ("U01AAA", "U0ADMIN")
UNSENT = "Unsent invoice reminder"
BILLS = "Bill payment reminder"
APPROVAL = {"name": "Invoices need approval", "record_type": "invoice", "trigger": "created",
            "actions": [{"type": "approval", "steps": [{"approvers": ["U01BBB"]}]}]}


async def clock(signoff: Harness, **body: str) -> datetime:
    response = await signoff.post("/api/v1/clock", body)
    assert response.status_code == 200, response.text
    return datetime.fromisoformat(response.json()["now"])


async def tick(signoff: Harness) -> dict[str, Any]:
    response = await signoff.post("/api/v1/scheduler/tick")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def put(signoff: Harness, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await signoff.put(path, body)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def monday(signoff: Harness) -> datetime:
    """Move the test clock to 07:00 UTC on a Monday at least a week ahead; return it."""
    now = await clock(signoff, advance="PT1S")
    start = datetime.combine(now.date() + timedelta(days=7 + (7 - now.weekday()) % 7), time(7), tzinfo=UTC)
    return await clock(signoff, now=start.isoformat())


async def team(signoff: Harness) -> None:
    group = {"name": "finance-team", "kind": "people", "members": list(TEAM)}
    assert (await signoff.post("/api/v1/groups", group)).status_code == 201


async def unsent_invoices(signoff: Harness, count: int, created_by: str = "U0ADMIN", prefix: str = "INV") -> None:
    for n in range(count):
        await put(signoff, f"/api/v1/records/invoice/{prefix}-{n:03d}",
                  {"amount": f"{100 + n}.00", "currency": "EUR", "customer": "C-ACME", "created_by": created_by,
                   "due_date": "2026-12-31"})


def workflow_of(message: Message) -> str:
    for name in (UNSENT, BILLS):
        if name in message.text:
            return name
    return message.text[:60]


async def test_a_month_leaves_each_person_one_digest_per_workflow_per_day(tmp_path: Path) -> None:
    async with running_signoff(tmp_path / "month.db") as signoff:
        now = start = await monday(signoff)
        await team(signoff)
        assert (await signoff.post("/api/v1/workflows", APPROVAL)).status_code == 201
        await put(signoff, "/api/v1/contacts/customer/C-ACME", {"name": "Acme", "email": "ap@acme.example"})
        await unsent_invoices(signoff, 60)
        await unsent_invoices(signoff, 5, created_by="U0REQ", prefix="HELD")
        for n in range(3):
            await put(signoff, f"/api/v1/records/bill/BILL-{n}",
                      {"amount": "50.00", "vendor": "V-1", "created_by": "U0ADMIN",
                       "due_date": (start.date() + timedelta(days=2 + n)).isoformat()})
        seen = {person: 0 for person in TEAM}
        per_day: Counter[tuple[str, str, date]] = Counter()
        texts: list[str] = []
        for _ in range(30 * 4):
            now = await clock(signoff, advance="PT6H")
            await tick(signoff)
            for person in TEAM:
                fresh = signoff.dm(person)[seen[person]:]
                seen[person] += len(fresh)
                for message in fresh:
                    assert validate_message(message.blocks, message.text) == []
                    assert len(message.blocks) <= 50
                    per_day[(person, workflow_of(message), now.date())] += 1
                    texts.append(message.all_text())
        assert now >= start + timedelta(days=30)
        assert per_day and max(per_day.values()) == 1, [k for k, v in per_day.items() if v > 1]
        assert {workflow for _, workflow, _ in per_day} == {UNSENT, BILLS}
        unsent_days = sorted(day for person, workflow, day in per_day if person == "U01AAA" and workflow == UNSENT)
        assert len(unsent_days) >= 20 and all(day.weekday() < 5 for day in unsent_days)
        assert all("HELD-" not in text for text in texts)
        assert any("60 documents to act on" in text for text in texts)
        async with signoff.db.read() as repo:
            _, open_total = await repo.open_reminders("U01AAA")
        assert 60 <= open_total <= 63  # one reminder per document, not one per document per day


async def home_reminders(signoff: Harness, user: str) -> list[dict[str, Any]]:
    await signoff.link.open_home(user)
    view = await signoff.wait_for(lambda: signoff.workspace.home_view(user))
    return [b for b in view["blocks"] if str(b.get("block_id", "")).startswith("reminder:")]


async def hidden_count(signoff: Harness, user: str) -> str:
    view = signoff.workspace.home_view(user) or {}
    hidden = [b for b in view.get("blocks", []) if b.get("block_id") == "reminders_hidden"]
    return str(hidden[0]["elements"][0]["text"]) if hidden else ""


async def shown_page(signoff: Harness, digest: Message, wanted: str) -> Message:
    """Wait until a digest message shows a text (its buttons update it in place)."""
    def showing() -> Message | None:
        message = signoff.workspace.message(digest.channel, digest.ts)
        return message if wanted in message.all_text() else None
    found: Message = await signoff.wait_for(showing)
    return found


async def next_weekday_run(signoff: Harness) -> None:
    await clock(signoff, advance="P1D")
    await tick(signoff)


async def test_done_dismisses_a_reminder_until_its_document_matches_anew(tmp_path: Path) -> None:
    async with running_signoff(tmp_path / "done.db") as signoff:
        await monday(signoff)
        await team(signoff)
        await unsent_invoices(signoff, 6)
        await clock(signoff, advance="P1DT3H")  # Tuesday 10:00: the run of 9:00 is due
        await tick(signoff)
        [digest] = signoff.dm("U01AAA")
        assert "6 documents to act on" in digest.all_text()
        shown = await home_reminders(signoff, "U01AAA")
        assert len(shown) == 4 and "2 more reminders" in await hidden_count(signoff, "U01AAA")
        task_of = {b["text"]["text"].split("Invoice ", 1)[1].split(" ", 1)[0]: b["block_id"] for b in shown}
        await signoff.link.click_in_view("U01AAA", "reminder_done", block_id=task_of["INV-005"])
        await signoff.link.click("U01AAA", digest.channel, digest.ts, "digest_done",
                                 block_id=next(b["block_id"] for b in digest.blocks
                                               if "INV-000" in str(b.get("text", {}).get("text", ""))))
        await shown_page(signoff, digest, "4 documents to act on")
        await signoff.wait_for(lambda: "INV-005" not in str(signoff.workspace.home_view("U01AAA")))
        shown = await home_reminders(signoff, "U01AAA")
        assert "INV-005" not in str(shown) and "INV-000" not in str(shown) and len(shown) == 4
        assert await hidden_count(signoff, "U01AAA") == ""
        updated = await shown_page(signoff, digest, "4 documents to act on")
        assert "INV-000" not in updated.all_text()
        await next_weekday_run(signoff)
        [_, second] = signoff.dm("U01AAA")
        assert "4 documents to act on" in second.all_text()
        assert "INV-005" not in second.all_text() and "INV-000" not in second.all_text()
        assert "INV-005" in signoff.dm("U0ADMIN")[-1].all_text()  # Done is per person
        await put(signoff, "/api/v1/records/invoice/INV-005",
                  {"amount": "105.00", "currency": "EUR", "customer": "C-ACME", "created_by": "U0ADMIN",
                   "due_date": "2026-12-31", "email_status": "sent"})
        await next_weekday_run(signoff)
        assert "INV-005" not in signoff.dm("U01AAA")[-1].all_text()
        await put(signoff, "/api/v1/records/invoice/INV-005",
                  {"amount": "105.00", "currency": "EUR", "customer": "C-ACME", "created_by": "U0ADMIN",
                   "due_date": "2026-12-31", "email_status": "not_sent"})
        await next_weekday_run(signoff)
        latest = signoff.dm("U01AAA")[-1].all_text()
        assert "INV-005" in latest and "INV-000" not in latest and "5 documents to act on" in latest


async def test_a_long_digest_is_paged_within_slacks_limits(tmp_path: Path) -> None:
    async with running_signoff(tmp_path / "pages.db") as signoff:
        await monday(signoff)
        await team(signoff)
        await unsent_invoices(signoff, 45)
        await clock(signoff, advance="P1DT3H")
        await tick(signoff)
        [digest] = signoff.dm("U01AAA")
        assert validate_message(digest.blocks, digest.text) == [] and len(digest.blocks) <= 50
        first = digest.all_text()
        assert "45 documents to act on" in first and "1–20 of 45" in first
        assert sum(1 for b in digest.blocks if b.get("accessory", {}).get("action_id") == "digest_done") == 20
        await signoff.link.click("U01AAA", digest.channel, digest.ts, "digest_next")
        page = await shown_page(signoff, digest, "21–40 of 45")
        assert validate_message(page.blocks, page.text) == []
        assert not set(first.split()) >= set(page.all_text().split())
        await signoff.link.click("U01AAA", digest.channel, digest.ts, "digest_next")
        assert "Next" not in (await shown_page(signoff, digest, "41–45 of 45")).all_text()
        await signoff.link.click("U01AAA", digest.channel, digest.ts, "digest_previous")
        await shown_page(signoff, digest, "21–40 of 45")
