"""Imports: many documents of one type in one request, each saved as PUT saves it; a refused import saves nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from bot.core.records import IMPORT_CHUNK
from bot.core.tokens import create_token
from engine.records import MAX_IMPORT_ROWS
from tests.bot.slack.test_home import ALICE, BIG_INVOICES, create_workflow
from tests.support.harness import Harness


def row(record_id: str, amount: str = "120.00", **fields: Any) -> dict[str, Any]:
    return {"id": record_id, "amount": amount, "currency": "EUR", "customer": "C-ACME", "created_by": "U0REQ",
            **fields}


async def record(signoff: Harness, record_id: str) -> dict[str, Any] | None:
    response = await signoff.api.get(f"/api/v1/records/invoice/{record_id}")
    return response.json() if response.status_code == 200 else None


async def test_an_import_saves_each_document_as_put_does_and_says_what_it_did(signoff: Harness) -> None:
    await create_workflow(signoff, BIG_INVOICES)
    rows = [row("INV-1"), row("INV-2", "9000.00"), row("INV-3", source="spreadsheet_sync", memo="Q4")]
    response = await signoff.post("/api/v1/imports/invoice", {"records": rows})
    assert response.status_code == 200, response.text
    assert response.json() == {"type": "invoice", "created": 3, "updated": 0, "unchanged": 0, "records": [
        {"id": "INV-1", "approval_status": "none"}, {"id": "INV-2", "approval_status": "pending"},
        {"id": "INV-3", "approval_status": "none"}]}
    saved = [await record(signoff, f"INV-{n}") for n in (1, 2, 3)]
    assert [(r or {}).get("source") for r in saved] == ["import", "import", "spreadsheet_sync"]
    await signoff.wait_for(lambda: [m for m in signoff.dm(ALICE) if "INV-2" in m.all_text()])
    again = await signoff.post("/api/v1/imports/invoice", {"records": [rows[0], {**rows[2], "memo": "Q1"}]})
    assert (again.json()["created"], again.json()["updated"], again.json()["unchanged"]) == (0, 1, 1)
    assert (await record(signoff, "INV-3") or {})["memo"] == "Q1"


async def test_one_bad_row_refuses_the_whole_import_with_each_problem_named(signoff: Harness) -> None:
    rows = [row("INV-1"), row("INV-2", "12.345"), row("INV-1"), {**row("INV-4"), "colour": "red"}]
    response = await signoff.post("/api/v1/imports/invoice", {"records": rows})
    assert response.status_code == 422, response.text
    paths = {d["path"] for d in response.json()["error"]["details"]}
    assert paths == {"records.1.amount", "records.3.colour"}
    repeated = await signoff.post("/api/v1/imports/invoice", {"records": [row("INV-1"), row("INV-2"), row("INV-1")]})
    assert repeated.status_code == 422
    assert [d["path"] for d in repeated.json()["error"]["details"]] == ["records.2.id"]
    assert "nothing was saved" in repeated.json()["error"]["message"]
    for body in ({"records": []}, {"records": [row(f"I-{n}") for n in range(MAX_IMPORT_ROWS + 1)]},
                 {"records": [row("INV-1")], "extra": 1}, {"records": [{"amount": "1.00"}]}, [row("INV-1")]):
        assert (await signoff.api.post("/api/v1/imports/invoice", json=body)).status_code == 422
    assert (await signoff.post("/api/v1/imports/unicorn", {"records": [row("INV-1")]})).status_code == 422
    assert [await record(signoff, f"INV-{n}") for n in (1, 2, 4)] == [None, None, None]


async def test_an_import_larger_than_a_unit_of_work_saves_every_row_in_order(signoff: Harness) -> None:
    rows = [row(f"INV-{n:04d}", f"{n}.00") for n in range(IMPORT_CHUNK * 2 + 7)]
    response = await signoff.post("/api/v1/imports/invoice", {"records": rows})
    assert response.status_code == 200 and response.json()["created"] == len(rows)
    assert [r["id"] for r in response.json()["records"]] == [r["id"] for r in rows]
    listed = (await signoff.api.get("/api/v1/records", params={"type": "invoice", "limit": 500})).json()
    assert len(listed["records"]) == len(rows)


async def test_only_tokens_that_write_documents_import(signoff: Harness) -> None:
    for role, expected in (("read", 403), ("integration", 200)):
        token = await create_token(signoff.db, f"{role}-bot", role, datetime.now(UTC))
        async with httpx.AsyncClient(base_url=signoff.runtime.url, timeout=30,
                                     headers={"Authorization": f"Bearer {token}"}) as client:
            response = await client.post("/api/v1/imports/invoice", json={"records": [row(f"INV-{role}")]})
        assert response.status_code == expected, response.text
    audit = (await signoff.api.get("/api/v1/records/invoice/INV-integration/audit")).json()["events"]
    assert audit[0]["actor"] == "token:integration-bot"


async def test_patch_changes_only_the_fields_it_names(signoff: Harness) -> None:
    full = row("INV-1", "70.50", memo="Q4", department="Sales", due_date="2026-12-20")
    del full["id"]
    assert (await signoff.put("/api/v1/records/invoice/INV-1", full)).status_code == 200
    patched = await signoff.api.patch("/api/v1/records/invoice/INV-1", json={"memo": "only memo", "department": None})
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["amount"], body["currency"], body["customer"], body["memo"], body["department"], body["due_date"]) == (
        "70.50", "EUR", "C-ACME", "only memo", None, "2026-12-20")
    audit = (await signoff.api.get("/api/v1/records/invoice/INV-1/audit")).json()["events"]
    assert set(audit[-1]["detail"]["changes"]) == {"memo", "department"}
    for changes, path in (({"amount": "1.001"}, "amount"), ({"colour": "red"}, "colour"), ({"id": "X"}, "id"),
                          ({"balance": "80.00"}, "balance"), ({"currency": "JPY"}, "amount")):
        refused = await signoff.api.patch("/api/v1/records/invoice/INV-1", json=changes)
        assert refused.status_code == 422 and path in [d["path"] for d in refused.json()["error"]["details"]], (
            changes, refused.text)
    assert (await record(signoff, "INV-1") or {})["memo"] == "only memo"
    missing = await signoff.api.patch("/api/v1/records/invoice/INV-404", json={"memo": "x"})
    assert missing.status_code == 404
    assert (await signoff.api.patch("/api/v1/records/invoice/INV-1", json=["memo"])).status_code == 422


async def test_a_document_sent_back_as_get_returned_it_is_saved_and_its_read_only_keys_checked(
    signoff: Harness,
) -> None:
    full = row("INV-2", "70.50", memo="Q4")
    del full["id"]
    assert (await signoff.put("/api/v1/records/invoice/INV-2", full)).status_code == 200
    read = (await signoff.api.get("/api/v1/records/invoice/INV-2")).json()
    assert {"type", "id", "approval_status", "created_at", "approval", "reminded"} <= set(read)
    saved = await signoff.api.put("/api/v1/records/invoice/INV-2", json={**read, "memo": "Q4, revised"})
    assert saved.status_code == 200, saved.text
    assert (saved.json()["memo"], saved.json()["created_at"]) == ("Q4, revised", read["created_at"])
    patched = await signoff.api.patch("/api/v1/records/invoice/INV-2", json={**read, "memo": "Q4, patched"})
    assert patched.status_code == 200 and patched.json()["memo"] == "Q4, patched", patched.text
    for method in ("PUT", "PATCH"):
        for changes, path in (({"approval_status": "approved"}, "approval_status"), ({"type": "bill"}, "type"),
                              ({"id": "INV-3"}, "id"), ({"approval_status": None}, "approval_status"),
                              ({"type": None}, "type"), ({"id": None}, "id")):
            refused = await signoff.api.request(method, "/api/v1/records/invoice/INV-2", json={**read, **changes})
            assert refused.status_code == 422 and [d["path"] for d in refused.json()["error"]["details"]] == [path], (
                changes, refused.text)
    new = await signoff.api.put("/api/v1/records/invoice/INV-3", json={**full, "approval_status": "none"})
    assert new.status_code == 422 and "new" in new.text
    assert (await record(signoff, "INV-2") or {})["memo"] == "Q4, patched" and await record(signoff, "INV-3") is None


async def test_documents_imported_as_get_returned_them_are_saved_and_their_read_only_keys_checked(
    signoff: Harness,
) -> None:
    await signoff.post("/api/v1/imports/invoice", {"records": [row("INV-1"), row("INV-2", memo="Q4")]})
    listed = [await record(signoff, f"INV-{n}") or {} for n in (1, 2)]
    assert {"type", "id", "approval_status", "created_at", "approval", "reminded"} <= set(listed[0])
    again = await signoff.post("/api/v1/imports/invoice", {"records": [{**listed[0], "memo": "new"}, listed[1]]})
    assert again.status_code == 200, again.text
    assert (again.json()["updated"], again.json()["unchanged"]) == (1, 1)
    assert (await record(signoff, "INV-1") or {})["created_at"] == listed[0]["created_at"]
    for changes, path in (({"approval_status": "approved"}, "approval_status"), ({"type": "bill"}, "type"),
                          ({"type": None}, "type"), ({"approval_status": None}, "approval_status")):
        rows = [{**listed[0], "memo": "refused"}, {**listed[1], **changes}]
        refused = await signoff.post("/api/v1/imports/invoice", {"records": rows})
        assert refused.status_code == 422, (changes, refused.text)
        assert [d["path"] for d in refused.json()["error"]["details"]] == [f"records.1.{path}"], refused.text
    new = await signoff.post("/api/v1/imports/invoice", {"records": [{**listed[0], "id": "INV-9"}]})
    assert new.status_code == 422 and "new" in new.text
    assert (await record(signoff, "INV-1") or {})["memo"] == "new" and await record(signoff, "INV-9") is None


async def test_the_audit_trail_of_a_document_that_never_existed_is_not_found(signoff: Harness) -> None:
    assert (await signoff.api.get("/api/v1/records/invoice/NOPE-1/audit")).status_code == 404
    assert (await signoff.post("/api/v1/imports/invoice", {"records": [row("INV-1")]})).status_code == 200
    assert (await signoff.api.get("/api/v1/records/invoice/INV-1/audit")).json()["events"][0]["action"] == "created"


async def test_a_document_that_changed_after_the_import_was_checked_stops_it_at_its_chunk(
    signoff: Harness, monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def checked_long_ago(*_: Any) -> None:  # as if the document changed right after the check
        return None

    monkeypatch.setattr(signoff.runtime.service.records, "check_import", checked_long_ago)
    rows = [row(f"INV-{n}") for n in range(IMPORT_CHUNK + 10)]
    rows[IMPORT_CHUNK + 5]["approval_status"] = "approved"
    response = await signoff.post("/api/v1/imports/invoice", {"records": rows})
    assert response.status_code == 422, response.text
    assert f"the rows before records.{IMPORT_CHUNK} are saved" in response.json()["error"]["message"]
    assert [d["path"] for d in response.json()["error"]["details"]] == [f"records.{IMPORT_CHUNK + 5}.approval_status"]
    assert await record(signoff, f"INV-{IMPORT_CHUNK - 1}") is not None
    assert await record(signoff, f"INV-{IMPORT_CHUNK}") is None
