"""Reminders and escalations reach approvers named by e-mail: a DM when Slack knows them, else fresh links by e-mail."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx

from bot.outbox.lanes import Pacer
from tests.bot.api.test_approval_email import (
    INVOICE,
    LINK,
    OUTSIDER,
    approval,
    links_of,
    mail_to,
    votes,
    workflow,
)
from tests.bot.jobs.test_scheduler_clock import START, paris, tick_at
from tests.support.harness import Harness
from tests.support.smtp import Inbox

PARTNER = "partner.lead@partner.example"
CHLOE_EMAIL, CHLOE = "chloe@example.com", "U01CCC"


async def pending(h: Harness, definition: dict[str, Any]) -> None:
    h.runtime.deliverer.pacer = Pacer(per_s=200, burst=20)
    await tick_at(h, paris(START, 9, 0))
    assert (await h.post("/api/v1/workflows", definition)).status_code == 201
    assert (await h.put("/api/v1/records/invoice/INV-1", INVOICE)).status_code == 200
    assert (await h.post("/api/v1/records/invoice/INV-1/submit")).json()["approval_status"] == "pending"


async def test_an_outsider_is_reminded_by_e_mail_with_fresh_links_that_decide(mailing: Harness, smtp: Inbox) -> None:
    await pending(mailing, workflow([OUTSIDER], remind_every="P1D"))
    first = (await mail_to(smtp, OUTSIDER))[0]
    assert "Reminder" not in first["Subject"]
    assert (await tick_at(mailing, paris(START + timedelta(days=1), 9, 30))).get("remind") == 1
    reminder = (await mail_to(smtp, OUTSIDER, 2))[1]
    assert reminder["Subject"].startswith("Reminder: Invoice INV-1")
    body = reminder.get_payload(decode=True).decode()
    assert "has been waiting for your decision for 1 day" in body
    links = links_of(reminder)
    assert links != links_of(first)
    async with httpx.AsyncClient() as web:
        done = await web.post(links["approve"])
    assert done.status_code == 200, done.text
    assert [v["approver"] for v in await votes(mailing, 1)] == [OUTSIDER]
    assert (await approval(mailing))["approval_status"] == "approved"


async def test_an_e_mail_approver_who_has_slack_is_reminded_in_slack_and_their_click_counts(
    mailing: Harness, smtp: Inbox,
) -> None:
    await pending(mailing, workflow([CHLOE_EMAIL], remind_every="P1D"))
    await mailing.wait_for(lambda: mailing.dm(CHLOE))
    assert (await tick_at(mailing, paris(START + timedelta(days=1), 9, 30))).get("remind") == 1
    reminder = await mailing.wait_for(lambda: next((m for m in mailing.dm(CHLOE) if "Reminder" in m.text), None))
    assert reminder.action_ids() == ["approve", "reject"]
    await mailing.click(CHLOE, reminder, "approve")
    assert [v["approver"] for v in await votes(mailing, 1)] == [CHLOE_EMAIL]
    assert [m["To"] for m in smtp.parsed() if CHLOE_EMAIL in m["To"]] == []


async def test_an_escalation_to_an_outsider_is_e_mailed_and_the_waiting_outsider_is_told(
    mailing: Harness, smtp: Inbox,
) -> None:
    await pending(mailing, workflow([OUTSIDER], escalate_after="P2D", escalate_to=[PARTNER]))
    await mail_to(smtp, OUTSIDER)
    assert (await tick_at(mailing, paris(START + timedelta(days=2), 9, 30))).get("escalate") == 1
    escalated = (await mail_to(smtp, PARTNER))[0]
    assert escalated["Subject"].startswith("Escalated to you: Invoice INV-1")
    notice = (await mail_to(smtp, OUTSIDER, 2))[1]
    assert notice["Subject"].startswith("Escalated: Invoice INV-1")
    async with httpx.AsyncClient() as web:
        done = await web.post(links_of(escalated)["approve"])
    assert done.status_code == 200, done.text
    assert [v["approver"] for v in await votes(mailing, 1)] == [PARTNER]


async def test_a_reminder_is_not_e_mailed_once_the_outsider_has_decided(mailing: Harness, smtp: Inbox) -> None:
    await pending(mailing, workflow([OUTSIDER, "U01AAA"], 2, remind_every="P1D"))
    async with httpx.AsyncClient() as web:
        assert (await web.post(links_of((await mail_to(smtp, OUTSIDER))[0])["approve"])).status_code == 200
    await votes(mailing, 1)
    assert (await tick_at(mailing, paris(START + timedelta(days=1), 9, 30))).get("remind") == 1
    await mailing.wait_for(lambda: [m for m in mailing.dm("U01AAA") if "Reminder" in m.text])
    assert len([m for m in smtp.parsed() if OUTSIDER in m["To"]]) == 1


async def test_a_slack_approver_asked_by_e_mail_is_reminded_and_escalated_by_e_mail(
    mailing: Harness, smtp: Inbox,
) -> None:
    alice, alice_email = "U01AAA", "alice@example.com"
    await pending(mailing, workflow([alice], remind_every="P1D", escalate_after="P2D", escalate_to=[CHLOE],
                                    notify=["email"]))
    await mail_to(smtp, alice_email)
    assert (await tick_at(mailing, paris(START + timedelta(days=1), 9, 30))).get("remind") == 1
    reminder = (await mail_to(smtp, alice_email, 2))[1]
    assert reminder["Subject"].startswith("Reminder: Invoice INV-1")
    assert (await tick_at(mailing, paris(START + timedelta(days=2), 9, 30))).get("escalate") == 1
    escalated = (await mail_to(smtp, CHLOE_EMAIL))[0]
    assert escalated["Subject"].startswith("Escalated to you: Invoice INV-1")
    told = (await mail_to(smtp, alice_email, 3))[2]
    assert told["Subject"].startswith("Escalated: Invoice INV-1")
    await mailing.runtime.deliverer.drain()
    assert mailing.dm(alice) == [] and mailing.dm(CHLOE) == []
    async with httpx.AsyncClient() as web:
        done = await web.post(links_of(escalated)["approve"])
    assert done.status_code == 200, done.text
    assert [v["approver"] for v in await votes(mailing, 1)] == [CHLOE]


async def test_a_slack_approver_asked_by_dm_and_e_mail_is_reminded_both_ways(mailing: Harness, smtp: Inbox) -> None:
    await pending(mailing, workflow(["U01AAA"], remind_every="P1D", notify=["dm", "email"]))
    await mail_to(smtp, "alice@example.com")
    assert (await tick_at(mailing, paris(START + timedelta(days=1), 9, 30))).get("remind") == 1
    await mail_to(smtp, "alice@example.com", 2)
    await mailing.wait_for(lambda: next((m for m in mailing.dm("U01AAA") if "Reminder" in m.text), None))


async def five_pending(h: Harness, definition: dict[str, Any]) -> None:
    """Submit INV-1 to INV-5 under one workflow."""
    await pending(h, definition)
    for n in range(2, 6):
        assert (await h.put(f"/api/v1/records/invoice/INV-{n}", INVOICE)).status_code == 200
        assert (await h.post(f"/api/v1/records/invoice/INV-{n}/submit")).json()["approval_status"] == "pending"


async def outsider_reminded_of_five(h: Harness, smtp: Inbox) -> tuple[list[Any], Any]:
    """Ask the outsider about INV-1 to INV-5, remind them a day later; return the asks and the reminder e-mail."""
    await five_pending(h, workflow([OUTSIDER], remind_every="P1D"))
    asks = await mail_to(smtp, OUTSIDER, 5)
    assert (await tick_at(h, paris(START + timedelta(days=1), 9, 30))).get("remind") == 5
    return asks, (await mail_to(smtp, OUTSIDER, 6))[5]


def blocks_by_document(body: str) -> dict[str, str]:
    """Return each document's part of an e-mail listing several, by document id."""
    parts = re.split(r"\n(?=\d+\. )", body)
    return {re.search(r"INV-\d+", part).group(0): part for part in parts[1:]}  # type: ignore[union-attr]


