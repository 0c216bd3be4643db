"""Groups through the REST API: automatic membership, manual changes, deletion rules, use in workflows, e-mail."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from bot.core.tokens import create_token
from bot.sandbox.state.model import BOT_USER_ID
from engine.records import ApprovalStatus
from tests.support.harness import Harness, running_signoff
from tests.support.smtp import Inbox

CA_MID: dict[str, Any] = {
    "name": "ca-mid",
    "kind": "customer",
    "filters": [
        {"field": "active", "op": "eq", "value": True},
        {"field": "state", "op": "eq", "value": "CA"},
        {"field": "balance", "op": "between", "value": ["100", "1000"]},
    ],
}


async def token_headers(signoff: Harness, name: str, role: str) -> dict[str, str]:
    token = await create_token(signoff.db, name, role, datetime.now(UTC))
    return {"Authorization": f"Bearer {token}"}


async def put_customer(signoff: Harness, cid: str, **fields: Any) -> None:
    body = {"name": cid, "state": "CA", "balance": "500", "email": f"{cid.lower()}@example.com", **fields}
    assert (await signoff.put(f"/api/v1/contacts/customer/{cid}", body)).status_code == 200


async def members(signoff: Harness, group: str) -> list[str]:
    return list((await signoff.api.get(f"/api/v1/groups/{group}/members")).json()["members"])


async def create_group(signoff: Harness, data: dict[str, Any] = CA_MID) -> dict[str, Any]:
    response = await signoff.post("/api/v1/groups", data)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_membership_follows_contact_changes(signoff: Harness) -> None:
    await put_customer(signoff, "C1")
    await put_customer(signoff, "C2", state="NY")
    group = await create_group(signoff)
    assert group["members"] == ["C1"] and group["auto"] == ["C1"]
    await put_customer(signoff, "C2")
    await put_customer(signoff, "C3", balance="50")
    assert await members(signoff, group["id"]) == ["C1", "C2"]
    await put_customer(signoff, "C1", active=False)
    assert await members(signoff, "ca-mid") == ["C2"]


async def test_a_manual_removal_survives_automatic_updates(signoff: Harness) -> None:
    await put_customer(signoff, "C1")
    await put_customer(signoff, "C2")
    group = await create_group(signoff)
    changed = await signoff.post(f"/api/v1/groups/{group['id']}/members", {"remove": ["C1"], "add": ["C2"]})
    assert changed.status_code == 200 and changed.json()["members"] == ["C2"]
    await put_customer(signoff, "C1", balance="600")
    await put_customer(signoff, "C2", state="NY")
    body = (await signoff.api.get(f"/api/v1/groups/{group['id']}/members")).json()
    assert body == {"members": ["C2"], "auto": ["C1"], "added": ["C2"], "removed": ["C1"]}


async def test_removing_someone_unknown_is_422_and_changes_nothing(signoff: Harness) -> None:
    await put_customer(signoff, "C1")
    group = await create_group(signoff)
    url = f"/api/v1/groups/{group['id']}/members"
    typo = await signoff.post(url, {"remove": ["C-NEVER-EXISTED"]})
    assert typo.status_code == 422 and typo.json()["error"]["details"][0]["path"] == "remove[0]"
    assert (await signoff.api.get(url)).json()["removed"] == []
    assert (await signoff.post(url, {"remove": ["C1"]})).status_code == 200
    assert (await signoff.post(url, {"remove": ["C1"]})).status_code == 200  # again: already removed, still fine
    leads = await create_group(signoff, {"name": "leads", "kind": "people", "members": ["U01BBB"]})
    stranger = await signoff.post(f"/api/v1/groups/{leads['id']}/members", {"remove": ["U01ZZZ"]})
    assert stranger.status_code == 422 and (await members(signoff, "leads")) == ["U01BBB"]


async def test_a_group_without_automatic_updates_keeps_its_members_until_its_filters_change(signoff: Harness) -> None:
    await put_customer(signoff, "C1")
    group = await create_group(signoff, {**CA_MID, "auto_update": False})
    await put_customer(signoff, "C2")
    await put_customer(signoff, "C1", state="NY")
    assert await members(signoff, group["id"]) == ["C1"]
    wider = {**CA_MID, "auto_update": False, "filters": [{"field": "balance", "op": "gte", "value": "100"}]}
    updated = await signoff.put(f"/api/v1/groups/{group['id']}", wider)
    assert updated.status_code == 200 and updated.json()["members"] == ["C1", "C2"]


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({**CA_MID, "filters": [{"field": "colour", "op": "eq", "value": "red"}]}, "filters[0].field"),
        ({**CA_MID, "filters": [{"field": "balance", "op": "gt", "value": "lots"}]}, "filters[0].value"),
        ({**CA_MID, "name": "no spaces allowed"}, "name"),
        ({"name": "leads", "kind": "people", "members": ["alice"]}, "members[0]"),
        ({**CA_MID, "members": ["C-NOBODY"]}, "members[0]"),
    ],
)
async def test_invalid_groups_are_422_with_the_path_and_change_nothing(
    signoff: Harness, data: dict[str, Any], path: str
) -> None:
    response = await signoff.post("/api/v1/groups", data)
    assert response.status_code == 422 and path in [d["path"] for d in response.json()["error"]["details"]]
    assert (await signoff.api.get("/api/v1/groups")).json() == {"groups": []}


def approval_by(approvers: list[str], **changes: Any) -> dict[str, Any]:
    return {"name": "Leads approve", "record_type": "invoice", "trigger": "created",
            "actions": [{"type": "approval", "steps": [{"approvers": approvers}]}], **changes}


async def test_deleting_a_group_in_use_is_409_and_by_a_non_admin_token_403(signoff: Harness) -> None:
    group = await create_group(signoff, {"name": "finance-leads", "kind": "people", "members": ["U01AAA"]})
    workflow = (await signoff.post("/api/v1/workflows", approval_by(["group:finance-leads"]))).json()

    integration = await token_headers(signoff, "erp", "integration")
    refused = await signoff.api.delete(f"/api/v1/groups/{group['id']}", headers=integration)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    claimed = await signoff.api.delete(f"/api/v1/groups/{group['id']}",
                                       headers={**integration, "X-Signoff-User": "U0ADMIN"})
    assert claimed.status_code == 403
    admin = await token_headers(signoff, "ops", "admin")
    in_use = await signoff.api.delete(f"/api/v1/groups/{group['id']}", headers=admin)
    assert in_use.status_code == 409 and "Leads approve" in in_use.json()["error"]["message"]
    assert in_use.json()["error"]["details"] == [{"path": f"workflows.{workflow['id']}",
                                                  "message": "used by workflow 'Leads approve'", "code": "used_by",
                                                  "params": {"kind": "workflow", "value": "Leads approve"}}]
    renamed = await signoff.put(f"/api/v1/groups/{group['id']}", {"name": "leads", "kind": "people"})
    assert renamed.status_code == 409
    assert (await signoff.api.get(f"/api/v1/groups/{group['id']}")).json() == group

    assert (await signoff.api.delete(f"/api/v1/workflows/{workflow['id']}")).status_code == 204
    deleted = await signoff.api.delete(f"/api/v1/groups/{group['id']}")
    assert deleted.status_code == 204
    async with signoff.db.read() as repo:
        trail = await repo.audit_trail("group", group["id"])
    assert trail[-1].action == "group_deleted" and trail[-1].actor == "token:env"
    assert (await signoff.api.get(f"/api/v1/groups/{group['id']}")).status_code == 404


async def test_a_group_used_by_a_rule_cannot_be_deleted(signoff: Harness) -> None:
    group = await create_group(signoff)
    rule = {"name": "CA mid is retail", "conditions": [{"field": "customer", "op": "in_group", "value": "ca-mid"}],
            "results": {"class": "Retail"}}
    assert (await signoff.post("/api/v1/rules", rule)).status_code == 201
    in_use = await signoff.api.delete(f"/api/v1/groups/{group['id']}")
    assert in_use.status_code == 409 and "CA mid is retail" in in_use.json()["error"]["message"]


@pytest.mark.parametrize(("path", "field", "value", "message"), [
    ("/api/v1/rules", "customer", "no-such-group", "no group 'no-such-group'"),
    ("/api/v1/rules", "vendor", "ca-mid", "'ca-mid' is a customer group, not a vendor one"),
    ("/api/v1/rules", "customer", "leads", "'leads' is a people group, not a customer one"),
    ("/api/v1/workflows", "customer", "nope-group", "no group 'nope-group'"),
    ("/api/v1/workflows", "vendor", "ca-mid", "'ca-mid' is a customer group, not a vendor one"),
])
async def test_a_condition_on_a_group_that_is_not_there_or_not_of_its_kind_is_422(
    signoff: Harness, path: str, field: str, value: str, message: str,
) -> None:
    await create_group(signoff)
    await create_group(signoff, {"name": "leads", "kind": "people", "members": ["U01BBB"]})
    condition = [{"field": field, "op": "in_group", "value": value}]
    body = ({"name": "In group", "conditions": condition, "results": {"class": "Retail"}} if "rules" in path
            else {"name": "In group", "record_type": "invoice", "conditions": condition,
                  "actions": [{"type": "notification", "channel": "#finance", "message": "{{ record.id }}"}]})
    refused = await signoff.post(path, body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["details"] == [{"path": "conditions[0].value", "message": message}]
    assert "In group" not in [item["name"] for item in (await signoff.api.get(path)).json()[path.rsplit("/", 1)[1]]]


async def test_people_groups_approve_and_contact_groups_select_workflows(signoff: Harness) -> None:
    await create_group(signoff, {"name": "finance-leads", "kind": "people", "members": ["U01BBB", "U01CCC"]})
    await put_customer(signoff, "C1")
    await create_group(signoff)
    condition = [{"field": "customer", "op": "in_group", "value": "ca-mid"}]
    assert (await signoff.post("/api/v1/workflows", approval_by(["group:finance-leads"], conditions=condition))
            ).status_code == 201
    invoice = {"amount": "10", "currency": "USD", "created_by": "U0REQ", "source": "app"}
    inside = await signoff.put("/api/v1/records/invoice/INV-IN", {**invoice, "customer": "C1"})
    outside = await signoff.put("/api/v1/records/invoice/INV-OUT", {**invoice, "customer": "C9"})
    assert inside.json()["approval_status"] == "pending" and outside.json()["approval_status"] == "none"
    for leader in ("U01BBB", "U01CCC"):
        await signoff.wait_for(lambda leader=leader: signoff.dm(leader))


async def test_emailing_a_group_reaches_members_with_an_address(tmp_path: Path, smtp: Inbox) -> None:
    async with running_signoff(tmp_path / "g.db", smtp_url=smtp.url) as signoff:
        await put_customer(signoff, "C1")
        await put_customer(signoff, "C2", email=None)
        group = await create_group(signoff)
        await signoff.post(f"/api/v1/groups/{group['id']}/members", {"add": ["C2"]})
        bad = await signoff.post(f"/api/v1/groups/{group['id']}/email", {"subject": "", "message": "{{ oops"})
        assert bad.status_code == 422 and {d["path"] for d in bad.json()["error"]["details"]} == {"subject"}
        for path, texts, problem in (
                ("subject", {"subject": "{{ contact.__class__ }}", "message": "y"}, "renders to nothing"),
                ("message", {"subject": "ok", "message": "{{ x.y.z }}"}, "unknown name 'x'"),
                ("message", {"subject": "ok", "message": "{{ contact.email if contact.id == 'X' }}"},
                 "renders to nothing")):
            blank = await signoff.post(f"/api/v1/groups/{group['id']}/email", texts)
            assert blank.status_code == 422 and blank.json()["error"]["details"][0]["path"] == path, texts
            assert blank.json()["error"]["details"][0]["message"].startswith(problem)
        for texts, problem in (({"subject": "Hi", "message": "Dear {{ contct.name }},"}, "unknown name 'contct'"),
                               ({"subject": "Hi", "message": "Owed: {{ contact.balanse }}"},
                                "unknown field 'balanse'")):
            misspelt = await signoff.post(f"/api/v1/groups/{group['id']}/email", texts)
            assert misspelt.status_code == 422 and problem in misspelt.json()["error"]["details"][0]["message"]
        assert (await signoff.api.put("/api/v1/company", json={"name": "Acme Books"})).status_code == 200
        sent = await signoff.post(f"/api/v1/groups/{group['id']}/email",
                                  {"subject": "Hello {{ contact.name }}", "message": "Dear {{ contact.name }},"})
        assert sent.status_code == 202 and sent.json() == {"queued": 1, "skipped": ["C2"], "recipients": ["C1", "C2"]}
        for _ in range(200):
            if smtp.messages:
                break
            await asyncio.sleep(0.02)
        message = smtp.parsed()[0]
        assert len(smtp.messages) == 1  # none of the refused ones went
        assert message["To"] == "c1@example.com" and message["Subject"] == "Hello C1"
        assert message["From"].startswith("Acme Books <") and message["Date"]
        assert "Dear C1," in message.get_payload(decode=True).decode()


async def test_emailing_needs_smtp_and_a_contact_group(signoff: Harness) -> None:
    group = await create_group(signoff)
    off = await signoff.post(f"/api/v1/groups/{group['id']}/email", {"subject": "Hi", "message": "Hello"})
    assert off.status_code == 409 and "SIGNOFF_SMTP_URL" in off.json()["error"]["message"]


async def received(smtp: Inbox, count: int) -> list[str]:
    for _ in range(250):
        if len(smtp.messages) >= count:
            break
        await asyncio.sleep(0.02)
    return sorted(str(m["To"]) for m in smtp.parsed())


async def test_emailing_a_group_can_pick_recipients_among_its_members(tmp_path: Path, smtp: Inbox) -> None:
    async with running_signoff(tmp_path / "pick.db", smtp_url=smtp.url) as signoff:
        for cid in ("C1", "C2", "C3"):
            await put_customer(signoff, cid)
        await put_customer(signoff, "C9", state="NY")
        group = await create_group(signoff)
        url = f"/api/v1/groups/{group['id']}/email"
        text = {"subject": "Hello {{ contact.name }}", "message": "Dear {{ contact.name }},"}
        stranger = await signoff.post(url, {**text, "to": ["C1", "C9"]})
        assert stranger.status_code == 422 and stranger.json()["error"]["details"][0]["path"] == "to[1]"
        for bad in ([], "C1", [""], [1], None):
            assert (await signoff.post(url, {**text, "to": bad})).status_code == 422
        for key in ("To", "copy_sender"):  # a misspelt key would otherwise e-mail every member
            misspelt = await signoff.post(url, {**text, key: ["C1"]})
            assert misspelt.status_code == 422 and misspelt.json()["error"]["details"][0]["path"] == key
        assert await received(smtp, 1) == []
        sent = await signoff.post(url, {**text, "to": ["C3", "C1", "C3"]})
        assert sent.status_code == 202 and sent.json() == {"queued": 2, "skipped": [], "recipients": ["C3", "C1"]}
        assert await received(smtp, 2) == ["c1@example.com", "c3@example.com"]


async def test_only_admin_tokens_create_change_delete_or_email_groups_and_rules(signoff: Harness) -> None:
    await put_customer(signoff, "C1")
    group = await create_group(signoff)
    rule = {"name": "Consulting", "conditions": [{"field": "vendor", "op": "eq", "value": "V1"}],
            "results": {"category": "Consulting"}}
    for role in ("integration", "read"):
        headers = await token_headers(signoff, f"{role}-bot", role)
        gid = group["id"]
        for method, path, body in (("POST", "/api/v1/groups", {**CA_MID, "name": "other"}),
                                   ("PUT", f"/api/v1/groups/{gid}", CA_MID), ("DELETE", f"/api/v1/groups/{gid}", None),
                                   ("POST", f"/api/v1/groups/{gid}/members", {"add": ["C1"]}),
                                   ("POST", f"/api/v1/groups/{gid}/email", {"subject": "s", "message": "m"}),
                                   ("POST", "/api/v1/rules", rule)):
            response = await signoff.api.request(method, path, json=body, headers=headers)
            assert response.status_code == 403, (role, method, path, response.text)
    assert [g["name"] for g in (await signoff.api.get("/api/v1/groups")).json()["groups"]] == ["ca-mid"]
    assert (await signoff.api.get("/api/v1/rules")).json()["rules"] == []


async def location_of(signoff: Harness, invoice_id: str) -> str | None:
    return (await signoff.api.get(f"/api/v1/records/invoice/{invoice_id}")).json().get("location")


async def test_pre_fills_follow_the_groups_and_contacts_their_rules_read(signoff: Harness) -> None:
    for cid in ("C-CA", "C-NY", "C-NEW"):
        await put_customer(signoff, cid, state="NY" if cid != "C-CA" else "CA")
    group = await create_group(signoff)
    url = f"/api/v1/groups/{group['id']}/members"
    assert (await signoff.post(url, {"add": ["C-NY"]})).status_code == 200
    west = {"name": "west", "status": "published", "results": {"location": "WEST"},
            "conditions": [{"field": "customer", "op": "in_group", "value": "ca-mid"}]}
    assert (await signoff.post("/api/v1/rules", west)).status_code == 201
    for invoice, cid in (("INV-CA", "C-CA"), ("INV-NY", "C-NY"), ("INV-NEW", "C-NEW")):
        await signoff.put(f"/api/v1/records/invoice/{invoice}", {"amount": "10", "customer": cid})
    assert [await location_of(signoff, i) for i in ("INV-CA", "INV-NY", "INV-NEW")] == ["WEST", "WEST", None]

    assert (await signoff.post(url, {"remove": ["C-NY"], "add": ["C-NEW"]})).status_code == 200
    assert [await location_of(signoff, i) for i in ("INV-NY", "INV-NEW")] == [None, "WEST"]
    await put_customer(signoff, "C-CA", state="TX")  # leaves the group by its filter
    assert await location_of(signoff, "INV-CA") is None
    await put_customer(signoff, "C-CA", state="CA")
    assert await location_of(signoff, "INV-CA") == "WEST"
    narrower = {**CA_MID, "filters": [*CA_MID["filters"], {"field": "balance", "op": "gt", "value": "900"}]}
    assert (await signoff.put(f"/api/v1/groups/{group['id']}", narrower)).status_code == 200
    assert await location_of(signoff, "INV-CA") is None
    audit = (await signoff.api.get("/api/v1/records/invoice/INV-CA/audit")).json()["events"]
    assert [e["action"] for e in audit].count("prefilled") == 4


async def test_a_persons_value_and_approved_documents_stay_when_a_contact_changes(signoff: Harness) -> None:
    await signoff.put("/api/v1/contacts/vendor/V-1", {"name": "V-1", "state": "CA"})
    by_state = {"name": "ca dept", "status": "published", "results": {"department": "CA-DEPT"},
                "conditions": [{"field": "vendor.state", "op": "eq", "value": "CA"}]}
    assert (await signoff.post("/api/v1/rules", by_state)).status_code == 201
    await signoff.put("/api/v1/records/bill/N-1", {"amount": "10", "vendor": "V-1"})
    await signoff.put("/api/v1/records/bill/N-2", {"amount": "10", "vendor": "V-1", "department": "Ops"})
    async with signoff.db.unit_of_work() as repo:
        approved = await repo.get_record("bill", "N-2")
        assert approved is not None
        await repo.save_record(approved.model_copy(update={"id": "N-3", "department": "CA-DEPT",
                                                           "approval_status": ApprovalStatus.APPROVED}))
    await signoff.put("/api/v1/contacts/vendor/V-1", {"name": "V-1", "state": "NV"})
    departments = [(await signoff.api.get(f"/api/v1/records/bill/{b}")).json().get("department")
                   for b in ("N-1", "N-2", "N-3")]
    assert departments == [None, "Ops", "CA-DEPT"]


async def test_a_contact_reads_back_with_the_groups_it_is_in(signoff: Harness) -> None:
    await put_customer(signoff, "C1")
    await create_group(signoff)
    shown = await signoff.api.get("/api/v1/contacts/customer/C1")
    assert shown.status_code == 200
    assert (shown.json()["name"], shown.json()["balance"], shown.json()["groups"]) == ("C1", "500", ["ca-mid"])
    await put_customer(signoff, "C1", balance="5")
    assert (await signoff.api.get("/api/v1/contacts/customer/C1")).json()["groups"] == []
    assert (await signoff.api.get("/api/v1/contacts/vendor/C1")).status_code == 404
    assert (await signoff.api.get("/api/v1/contacts/customer/NOPE")).json()["error"]["code"] == "not_found"


async def test_a_group_or_a_contact_sent_back_as_get_returned_it_is_saved_and_its_read_only_keys_checked(
    signoff: Harness,
) -> None:
    await put_customer(signoff, "C1")
    await put_customer(signoff, "C2", state="NY")
    group = await create_group(signoff)
    await signoff.post(f"/api/v1/groups/{group['id']}/members", {"add": ["C2"]})
    read = (await signoff.api.get(f"/api/v1/groups/{group['id']}")).json()
    assert (read["members"], read["added"]) == (["C1", "C2"], ["C2"])
    saved = await signoff.api.put(f"/api/v1/groups/{group['id']}", json={**read, "description": "Mid-size CA",
                                                                         "members": ["C2", "C1"]})
    assert saved.status_code == 200 and saved.json()["description"] == "Mid-size CA", saved.text
    for changes, path in (({"id": "g-other"}, "id"), ({"added": []}, "added"), ({"removed": ["C1"]}, "removed"),
                          ({"added": None}, "added")):
        refused = await signoff.api.put(f"/api/v1/groups/{group['id']}", json={**read, **changes})
        assert refused.status_code == 422, (changes, refused.text)
        assert [d["path"] for d in refused.json()["error"]["details"]] == [path], refused.text
    await put_customer(signoff, "C3")  # the automatic members moved since the group was read: they are derived
    stale = await signoff.api.put("/api/v1/groups/ca-mid", json={**read, "members": ["C1"], "auto": []})
    assert stale.status_code == 200 and stale.json()["members"] == ["C1", "C2", "C3"], stale.text
    contact = (await signoff.api.get("/api/v1/contacts/customer/C1")).json()
    assert contact["groups"] == ["ca-mid"]
    back = await signoff.api.put("/api/v1/contacts/customer/C1", json={**contact, "city": "Fresno", "groups": []})
    assert back.status_code == 200 and back.json()["city"] == "Fresno", back.text
    for changes, path in (({"kind": "vendor"}, "kind"), ({"id": "C9"}, "id"), ({"id": None}, "id")):
        refused = await signoff.api.put("/api/v1/contacts/customer/C1", json={**contact, **changes})
        assert refused.status_code == 422, (changes, refused.text)
        assert [d["path"] for d in refused.json()["error"]["details"]] == [path], refused.text
    assert (await signoff.api.get("/api/v1/contacts/customer/C1")).json()["city"] == "Fresno"


async def test_a_people_group_refuses_whom_slack_cannot_ask(signoff: Harness) -> None:
    ghosts = {"name": "ghosts", "kind": "people", "members": ["U01AAA", "U0NOBODY"]}
    refused = await signoff.post("/api/v1/groups", ghosts)
    assert refused.status_code == 422, refused.text
    assert [(d["path"], "not a user of this Slack workspace" in d["message"])
            for d in refused.json()["error"]["details"]] == [("members[1]", True)]
    made = await signoff.post("/api/v1/groups", {"name": "leads", "kind": "people", "members": ["U01AAA"]})
    assert made.status_code == 201, made.text
    bot = await signoff.post(f"/api/v1/groups/{made.json()['id']}/members", {"add": [BOT_USER_ID]})
    assert bot.status_code == 422 and "a bot" in bot.json()["error"]["details"][0]["message"], bot.text
    shown = (await signoff.api.get(f"/api/v1/groups/{made.json()['id']}")).json()
    assert shown["members"] == ["U01AAA"], "nothing changed"
