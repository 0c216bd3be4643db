"""A pending document follows the workflow that governs it now: after an edit, a rule's pre-fill or a group change."""

from __future__ import annotations

from typing import Any

from tests.support.harness import Harness


def po_workflow(name: str, department: str, approver: str) -> dict[str, Any]:
    return {"name": name, "record_type": "purchase_order", "trigger": "created_or_updated",
            "conditions": [{"field": "department", "op": "eq", "value": department}],
            "actions": [{"type": "approval", "steps": [{"approvers": [approver], "min_approvers": 1}]}]}


PO = {"amount": "500.00", "vendor": "V-X", "created_by": "U0REQ", "source": "app"}


async def workflows(signoff: Harness) -> dict[str, str]:
    ids = {}
    for name, department, approver in (("PO Marketing", "Marketing", "U01CCC"), ("PO IT", "IT", "U01AAA")):
        created = await signoff.post("/api/v1/workflows", po_workflow(name, department, approver))
        assert created.status_code == 201, created.text
        ids[department] = created.json()["id"]
    return ids


async def approval(signoff: Harness, record_id: str) -> dict[str, Any]:
    return dict((await signoff.api.get(f"/api/v1/records/purchase_order/{record_id}")).json())


async def test_an_edit_into_another_workflows_scope_asks_that_workflows_approvers(signoff: Harness) -> None:
    ids = await workflows(signoff)
    assert (await signoff.put("/api/v1/records/purchase_order/PO-3", {**PO, "department": "Marketing"})).is_success
    assert (await approval(signoff, "PO-3"))["approval"]["workflow_id"] == ids["Marketing"]
    cara = await signoff.wait_for(lambda: next(iter(signoff.dm("U01CCC")), None))
    assert (await signoff.put("/api/v1/records/purchase_order/PO-3", {**PO, "department": "IT"})).is_success
    moved = await approval(signoff, "PO-3")
    assert (moved["approval_status"], moved["approval"]["workflow_id"]) == ("pending", ids["IT"])
    assert moved["approval"]["steps"][0]["approvers"] == ["U01AAA"]
    ada = await signoff.wait_for(lambda: next(iter(signoff.dm("U01AAA")), None))
    assert ada.action_ids() == ["approve", "reject"]
    await signoff.wait_for(lambda: "approve" not in signoff.workspace.message(cara.channel, cara.ts).action_ids())
    await signoff.click("U01AAA", ada, "approve")
    await signoff.wait_for(lambda: any("approved" in m.all_text() for m in signoff.dm("U0REQ")))
    votes = (await approval(signoff, "PO-3"))["approval"]["votes"]
    assert [v["approver"] for v in votes] == ["U01AAA"]
    audit = (await signoff.api.get("/api/v1/records/purchase_order/PO-3/audit")).json()["events"]
    assert any("falls under another workflow" in str(e.get("detail")) for e in audit)


async def test_a_rule_change_moving_a_pending_document_re_routes_it(signoff: Harness) -> None:
    ids = await workflows(signoff)
    rule = {"name": "Software is IT", "status": "published",
            "conditions": [{"field": "category", "op": "eq", "value": "Software"}], "results": {"department": "IT"}}
    created = await signoff.post("/api/v1/rules", rule)
    assert created.status_code == 201, created.text
    assert (await signoff.put("/api/v1/records/purchase_order/PO-6", {**PO, "category": "Software"})).is_success
    saved = await approval(signoff, "PO-6")
    assert (saved["department"], saved["approval"]["workflow_id"]) == ("IT", ids["IT"])
    rule_url = f"/api/v1/rules/{created.json()['id']}"
    changed = await signoff.put(rule_url, {**rule, "results": {"department": "Marketing"}})
    assert changed.status_code == 200, changed.text
    now = await approval(signoff, "PO-6")
    assert (now["department"], now["approval_status"], now["approval"]["workflow_id"]) == (
        "Marketing", "pending", ids["Marketing"])
    assert (await signoff.post(f"{rule_url}/unpublish", None)).status_code == 200
    after = await approval(signoff, "PO-6")
    assert (after["department"], after["approval_status"]) == (None, "none")


async def test_a_customer_leaving_a_group_ends_the_approval_the_group_required(signoff: Harness) -> None:
    body = {"name": "C-G5", "state": "CA", "balance": "500", "email": "g5@example.com"}
    assert (await signoff.put("/api/v1/contacts/customer/C-G5", body)).status_code == 200
    group = {"name": "mid-balance", "kind": "customer",
             "filters": [{"field": "balance", "op": "between", "value": ["100", "1000"]}]}
    assert (await signoff.post("/api/v1/groups", group)).status_code == 201
    flow = {"name": "Mid-balance customers need approval", "record_type": "invoice", "trigger": "created_or_updated",
            "conditions": [{"field": "customer", "op": "in_group", "value": "mid-balance"}],
            "actions": [{"type": "approval", "steps": [{"approvers": ["U01CCC"], "min_approvers": 1}]}]}
    assert (await signoff.post("/api/v1/workflows", flow)).status_code == 201
    invoice = {"amount": "300.00", "customer": "C-G5", "created_by": "U0REQ", "source": "app"}
    saved = await signoff.put("/api/v1/records/invoice/G-INV1", invoice)
    assert saved.json()["approval_status"] == "pending"
    assert (await signoff.put("/api/v1/contacts/customer/C-G5", {**body, "balance": "5"})).status_code == 200
    read = (await signoff.api.get("/api/v1/records/invoice/G-INV1")).json()
    assert read["approval_status"] == "none"
    audit = (await signoff.api.get("/api/v1/records/invoice/G-INV1/audit")).json()["events"]
    assert [e["detail"]["reason"] for e in audit if e["action"] == "cancelled"] == [
        "the document no longer matches its workflow"]