async def test_an_outsider_reminded_of_many_documents_at_once_gets_one_e_mail_whose_links_decide_each(
    mailing: Harness, smtp: Inbox,
) -> None:
    asks, digest = await outsider_reminded_of_five(mailing, smtp)
    await mailing.runtime.deliverer.drain()
    assert len([m for m in smtp.parsed() if OUTSIDER in m["To"]]) == 6
    assert digest["Subject"] == "Reminder: 5 documents await your approval"
    body = digest.get_payload(decode=True).decode()
    assert body.startswith("⏰ Reminder: 5 documents are waiting for your decision.")
    documents = blocks_by_document(body)
    assert sorted(documents) == [f"INV-{n}" for n in range(1, 6)]
    assert all("waiting for 1 day" in part and "The links expire on" in part for part in documents.values())
    old_links = {link for mail in asks for link in links_of(mail).values()}
    links = {record_id: [m[0] for m in LINK.findall(part)] for record_id, part in documents.items()}
    assert all(len(found) == 2 for found in links.values())
    assert not old_links & {link for pair in links.values() for link in pair}
    async with httpx.AsyncClient() as web:
        done = await web.post(links["INV-3"][0])
    assert done.status_code == 200, done.text
    assert (await approval(mailing, "INV-3"))["approval_status"] == "approved"
    assert [(await approval(mailing, f"INV-{n}"))["approval_status"] for n in (1, 2, 4, 5)] == ["pending"] * 4


