"""Requesters in Slack: Submit for approval on Home, Edit and resubmit from a rejection DM, contact names on Home."""

from __future__ import annotations

from typing import Any

import pytest

from bot.sandbox.validation import validate_message, validate_view
from tests.bot.test_home import (
    ALICE,
    BRUNO,
    REQ,
    approval_workflow,
    create_workflow,
    record_json,
    status_becomes,
    view_text,
)
from tests.bot.test_request_modal import FORM, created, open_by_shortcut
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


async def test_an_unchanged_resubmission_is_not_sent_again(signoff: Harness) -> None:
    record = await reject_request(signoff)
    [dm] = await signoff.wait_for(lambda: rejection(signoff))
    await signoff.click(REQ, dm, "request_edit")
    await signoff.wait_for(lambda: signoff.workspace.open_modals(REQ))
    await signoff.link.submit(REQ, FORM)
    note = await signoff.wait_for(lambda: [m for m in signoff.dm(REQ) if "Nothing was changed" in m.text])
    assert record["id"] in note[0].text
    assert (await record_json(signoff, record["id"], "expense"))["approval_status"] == "rejected"


@pytest.mark.parametrize("locale", ["en", "fr"])
async def test_new_views_are_valid_in_each_locale(tmp_path: Any, locale: str) -> None:
    async with running_signoff(tmp_path / "db.sqlite", locale=locale) as h:
        await create_workflow(h, EXPENSES)
        await draft_expense(h, "EXP-" + "9" * 40)
        await h.link.open_home(REQ)
        view = await h.wait_for(lambda: submit_buttons(home_of(h, REQ)) and home_of(h, REQ))
        assert validate_view(view) == []
