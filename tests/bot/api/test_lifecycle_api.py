"""The record lifecycle of SPEC §4, end to end through the REST API and Slack clicks."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.bot.core.test_approval_flow import approval_dm
from tests.support.harness import Harness

WORKFLOW = {
    "name": "Invoices over 1000", "record_type": "invoice",
    "conditions": [{"field": "amount", "op": "gt", "value": "1000"}],
    "actions": [{"type": "approval", "steps": [{"approvers": ["U01AAA"]}]}],
}
BASE = {"amount": "5000", "customer": "C-1", "created_by": "U0REQ", "source": "manual"}

Step = tuple[str, dict[str, Any]]


def put(**changes: Any) -> Step:
    return ("put", changes)


SUBMIT: Step = ("submit", {})
APPROVE: Step = ("approve", {})
REJECT: Step = ("reject", {})
APPROVED_FROM_APP = [put(source="app"), APPROVE]


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        # creation: non-admins need approval until they submit; admins do not; integrations go straight to pending
        ([put()], ["approval_required"]),
        ([put(), SUBMIT], ["approval_required", "pending"]),
        ([put(source="slack")], ["approval_required"]),
        ([put(created_by="U0ADMIN")], ["none"]),
        ([put(source="app")], ["pending"]),
        ([put(source="import")], ["pending"]),
        ([put(source="receipt_capture")], ["pending"]),
        ([put(source="spreadsheet_sync", created_by="U0ADMIN")], ["pending"]),
        ([put(amount="50")], ["none"]),
        ([put(amount="50", source="app")], ["none"]),
        # an approved record changed by its creator: still matching means approval again, else none
        ([*APPROVED_FROM_APP, put(memo="new terms")], ["pending", "approved", "approval_required"]),
        ([*APPROVED_FROM_APP, put(memo="new terms", source="import")], ["pending", "approved", "pending"]),
        ([*APPROVED_FROM_APP, put(amount="900")], ["pending", "approved", "none"]),
        # a change arriving from the app after approval does not restart it
        ([*APPROVED_FROM_APP, put(source="app", memo="synced")], ["pending", "approved", "approved"]),
        # an identical save changes nothing
        ([*APPROVED_FROM_APP, put(source="app")], ["pending", "approved", "approved"]),
        # a rejected record that is modified may be submitted again
        ([put(source="app"), REJECT, put(memo="fixed"), SUBMIT],
         ["pending", "rejected", "approval_required", "pending"]),
        # a pending record that no longer matches leaves approval
        ([put(source="app"), put(source="app", amount="10")], ["pending", "none"]),
    ],
)
async def test_lifecycle(signoff: Harness, steps: list[Step], expected: list[str]) -> None:
    assert (await signoff.post("/api/v1/workflows", WORKFLOW)).status_code == 201
    seen, body = [], dict(BASE)
    for kind, changes in steps:
        if kind == "put":
            body = {**BASE, **changes}
            response = await signoff.put("/api/v1/records/invoice/INV-1", body)
        elif kind == "submit":
            response = await signoff.post("/api/v1/records/invoice/INV-1/submit")
        else:
            response = await decide(signoff, kind)
        assert response.status_code == 200, response.text
        seen.append(response.json()["approval_status"])
    assert seen == expected


async def decide(signoff: Harness, kind: str) -> Any:
    dm = await approval_dm(signoff, "U01AAA")
    await signoff.click("U01AAA", dm, kind)
    if kind == "reject":
        await signoff.wait_for(lambda: signoff.workspace.open_modals("U01AAA"))
        await signoff.link.submit("U01AAA", {"reason": "Wrong amount"})
    final = "approved" if kind == "approve" else "rejected"
    for _ in range(200):
        response = await signoff.api.get("/api/v1/records/invoice/INV-1")
        if response.json()["approval_status"] == final:
            return response
        await asyncio.sleep(0.05)
    return response


async def test_pending_record_that_no_longer_matches_cancels_its_request(signoff: Harness) -> None:
    await signoff.post("/api/v1/workflows", WORKFLOW)
    await signoff.put("/api/v1/records/invoice/INV-1", {**BASE, "source": "app"})
    await signoff.put("/api/v1/records/invoice/INV-1", {**BASE, "source": "app", "amount": "10"})
    body = (await signoff.api.get("/api/v1/records/invoice/INV-1")).json()
    assert body["approval_status"] == "none" and body["approval"]["status"] == "cancelled"


async def test_a_pending_record_whose_amount_changes_is_asked_again_without_the_earlier_votes(
        signoff: Harness) -> None:
    two_steps = {**WORKFLOW, "actions": [{"type": "approval",
                                          "steps": [{"approvers": ["U01AAA"]}, {"approvers": ["U01BBB"]}]}]}
    await signoff.post("/api/v1/workflows", two_steps)
    await signoff.put("/api/v1/records/invoice/INV-1", {**BASE, "source": "app"})
    first = (await signoff.api.get("/api/v1/records/invoice/INV-1")).json()
    await signoff.click("U01AAA", await approval_dm(signoff, "U01AAA"), "approve")
    await signoff.wait_for(lambda: signoff.dm("U01BBB"))
    await signoff.put("/api/v1/records/invoice/INV-1", {**BASE, "source": "app", "amount": "95000"})
    changed = (await signoff.api.get("/api/v1/records/invoice/INV-1")).json()
    assert changed["approval_status"] == "pending"
    assert changed["approval"]["request_id"] != first["approval"]["request_id"]
    assert changed["approval"]["current_step"] == 0
    assert changed["approval"]["votes"] == []
    await signoff.put("/api/v1/records/invoice/INV-1", {**BASE, "source": "app", "amount": "95000", "memo": "PO 12"})
    memo = (await signoff.api.get("/api/v1/records/invoice/INV-1")).json()
    # a note changes nothing approvers decided on
    assert memo["approval"]["request_id"] == changed["approval"]["request_id"]
    async with signoff.db.read() as repo:
        old = await repo.get_request(first["approval"]["request_id"])
    assert old is not None and old.status.value == "cancelled"


async def test_the_audit_trail_says_who_changed_what(signoff: Harness) -> None:
    await signoff.put("/api/v1/records/expense/EXP-1", {"amount": "100.00", "currency": "USD", "memo": "a",
                                                        "department": "Ops"})
    await signoff.put("/api/v1/records/expense/EXP-1", {"amount": "250.00", "currency": "EUR", "memo": "a"})
    events = (await signoff.api.get("/api/v1/records/expense/EXP-1/audit")).json()["events"]
    created, updated = events
    assert (created["action"], created["detail"]) == ("created", {}) and created["actor"].startswith("token:")
    assert updated["action"] == "updated" and updated["actor"] == created["actor"]
    assert updated["detail"] == {"changes": {"amount": ["100.00", "250.00"], "currency": ["USD", "EUR"],
                                             "department": ["Ops", None]}}


async def test_a_submit_with_a_key_it_does_not_know_is_refused_and_submits_nothing(signoff: Harness) -> None:
    assert (await signoff.post("/api/v1/workflows", WORKFLOW)).status_code == 201
    assert (await signoff.put("/api/v1/records/invoice/INV-1", BASE)).json()["approval_status"] == "approval_required"
    for body in ({"actr": "U0REQ"}, ["actor"]):
        refused = await signoff.post("/api/v1/records/invoice/INV-1/submit", body)
        assert refused.status_code == 422, refused.text
    assert (await signoff.api.get("/api/v1/records/invoice/INV-1")).json()["approval_status"] == "approval_required"
    submitted = await signoff.post("/api/v1/records/invoice/INV-1/submit", {"actor": "U0REQ"})
    assert submitted.status_code == 200 and submitted.json()["approval_status"] == "pending"


async def test_a_submit_is_audited_as_the_token_and_the_person_it_names_as_said(signoff: Harness) -> None:
    assert (await signoff.post("/api/v1/workflows", WORKFLOW)).status_code == 201
    await signoff.put("/api/v1/records/invoice/INV-1", BASE)
    for claim in ("<@U01BBB>", "<!channel>", 42):
        assert (await signoff.post("/api/v1/records/invoice/INV-1/submit", {"actor": claim})).status_code == 422
    assert (await signoff.post("/api/v1/records/invoice/INV-1/submit", {"actor": "U01BBB"})).status_code == 200
    events = (await signoff.api.get("/api/v1/records/invoice/INV-1/audit")).json()["events"]
    submitted = next(e for e in events if e["action"] == "submitted")
    assert submitted["actor"].startswith("token:") and submitted["detail"]["stated_by"] == "U01BBB"


async def test_naming_another_requester_while_pending_asks_again_without_them(signoff: Harness) -> None:
    two = {**WORKFLOW, "actions": [{"type": "approval", "steps": [{"approvers": ["U01AAA", "U01BBB"]}]}]}
    assert (await signoff.post("/api/v1/workflows", two)).status_code == 201
    await signoff.put("/api/v1/records/invoice/INV-1", {**BASE, "source": "app"})
    first = (await signoff.api.get("/api/v1/records/invoice/INV-1")).json()
    assert first["approval"]["steps"][0]["approvers"] == ["U01AAA", "U01BBB"]
    moved = await signoff.api.patch("/api/v1/records/invoice/INV-1", json={"created_by": "U01BBB"})
    assert moved.status_code == 200, moved.text
    again = (await signoff.api.get("/api/v1/records/invoice/INV-1")).json()["approval"]
    assert again["request_id"] != first["approval"]["request_id"] and "U01BBB" not in again["steps"][0]["approvers"]
    events = (await signoff.api.get("/api/v1/records/invoice/INV-1/audit")).json()["events"]
    updated = next(e for e in events if e["action"] == "updated")
    assert updated["detail"]["changes"] == {"created_by": ["U0REQ", "U01BBB"]}


@pytest.mark.parametrize("requester", ["<@U0REQ>", "u0req", "Dan <dan@example.com>", "mailto:dan@example.com"])
async def test_a_requester_written_any_other_way_is_refused(signoff: Harness, requester: str) -> None:
    refused = await signoff.put("/api/v1/records/invoice/INV-1", {**BASE, "created_by": requester})
    assert refused.status_code == 422 and refused.json()["error"]["details"][0]["path"] == "created_by"
    assert (await signoff.api.get("/api/v1/records/invoice/INV-1")).status_code == 404
