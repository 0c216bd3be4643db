"""Each hostile document or contact PUT is answered 422 naming the field, and changes nothing."""

from __future__ import annotations

from typing import Any

from tests.support.harness import Harness

INVOICE = {"amount": "100.00", "currency": "EUR", "customer": "C-1", "memo": "ok"}
HOSTILE = [
    ({"amount": "9e4999999"}, "amount"),
    ({"amount": "NaN"}, "amount"),
    ({"amount": "Infinity"}, "amount"),
    ({"amount": "1e15"}, "amount"),
    ({"amount": "1.00001"}, "amount"),
    ({"amount": "1" * 5000}, "amount"),
    ({"currency": "XXX"}, "currency"),
    ({"currency": "BTC"}, "currency"),
    ({"currency": "XAU"}, "currency"),
    ({"memo": "nul\u0000byte"}, "memo"),
    ({"memo": "m" * 4001}, "memo"),
    ({"category": "c" * 256}, "category"),
    ({"customer": "a/b"}, "customer"),
    ({"balance": "100.01"}, "balance"),
    ({"balance": "-1"}, "balance"),
    ({"status": "paid", "balance": "5"}, "status"),
    ({"fields": {f"f{i}": i for i in range(51)}}, "fields"),
    ({"fields": {"po": "x" * 1001}}, "fields"),
]


async def test_each_hostile_record_put_is_422_at_its_field_and_changes_nothing(signoff: Harness) -> None:
    assert (await signoff.put("/api/v1/records/invoice/INV-1", INVOICE)).status_code == 200
    before = (await signoff.api.get("/api/v1/records/invoice/INV-1")).json()
    for change, path in HOSTILE:
        reply = await signoff.put("/api/v1/records/invoice/INV-1", {**INVOICE, **change})
        assert reply.status_code == 422, (change, reply.text[:300])
        assert path in [d["path"] for d in reply.json()["error"]["details"]], (change, reply.text[:300])
    assert (await signoff.api.get("/api/v1/records/invoice/INV-1")).json() == before
    audit = (await signoff.api.get("/api/v1/records/invoice/INV-1/audit")).json()["events"]
    assert len(audit) == 1


async def test_a_bad_record_id_in_the_path_is_422_not_500(signoff: Harness) -> None:
    for record_id in ("I" * 5000, "I" * 65, "INV%00", "%20INV", "INV%0A1"):
        reply = await signoff.put(f"/api/v1/records/invoice/{record_id}", INVOICE)
        assert reply.status_code == 422, (record_id[:20], reply.text[:300])
        assert [d["path"] for d in reply.json()["error"]["details"]] == ["record_id"]
    listed: dict[str, Any] = (await signoff.api.get("/api/v1/records")).json()
    assert listed["records"] == []


async def test_a_bad_contact_is_422_and_changes_nothing(signoff: Harness) -> None:
    for path, body, field in (("C" * 65, {"name": "Acme"}, "contact_id"), ("C-1", {"name": "A\u0000"}, "name"),
                              ("C-1", {"balance": "NaN"}, "balance"), ("C-1", {"city": "x" * 300}, "city")):
        reply = await signoff.put(f"/api/v1/contacts/customer/{path}", body)
        assert reply.status_code == 422, reply.text[:300]
        assert field in [d["path"] for d in reply.json()["error"]["details"]]
    ok = await signoff.put("/api/v1/records/invoice/INV-2", {**INVOICE, "amount": "999999999999999.9999"})
    assert ok.status_code == 200 and ok.json()["amount"] == "999999999999999.9999"
