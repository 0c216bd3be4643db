"""One approval end to end: REST API in, Slack DMs out, signed clicks back, state persisted."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from engine.approvals import Decision
from engine.errors import VoteRefusedError
from tests.support.harness import Harness, running_signoff

WORKFLOW: dict[str, Any] = {
    "name": "Large invoices need two approvals",
    "record_type": "invoice",
    "trigger": "created",
    "conditions": [{"field": "amount", "op": "gt", "value": "5000"}],
    "actions": [
        {
            "type": "approval",
            "channel": "#finance",
            "steps": [
                {"approvers": ["U01AAA", "U01BBB", "U01CCC"], "min_approvers": 2},
                {"approvers": ["U01DDD"], "min_approvers": 1},
            ],
        }
    ],
}
INVOICE = {
    "amount": "12500.00",
    "currency": "EUR",
    "customer": "C-ACME",
    "due_date": "2026-12-20",
    "created_by": "U0REQ",
    "source": "manual",
}


async def submitted_invoice(signoff: Harness, record_id: str = "INV-1001") -> dict[str, Any]:
    assert (await signoff.post("/api/v1/workflows", WORKFLOW)).status_code == 201
    created = await signoff.put(f"/api/v1/records/invoice/{record_id}", INVOICE)
    assert created.status_code == 200, created.text
    assert created.json()["approval_status"] == "approval_required"
    submitted = await signoff.post(f"/api/v1/records/invoice/{record_id}/submit")
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["approval_status"] == "pending"
    return submitted.json()


async def record(signoff: Harness, record_id: str = "INV-1001") -> dict[str, Any]:
    return (await signoff.api.get(f"/api/v1/records/invoice/{record_id}")).json()


async def approval_dm(signoff: Harness, user: str) -> Any:
    return await signoff.wait_for(lambda: next(iter(signoff.dm(user)), None))


async def test_two_step_approval_end_to_end(signoff: Harness) -> None:
    await submitted_invoice(signoff)
    dms = {u: await approval_dm(signoff, u) for u in ("U01AAA", "U01BBB", "U01CCC")}
    assert "12,500.00" in dms["U01AAA"].all_text() and dms["U01AAA"].action_ids() == ["approve", "reject"]
    assert signoff.dm("U01DDD") == []

    posted = await signoff.wait_for(lambda: signoff.workspace.messages_in("C0FINANCE"))
    await signoff.click("U0OUT", posted[0], "approve")
    refusal = await signoff.wait_for(lambda: signoff.workspace.ephemerals("U0OUT"))
    assert "not an approver" in refusal[0].all_text()
    assert (await record(signoff))["approval"]["votes"] == []

    await signoff.click("U01AAA", dms["U01AAA"], "approve")
    await signoff.click("U01BBB", dms["U01BBB"], "approve")
    step2 = await approval_dm(signoff, "U01DDD")
    first_copy = lambda: signoff.workspace.message(dms["U01CCC"].channel, dms["U01CCC"].ts)  # noqa: E731
    await signoff.wait_for(lambda: "approve" not in first_copy().action_ids())

    await signoff.click("U01DDD", step2, "approve")
    outcome = await signoff.wait_for(lambda: signoff.dm("U0REQ"))
    assert "approved" in outcome[0].all_text()
    assert "invoice_remind" not in outcome[0].action_ids()  # only admins may send a customer a reminder
    body = await record(signoff)
    assert body["approval_status"] == "approved" and body["amount"] == "12500.00"
    for user in ("U01AAA", "U01BBB", "U01CCC", "U01DDD"):
        first = signoff.dm(user)[0]
        copy = await signoff.wait_for(
            lambda f=first: next(
                (m for m in [signoff.workspace.message(f.channel, f.ts)] if "Approved" in m.all_text()), None
            )
        )
        assert copy.action_ids() == []


async def test_an_approver_who_approved_sees_it_on_their_copy_while_the_others_keep_their_buttons(
    signoff: Harness,
) -> None:
    await submitted_invoice(signoff)
    dms = {u: await approval_dm(signoff, u) for u in ("U01AAA", "U01BBB")}
    await signoff.click("U01AAA", dms["U01AAA"], "approve")
    shown = {u: (lambda m=dm: signoff.workspace.message(m.channel, m.ts)) for u, dm in dms.items()}
    await signoff.wait_for(lambda: "You approved it" in shown["U01AAA"]().all_text())
    await signoff.wait_for(lambda: "1 of 2 approved" in shown["U01BBB"]().all_text())
    assert shown["U01AAA"]().action_ids() == []
    assert shown["U01BBB"]().action_ids() == ["approve", "reject"]
    assert "You approved it" not in shown["U01BBB"]().all_text()


async def test_an_admin_requester_may_send_a_reminder_from_the_outcome(signoff: Harness) -> None:
    one_step = {**WORKFLOW, "actions": [{"type": "approval", "steps": [{"approvers": ["U01AAA"]}]}]}
    assert (await signoff.post("/api/v1/workflows", one_step)).status_code == 201
    created = await signoff.put("/api/v1/records/invoice/INV-7", {**INVOICE, "created_by": "U0ADMIN", "source": "app"})
    assert created.json()["approval_status"] == "pending"  # an app's document is asked for at once
    await signoff.click("U01AAA", await approval_dm(signoff, "U01AAA"), "approve")
    outcome = await signoff.wait_for(lambda: signoff.dm("U0ADMIN"))
    assert "approved" in outcome[0].all_text() and "invoice_remind" in outcome[0].action_ids()


async def test_rejection_with_reason(signoff: Harness) -> None:
    await submitted_invoice(signoff)
    dm = await approval_dm(signoff, "U01BBB")
    await signoff.click("U01BBB", dm, "reject")
    await signoff.wait_for(lambda: signoff.workspace.open_modals("U01BBB"))
    await signoff.link.submit("U01BBB", {"reason": "Wrong VAT rate on line 2"})
    outcome = await signoff.wait_for(lambda: signoff.dm("U0REQ"))
    assert "rejected" in outcome[0].all_text() and "Wrong VAT rate" in outcome[0].all_text()
    body = await record(signoff)
    assert body["approval_status"] == "rejected" and body["approval"]["reason"] == "Wrong VAT rate on line 2"
    updated = await signoff.wait_for(
        lambda: [m for m in (signoff.workspace.message(dm.channel, dm.ts),) if "Wrong VAT rate" in m.all_text()]
    )
    assert updated[0].action_ids() == []
    refused = await signoff.post("/api/v1/records/invoice/INV-1001/submit")
    assert refused.status_code == 409 and "rejected" in refused.text, "a rejected document goes again once changed"


async def test_an_expired_document_is_sent_for_approval_again_as_it_is(signoff: Harness) -> None:
    await submitted_invoice(signoff)
    assert (await signoff.post("/api/v1/clock", {"advance": "P31D"})).status_code == 200
    assert (await signoff.post("/api/v1/scheduler/tick")).status_code == 200
    assert (await record(signoff))["approval_status"] == "expired"
    asked_before = len(signoff.dm("U01AAA"))
    again = await signoff.post("/api/v1/records/invoice/INV-1001/submit")
    assert again.status_code == 200 and again.json()["approval_status"] == "pending", again.text
    asked = await signoff.wait_for(lambda: signoff.dm("U01AAA")[asked_before:])
    assert asked[0].action_ids() == ["approve", "reject"] and "Resubmitted after" not in asked[0].all_text()


async def test_a_late_click_says_what_happened_and_a_lost_rejection_keeps_its_reason(signoff: Harness) -> None:
    await submitted_invoice(signoff)
    dms = {u: await approval_dm(signoff, u) for u in ("U01AAA", "U01BBB", "U01CCC")}
    await signoff.click("U01CCC", dms["U01CCC"], "reject")
    await signoff.wait_for(lambda: signoff.workspace.open_modals("U01CCC"))
    await signoff.click("U01AAA", dms["U01AAA"], "approve")
    await signoff.click("U01BBB", dms["U01BBB"], "approve")
    await signoff.click("U01AAA", dms["U01AAA"], "approve")
    again = await signoff.wait_for(lambda: signoff.workspace.ephemerals("U01AAA"))
    assert "already counted" in again[0].all_text() and "not an approver" not in again[0].all_text()
    await signoff.click("U01DDD", await approval_dm(signoff, "U01DDD"), "approve")
    await signoff.wait_for(lambda: signoff.dm("U0REQ"))
    await signoff.link.submit("U01CCC", {"reason": "The VAT is wrong"})
    [late] = await signoff.wait_for(lambda: signoff.workspace.ephemerals("U01CCC") or signoff.dm("U01CCC")[1:])
    text = late.all_text()
    assert "already approved by <@U01AAA>, <@U01BBB>, <@U01DDD>" in text and "“The VAT is wrong”" in text


async def test_empty_reason_is_refused_in_the_modal(signoff: Harness) -> None:
    await submitted_invoice(signoff)
    dm = await approval_dm(signoff, "U01AAA")
    await signoff.click("U01AAA", dm, "reject")
    modal = await signoff.wait_for(lambda: signoff.workspace.open_modals("U01AAA"))
    reply = await signoff.link.submit("U01AAA", {"reason": "  "})
    assert reply.json()["response_action"] == "errors"
    assert signoff.workspace.view_errors(modal[0]["id"])
    assert (await record(signoff))["approval_status"] == "pending"


async def test_non_approver_cannot_open_the_reject_modal(signoff: Harness) -> None:
    await submitted_invoice(signoff)
    posted = await signoff.wait_for(lambda: signoff.workspace.messages_in("C0FINANCE"))
    await signoff.click("U0OUT", posted[0], "reject")
    await signoff.wait_for(lambda: signoff.workspace.ephemerals("U0OUT"))
    assert signoff.workspace.open_modals("U0OUT") == []


async def test_fifty_concurrent_clicks_of_one_approver_count_once(signoff: Harness) -> None:
    await submitted_invoice(signoff)
    dm = await approval_dm(signoff, "U01AAA")
    await asyncio.gather(*(signoff.click("U01AAA", dm, "approve") for _ in range(50)))
    await signoff.wait_for(lambda: len(signoff.workspace.ephemerals("U01AAA")) >= 49, timeout_s=20)
    body = await record(signoff)
    assert [v["approver"] for v in body["approval"]["votes"]] == ["U01AAA"]


async def test_three_simultaneous_approvers_on_two_of_three(signoff: Harness) -> None:
    await submitted_invoice(signoff)
    dms = {u: await approval_dm(signoff, u) for u in ("U01AAA", "U01BBB", "U01CCC")}
    await asyncio.gather(*(signoff.click(u, m, "approve") for u, m in dms.items()))
    await approval_dm(signoff, "U01DDD")
    await asyncio.sleep(0.5)
    body = await record(signoff)
    assert len([v for v in body["approval"]["votes"] if v["step"] == 0]) in (2, 3)
    assert body["approval"]["current_step"] == 1
    events = (await signoff.api.get("/api/v1/records/invoice/INV-1001/audit")).json()["events"]
    assert [e["action"] for e in events].count("step_advanced") == 1
    assert len(signoff.dm("U01DDD")) == 1


async def test_requester_who_is_an_approver_is_left_out_and_an_admin_takes_the_seat(signoff: Harness) -> None:
    workflow = {
        **WORKFLOW,
        "actions": [{"type": "approval", "steps": [{"approvers": ["U0REQ", "U01AAA"], "min_approvers": 2}]}],
    }
    assert (await signoff.post("/api/v1/workflows", workflow)).status_code == 201
    await signoff.put("/api/v1/records/invoice/INV-7", INVOICE)
    await signoff.post("/api/v1/records/invoice/INV-7/submit")
    await approval_dm(signoff, "U01AAA")
    assert signoff.dm("U0REQ") == []
    await approval_dm(signoff, "U0ADMIN")  # two must still approve: the admin stands in for the requester
    body = await record(signoff, "INV-7")
    assert body["approval"]["steps"][0] == {"approvers": ["U01AAA", "U0ADMIN"], "min_approvers": 2, "approved_by": []}
    runs = (await signoff.api.get("/api/v1/runs", params={"record_id": "INV-7"})).json()["runs"]
    started = next(r["actions"][0] for r in runs if r["event"] == "approval_started")
    assert started == {"type": "approval", "result": "started", "approvers": ["U01AAA", "U0ADMIN"],
                       "min_approvers": 2, "left_out": ["U0REQ"], "stand_ins": ["U0ADMIN"]}


async def test_a_document_only_its_requester_could_approve_is_not_asked_for_and_says_why(tmp_path: Path) -> None:
    solo = {**WORKFLOW, "actions": [{"type": "approval", "steps": [{"approvers": ["U0REQ"], "name": "Review"}]}]}
    async with running_signoff(tmp_path / "signoff.db", admins_csv="") as signoff:
        assert (await signoff.post("/api/v1/workflows", solo)).status_code == 201
        await signoff.put("/api/v1/records/invoice/INV-1", INVOICE)
        refused = await signoff.post("/api/v1/records/invoice/INV-1/submit")
        assert refused.status_code == 409 and "nobody but the requester can approve step 1 (Review)" in refused.text
        assert (await record(signoff, "INV-1"))["approval_status"] == "approval_required"
        imported = await signoff.put("/api/v1/records/invoice/INV-2", {**INVOICE, "source": "import"})
        assert imported.json()["approval_status"] == "approval_required"
        trail = (await signoff.api.get("/api/v1/records/invoice/INV-2/audit")).json()
        assert "not_submitted" in [entry["action"] for entry in trail["events"]]
        async with signoff.db.read() as repo:
            assert await repo.requests_for_record("invoice", "INV-1") == []
            assert await repo.requests_for_record("invoice", "INV-2") == []


async def test_voiding_a_pending_document_cancels_its_approval(signoff: Harness) -> None:
    await submitted_invoice(signoff)
    dm = await approval_dm(signoff, "U01AAA")
    voided = await signoff.put("/api/v1/records/invoice/INV-1001", {**INVOICE, "status": "void"})
    assert voided.status_code == 200 and voided.json()["approval_status"] == "none"
    told = await signoff.wait_for(lambda: signoff.dm("U0REQ"))
    assert "cancelled" in told[0].all_text() and "the document was voided" in told[0].all_text()
    await signoff.wait_for(lambda: "approve" not in signoff.workspace.message(dm.channel, dm.ts).action_ids())
    async with signoff.db.read() as repo:
        [request] = await repo.requests_for_record("invoice", "INV-1001")
    assert request.status.value == "cancelled" and request.reason == "the document was voided"


async def test_an_edit_that_keeps_the_request_shows_on_every_card_at_once(signoff: Harness) -> None:
    await submitted_invoice(signoff)
    dm = await approval_dm(signoff, "U01AAA")
    [post] = await signoff.wait_for(lambda: signoff.workspace.messages_in("C0FINANCE"))
    assert "3 YEARS" not in dm.all_text()
    edited = await signoff.put("/api/v1/records/invoice/INV-1001",
                               {**INVOICE, "memo": "Support renewal, NOW 3 YEARS", "due_date": "2026-12-01"})
    assert edited.status_code == 200 and edited.json()["approval_status"] == "pending"
    for channel, ts in ((dm.channel, dm.ts), (post.channel, post.ts)):
        shown = await signoff.wait_for(lambda c=channel, t=ts: next(
            (m for m in [signoff.workspace.message(c, t)] if "NOW 3 YEARS" in m.all_text()), None))
        assert "Dec 1, 2026" in shown.all_text() and shown.action_ids() == ["approve", "reject"]
    async with signoff.db.read() as repo:
        [request] = await repo.requests_for_record("invoice", "INV-1001")
    assert request.status.value == "pending"


async def test_a_decision_on_a_request_replaced_since_says_the_document_went_for_approval_again(
    signoff: Harness,
) -> None:
    await submitted_invoice(signoff)
    await approval_dm(signoff, "U01AAA")
    async with signoff.db.read() as repo:
        [old] = await repo.requests_for_record("invoice", "INV-1001")
    assert (await signoff.put("/api/v1/records/invoice/INV-1001", {**INVOICE, "amount": "13000.00"})).status_code == 200
    with pytest.raises(VoteRefusedError) as refused:
        await signoff.runtime.service.approvals.decide(old.id, "U01AAA", Decision.APPROVE)
    assert (refused.value.code, refused.value.params["status"], refused.value.params["again"]) == (
        "request_closed", "cancelled", "pending")
