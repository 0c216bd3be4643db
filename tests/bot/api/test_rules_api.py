"""Rules through the REST API: validation, publish/unpublish on not-yet-approved documents, saves, YAML."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.core.rules import apply_rules_yaml, rules_to_yaml
from bot.errors import Unprocessable
from engine.records import ApprovalStatus, Record
from tests.support.harness import Harness

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
RULE: dict[str, Any] = {
    "name": "Air France is travel",
    "conditions": [{"field": "vendor", "op": "eq", "value": "V-AIR"}],
    "results": {"category": "Travel", "fields.vat": "FR20"},
}
OPEN = ("none", "approval_required", "pending", "rejected")
CLOSED = ("approved", "expired")


def bill(record_id: str, status: str = "none", **changes: Any) -> Record:
    data: dict[str, Any] = {"type": "bill", "id": record_id, "amount": "120.00", "currency": "EUR",
                            "vendor": "V-AIR", "created_by": "U0REQ", "approval_status": status,
                            "created_at": NOW, "updated_at": NOW}
    data.update(changes)
    return Record.model_validate(data)


async def seed(signoff: Harness, *records: Record) -> None:
    async with signoff.db.unit_of_work() as repo:
        for item in records:
            await repo.save_record(item)


async def snapshot(signoff: Harness) -> dict[str, dict[str, Any]]:
    records = (await signoff.api.get("/api/v1/records", params={"type": "bill"})).json()["records"]
    return {r["id"]: {k: v for k, v in r.items() if k != "updated_at"} for r in records}


async def prefills(signoff: Harness, record_id: str) -> dict[str, dict[str, Any]]:
    body = (await signoff.api.get(f"/api/v1/records/bill/{record_id}/prefills")).json()
    return {p["field"]: p for p in body["prefills"]}


async def create(signoff: Harness, data: dict[str, Any] = RULE) -> dict[str, Any]:
    response = await signoff.post("/api/v1/rules", data)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_publish_touches_only_not_yet_approved_matching_documents_and_unpublish_restores_them(
    signoff: Harness,
) -> None:
    await seed(signoff, *(bill(f"B-{s}", s) for s in OPEN + CLOSED),
               bill("B-person", category="Meals", fields={"vat": None}), bill("B-other", vendor="V-RAIL"),
               bill("B-class", **{"class": "Ops"}, fields={"po": "PO-1"}))
    rule = await create(signoff)
    before = await snapshot(signoff)

    published = await signoff.post(f"/api/v1/rules/{rule['id']}/publish", None)
    assert published.status_code == 200 and published.json()["status"] == "published"
    assert published.json()["records_changed"] == 6
    after = await snapshot(signoff)
    for status in OPEN:
        assert after[f"B-{status}"]["category"] == "Travel" and after[f"B-{status}"]["fields"] == {"vat": "FR20"}
    assert after["B-class"]["fields"] == {"po": "PO-1", "vat": "FR20"} and after["B-class"]["class"] == "Ops"
    for untouched in (*(f"B-{s}" for s in CLOSED), "B-other"):
        assert after[untouched] == before[untouched]
    assert after["B-person"]["category"] == "Meals" and after["B-person"]["fields"] == {"vat": "FR20"}
    suggestion = (await prefills(signoff, "B-person"))["category"]
    assert suggestion["is_suggestion"] and suggestion["value"] == "Travel" and suggestion["previous"] == "Meals"

    unpublished = await signoff.post(f"/api/v1/rules/{rule['id']}/unpublish", None)
    assert unpublished.status_code == 200 and unpublished.json()["records_changed"] == 6
    assert await snapshot(signoff) == before
    for record_id in before:
        assert await prefills(signoff, record_id) == {}
    audit = (await signoff.api.get("/api/v1/records/bill/B-none/audit")).json()["events"]
    assert [e["action"] for e in audit] == ["prefilled", "prefill_removed"]
    assert audit[0]["detail"]["fields"]["category"] == {"from": None, "to": "Travel"}


async def test_saved_documents_get_prefills_and_a_persons_value_stays(signoff: Harness) -> None:
    await create(signoff, {**RULE, "status": "published"})
    body = {"amount": "80", "currency": "EUR", "vendor": "V-AIR", "created_by": "U0REQ"}
    created = (await signoff.put("/api/v1/records/bill/B-1", body)).json()
    assert created["category"] == "Travel" and created["fields"] == {"vat": "FR20"}
    echoed = (await signoff.put("/api/v1/records/bill/B-1", {**body, "category": "Travel"})).json()
    assert echoed["category"] == "Travel" and not (await prefills(signoff, "B-1"))["category"]["is_suggestion"]
    edited = (await signoff.put("/api/v1/records/bill/B-1", {**body, "category": "Meals"})).json()
    assert edited["category"] == "Meals" and (await prefills(signoff, "B-1"))["category"]["is_suggestion"]
    elsewhere = (await signoff.put("/api/v1/records/bill/B-2", {**body, "vendor": "V-RAIL"})).json()
    assert elsewhere["category"] is None and await prefills(signoff, "B-2") == {}


async def test_an_approved_document_sent_again_without_its_coding_keeps_what_rules_filled(signoff: Harness) -> None:
    await create(signoff, {**RULE, "status": "published"})
    body = {"amount": "80", "currency": "EUR", "vendor": "V-AIR", "created_by": "U0REQ", "source": "app"}
    assert (await signoff.put("/api/v1/records/bill/B-1", body)).json()["category"] == "Travel"
    async with signoff.db.unit_of_work() as repo:
        stored = await repo.get_record("bill", "B-1")
        assert stored is not None
        await repo.save_record(stored.model_copy(update={"approval_status": ApprovalStatus.APPROVED}))
    resent = (await signoff.put("/api/v1/records/bill/B-1", {**body, "memo": "ERP sync"})).json()
    assert (resent["category"], resent["fields"], resent["memo"]) == ("Travel", {"vat": "FR20"}, "ERP sync")
    recoded = (await signoff.put("/api/v1/records/bill/B-1", {**body, "category": "Meals"})).json()
    assert recoded["category"] == "Meals" and recoded["approval_status"] == "approved"
    assert (await prefills(signoff, "B-1"))["category"]["value"] == "Travel"


async def test_editing_and_deleting_a_published_rule_follow_through(signoff: Harness) -> None:
    await seed(signoff, bill("B-1"))
    rule = await create(signoff, {**RULE, "status": "published"})
    changed = await signoff.put(f"/api/v1/rules/{rule['id']}", {**RULE, "status": "published",
                                                                     "results": {"department": "Travel desk"}})
    assert changed.status_code == 200 and changed.json()["records_changed"] == 1
    item = (await signoff.api.get("/api/v1/records/bill/B-1")).json()
    assert (item["category"], item["fields"], item["department"]) == (None, {}, "Travel desk")
    assert (await signoff.api.delete(f"/api/v1/rules/{rule['id']}")).status_code == 204
    assert (await signoff.api.get("/api/v1/records/bill/B-1")).json()["department"] is None
    assert (await signoff.api.get(f"/api/v1/rules/{rule['id']}")).status_code == 404


async def test_competing_values_are_kept_with_the_prefill(signoff: Harness) -> None:
    await seed(signoff, bill("B-1"))
    first = await create(signoff, {**RULE, "status": "published"})
    await signoff.post("/api/v1/clock", {"advance": "PT1M"})
    rail = {**RULE, "name": "Rail vendors", "status": "published", "results": {"category": "Rail"},
            "conditions": [{"field": "vendor", "op": "in", "value": ["V-AIR", "V-SNCF"]}]}
    second = await create(signoff, rail)
    found = (await prefills(signoff, "B-1"))["category"]
    assert (found["value"], found["rule_id"]) == ("Rail", second["id"])
    assert found["competing"] == [{"value": "Travel", "rule_id": first["id"]}]


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"conditions": [{"field": "colour", "op": "eq", "value": "red"}]}, "conditions[0].field"),
        ({"conditions": [{"field": "amount", "op": "gt", "value": "lots"}]}, "conditions[0].value"),
        ({"results": {"amount": "1"}}, "results.amount"),
        ({"results": {}}, "results"),
        ({"results": {"category": "Travel\n"}}, "results.category"),
        ({"status": "live"}, "status"),
    ],
)
async def test_invalid_rules_are_422_with_the_path_and_change_nothing(
    signoff: Harness, changes: dict[str, Any], path: str
) -> None:
    response = await signoff.post("/api/v1/rules", {**RULE, **changes})
    assert response.status_code == 422 and path in [d["path"] for d in response.json()["error"]["details"]]
    assert (await signoff.api.get("/api/v1/rules")).json() == {"rules": []}


async def test_rule_errors_use_the_json_envelope(signoff: Harness) -> None:
    rule = await create(signoff)
    duplicate = await signoff.post("/api/v1/rules", RULE)
    assert duplicate.status_code == 409 and duplicate.json()["error"]["code"] == "conflict"
    missing = await signoff.post("/api/v1/rules/nope/publish", None)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    bad_edit = await signoff.put(f"/api/v1/rules/{rule['id']}", {**RULE, "results": {"memo": "x"}})
    assert bad_edit.status_code == 422
    stored = (await signoff.api.get(f"/api/v1/rules/{rule['id']}")).json()
    assert stored == {k: v for k, v in rule.items() if k != "records_changed"}


async def test_yaml_export_and_apply_round_trip(signoff: Harness) -> None:
    service = signoff.runtime.service.rules
    await seed(signoff, bill("B-1"))
    await create(signoff)
    text = rules_to_yaml(await service.list_rules())
    assert "Air France is travel" in text and "status: draft" in text
    published = text.replace("status: draft", "status: published")
    results = await apply_rules_yaml(service, published)
    assert [r.records_changed for r in results] == [1] and len(await service.list_rules()) == 1
    bad = published + "- name: Broken\n  conditions: [{field: amount, op: gt, value: '1'}]\n  results: {amount: '1'}\n"
    with pytest.raises(Unprocessable) as caught:
        await apply_rules_yaml(service, bad)
    assert "rules[1].results.amount" in [d["path"] for d in caught.value.details]
    assert len(await service.list_rules()) == 1
    with pytest.raises(Unprocessable):
        await apply_rules_yaml(service, "rules: [unclosed")


async def test_a_rule_sent_back_as_get_returned_it_is_saved_and_its_id_checked(signoff: Harness) -> None:
    rule = await create(signoff, RULE)
    read = (await signoff.api.get(f"/api/v1/rules/{rule['id']}")).json()
    saved = await signoff.api.put(f"/api/v1/rules/{rule['id']}", json={**read, "description": "Flights"})
    assert saved.status_code == 200, saved.text
    assert "records_changed" in saved.json()
    assert (await signoff.api.put(f"/api/v1/rules/{rule['id']}", json=saved.json())).status_code == 200
    refused = await signoff.api.put(f"/api/v1/rules/{rule['id']}", json={**read, "id": "rule_other"})
    assert refused.status_code == 422 and [d["path"] for d in refused.json()["error"]["details"]] == ["id"]
    assert (await signoff.api.get(f"/api/v1/rules/{rule['id']}")).json()["description"] == "Flights"
