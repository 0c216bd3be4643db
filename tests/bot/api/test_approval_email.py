"""Approval notifications as configured (DM, Home, e-mail) and approval by e-mail through single-use links."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from email.header import decode_header, make_header
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.approvals import Decision
from engine.errors import VoteRefusedError
from storage.models import SlackIdentity
from tests.bot.conftest import free_port
from tests.bot.slack.test_home import task_blocks
from tests.support.harness import Harness, make_workspace, running_signoff
from tests.support.smtp import Inbox

OUTSIDER = "ext.approver@partner.example"
INVOICE = {"amount": "12500.00", "currency": "EUR", "customer": "C-ACME", "due_date": "2026-12-20",
           "created_by": "U0REQ", "source": "manual", "memo": "<script>alert(1)</script> Q4 audit"}
LINK = re.compile(r"(http://\S+/approve/([A-Za-z0-9_-]{43}))")


def workflow(approvers: list[str], min_approvers: int = 1, **options: Any) -> dict[str, Any]:
    action = {"type": "approval", "steps": [{"approvers": approvers, "min_approvers": min_approvers}], **options}
    return {"name": "Invoices over 5000", "record_type": "invoice", "trigger": "created",
            "conditions": [{"field": "amount", "op": "gt", "value": "5000"}], "actions": [action]}


async def submitted(h: Harness, definition: dict[str, Any], record_id: str = "INV-1") -> None:
    assert (await h.post("/api/v1/workflows", definition)).status_code == 201
    assert (await h.put(f"/api/v1/records/invoice/{record_id}", INVOICE)).status_code == 200
    assert (await h.post(f"/api/v1/records/invoice/{record_id}/submit")).json()["approval_status"] == "pending"


async def mail_to(smtp: Inbox, address: str, count: int = 1) -> list[Any]:
    for _ in range(200):
        found = [m for m in smtp.parsed() if address in m["To"]]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"no e-mail to {address}: {[m['To'] for m in smtp.parsed()]}")


def links_of(mail: Any) -> dict[str, str]:
    body = mail.get_payload(decode=True).decode()
    found = LINK.findall(body)
    assert len(found) == 2, body
    return {"approve": found[0][0], "reject": found[1][0]}


async def approval(h: Harness, record_id: str = "INV-1") -> dict[str, Any]:
    body: dict[str, Any] = (await h.api.get(f"/api/v1/records/invoice/{record_id}")).json()
    return body


async def votes(h: Harness, count: int) -> list[dict[str, Any]]:
    for _ in range(200):
        found: list[dict[str, Any]] = (await approval(h))["approval"]["votes"]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"fewer than {count} votes")


async def audit_actions(h: Harness, record_id: str = "INV-1") -> list[str]:
    events = (await h.api.get(f"/api/v1/records/invoice/{record_id}/audit")).json()["events"]
    return [e["action"] for e in events]


async def test_email_approver_with_slack_is_asked_in_slack_and_counts_for_their_entry(signoff: Harness) -> None:
    await submitted(signoff, workflow(["chloe@example.com", "U01AAA"], 2))
    ask = await signoff.wait_for(lambda: next(iter(signoff.dm("U01CCC")), None))
    assert ask.action_ids() == ["approve", "reject"] and "12,500.00" in ask.all_text()
    await signoff.click("U01CCC", ask, "approve")
    await signoff.wait_for(lambda: signoff.dm("U01AAA"))
    await signoff.click("U01AAA", signoff.dm("U01AAA")[0], "approve")
    await signoff.wait_for(lambda: signoff.dm("U0REQ"))
    body = await approval(signoff)
    assert body["approval_status"] == "approved"
    assert sorted(v["approver"] for v in body["approval"]["votes"]) == ["U01AAA", "chloe@example.com"]


async def test_outsider_is_emailed_links_and_get_changes_nothing(mailing: Harness, smtp: Inbox) -> None:
    await submitted(mailing, workflow([OUTSIDER]))
    mail = (await mail_to(smtp, OUTSIDER))[0]
    assert "INV-1" in mail["Subject"]
    links = links_of(mail)
    assert all(url.startswith(mailing.runtime.url) for url in links.values())
    async with httpx.AsyncClient() as web:
        for url in links.values():
            page = await web.get(url)
            assert page.status_code == 200 and "12,500.00" in page.text and "Reqina" in page.text
            assert "<script>alert" not in page.text and "&lt;script&gt;alert(1)" in page.text
            assert '<form method="post"' in page.text
    body = await approval(mailing)
    assert body["approval_status"] == "pending" and body["approval"]["votes"] == []


async def test_post_approve_counts_the_vote_and_refreshes_every_copy(mailing: Harness, smtp: Inbox) -> None:
    await submitted(mailing, workflow(["U01AAA", OUTSIDER], 2, channel="#finance"))
    dm = await mailing.wait_for(lambda: next(iter(mailing.dm("U01AAA")), None))
    channel_copy = (await mailing.wait_for(lambda: mailing.workspace.messages_in("C0FINANCE")))[0]
    await mailing.click("U01AAA", dm, "approve")
    await votes(mailing, 1)
    links = links_of((await mail_to(smtp, OUTSIDER))[0])
    async with httpx.AsyncClient(headers={"User-Agent": "Finance-Browser/1.0"}) as web:
        done = await web.post(links["approve"])
    assert done.status_code == 200, done.text
    assert "your approval was recorded" in done.text
    body = await approval(mailing)
    assert body["approval_status"] == "approved"
    assert sorted(v["approver"] for v in body["approval"]["votes"]) == ["U01AAA", OUTSIDER]
    outcome = await mailing.wait_for(lambda: mailing.dm("U0REQ"))
    assert "approved" in outcome[0].all_text()
    for copy in (dm, channel_copy):
        updated = await mailing.wait_for(
            lambda c=copy: next((m for m in [mailing.workspace.message(c.channel, c.ts)]
                                 if "approve" not in m.action_ids()), None))
        assert "Approved" in updated.all_text()
    actions = await audit_actions(mailing)
    assert "approval_link_used" in actions and actions.count("vote_approve") == 2
    events = (await mailing.api.get("/api/v1/records/invoice/INV-1/audit")).json()["events"]
    [used] = [e["detail"] for e in events if e["action"] == "approval_link_used"]
    assert (used["client"], used["user_agent"]) == ("127.0.0.1", "Finance-Browser/1.0")


def body_of(mail: Any) -> str:
    return str(mail.get_payload(decode=True).decode())


async def test_an_outsider_is_told_once_when_their_step_is_settled_without_them(mailing: Harness, smtp: Inbox) -> None:
    definition = workflow([OUTSIDER, "U01AAA"], 1)
    definition["actions"][0]["steps"].append({"approvers": ["U01BBB"], "min_approvers": 1})
    await submitted(mailing, definition)
    links = links_of((await mail_to(smtp, OUTSIDER))[0])
    await mailing.click("U01AAA", await mailing.wait_for(lambda: next(iter(mailing.dm("U01AAA")), None)), "approve")
    told = (await mail_to(smtp, OUTSIDER, 2))[1]
    assert "No longer needed: Invoice INV-1" in str(make_header(decode_header(told["Subject"])))
    assert "no longer needed: Alice approved it." in body_of(told) and not LINK.search(body_of(told))
    async with httpx.AsyncClient() as web:
        moved_on = await web.get(links["approve"])
    assert moved_on.status_code == 409 and "already approved by Alice and the request moved on" in moved_on.text
    await mailing.click("U01BBB", await mailing.wait_for(lambda: next(iter(mailing.dm("U01BBB")), None)), "approve")
    await mailing.wait_for(lambda: mailing.dm("U0REQ"))
    await mailing.runtime.deliverer.drain()
    assert len([m for m in smtp.parsed() if OUTSIDER in m["To"]]) == 2
    assert (await approval(mailing))["approval_status"] == "approved"


async def test_an_outsider_is_told_who_rejected_and_why(mailing: Harness, smtp: Inbox) -> None:
    await submitted(mailing, workflow([OUTSIDER, "U01AAA"], 2))
    await mail_to(smtp, OUTSIDER)
    await mailing.runtime.service.approvals.decide(
        (await approval(mailing))["approval"]["request_id"], "U01AAA", Decision.REJECT, reason="Wrong VAT rate")
    told = body_of((await mail_to(smtp, OUTSIDER, 2))[1])
    assert "no longer needed: Alice rejected it." in told and "> Wrong VAT rate" in told


async def test_reject_needs_a_reason_of_three_characters(mailing: Harness, smtp: Inbox) -> None:
    await submitted(mailing, workflow([OUTSIDER]))
    links = links_of((await mail_to(smtp, OUTSIDER))[0])
    async with httpx.AsyncClient() as web:
        for typed in (" x ", "\u200b\u200b\u200b", "a\u200b\u200d"):
            short = await web.post(links["reject"], data={"reason": typed})
            assert short.status_code == 422 and 'name="reason"' in short.text, typed
        assert (await approval(mailing))["approval"]["votes"] == []
        done = await web.post(links["reject"], data={"reason": "Wrong VAT <b>rate</b>"})
    assert done.status_code == 200 and "your rejection was recorded" in done.text
    body = await approval(mailing)
    assert body["approval_status"] == "rejected" and body["approval"]["reason"] == "Wrong VAT <b>rate</b>"
    outcome = await mailing.wait_for(lambda: mailing.dm("U0REQ"))
    assert "Wrong VAT" in outcome[0].all_text()


async def test_a_used_link_says_so_and_changes_nothing(mailing: Harness, smtp: Inbox) -> None:
    await submitted(mailing, workflow([OUTSIDER, "U01AAA"], 2))
    links = links_of((await mail_to(smtp, OUTSIDER))[0])
    async with httpx.AsyncClient() as web:
        assert (await web.post(links["approve"])).status_code == 200
        before = await approval(mailing)
        again = await web.post(links["approve"])
        sibling = await web.post(links["reject"], data={"reason": "Changed my mind"})
        shown = await web.get(links["approve"])
    for page in (again, sibling, shown):
        assert page.status_code == 410 and "already used" in page.text and '<form method="post"' not in page.text
    after = await approval(mailing)
    assert after["approval"]["votes"] == before["approval"]["votes"] and after["approval_status"] == "pending"


async def test_a_link_of_a_cancelled_or_decided_request_says_how_it_ended(mailing: Harness, smtp: Inbox) -> None:
    await submitted(mailing, workflow([OUTSIDER, "U01AAA"], 1))
    links = links_of((await mail_to(smtp, OUTSIDER))[0])
    assert (await mailing.put("/api/v1/records/invoice/INV-1", {**INVOICE, "amount": "13000.00"})).status_code == 200
    async with httpx.AsyncClient() as web:
        cancelled = await web.get(links["approve"])
    assert cancelled.status_code == 409 and "cancelled" in cancelled.text and "already decided" not in cancelled.text
    assert "sent for approval again since: if you are asked again, use the newest approval message" in cancelled.text
    fresh = links_of((await mail_to(smtp, OUTSIDER, 2))[1])
    ask = await mailing.wait_for(lambda: [m for m in mailing.dm("U01AAA") if "13,000.00" in m.all_text()])
    await mailing.click("U01AAA", ask[-1], "approve")
    await mailing.wait_for(lambda: mailing.dm("U0REQ"))
    async with httpx.AsyncClient() as web:
        decided = await web.post(fresh["reject"], data={"reason": "Too late to say no"})
    assert decided.status_code == 409 and "already approved by" in decided.text and "Too late to say no" in decided.text
    assert "sent for approval again" not in decided.text  # the newest request
    async with httpx.AsyncClient() as web:
        oldest = await web.get(links["reject"])
    assert "cancelled" in oldest.text and "The document has been sent for approval again since." in oldest.text


async def test_simultaneous_posts_of_one_email_decide_once(mailing: Harness, smtp: Inbox) -> None:
    await submitted(mailing, workflow([OUTSIDER, "U01AAA"], 2))
    links = links_of((await mail_to(smtp, OUTSIDER))[0])
    async with httpx.AsyncClient() as web:
        pages = await asyncio.gather(*(web.post(links["approve"]) for _ in range(6)),
                                     *(web.post(links["reject"], data={"reason": "Too late"}) for _ in range(6)))
    statuses = sorted(p.status_code for p in pages)
    assert statuses == [200] + [410] * 11, statuses
    assert len((await approval(mailing))["approval"]["votes"]) == 1
    assert (await audit_actions(mailing)).count("approval_link_used") == 1


async def test_an_expired_link_says_so_and_changes_nothing(mailing: Harness, smtp: Inbox) -> None:
    await submitted(mailing, workflow([OUTSIDER], expire_after="P7D"))
    links = links_of((await mail_to(smtp, OUTSIDER))[0])
    assert (await mailing.post("/api/v1/clock", {"advance": "P7DT1H"})).status_code == 200
    async with httpx.AsyncClient() as web:
        shown = await web.get(links["approve"])
        posted = await web.post(links["approve"])
    for page in (shown, posted):
        assert page.status_code == 410 and "expired" in page.text
    body = await approval(mailing)
    assert body["approval"]["votes"] == [] and "approval_link_used" not in await audit_actions(mailing)


async def test_tampered_malformed_or_cross_site_requests_change_nothing(mailing: Harness, smtp: Inbox) -> None:
    await submitted(mailing, workflow([OUTSIDER]))
    links = links_of((await mail_to(smtp, OUTSIDER))[0])
    url = links["approve"]
    tampered = url[:-1] + ("A" if url[-1] != "A" else "B")
    async with httpx.AsyncClient() as web:
        for bad in (tampered, url[:-5], url + "/x", url.rsplit("/", 1)[0] + "/%00%0a"):
            assert (await web.get(bad)).status_code == 404
            assert (await web.post(bad)).status_code == 404
        evil = await web.post(url, headers={"Origin": "https://evil.example"})
        sneaky = await web.post(url, headers={"Sec-Fetch-Site": "cross-site"})
        assert evil.status_code == 403 and sneaky.status_code == 403
        many = await web.post(url, data={f"f{i}": "x" for i in range(30)})
        huge = await web.post(url, data={"reason": "x" * 20_000})
        assert many.status_code == 413 and huge.status_code == 413
        assert (await web.get(url)).status_code == 200
    assert (await approval(mailing))["approval"]["votes"] == []


async def test_notify_dm_and_email_sends_both(mailing: Harness, smtp: Inbox) -> None:
    await submitted(mailing, workflow(["U01AAA"], notify=["dm", "email"]))
    mail = (await mail_to(smtp, "alice@example.com"))[0]
    assert len(links_of(mail)) == 2
    dm = await mailing.wait_for(lambda: mailing.dm("U01AAA"))
    assert dm[0].action_ids() == ["approve", "reject"]


async def test_notify_home_only_shows_the_home_task(mailing: Harness, smtp: Inbox) -> None:
    await submitted(mailing, workflow(["U01AAA"], notify=["home"]))
    await mailing.link.open_home("U01AAA")
    home = await mailing.wait_for(lambda: (v := mailing.workspace.home_view("U01AAA")) and task_blocks(v) and v)
    assert len(task_blocks(home)) == 1
    await mailing.runtime.deliverer.drain()
    assert mailing.dm("U01AAA") == [] and smtp.messages == []


async def test_the_page_speaks_the_company_language(tmp_path: Path, smtp: Inbox) -> None:
    async with running_signoff(tmp_path / "fr.db", port=free_port(), smtp_url=smtp.url, locale="fr") as h:
        await submitted(h, workflow([OUTSIDER]))
        mail = (await mail_to(smtp, OUTSIDER))[0]
        assert "Approbation demandée" in str(make_header(decode_header(mail["Subject"])))
        async with httpx.AsyncClient() as web:
            page = await web.get(links_of(mail)["reject"])
    assert page.status_code == 200 and 'lang="fr"' in page.text and "Pourquoi refusez-vous" in page.text


async def test_a_requester_named_by_their_slack_email_may_not_approve_in_slack(signoff: Harness) -> None:
    assert (await signoff.post("/api/v1/workflows", workflow(["U01CCC", "U01AAA"]))).status_code == 201
    record = {**INVOICE, "created_by": "Chloe@Example.com"}
    assert (await signoff.put("/api/v1/records/invoice/INV-1", record)).status_code == 200
    assert (await signoff.post("/api/v1/records/invoice/INV-1/submit")).json()["approval_status"] == "pending"
    await signoff.wait_for(lambda: next(iter(signoff.dm("U01AAA")), None))
    body = await approval(signoff)
    assert body["approval"]["steps"][0]["approvers"] == ["U01AAA"]  # Chloe is not asked
    assert not [m for m in signoff.dm("U01CCC") if "approve" in m.action_ids()]
    with pytest.raises(VoteRefusedError) as refused:  # a click of hers (Slack is asked her e-mail) changes nothing
        await signoff.runtime.service.approvals.decide(body["approval"]["request_id"], "U01CCC", Decision.APPROVE)
    assert refused.value.code == "own_record"
    await signoff.click("U01AAA", signoff.dm("U01AAA")[0], "approve")
    assert [v["approver"] for v in await votes(signoff, 1)] == ["U01AAA"]


async def test_a_requester_named_by_email_in_another_case_is_not_asked(mailing: Harness, smtp: Inbox) -> None:
    assert (await mailing.post("/api/v1/workflows", workflow([OUTSIDER, "U01AAA"]))).status_code == 201
    record = {**INVOICE, "created_by": OUTSIDER.upper()}
    assert (await mailing.put("/api/v1/records/invoice/INV-1", record)).status_code == 200
    assert (await mailing.post("/api/v1/records/invoice/INV-1/submit")).json()["approval_status"] == "pending"
    assert (await approval(mailing))["approval"]["steps"][0]["approvers"] == ["U01AAA"]
    await mailing.wait_for(lambda: mailing.dm("U01AAA"))
    assert not [m for m in smtp.parsed() if OUTSIDER in m["To"]]


async def test_an_approver_slack_shows_to_be_the_requester_is_replaced_by_the_admins(signoff: Harness) -> None:
    assert (await signoff.post("/api/v1/workflows", workflow(["chloe@example.com"]))).status_code == 201
    assert (await signoff.put("/api/v1/records/invoice/INV-1", {**INVOICE, "created_by": "U01CCC"})).status_code == 200
    assert (await signoff.post("/api/v1/records/invoice/INV-1/submit")).json()["approval_status"] == "pending"
    ask = await signoff.wait_for(lambda: next(iter(signoff.dm("U0ADMIN")), None))
    assert ask.action_ids() == ["approve", "reject"]
    assert (await approval(signoff))["approval"]["steps"][0]["approvers"] == ["U0ADMIN"]
    assert not [m for m in signoff.dm("U01CCC") if "approve" in m.action_ids()]
    await signoff.click("U0ADMIN", ask, "approve")
    await signoff.wait_for(lambda: signoff.dm("U01CCC"))  # the requester hears the outcome
    assert (await approval(signoff))["approval_status"] == "approved"


async def test_a_slack_approver_whose_email_requested_the_document_is_not_asked(signoff: Harness) -> None:
    assert (await signoff.post("/api/v1/workflows", workflow(["U01CCC"]))).status_code == 201
    record = {**INVOICE, "created_by": "Chloe@Example.com"}
    assert (await signoff.put("/api/v1/records/invoice/INV-1", record)).status_code == 200
    assert (await signoff.post("/api/v1/records/invoice/INV-1/submit")).json()["approval_status"] == "pending"
    ask = await signoff.wait_for(lambda: next(iter(signoff.dm("U0ADMIN")), None))
    assert ask.action_ids() == ["approve", "reject"]
    assert (await approval(signoff))["approval"]["steps"][0]["approvers"] == ["U0ADMIN"]
    assert not [m for m in signoff.dm("U01CCC") if "approve" in m.action_ids()]


async def test_an_approver_listed_by_slack_id_and_by_e_mail_holds_one_seat(signoff: Harness) -> None:
    await submitted(signoff, workflow(["chloe@example.com", "U01CCC", "U01AAA"], 3))
    ask = await signoff.wait_for(lambda: next(iter(signoff.dm("U01CCC")), None))
    await signoff.runtime.deliverer.drain()
    assert len(signoff.dm("U01CCC")) == 1
    await signoff.click("U01CCC", ask, "approve")
    await signoff.click("U01AAA", await signoff.wait_for(lambda: next(iter(signoff.dm("U01AAA")), None)), "approve")
    # three people must approve: the admin takes the seat Chloe held twice, and is asked
    stand_in = await signoff.wait_for(lambda: next(iter(signoff.dm("U0ADMIN")), None))
    assert (await approval(signoff))["approval_status"] == "pending"
    await signoff.click("U0ADMIN", stand_in, "approve")
    await signoff.wait_for(lambda: signoff.dm("U0REQ"))
    body = await approval(signoff)
    assert body["approval_status"] == "approved"
    assert sorted(v["approver"] for v in body["approval"]["votes"]) == ["U01AAA", "U01CCC", "U0ADMIN"]
    runs = (await signoff.api.get("/api/v1/runs", params={"record_id": "INV-1"})).json()["runs"]
    removed = [r for r in runs if r["event"] == "approval_seat_removed"]
    assert [r["actions"][0] | {"type": None} for r in removed] == [
        {"type": None, "result": "seat_removed", "seat": "chloe@example.com", "why": "same_person",
         "to": ["U0ADMIN"], "min_approvers": 3}]


async def test_an_approver_slack_cannot_reach_is_taken_off_and_the_admins_decide_in_their_place(
    tmp_path: Path,
) -> None:
    workspace = make_workspace()
    workspace.add_user("gone", "Gone", email="gone@example.com", user_id="U0GONE").deleted = True
    async with running_signoff(tmp_path / "gone.db", workspace) as signoff:
        await submitted(signoff, workflow(["U0GONE"], 1, notify=["dm"]))
        stand_in = await signoff.wait_for(lambda: next(iter(signoff.dm("U0ADMIN")), None))
        body = await approval(signoff)
        assert body["approval"]["steps"][0]["approvers"] == ["U0ADMIN"]
        runs = (await signoff.api.get("/api/v1/runs", params={"record_id": "INV-1"})).json()["runs"]
        removed = [r["actions"][0] for r in runs if r["event"] == "approval_seat_removed"]
        assert [(a["seat"], a["why"], a["to"]) for a in removed] == [("U0GONE", "unreachable", ["U0ADMIN"])]
        await signoff.click("U0ADMIN", stand_in, "approve")
        assert (await signoff.wait_for(lambda: signoff.dm("U0REQ")))
        assert (await approval(signoff))["approval_status"] == "approved"
        dead = (await signoff.api.get("/api/v1/outbox", params={"status": "dead"})).json()
        assert dead["items"] == [], "the ask Slack refused is not a dead letter: its seat went to the admins"


async def test_an_approver_named_by_e_mail_whom_slack_cannot_reach_gives_up_their_seat_too(tmp_path: Path) -> None:
    workspace = make_workspace()
    workspace.add_user("gone", "Gone", email="gone@example.com", user_id="U0GONE").deleted = True
    async with running_signoff(tmp_path / "gone.db", workspace) as signoff:
        await submitted(signoff, workflow(["gone@example.com", "U01AAA"], 2, notify=["dm"]))
        await signoff.wait_for(lambda: next(iter(signoff.dm("U0ADMIN")), None))
        step = (await approval(signoff))["approval"]["steps"][0]
        assert (step["approvers"], step["min_approvers"]) == (["U01AAA", "U0ADMIN"], 2)


async def test_a_link_approving_a_document_its_workflow_no_longer_governs_is_a_forced_approval_with_a_reason(
    mailing: Harness, smtp: Inbox,
) -> None:
    await submitted(mailing, workflow([OUTSIDER]))
    made = (await mailing.api.get("/api/v1/workflows")).json()
    [workflow_id] = [w["id"] for w in made["workflows"] if w["name"] == "Invoices over 5000"]
    assert (await mailing.post(f"/api/v1/workflows/{workflow_id}/disable")).status_code == 200
    links = links_of((await mail_to(smtp, OUTSIDER))[0])
    async with httpx.AsyncClient() as web:
        shown = await web.get(links["approve"])
        assert shown.status_code == 200 and 'id="forced"' in shown.text and 'name="reason"' in shown.text
        bare = await web.post(links["approve"])
        assert bare.status_code == 422 and 'id="error"' in bare.text
        assert (await approval(mailing))["approval_status"] == "pending", "nothing is approved without a reason"
        done = await web.post(links["approve"], data={"reason": "Signed off by the CFO by phone"})
    assert done.status_code == 200 and "your approval was recorded" in done.text
    assert (await approval(mailing))["approval_status"] == "approved"
    runs = (await mailing.api.get(f"/api/v1/runs?workflow_id={workflow_id}")).json()["runs"]
    [forced] = [r for r in runs if r["event"] == "approval_forced"]
    assert (forced["actions"][0]["forced"], forced["reason"]) == ("stale", "Signed off by the CFO by phone")
    assert "forced_approval" in await audit_actions(mailing)


async def test_a_document_slack_shows_only_its_requester_could_decide_goes_back_to_waiting_for_submission(
    signoff: Harness,
) -> None:
    assert (await signoff.post("/api/v1/workflows", workflow(["U0ADMIN"]))).status_code == 201
    record = {**INVOICE, "created_by": "admin@example.com", "source": "app"}
    assert (await signoff.put("/api/v1/records/invoice/INV-1", record)).json()["approval_status"] == "pending"
    for _ in range(200):
        stored = await approval(signoff)
        if stored["approval_status"] != "pending":
            break
        await asyncio.sleep(0.05)
    assert stored["approval_status"] == "approval_required", "the only approver is the requester: nobody can decide"
    assert stored["approval"]["status"] == "cancelled"
    assert stored["approval"]["reason"].startswith("nobody but the requester can approve step 1")
    assert "not_submitted" in await audit_actions(signoff)
    assert not [m for m in signoff.dm("U0ADMIN") if "approve" in m.action_ids()], "never asked to approve their own"


async def test_an_admin_named_by_the_e_mail_slack_showed_is_an_admin_author(signoff: Harness) -> None:
    assert (await signoff.post("/api/v1/workflows", workflow(["U01AAA"]))).status_code == 201
    before = {**INVOICE, "created_by": "admin@example.com"}
    assert (await signoff.put("/api/v1/records/invoice/INV-1", before)).json()["approval_status"] == \
        "approval_required", "Signoff does not know yet whose address it is"
    now = signoff.runtime.service.clock.now()
    async with signoff.db.unit_of_work() as repo:
        await repo.save_slack_identity(SlackIdentity("admin@example.com", "U0ADMIN", now, now + timedelta(days=1)))
    assert (await signoff.put("/api/v1/records/invoice/INV-2", before)).json()["approval_status"] == "none", \
        "an admin's own document needs no approval, however the admin is named"
