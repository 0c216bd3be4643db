"""Amounts compared in the company's currency: a document in another one carries its exchange rate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.bot.slack.test_request_modal import FORM, REQUESTER, open_by_shortcut, requests_of
from tests.support.harness import Harness, running_signoff

OVER_1000 = {"name": "Invoices over $1,000", "record_type": "invoice", "trigger": "created",
             "conditions": [{"field": "amount", "op": "gt", "value": "1000"}],
             "actions": [{"type": "approval", "steps": [{"approvers": ["U01AAA"], "min_approvers": 1}]}]}
EXPENSES = {**OVER_1000, "name": "Expenses over $1,000", "record_type": "expense"}


@pytest.fixture
async def in_usd(tmp_path: Path) -> AsyncIterator[Harness]:
    """Signoff whose amounts are compared in US dollars, with the approval workflows over $1,000."""
    async with running_signoff(tmp_path / "usd.db", currency="usd") as signoff:
        for workflow in (OVER_1000, EXPENSES):
            assert (await signoff.post("/api/v1/workflows", workflow)).status_code == 201
        yield signoff


@pytest.mark.parametrize(("document", "status"), [
    ({"amount": "999.000", "currency": "KWD", "exchange_rate": "3.25"}, "approval_required"),
    ({"amount": "5000", "currency": "JPY", "exchange_rate": "0.0066"}, "none"),
    ({"amount": "1000.00", "currency": "USD"}, "none"),
    ({"amount": "1000.01", "currency": "USD", "exchange_rate": "1"}, "approval_required"),
])
async def test_thresholds_hold_in_the_companys_currency(
    in_usd: Harness, document: dict[str, Any], status: str,
) -> None:
    saved = await in_usd.put("/api/v1/records/invoice/INV-1", {**document, "created_by": "U0REQ"})
    assert saved.status_code == 200, saved.text
    assert saved.json()["approval_status"] == status


@pytest.mark.parametrize("document", [{"amount": "999.000", "currency": "KWD"},
                                      {"amount": "10", "currency": "USD", "exchange_rate": "2"},
                                      {"amount": "10", "currency": "EUR", "exchange_rate": "0"},
                                      {"amount": "10", "currency": "EUR", "exchange_rate": "-1.1"}])
async def test_a_document_that_cannot_be_compared_is_refused(in_usd: Harness, document: dict[str, Any]) -> None:
    refused = await in_usd.put("/api/v1/records/invoice/INV-2", {**document, "created_by": "U0REQ"})
    assert refused.status_code == 422 and refused.json()["error"]["details"][0]["path"] == "exchange_rate"
    assert (await in_usd.api.get("/api/v1/records/invoice/INV-2")).status_code == 404


async def test_without_a_company_currency_amounts_are_compared_as_written(signoff: Harness) -> None:
    assert (await signoff.post("/api/v1/workflows", OVER_1000)).status_code == 201
    saved = await signoff.put("/api/v1/records/invoice/INV-3", {"amount": "999", "currency": "KWD",
                                                                "created_by": "U0REQ"})
    assert saved.status_code == 200 and saved.json()["approval_status"] == "none"


async def test_the_request_form_asks_the_rate_of_another_currency(in_usd: Harness) -> None:
    modal = await open_by_shortcut(in_usd, REQUESTER)
    assert "exchange_rate" in [b.get("block_id") for b in modal["blocks"]]
    missing = await in_usd.link.submit(REQUESTER, FORM)
    assert set(missing.json()["errors"]) == {"exchange_rate"} and await requests_of(in_usd) == []
    assert (await in_usd.link.submit(REQUESTER, {**FORM, "exchange_rate": "1,08"})).json() is None
    async with asyncio.timeout(10):
        while not (found := await requests_of(in_usd)):
            await asyncio.sleep(0.02)
    assert (found[0]["exchange_rate"], found[0]["approval_status"]) == ("1.08", "pending")


async def test_an_import_names_every_row_that_lacks_its_exchange_rate_and_saves_none(in_usd: Harness) -> None:
    rows = [{"id": "INV-1", "amount": "10.00", "currency": "USD"},
            {"id": "INV-2", "amount": "10.00", "currency": "EUR"},
            {"id": "INV-3", "amount": "10.00", "currency": "EUR", "exchange_rate": "1.08"}]
    refused = await in_usd.post("/api/v1/imports/invoice", {"records": rows})
    assert refused.status_code == 422
    assert [d["path"] for d in refused.json()["error"]["details"]] == ["records.1.exchange_rate"]
    assert (await in_usd.api.get("/api/v1/records/invoice/INV-1")).status_code == 404
    saved = await in_usd.post("/api/v1/imports/invoice", {"records": [rows[0], rows[2]]})
    assert saved.status_code == 200 and saved.json()["created"] == 2
