"""Run history of every firing: approvals started, each decision, forced approvals, escalation and expiry."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.bot.slack.test_home import (
    ADMIN,
    ALICE,
    BRUNO,
    CHLOE,
    DIMITRI,
    approval_workflow,
    create_workflow,
    home_with,
    invoice,
    status_becomes,
    task_blocks,
)
from tests.support.harness import Harness

TWO_STEPS = approval_workflow("Two steps", [{"field": "amount", "op": "gt", "value": "5000"}],
                              steps=[[ALICE, BRUNO], [DIMITRI]], channel="#finance", escalate_after="P1D",
                              escalate_to=[CHLOE], expire_after="P3D")


async def runs(signoff: Harness, **params: Any) -> list[dict[str, Any]]:
    response = await signoff.api.get("/api/v1/runs", params={"limit": 500, **params})
    assert response.status_code == 200
    return list(reversed(response.json()["runs"]))


async def history_text(signoff: Harness, workflow_id: str) -> str:
    before = len(signoff.workspace.ephemerals(ADMIN))
    assert (await signoff.link.command(ADMIN, "/signoff", f"history {workflow_id}")).status == 200
    shown = await signoff.wait_for(lambda: signoff.workspace.ephemerals(ADMIN)[before:])
    return str(shown[-1].all_text())


async def decide_all_ways(signoff: Harness) -> None:
    for record_id in ("INV-1", "INV-2", "INV-3"):
        assert (await signoff.put(f"/api/v1/records/invoice/{record_id}", invoice())).status_code == 200
    asks = await signoff.wait_for(lambda: len(signoff.dm(ALICE)) == 3 and signoff.dm(ALICE))
    first = next(m for m in asks if "INV-1" in m.all_text())
    await signoff.click(ALICE, first, "approve")
    ask = await signoff.wait_for(lambda: [m for m in signoff.dm(DIMITRI) if "INV-1" in m.all_text()])
    await signoff.click(DIMITRI, ask[0], "reject")
    await signoff.wait_for(lambda: signoff.workspace.open_modals(DIMITRI))
    await signoff.link.submit(DIMITRI, {"reason": "Wrong customer"})
    post = await signoff.wait_for(lambda: [m for m in signoff.workspace.messages_in("C0FINANCE")
                                           if "INV-2" in m.all_text()])
    await signoff.click(ADMIN, post[0], "approve")
    await signoff.wait_for(lambda: signoff.workspace.open_modals(ADMIN))
    await signoff.link.submit(ADMIN, {"force_reason": "CFO said yes by phone"})
    await signoff.wait_for(lambda: [m for m in signoff.dm(DIMITRI) if "INV-2" in m.all_text()])


async def test_history_tells_every_approval_event(signoff: Harness) -> None:
    workflow_id = await create_workflow(signoff, TWO_STEPS)
    assert "No run yet" in await history_text(signoff, workflow_id)
    await decide_all_ways(signoff)
    await signoff.post("/api/v1/clock", {"advance": "P1DT1H"})
    await signoff.post("/api/v1/scheduler/tick")
    await signoff.post("/api/v1/clock", {"advance": "P3D"})
    await signoff.post("/api/v1/scheduler/tick")
    one = [(r["event"], r["actor"], r["decision"], r["reason"], r["outcome"])
           for r in await runs(signoff, record_type="invoice", record_id="INV-1")]
    assert one == [("approval_started", "U0REQ", None, None, "pending"),
                   ("approval_decision", ALICE, "approve", None, "pending"),
                   ("approval_decision", DIMITRI, "reject", "Wrong customer", "rejected")]
    two = await runs(signoff, record_type="invoice", record_id="INV-2")
    forced = [r for r in two if r["event"] == "approval_forced"]
    assert [(r["actor"], r["reason"], r["step"], r["actions"][0]["forced"]) for r in forced] == [
        (ADMIN, "CFO said yes by phone", 0, "override")]
    three = await runs(signoff, record_type="invoice", record_id="INV-3")
    assert [r["event"] for r in three] == ["approval_started", "approval_escalated", "approval_expired"]
    assert three[1]["actions"][0]["to"] == [CHLOE] and three[2]["outcome"] == "expired" and three[2]["reason"]
    every = await runs(signoff, workflow_id=workflow_id)
    assert {r["workflow_id"] for r in every} == {workflow_id} and {r["workflow_name"] for r in every} == {"Two steps"}
    text = await history_text(signoff, workflow_id)
    for line in ("Approval started", "approved step 1", "rejected step 2", "“Wrong customer”",
                 "forced the approval of step 1", "“CFO said yes by phone”", "escalated to", "Expired without"):
        assert line in text, (line, text)


async def test_a_workflow_the_document_also_matched_tells_it_was_passed_over(signoff: Harness) -> None:
    broad = await create_workflow(signoff, approval_workflow("Over 1,000", [
        {"field": "amount", "op": "gt", "value": "1000"}], steps=[[CHLOE]]))
    narrow = await create_workflow(signoff, {**TWO_STEPS, "conditions": [
        *TWO_STEPS["conditions"], {"field": "currency", "op": "eq", "value": "EUR"}]})
    assert (await signoff.put("/api/v1/records/invoice/INV-9", invoice())).status_code == 200
    [line] = await runs(signoff, workflow_id=broad)
    assert (line["event"], line["record_id"], line["outcome"]) == ("approval_passed_over", "INV-9", "pending")
    assert line["actions"][0]["governed_by"] == narrow and line["actions"][0]["governed_by_name"] == "Two steps"
    assert [r["event"] for r in await runs(signoff, workflow_id=narrow)] == ["approval_started"]
    audit = (await signoff.api.get("/api/v1/records/invoice/INV-9/audit")).json()
    [submitted] = [e for e in audit["events"] if e["action"] == "submitted"]
    assert submitted["detail"]["passed_over"] == [broad]
    assert "Not applied" in await history_text(signoff, broad) and "Two steps" in await history_text(signoff, broad)
    assert (await signoff.put("/api/v1/records/invoice/INV-10", invoice("2000.00"))).status_code == 200
    assert [r["record_id"] for r in await runs(signoff, workflow_id=broad)] == ["INV-9", "INV-10"]


async def test_a_delegate_decides_on_behalf_of_the_approver(signoff: Harness) -> None:
    await create_workflow(signoff, approval_workflow("Alice approves", [], steps=[[ALICE]]))
    until = (signoff.runtime.service.clock.now() + timedelta(days=2)).date().isoformat()
    assert (await signoff.link.command(ALICE, "/signoff", f"away <@{BRUNO}> {until}")).status == 200
    assert (await signoff.put("/api/v1/records/invoice/INV-1", invoice())).status_code == 200
    await home_with(signoff, BRUNO, lambda v: len(task_blocks(v)) == 1)
    await signoff.link.click_in_view(BRUNO, "approve")
    await status_becomes(signoff, "INV-1", "approved")
    decision = (await runs(signoff, record_type="invoice", record_id="INV-1"))[-1]
    assert (decision["event"], decision["actor"], decision["on_behalf_of"], decision["outcome"]) == (
        "approval_decision", BRUNO, ALICE, "approved")
    assert f"<@{BRUNO}> for <@{ALICE}> approved step 1" in await history_text(signoff, decision["workflow_id"])


async def everything_shown(signoff: Harness, workflow_id: str) -> dict[str, Any]:
    """Return what the API and `/signoff history` show of the three documents and their workflow."""
    shown: dict[str, Any] = {"runs": await runs(signoff), "of workflow": await runs(signoff, workflow_id=workflow_id),
                             "history": await history_text(signoff, workflow_id)}
    for record_id in ("INV-1", "INV-2", "INV-3"):
        shown[f"runs {record_id}"] = await runs(signoff, record_type="invoice", record_id=record_id)
        shown[f"record {record_id}"] = (await signoff.api.get(f"/api/v1/records/invoice/{record_id}")).json()
        shown[f"audit {record_id}"] = (await signoff.api.get(f"/api/v1/records/invoice/{record_id}/audit")).json()
    run_id = shown["runs"][0]["id"]
    response = await signoff.api.get(f"/api/v1/runs/{run_id}")
    assert response.status_code == 200
    shown["one run"] = response.json()
    return shown


async def test_closed_approvals_are_archived_after_a_month_and_read_the_same(signoff: Harness) -> None:
    workflow_id = await create_workflow(signoff, TWO_STEPS)
    await decide_all_ways(signoff)
    for advance in ("P1DT1H", "P3D"):
        await signoff.post("/api/v1/clock", {"advance": advance})
        assert (await signoff.post("/api/v1/scheduler/tick")).json()["archived"] == 0
    before = await everything_shown(signoff, workflow_id)
    await signoff.post("/api/v1/clock", {"advance": "P30D"})
    assert (await signoff.post("/api/v1/scheduler/tick")).json()["archived"] == 3
    assert (await signoff.post("/api/v1/scheduler/tick")).json()["archived"] == 0
    assert await everything_shown(signoff, workflow_id) == before
    assert [r["approval"]["status"] for r in (before[f"record INV-{n}"] for n in (1, 2, 3))] == [
        "rejected", "expired", "expired"]
    async with signoff.runtime.db.read() as repo:
        assert await repo.messages_for(before["record INV-1"]["approval"]["request_id"]) == []
