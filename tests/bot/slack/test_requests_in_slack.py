"""Requesters in Slack: Submit for approval on Home, Edit and resubmit from a rejection DM, contact names on Home."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk.models.views import View

from bot.sandbox.blockkit.validation import validate_message, validate_view
from bot.slack.request_modal import request_modal
from engine.records import Record
from tests.bot.slack.test_home import (
    ALICE,
    BRUNO,
    REQ,
    approval_workflow,
    create_workflow,
    record_json,
    status_becomes,
    view_text,
)
from tests.bot.slack.test_request_modal import FORM, created, open_by_shortcut
from tests.support.harness import Harness, running_signoff

EXPENSES = approval_workflow("Expenses over 100", [{"field": "amount", "op": "gt", "value": "100"}],
                             record_type="expense")


async def draft_expense(h: Harness, record_id: str, created_by: str = REQ) -> dict[str, Any]:
    assert (await h.put("/api/v1/contacts/vendor/V-AIR", {"name": "Air France"})).status_code == 200
    body = {"amount": "480.00", "currency": "EUR", "vendor": "V-AIR", "created_by": created_by, "source": "manual"}
    response = await h.put(f"/api/v1/records/expense/{record_id}", body)
    assert response.json()["approval_status"] == "approval_required", response.text
    return dict(response.json())


def home_of(h: Harness, user: str) -> dict[str, Any]:
    return h.workspace.home_view(user) or {}


def submit_buttons(view: dict[str, Any]) -> list[dict[str, Any]]:
    blocks = [b for b in view.get("blocks", []) if b.get("block_id") == "requests_to_submit"]
    return [e for b in blocks for e in b["elements"]]


async def test_home_submits_a_document_to_submit_and_shows_contact_names(signoff: Harness) -> None:
    await create_workflow(signoff, EXPENSES)
    await draft_expense(signoff, "EXP-1")
    await signoff.link.open_home(REQ)
    view = await signoff.wait_for(lambda: submit_buttons(home_of(signoff, REQ)) and home_of(signoff, REQ))
    assert "Air France" in view_text(view) and "V-AIR" not in view_text(view) and not validate_view(view)
    [button] = submit_buttons(view)
    assert button["value"] == "expense/EXP-1" and "EXP-1" in button["text"]["text"]
    await signoff.link.click_in_view(REQ, button["action_id"])
    await status_becomes(signoff, "EXP-1", "pending", "expense")
    asked = await signoff.wait_for(lambda: signoff.dm(ALICE))
    assert "EXP-1" in asked[0].all_text()
    await signoff.wait_for(lambda: not submit_buttons(home_of(signoff, REQ)))


async def test_nobody_submits_someone_elses_document(signoff: Harness) -> None:
    await create_workflow(signoff, EXPENSES)
    await draft_expense(signoff, "EXP-1")
    await draft_expense(signoff, "EXP-ALICE", created_by=ALICE)
    await signoff.link.open_home(ALICE)
    view = await signoff.wait_for(lambda: submit_buttons(home_of(signoff, ALICE)) and home_of(signoff, ALICE))
    await signoff.link.click_in_view(ALICE, submit_buttons(view)[0]["action_id"], value="expense/EXP-1")
    refusal = await signoff.wait_for(lambda: signoff.workspace.ephemerals(ALICE) or signoff.dm(ALICE))
    assert "Only the person who asked" in refusal[0].all_text()
    assert (await record_json(signoff, "EXP-1", "expense"))["approval_status"] == "approval_required"


async def reject_request(h: Harness) -> dict[str, Any]:
    await create_workflow(h, EXPENSES)
    await open_by_shortcut(h, REQ)
    await h.link.submit(REQ, FORM)
    [record] = await created(h)
    asked = await h.wait_for(lambda: h.dm(BRUNO))
    await h.click(BRUNO, asked[0], "reject")
    await h.wait_for(lambda: h.workspace.open_modals(BRUNO))
    await h.link.submit(BRUNO, {"reason": "Book the cheaper flight"})
    return record


def rejection(h: Harness) -> Any:
    return [m for m in h.dm(REQ) if "was rejected" in m.text]


async def test_edit_and_resubmit_from_the_rejection_dm(signoff: Harness) -> None:
    record = await reject_request(signoff)
    [dm] = await signoff.wait_for(lambda: rejection(signoff))
    assert "request_edit" in dm.action_ids() and validate_message(dm.blocks, dm.text) == []
    await signoff.click(REQ, dm, "request_edit")
    [modal] = await signoff.wait_for(lambda: signoff.workspace.open_modals(REQ))
    assert modal["callback_id"] == "request_edit" and not validate_view(modal)
    vendor = next(b for b in modal["blocks"] if b.get("block_id") == "vendor")
    assert vendor["element"]["initial_value"] == "Air France"
    reply = await signoff.link.submit(REQ, {**FORM, "amount": "640.00", "description": "The cheaper flight"})
    assert reply.json() is None
    body = await status_becomes(signoff, record["id"], "pending", "expense")
    assert (body["amount"], body["memo"], body["approval_status"]) == ("640.00", "The cheaper flight", "pending")
    asked = await signoff.wait_for(lambda: [m for m in signoff.dm(ALICE) if "640.00" in m.all_text()])
    assert record["id"] in asked[-1].all_text()
    assert f"Resubmitted after <@{BRUNO}> rejected it on " in asked[-1].all_text()
    assert "“Book the cheaper flight”" in asked[-1].all_text()
    assert validate_message(asked[-1].blocks, asked[-1].text) == []


async def test_an_unchanged_resubmission_is_not_sent_again(signoff: Harness) -> None:
    record = await reject_request(signoff)
    [dm] = await signoff.wait_for(lambda: rejection(signoff))
    await signoff.click(REQ, dm, "request_edit")
    await signoff.wait_for(lambda: signoff.workspace.open_modals(REQ))
    await signoff.link.submit(REQ, FORM)
    note = await signoff.wait_for(lambda: [m for m in signoff.dm(REQ) if "Nothing was changed" in m.text])
    assert record["id"] in note[0].text
    assert (await record_json(signoff, record["id"], "expense"))["approval_status"] == "rejected"


async def test_an_expired_request_is_resubmitted_as_it_is(signoff: Harness) -> None:
    await create_workflow(signoff, EXPENSES)
    await open_by_shortcut(signoff, REQ)
    await signoff.link.submit(REQ, FORM)
    [record] = await created(signoff)
    await signoff.wait_for(lambda: signoff.dm(BRUNO))
    assert (await signoff.post("/api/v1/clock", {"advance": "P31D"})).status_code == 200
    assert (await signoff.post("/api/v1/scheduler/tick")).status_code == 200
    [dm] = await signoff.wait_for(lambda: [m for m in signoff.dm(REQ) if "request_edit" in m.action_ids()])
    await signoff.click(REQ, dm, "request_edit")
    await signoff.wait_for(lambda: signoff.workspace.open_modals(REQ))
    await signoff.link.submit(REQ, FORM)
    await status_becomes(signoff, record["id"], "pending", "expense")
    assert [m for m in signoff.dm(REQ) if "Nothing was changed" in m.text] == []


async def test_a_resubmission_never_undoes_a_change_made_after_the_form_opened(signoff: Harness) -> None:
    record = await reject_request(signoff)
    [dm] = await signoff.wait_for(lambda: rejection(signoff))
    await signoff.click(REQ, dm, "request_edit")
    await signoff.wait_for(lambda: signoff.workspace.open_modals(REQ))
    corrected = {**{k: v for k, v in record.items() if k in ("amount", "currency", "vendor", "created_by")},
                 "memo": "Corrected by accounting", "source": "slack"}
    assert (await signoff.put(f"/api/v1/records/expense/{record['id']}", corrected)).status_code == 200
    reply = await signoff.link.submit(REQ, {**FORM, "category": "Travel"})
    assert reply.json()["response_action"] == "errors"
    assert "changed since you opened" in reply.json()["errors"]["amount"]
    assert (await record_json(signoff, record["id"], "expense"))["memo"] == "Corrected by accounting"


@pytest.mark.parametrize("locale", ["en", "fr"])
async def test_new_views_are_valid_in_each_locale(tmp_path: Any, locale: str) -> None:
    async with running_signoff(tmp_path / "db.sqlite", locale=locale) as h:
        await create_workflow(h, EXPENSES)
        await draft_expense(h, "EXP-" + "9" * 40)
        await h.link.open_home(REQ)
        view = await h.wait_for(lambda: submit_buttons(home_of(h, REQ)) and home_of(h, REQ))
        assert validate_view(view) == []


INVOICES = approval_workflow("Invoices over 1000", [{"field": "amount", "op": "gt", "value": "1000"}])
BILLS = approval_workflow("Bills over 1000", [{"field": "amount", "op": "gt", "value": "1000"}], record_type="bill")


async def rejected_over_rest(h: Harness, record_type: str, record_id: str, body: dict[str, Any],
                             requester: str = REQ) -> Any:
    """Create a document over REST as `requester`, submit it, have Bruno reject it; return the rejection DM."""
    created = await h.put(f"/api/v1/records/{record_type}/{record_id}", {**body, "created_by": requester})
    assert created.json()["approval_status"] == "approval_required", created.text
    assert (await h.post(f"/api/v1/records/{record_type}/{record_id}/submit")).status_code == 200
    asked = await h.wait_for(lambda: [m for m in h.dm(BRUNO) if record_id in m.all_text()])
    await h.click(BRUNO, asked[-1], "reject")
    await h.wait_for(lambda: h.workspace.open_modals(BRUNO))
    await h.link.submit(BRUNO, {"reason": "Wrong amount"})
    [dm] = await h.wait_for(lambda: [m for m in h.dm(requester) if "was rejected" in m.text and record_id in m.text])
    return dm


def blocks_by_id(modal: dict[str, Any]) -> dict[str, Any]:
    return {b["block_id"]: b for b in modal["blocks"] if b.get("type") == "input"}


INVOICE = {"amount": "4200.00", "balance": "4200.00", "currency": "GBP", "customer": "C-ACME", "txn_date": "2026-11-02",
           "due_date": "2026-12-02", "category": "Consulting", "department": "Sales", "memo": "Q4 workshop",
           "source": "manual", "status": "sent", "fields": {"po_number": "PO-77"}}


async def test_a_rejected_invoice_is_edited_and_resubmitted_by_its_requester(signoff: Harness) -> None:
    await create_workflow(signoff, INVOICES)
    dm = await rejected_over_rest(signoff, "invoice", "INV-REQ", INVOICE)
    assert "request_edit" in dm.action_ids() and validate_message(dm.blocks, dm.text) == []
    await signoff.click(REQ, dm, "request_edit")
    [modal] = await signoff.wait_for(lambda: signoff.workspace.open_modals(REQ))
    assert modal["callback_id"] == "request_edit" and validate_view(modal) == []
    inputs = blocks_by_id(modal)
    assert list(inputs) == ["customer", "amount", "currency", "txn_date", "due_date", "category", "department",
                            "description"]
    assert inputs["customer"]["element"]["initial_value"] == "C-ACME"
    assert inputs["amount"]["element"]["initial_value"] == "4200.00"
    assert inputs["currency"]["element"]["initial_option"]["value"] == "GBP"
    assert inputs["txn_date"]["element"]["initial_date"] == "2026-11-02"
    assert inputs["department"]["element"]["initial_value"] == "Sales"
    refused = await signoff.link.submit(REQ, {"customer": "", "amount": "-3"})
    assert set(refused.json()["errors"]) == {"customer", "amount"}
    assert "Say who pays." in refused.json()["errors"]["customer"]
    form = {"customer": "C-ACME", "amount": "3900.00", "currency": "GBP", "txn_date": "2026-11-02",
            "due_date": "2026-12-16", "category": "Consulting", "department": "Sales",
            "description": "Q4 workshop, discount applied"}
    assert (await signoff.link.submit(REQ, form)).json() is None
    body = await status_becomes(signoff, "INV-REQ", "pending")
    assert (body["amount"], body["balance"], body["due_date"], body["memo"]) == (
        "3900.00", "3900.00", "2026-12-16", "Q4 workshop, discount applied")
    assert (body["source"], body["status"], body["created_by"], body["fields"]) == (
        "manual", "sent", REQ, {"po_number": "PO-77"})
    asked = await signoff.wait_for(lambda: [m for m in signoff.dm(ALICE) if "3,900.00" in m.all_text()])
    assert "INV-REQ" in asked[-1].all_text()
    sent = await signoff.wait_for(lambda: [m for m in signoff.dm(REQ) if "is sent for approval" in m.all_text()])
    assert "*Customer*" in json.dumps(sent[-1].blocks) and "*Vendor*" not in json.dumps(sent[-1].blocks)
    await signoff.click(REQ, dm, "request_edit")
    note = await signoff.wait_for(lambda: [m for m in signoff.workspace.ephemerals(REQ) + signoff.dm(REQ)
                                           if "nothing to submit" in m.all_text()])
    assert "INV-REQ" in note[0].all_text() and signoff.workspace.open_modals(REQ) == []


async def test_a_rejected_bill_asks_for_its_vendor_and_only_its_requester_may_edit_it(signoff: Harness) -> None:
    await create_workflow(signoff, BILLS)
    bill = {"amount": "2500.00", "currency": "EUR", "vendor": "V-PAPER", "due_date": "2026-12-20",
            "source": "manual"}
    dm = await rejected_over_rest(signoff, "bill", "BILL-REQ", bill)
    own = await rejected_over_rest(signoff, "bill", "BILL-ALICE", {**bill, "amount": "1800.00"}, requester=ALICE)
    await signoff.link.click(ALICE, own.channel, own.ts, "request_edit", value="bill/BILL-REQ")
    refusal = await signoff.wait_for(lambda: [m for m in signoff.workspace.ephemerals(ALICE) + signoff.dm(ALICE)
                                              if "Only the person who asked" in m.all_text()])
    assert "BILL-REQ" in refusal[0].all_text() and signoff.workspace.open_modals(ALICE) == []
    await signoff.click(REQ, dm, "request_edit")
    [modal] = await signoff.wait_for(lambda: signoff.workspace.open_modals(REQ))
    assert list(blocks_by_id(modal))[:3] == ["vendor", "amount", "currency"] and validate_view(modal) == []
    await signoff.link.submit(REQ, {"vendor": "V-PAPER", "amount": "1990.00", "currency": "EUR"})
    body = await status_becomes(signoff, "BILL-REQ", "pending", "bill")
    assert (body["amount"], body["vendor"]) == ("1990.00", "V-PAPER")
    assert (await record_json(signoff, "BILL-ALICE", "bill"))["approval_status"] == "rejected"


async def test_an_edit_holds_every_value_the_api_takes_and_keeps_what_slack_cannot_show(signoff: Harness) -> None:
    await create_workflow(signoff, INVOICES)
    memo, department = ("Scope: " + "x" * 3993), "D" * 255
    dm = await rejected_over_rest(signoff, "invoice", "INV-BIG", {
        **INVOICE, "amount": "123456789012.34", "balance": None, "memo": memo, "department": department})
    await signoff.click(REQ, dm, "request_edit")
    [modal] = await signoff.wait_for(lambda: signoff.workspace.open_modals(REQ))
    assert validate_view(modal) == []
    inputs = blocks_by_id(modal)
    assert "description" not in inputs and "3,000 characters" in json.dumps(modal)
    assert inputs["department"]["element"]["initial_value"] == department
    assert inputs["amount"]["element"]["initial_value"] == "123456789012.34"
    form = {"customer": "C-ACME", "amount": "123456789000.00", "currency": "GBP", "department": department}
    assert (await signoff.link.submit(REQ, {**form, "amount": "1.005"})).json()["errors"] == {
        "amount": "This amount has more decimals than its currency has (JPY has none, USD two, KWD three)."}
    assert (await signoff.link.submit(REQ, form)).json() is None
    body = await status_becomes(signoff, "INV-BIG", "pending")
    assert (body["amount"], body["memo"], body["department"]) == ("123456789000.00", memo, department)


@pytest.mark.parametrize("locale", ["en", "fr"])
async def test_the_edit_modal_of_each_type_is_valid_in_each_locale(tmp_path: Any, locale: str) -> None:
    async with running_signoff(tmp_path / "db.sqlite", locale=locale) as h:
        for record_type, body in (("invoice", INVOICE), ("bill", {"amount": "10.00", "vendor": "V-1"}),
                                  ("sales_receipt", {"amount": "10.00", "currency": "MXN", "customer": "C-1"})):
            record = Record(**body, type=record_type, id="X-" + "9" * 40, created_at=datetime.now(UTC),
                            updated_at=datetime.now(UTC), created_by=REQ)
            modal = request_modal(h.runtime.service, record=record)
            assert validate_view(modal) == [], (record_type, validate_view(modal))
            View(**modal).validate_json()


async def test_the_customer_of_an_edited_invoice_is_picked_from_the_customers_by_name(signoff: Harness) -> None:
    for cid, name in (("C-ACME", "Acme SAS"), ("C-GLOBEX", "Globex")):
        assert (await signoff.put(f"/api/v1/contacts/customer/{cid}", {"name": name})).status_code == 200
    await create_workflow(signoff, INVOICES)
    dm = await rejected_over_rest(signoff, "invoice", "INV-PICK", INVOICE)
    await signoff.click(REQ, dm, "request_edit")
    [modal] = await signoff.wait_for(lambda: signoff.workspace.open_modals(REQ))
    customer = blocks_by_id(modal)["customer"]["element"]
    assert customer["type"] == "static_select" and validate_view(modal) == []
    assert [o["text"]["text"] for o in customer["options"]] == ["Acme SAS (C-ACME)", "Globex (C-GLOBEX)"]
    assert customer["initial_option"]["value"] == "C-ACME"
    form = {"customer": "C-GLOBEX", "amount": "4200.00", "currency": "GBP", "txn_date": "2026-11-02",
            "due_date": "2026-12-02", "description": "Q4 workshop, billed to Globex"}
    assert (await signoff.link.submit(REQ, form)).json() is None
    body = await status_becomes(signoff, "INV-PICK", "pending")
    assert body["customer"] == "C-GLOBEX"
