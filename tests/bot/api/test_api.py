"""The REST API: auth, JSON errors, exact decimals, validation paths, test clock, restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.harness import Harness, running_signoff

INVOICE = {"amount": "12500.00", "currency": "EUR", "customer": "C-ACME", "created_by": "U0REQ"}


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic dGVzdA==", "Bearer"])
async def test_api_needs_the_bearer_token(signoff: Harness, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    async with httpx.AsyncClient(base_url=signoff.runtime.url, headers=headers) as anonymous:
        response = await anonymous.get("/api/v1/workflows")
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"


@pytest.mark.parametrize(
    ("amount", "stored"),
    [(12500.1, "12500.1"), ("12500.10", "12500.10"), (0.1, "0.1"), ("1e3", "1000"), (1234567890.12, "1234567890.12")],
)
async def test_amounts_keep_their_exact_decimal_value(signoff: Harness, amount: object, stored: str) -> None:
    response = await signoff.put("/api/v1/records/invoice/INV-D", {**INVOICE, "amount": amount})
    assert response.status_code == 200 and response.json()["amount"] == stored
    assert (await signoff.api.get("/api/v1/records/invoice/INV-D")).json()["amount"] == stored


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"amount": "lots"}, "amount"),
        ({"amount": True}, "amount"),
        ({"currency": "EURO"}, "currency"),
        ({"due_date": "2026-13-45"}, "due_date"),
        ({"status": "haunted"}, "status"),
        ({"colour": "red"}, "colour"),
        ({"amount": "NaN"}, "amount"),
    ],
)
async def test_malformed_records_are_refused_and_not_stored(signoff: Harness, body: dict, path: str) -> None:
    response = await signoff.put("/api/v1/records/invoice/INV-BAD", {**INVOICE, **body})
    assert response.status_code == 422
    assert path in [d["path"] for d in response.json()["error"]["details"]]
    assert (await signoff.api.get("/api/v1/records/invoice/INV-BAD")).status_code == 404


async def test_invalid_json_is_a_400(signoff: Harness) -> None:
    response = await signoff.api.put(
        "/api/v1/records/invoice/X", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400 and "error" in response.json()


async def test_invalid_workflow_is_a_422_naming_the_field_and_saves_nothing(signoff: Harness) -> None:
    bad = {
        "name": "x",
        "record_type": "invoice",
        "conditions": [{"field": "amount", "op": "gt", "value": "5000"}],
        "actions": [{"type": "approval", "steps": [{"approvers": ["U1AA", "U2AA", "U3AA", "U4AA", "U5AA", "U6AA"]}]}],
    }
    before = (await signoff.api.get("/api/v1/workflows")).json()["workflows"]
    response = await signoff.post("/api/v1/workflows", bad)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["path"] == "actions[0].steps[0].approvers"
    assert (await signoff.api.get("/api/v1/workflows")).json()["workflows"] == before


async def test_workflow_management(signoff: Harness) -> None:
    wf = {
        "name": "Bills",
        "record_type": "bill",
        "actions": [{"type": "approval", "steps": [{"approvers": ["U01AAA"]}]}],
    }
    created = (await signoff.post("/api/v1/workflows", wf)).json()
    wid = created["id"]
    assert (await signoff.post(f"/api/v1/workflows/{wid}/disable")).json()["enabled"] is False
    assert (await signoff.post(f"/api/v1/workflows/{wid}/enable")).json()["enabled"] is True
    copy = (await signoff.post(f"/api/v1/workflows/{wid}/copy")).json()
    assert copy["name"] == "Copy of Bills" and copy["status"] == "draft" and copy["id"] != wid
    updated = await signoff.api.put(f"/api/v1/workflows/{wid}", json={**wf, "name": "All bills"})
    assert updated.json()["name"] == "All bills"
    assert (await signoff.api.delete(f"/api/v1/workflows/{wid}")).status_code == 204
    assert (await signoff.api.get(f"/api/v1/workflows/{wid}")).status_code == 404


async def test_submit_rules(signoff: Harness) -> None:
    await signoff.put("/api/v1/records/invoice/INV-N", INVOICE)
    response = await signoff.post("/api/v1/records/invoice/INV-N/submit")
    assert response.status_code == 409 and response.json()["error"]["code"] == "conflict"
    assert (await signoff.post("/api/v1/records/invoice/NOPE/submit")).status_code == 404


async def test_listing_filters(signoff: Harness) -> None:
    await signoff.put("/api/v1/records/invoice/INV-1", INVOICE)
    await signoff.put("/api/v1/records/bill/B-1", {"amount": "10", "vendor": "V1"})
    listed = (await signoff.api.get("/api/v1/records", params={"type": "bill"})).json()["records"]
    assert [r["id"] for r in listed] == ["B-1"]
    none = (await signoff.api.get("/api/v1/records", params={"approval_status": "pending"})).json()["records"]
    assert none == []


async def test_pages_follow_the_next_cursor_to_the_end_in_order(signoff: Harness) -> None:
    for n in (3, 1, 5, 2, 4):
        await signoff.put(f"/api/v1/records/bill/B-{n}", {"amount": "10", "vendor": "V1"})
    await signoff.put("/api/v1/records/invoice/INV-1", INVOICE)
    seen, params = [], {"limit": 2}
    while True:
        page = (await signoff.api.get("/api/v1/records", params=params)).json()
        seen += [(r["type"], r["id"]) for r in page["records"]]
        if page["next"] is None:
            break
        params = {"limit": 2, "after": page["next"]}
    assert seen == [("bill", f"B-{n}") for n in range(1, 6)] + [("invoice", "INV-1")]
    bills = (await signoff.api.get("/api/v1/records", params={"type": "bill", "limit": 5})).json()
    last = (await signoff.api.get("/api/v1/records", params={"type": "bill", "after": bills["next"]})).json()
    assert last == {"records": [], "limit": 100, "offset": 0, "next": None}


@pytest.mark.parametrize("params", [{"after": "bm90IGEgY3Vyc29y"}, {"after": "%%%"}, {"after": "WyJhIl0"},
                                    {"after": "WyJiaWxsIiwiQi0xIl0", "offset": 3}, {"after": "WyJcdWQ4MDAiLCJ4Il0"}])
async def test_a_cursor_that_is_not_ours_is_422(signoff: Harness, params: dict[str, Any]) -> None:
    response = await signoff.api.get("/api/v1/records", params=params)
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid"


async def test_openapi_and_health(signoff: Harness) -> None:
    spec = (await signoff.api.get("/api/v1/openapi.json")).json()
    assert "/api/v1/records/{record_type}/{record_id}" in spec["paths"]
    assert (await signoff.api.get("/healthz")).json() == {"ok": True}
    head = await signoff.api.head("/healthz")  # what some load balancers send
    assert (head.status_code, head.content) == (200, b"")
    assert (await signoff.api.get("/metrics")).status_code == 200


async def test_test_clock(signoff: Harness) -> None:
    first = (await signoff.post("/api/v1/clock", {"advance": "P3DT2H"})).json()["now"]
    later = (await signoff.post("/api/v1/clock", {"now": "2027-01-01T09:00:00+00:00"})).json()["now"]
    assert first < later and later == "2027-01-01T09:00:00+00:00"
    assert (await signoff.post("/api/v1/clock", {"advance": "soon"})).status_code == 422
    assert (await signoff.post("/api/v1/clock", {"now": "2027-01-01T09:00:00"})).status_code == 422
    assert (await signoff.post("/api/v1/scheduler/tick")).status_code == 200


@pytest.mark.parametrize(("move", "expected"), [
    ({"advance": "P1M"}, "2027-02-28T09:00:00"), ({"advance": "P1Y"}, "2028-01-31T09:00:00"),
    ({"advance": "PT0.5H"}, "2027-01-31T09:30:00"), ({"advance": "P1,5D"}, "2027-02-01T21:00:00"),
    ({"advance": "P1Y1M1DT1H1M1S"}, "2028-03-01T10:01:01"),
])
async def test_the_test_clock_advances_by_any_iso_8601_duration(signoff: Harness, move: dict[str, str],
                                                                 expected: str) -> None:
    await signoff.post("/api/v1/clock", {"now": "2027-01-31T09:00:00+00:00"})
    moved = (await signoff.post("/api/v1/clock", move)).json()["now"]
    assert moved.startswith(expected), moved


@pytest.mark.parametrize("move", [
    {"advance": "P99999999D"}, {"advance": "P9999999999999999999999D"}, {"advance": "P200Y"}, {"advance": "P0.5M"},
    {"advance": "P1.5DT2H"}, {"advance": "-P1D"}, {"advance": 5}, {"advance": None},
    {"now": "9999-12-31T23:59:59+00:00"}, {"now": "0001-01-01T00:00:00+00:00"}, {"now": "2027-01-01T09:00:00+25:00"},
    {"now": "2027-02-30T09:00:00+00:00"}, {"now": 12}, {"advance": "P1D", "now": "2027-01-01T09:00:00+00:00"},
])
async def test_the_test_clock_refuses_what_it_cannot_show_and_stays_put(signoff: Harness,
                                                                       move: dict[str, Any]) -> None:
    await signoff.post("/api/v1/clock", {"now": "2027-01-31T09:00:00+00:00"})
    answer = await signoff.post("/api/v1/clock", move)
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid", answer.text
    tick = await signoff.post("/api/v1/scheduler/tick")
    assert tick.status_code == 200 and tick.json()["now"].startswith("2027-01-31T09:00")


async def test_test_clock_is_404_when_off(tmp_path: Path) -> None:
    async with running_signoff(tmp_path / "s.db", test_clock=False) as harness:
        assert (await harness.post("/api/v1/clock", {"advance": "P1D"})).status_code == 404
        assert (await harness.post("/api/v1/scheduler/tick")).status_code == 404


async def test_restart_keeps_records_votes_and_audit(tmp_path: Path) -> None:
    from tests.bot.core.test_approval_flow import approval_dm, submitted_invoice

    async with running_signoff(tmp_path / "keep.db") as first:
        await submitted_invoice(first)
        await first.click("U01AAA", await approval_dm(first, "U01AAA"), "approve")
        await first.wait_for(lambda: [m for m in first.dm("U01AAA") if m.edited])
        before = (await first.api.get("/api/v1/records/invoice/INV-1001")).json()
        audit = (await first.api.get("/api/v1/records/invoice/INV-1001/audit")).json()
    async with running_signoff(tmp_path / "keep.db") as second:
        after = (await second.api.get("/api/v1/records/invoice/INV-1001")).json()
        assert after == before and len(after["approval"]["votes"]) == 1
        assert (await second.api.get("/api/v1/records/invoice/INV-1001/audit")).json() == audit