async def test_a_slack_approver_asked_by_e_mail_is_reminded_of_many_documents_in_one_e_mail(
    mailing: Harness, smtp: Inbox,
) -> None:
    alice_email = "alice@example.com"
    await five_pending(mailing, workflow(["U01AAA"], remind_every="P1D", notify=["email"]))
    await mail_to(smtp, alice_email, 5)
    assert (await tick_at(mailing, paris(START + timedelta(days=1), 9, 30))).get("remind") == 5
    [digest] = (await mail_to(smtp, alice_email, 6))[5:]
    await mailing.runtime.deliverer.drain()
    assert len([m for m in smtp.parsed() if alice_email in m["To"]]) == 6
    assert digest["Subject"] == "Reminder: 5 documents await your approval"
    assert mailing.dm("U01AAA") == []


async def test_an_e_mail_approver_whom_slack_knows_is_reminded_of_many_documents_in_one_dm(
    mailing: Harness, smtp: Inbox,
) -> None:
    await five_pending(mailing, workflow([CHLOE_EMAIL], remind_every="P1D"))
    await mailing.wait_for(lambda: len(mailing.dm(CHLOE)) == 5)
    assert (await tick_at(mailing, paris(START + timedelta(days=1), 9, 30))).get("remind") == 5
    await mailing.runtime.deliverer.drain()
    [reminder] = [m for m in mailing.dm(CHLOE) if "Reminder" in m.text]
    assert reminder.text == "⏰ Reminder: 5 documents are waiting for your decision."
    assert all(f"INV-{n}" in reminder.all_text() for n in range(1, 6))
    assert [m["To"] for m in smtp.parsed() if CHLOE_EMAIL in m["To"]] == []


async def test_a_digest_looked_up_again_after_a_crash_queues_nothing_more_even_with_fewer_documents_waiting(
    mailing: Harness, smtp: Inbox,
) -> None:
    asks, _ = await outsider_reminded_of_five(mailing, smtp)
    async with mailing.db.read() as repo:
        [digest] = [i for i in await repo.outbox_items("sent", 500) if i.kind == "approver_lookup_digest"]
        last_id = max(i.id for i in await repo.outbox_items(None, 500))
    inv2 = links_of(next(m for m in asks if "INV-2" in m["Subject"]))
    async with httpx.AsyncClient() as web:  # one document is decided meanwhile
        assert (await web.post(inv2["approve"])).status_code == 200
    handler = mailing.runtime.deliverer.handlers["approver_lookup_digest"]
    assert (await handler(digest))["skipped"] == 1
    await mailing.runtime.deliverer.drain()
    async with mailing.db.read() as repo:  # INV-2's outcome only: no e-mail for the documents still waiting
        assert sorted(i.kind for i in await repo.outbox_items(None, 500) if i.id > last_id) == ["outcome", "refresh"]
    assert len([m for m in smtp.parsed() if OUTSIDER in m["To"]]) == 6
