"""Each hostile document or contact PUT is answered 422 naming the field, and changes nothing."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.support.harness import Harness

INVOICE = {"amount": "100.00", "currency": "EUR", "customer": "C-1", "memo": "ok"}
HOSTILE = [
    ({"amount": "9e4999999"}, "amount"),
    ({"amount": "NaN"}, "amount"),
    ({"amount": "0E-1000000"}, "amount"),
    ({"amount": "1_000"}, "amount"),
    ({"txn_date": "2026-01-01T00:00:00"}, "txn_date"),
    ({"due_date": 1798675200}, "due_date"),
    ({"due_date": "2026-02-30"}, "due_date"),
    ({"amount": "\u0661\u0662\u0663"}, "amount"),
    ({"amount": "Infinity"}, "amount"),
    ({"amount": "1e15"}, "amount"),
    ({"amount": "1.00001"}, "amount"),
    ({"amount": "12.345"}, "amount"),
    ({"amount": "1500.5", "currency": "JPY"}, "amount"),
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
                              ("C-1", {"balance": "NaN"}, "balance"), ("C-1", {"city": "x" * 300}, "city"),
                              ("C-1", {"email": "not an email"}, "email")):
        reply = await signoff.put(f"/api/v1/contacts/customer/{path}", body)
        assert reply.status_code == 422, reply.text[:300]
        assert field in [d["path"] for d in reply.json()["error"]["details"]]
    ok = await signoff.put("/api/v1/records/invoice/INV-2", {**INVOICE, "amount": "999999999999999.999",
                                                             "currency": "KWD"})
    assert ok.status_code == 200 and ok.json()["amount"] == "999999999999999.999"


UNSTORABLE = ["\ud800", "a\u0000b", "\udfff tail"]
WRITES = [
    ("POST", "/api/v1/groups", lambda t: {"name": "gs", "kind": "customer",
                                          "filters": [{"field": "state", "op": "eq", "value": t}]}, "filters[0].value"),
    ("POST", "/api/v1/rules", lambda t: {"name": "R", "conditions": [{"field": "vendor", "op": "eq", "value": t}],
                                         "results": {"category": "T"}}, "conditions[0].value"),
    ("POST", "/api/v1/rules", lambda t: {"name": "R", "conditions": [{"field": "vendor", "op": "eq", "value": "V"}],
                                         "results": {t: "T"}}, "results"),
    ("POST", "/api/v1/workflows", lambda t: {"name": "W", "record_type": "bill", "trigger": "created",
                                             "conditions": [{"field": "memo", "op": "contains", "value": t}],
                                             "actions": [{"type": "update", "field": "memo", "value": "x"}]},
     "conditions[0].value"),
    ("PUT", "/api/v1/company", lambda t: {"name": t}, "name"),
    ("PUT", "/api/v1/contacts/customer/C-9", lambda t: {"name": t}, "name"),
]


async def test_text_no_database_stores_is_422_wherever_it_is_and_changes_nothing(signoff: Harness) -> None:
    before = {path: (await signoff.api.get(path)).json() for path in ("/api/v1/groups", "/api/v1/rules",
                                                                      "/api/v1/workflows", "/api/v1/company")}
    for method, path, body, field in WRITES:
        for text in UNSTORABLE:
            reply = await signoff.api.request(method, path, content=json.dumps(body(text)),
                                              headers={"Content-Type": "application/json"})
            assert reply.status_code == 422, (path, text, reply.text[:300])
            assert [d["path"] for d in reply.json()["error"]["details"]] == [field], (path, reply.text[:300])
    for path, seen in before.items():
        assert (await signoff.api.get(path)).json() == seen


async def test_text_no_database_stores_in_a_path_or_query_is_422(signoff: Harness) -> None:
    for url in ("/api/v1/records/invoice/A%00B", "/api/v1/runs?workflow_id=wf%00",
                "/api/v1/workflows/w%00", "/api/v1/rules/r%00"):
        reply = await signoff.api.get(url)
        assert reply.status_code == 422, (url, reply.text[:300])


async def test_a_body_larger_than_a_megabyte_is_413_and_changes_nothing(signoff: Harness) -> None:
    huge = json.dumps({**INVOICE, "memo": "m" * (1024 * 1024)})

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(huge), 65536):
            yield huge[start:start + 65536].encode()

    for content in (huge, chunks()):
        reply = await signoff.api.put("/api/v1/records/invoice/INV-9", content=content,
                                      headers={"Content-Type": "application/json"})
        assert reply.status_code == 413 and reply.json()["error"]["code"] == "too_large", reply.text[:300]
    assert (await signoff.api.get("/api/v1/records/invoice/INV-9")).status_code == 404
    ok = await signoff.put("/api/v1/records/invoice/INV-9", {**INVOICE, "memo": "m" * 4000})
    assert ok.status_code == 200


@pytest.mark.parametrize("content", [b'{"amount": "1\xff"}', b'{"amount": ',
                                     b"[" * 10_000 + b"]" * 10_000])
async def test_a_body_that_is_no_json_is_400_and_changes_nothing(signoff: Harness, content: bytes) -> None:
    reply = await signoff.api.put("/api/v1/records/invoice/INV-9", content=content,
                                  headers={"Content-Type": "application/json"})
    assert reply.status_code in (400, 422), reply.text[:300]
    assert reply.json()["error"]["code"] == ("bad_request" if reply.status_code == 400 else "invalid")
    assert (await signoff.api.get("/api/v1/records/invoice/INV-9")).status_code == 404


@pytest.mark.parametrize(("number", "stored"), [("99999999999999.99", "99999999999999.99"),
                                                ("12345678901234.56", "12345678901234.56"),
                                                ("1200.00", "1200.00"), ("0.1", "0.1"), ("1.5E3", "1500"),
                                                ("-0.30", "-0.30")])
async def test_money_sent_as_a_json_number_is_stored_as_written(signoff: Harness, number: str, stored: str) -> None:
    body = f'{{"amount": {number}, "balance": {number}, "currency": "USD", "fields": {{"rate": 1.25}}}}'
    reply = await signoff.api.put("/api/v1/records/expense/EXP-1", content=body,
                                  headers={"Content-Type": "application/json"})
    assert reply.status_code == 200, reply.text[:300]
    assert (reply.json()["amount"], reply.json()["balance"], reply.json()["fields"]) == (stored, stored, {"rate": 1.25})
    read = (await signoff.api.get("/api/v1/records/expense/EXP-1")).json()
    assert (read["amount"], read["balance"]) == (stored, stored)


async def test_a_contact_balance_sent_as_a_json_number_is_exact(signoff: Harness) -> None:
    reply = await signoff.api.put("/api/v1/contacts/customer/C-1", content='{"balance": 99999999999999.99}',
                                  headers={"Content-Type": "application/json"})
    assert reply.status_code == 200 and reply.json()["balance"] == "99999999999999.99", reply.text[:300]


async def test_path_bytes_that_are_not_utf8_are_422_and_never_name_another_document(signoff: Harness) -> None:
    for raw in ("Z%FFZ", "Z%FEZ", "%ED%A0%80"):
        answer = await signoff.api.put(f"/api/v1/records/deposit/{raw}", json={"amount": "1.00"})
        assert answer.status_code == 422 and answer.json()["error"]["details"][0]["path"] == "(path)"
    assert (await signoff.api.get("/api/v1/records", params={"type": "deposit"})).json()["records"] == []
    assert (await signoff.api.put("/api/v1/records/deposit/Z%C3%A9Z", json={"amount": "1.00"})).json()["id"] == "ZéZ"


async def test_an_empty_query_value_is_no_filter_and_a_trailing_slash_is_404_not_a_redirect(signoff: Harness) -> None:
    assert (await signoff.api.put("/api/v1/records/invoice/I-1", json={"amount": "1.00"})).status_code == 200
    for query in ("type=&approval_status=", "type=invoice&approval_status=", "type=&limit=5"):
        listed = await signoff.api.get(f"/api/v1/records?{query}")
        assert listed.status_code == 200 and [r["id"] for r in listed.json()["records"]] == ["I-1"], query
    every = (await signoff.api.get("/api/v1/runs")).json()["runs"]
    assert (await signoff.api.get("/api/v1/runs?workflow_id=")).json()["runs"] == every
    for path in ("/api/v1/workflows/", "/api/v1/records/invoice/I-1/"):
        answer = await signoff.api.get(path)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"


SEND = {"type": "send", "subject": "S", "body": "B"}
BOOLEAN_WRITES = [
    ("POST", "/api/v1/workflows", {"name": "W", "record_type": "bill", "trigger": "created", "enabled": "yes",
                                   "actions": [{"type": "update", "field": "memo", "value": "x"}]}, "enabled"),
    ("POST", "/api/v1/workflows", {"name": "W", "record_type": "bill", "trigger": "created",
                                   "actions": [{**SEND, "copy_sender": 1}]}, "actions[0].copy_sender"),
    ("POST", "/api/v1/groups", {"name": "gs", "kind": "customer", "auto_update": "true"}, "auto_update"),
    ("PUT", "/api/v1/contacts/customer/C-9", {"name": "Acme", "reminders": "no"}, "reminders"),
    ("PUT", "/api/v1/contacts/customer/C-9", {"name": "Acme", "active": 0}, "active"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), BOOLEAN_WRITES)
async def test_a_yes_or_no_that_is_not_a_json_boolean_is_422_at_its_field(
    signoff: Harness, method: str, path: str, body: dict[str, Any], field: str,
) -> None:
    reply = await signoff.api.request(method, path, json=body)
    assert reply.status_code == 422, reply.text[:300]
    assert field in [d["path"] for d in reply.json()["error"]["details"]], reply.text[:300]
    fixed = {**body, field: True} if "." not in field else {**body, "actions": [{**SEND, "copy_sender": True}]}
    assert (await signoff.api.request(method, path, json=fixed)).status_code in (200, 201)
