"""Requests from Slack: the shortcut and `/signoff request` open a modal whose record reaches its approvers."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest

from bot.sandbox.app_link.signing import VERIFICATION_TOKEN, interaction_request
from bot.sandbox.blockkit.validation import validate_message, validate_view
from bot.sandbox.state.model import TEAM_DOMAIN, TEAM_ID
from bot.slack.request_form import read_form
from tests.bot.slack.test_home import ALICE, BRUNO, approval_workflow, create_workflow, status_becomes, view_text
from tests.support.harness import SIGNING_SECRET, Harness

REQUESTER = "U0REQ"
EXPENSES = approval_workflow("Expenses over 100", [{"field": "amount", "op": "gt", "value": "100"}],
                             record_type="expense")
FORM = {"vendor": "Air France", "amount": "1250.50", "currency": "EUR", "category": "Travel",
        "description": "Paris → Montréal for the <client> kick-off", "due_date": "2026-12-24"}


async def open_by_shortcut(h: Harness, user: str) -> dict[str, Any]:
    payload = {
        "type": "shortcut", "token": VERIFICATION_TOKEN, "action_ts": f"{time.time():.6f}",
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN}, "user": {"id": user, "username": "x", "team_id": TEAM_ID},
        "is_enterprise_install": False, "enterprise": None, "callback_id": "new_request",
        "trigger_id": h.workspace.issue_trigger_id(user),
    }
    reply = await h.link.send(interaction_request(payload, SIGNING_SECRET, int(time.time())))
    assert reply.status == 200
    [modal] = await h.wait_for(lambda: h.workspace.open_modals(user))
    return modal


async def requests_of(h: Harness, record_type: str = "expense") -> list[dict[str, Any]]:
    records = (await h.api.get("/api/v1/records", params={"type": record_type})).json()["records"]
    return [r for r in records if r["source"] == "slack"]


async def created(h: Harness, record_type: str = "expense") -> list[dict[str, Any]]:
    async with asyncio.timeout(10):
        while not (found := await requests_of(h, record_type)) or found[0]["approval_status"] == "approval_required":
            await asyncio.sleep(0.02)
    return found


async def test_the_shortcut_creates_an_expense_that_reaches_its_approvers(signoff: Harness) -> None:
    await create_workflow(signoff, EXPENSES)
    modal = await open_by_shortcut(signoff, REQUESTER)
    assert modal["callback_id"] == "request_new" and not validate_view(modal)
    reply = await signoff.link.submit(REQUESTER, FORM)
    assert reply.json() is None and signoff.workspace.open_modals(REQUESTER) == []
    [record] = await created(signoff)
    assert re.fullmatch(r"EXP-\d{6}-[0-9A-F]{6}", record["id"])
    assert (record["created_by"], record["vendor"], record["amount"], record["currency"]) == (
        REQUESTER, "Air France", "1250.50", "EUR")
    assert (record["category"], record["due_date"], record["approval_status"]) == ("Travel", "2026-12-24", "pending")
    asked = await signoff.wait_for(lambda: signoff.dm(ALICE))
    assert record["id"] in asked[0].all_text() and "€1,250.50" in asked[0].all_text()
    confirmation = await signoff.wait_for(lambda: signoff.dm(REQUESTER))
    assert "is sent for approval" in confirmation[0].all_text()
    assert f"`expense/{record['id']}`" in confirmation[0].all_text()
    assert validate_message(confirmation[0].blocks, confirmation[0].text) == []
    await signoff.link.open_home(REQUESTER)
    await signoff.wait_for(lambda: record["id"] in view_text(signoff.workspace.home_view(REQUESTER)))
    await signoff.click(BRUNO, (await signoff.wait_for(lambda: signoff.dm(BRUNO)))[0], "approve")
    await status_becomes(signoff, record["id"], "approved", "expense")
    outcome = await signoff.wait_for(lambda: [m for m in signoff.dm(REQUESTER) if "was approved" in m.text])
    assert record["id"] in outcome[0].text


async def test_signoff_request_po_and_no_matching_workflow(signoff: Harness) -> None:
    await signoff.link.command(REQUESTER, "/signoff", "request po")
    [modal] = await signoff.wait_for(lambda: signoff.workspace.open_modals(REQUESTER))
    kind = next(b for b in modal["blocks"] if b.get("block_id") == "kind")
    assert kind["element"]["initial_option"]["value"] == "purchase_order"
    await signoff.link.submit(REQUESTER, {**FORM, "kind": "purchase_order", "amount": "80"})
    [record] = await created(signoff, "purchase_order")
    assert record["id"].startswith("PO-") and record["approval_status"] == "none"
    confirmation = await signoff.wait_for(lambda: signoff.dm(REQUESTER))
    assert "no approval is needed" in confirmation[0].all_text()
    answer = await signoff.link.command(REQUESTER, "/signoff", "request lunch")
    assert "Usage" in answer.text()


async def test_the_home_button_opens_the_request_modal(signoff: Harness) -> None:
    await signoff.link.open_home(REQUESTER)
    await signoff.wait_for(lambda: signoff.workspace.home_view(REQUESTER))
    await signoff.link.click_in_view(REQUESTER, "home_new_request")
    [modal] = await signoff.wait_for(lambda: signoff.workspace.open_modals(REQUESTER))
    assert modal["callback_id"] == "request_new"


@pytest.mark.parametrize(
    ("changes", "errors"),
    [
        ({"vendor": "  "}, {"vendor"}),
        ({"amount": "-3"}, {"amount"}),
        ({"amount": "12.345"}, {"amount"}),
        ({"amount": "1250.50", "currency": "JPY"}, {"amount"}),
        ({"amount": "abc"}, {"amount"}),
        ({"amount": "1000000000000000"}, {"amount"}),
        ({"vendor": "", "amount": "0"}, {"vendor", "amount"}),
        ({"due_date": "31/12/2026"}, {"due_date"}),
        ({"due_date": "2026-02-30"}, {"due_date"}),
        ({"amount": "9e4999999"}, {"amount"}),
        ({"amount": "NaN"}, {"amount"}),
        ({"vendor": "Air\x00France"}, {"vendor"}),
        ({"vendor": "V" * 65}, {"vendor"}),
        ({"vendor": "<!here>"}, {"vendor"}),
        ({"category": "c" * 256}, {"category"}),
        ({"description": "\x1b[2J"}, {"description"}),
    ],
)
async def test_a_bad_form_is_refused_in_the_modal_and_creates_nothing(
    signoff: Harness, changes: dict[str, str], errors: set[str]
) -> None:
    await open_by_shortcut(signoff, REQUESTER)
    reply = await signoff.link.submit(REQUESTER, {**FORM, **changes})
    assert reply.json()["response_action"] == "errors" and set(reply.json()["errors"]) == errors
    if changes.get("vendor", "").startswith("<"):
        assert "without /, < or >" in reply.json()["errors"]["vendor"]
    assert await requests_of(signoff) == []


@pytest.mark.parametrize(
    ("amount", "expected"),
    [("1250.50", "1250.50"), ("1250,5", "1250.5"), (" 12 000 ", "12000"), ("0.01", "0.01")],
)
def test_amounts_are_read_as_exact_decimals(amount: str, expected: str) -> None:
    values = {"vendor": {"vendor": {"value": "V"}}, "amount": {"amount": {"value": amount}}}
    form = read_form(values, REQUESTER)
    assert not isinstance(form, dict) and str(form.data.amount) == expected
    assert form.data.source.value == "slack" and form.data.created_by == REQUESTER
