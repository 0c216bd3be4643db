"""Templates, default workflows, run history and save-time checks through the REST API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.core import channels
from engine.catalog import DEFAULT_SLUGS, catalog, default_workflow_id, find_template
from tests.support.harness import Harness, running_signoff

BASE: dict[str, Any] = {
    "name": "Checked", "record_type": "invoice",
    "actions": [{"type": "approval", "steps": [{"approvers": ["U01AAA"]}]},
                {"type": "notification", "channel": "#finance", "message": "ok {{ record.id }}"}],
}


async def workflow_ids(signoff: Harness) -> list[str]:
    return [w["id"] for w in (await signoff.api.get("/api/v1/workflows")).json()["workflows"]]


async def test_templates_are_listed_and_shown(signoff: Harness) -> None:
    listed = (await signoff.api.get("/api/v1/templates")).json()["templates"]
    assert len(listed) == len(catalog()) >= 25
    assert {"slug", "title", "description", "category", "record_type", "trigger", "is_default"} <= set(listed[0])
    approvals = (await signoff.api.get("/api/v1/templates", params={"category": "approval"})).json()["templates"]
    assert approvals and {t["category"] for t in approvals} == {"approval"}
    shown = (await signoff.api.get("/api/v1/templates/bill-payment-reminder")).json()
    assert shown["is_default"] and shown["definition"]["trigger"] == "scheduled"
    missing = await signoff.api.get("/api/v1/templates/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


async def test_create_from_template_with_overrides(signoff: Harness) -> None:
    created = await signoff.post("/api/v1/templates/invoice-approval/create",
                                 {"name": "Our invoices", "approvers": ["U01AAA", "U01BBB"], "status": "draft"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "Our invoices" and body["status"] == "draft"
    assert body["actions"][0]["steps"][0]["approvers"] == ["U01AAA", "U01BBB"]
    assert (await signoff.api.get(f"/api/v1/workflows/{body['id']}")).status_code == 200
    plain = await signoff.post("/api/v1/templates/new-vendor-bill-notification/create")
    assert plain.status_code == 201 and plain.json()["name"] == "New vendor bill"


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"colour": "red"}, "colour"),
        ({"approvers": ["not an approver"]}, "actions[0].steps[0].approvers"),
        ({"schedule": "0 25 * * *"}, "schedule"),
    ],
)
async def test_create_from_template_refuses_bad_overrides(signoff: Harness, body: dict[str, Any], path: str) -> None:
    before = await workflow_ids(signoff)
    slug = "bill-payment-reminder" if "schedule" in body else "invoice-approval"
    response = await signoff.post(f"/api/v1/templates/{slug}/create", body)
    assert response.status_code == 422 and response.json()["error"]["details"][0]["path"] == path
    assert await workflow_ids(signoff) == before


async def test_new_database_starts_with_the_two_defaults_once(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    async with running_signoff(path) as first:
        workflows = (await first.api.get("/api/v1/workflows")).json()["workflows"]
        assert [w["id"] for w in workflows] == [default_workflow_id(s) for s in DEFAULT_SLUGS]
        assert all(w["enabled"] and w["status"] == "published" for w in workflows)
        for slug, stored in zip(DEFAULT_SLUGS, workflows, strict=True):
            template = find_template(slug)
            assert template is not None
            stored_definition = {k: v for k, v in stored.items() if k not in ("id", "created_at", "updated_at")}
            assert stored_definition == template.definition.model_dump(mode="json")
        assert (await first.api.delete(f"/api/v1/workflows/{workflows[0]['id']}")).status_code == 204
    async with running_signoff(path) as second:
        assert await workflow_ids(second) == [default_workflow_id(DEFAULT_SLUGS[1])]


INVALID = [
    # a broken template: the path, the line and the reason
    ({"actions": [BASE["actions"][0], {**BASE["actions"][1], "message": "ok\n{{ record.id "}]},
     "actions[1].message", "line 2"),
    ({"actions": [{"type": "send", "subject": "{% if %}", "body": "b"}]}, "actions[0].subject", "line 1"),
    ({"actions": [{"type": "send", "subject": "s", "body": "a\nb\n{{ record.amount / 0 }}"}]},
     "actions[0].body", "line 3: cannot render"),
    ({"actions": [{"type": "reminder", "to": ["U01AAA"], "message": "{{ record.id | nosuchfilter }}"}]},
     "actions[0].message", "No filter named 'nosuchfilter'"),
    # an unknown field, an op not valid for the field's type, six approvers
    ({"conditions": [{"field": "colour", "op": "eq", "value": "red"}]}, "conditions[0].field", "unknown field"),
    ({"conditions": [{"field": "memo", "op": "gt", "value": "1"}]}, "conditions[0].op", "does not apply"),
    ({"conditions": [{"field": "due_date", "op": "contains", "value": "x"}]}, "conditions[0].op", "does not apply"),
    ({"actions": [{"type": "approval", "steps": [{"approvers": ["U1AA", "U2AA", "U3AA", "U4AA", "U5AA", "U6AA"]}]}]},
     "actions[0].steps[0].approvers", "at most 5"),
    ({"trigger": "scheduled", "schedule": "every day"}, "schedule", "expected 5 fields"),
    ({"trigger_fields": ["colour"]}, "trigger_fields", "unknown field"),
]


@pytest.mark.parametrize(("changes", "path", "message"), INVALID)
async def test_invalid_workflows_are_refused_with_the_path(
    signoff: Harness, changes: dict[str, Any], path: str, message: str
) -> None:
    before = await workflow_ids(signoff)
    response = await signoff.post("/api/v1/workflows", {**BASE, **changes})
    assert response.status_code == 422, response.text
    details = response.json()["error"]["details"]
    assert [d for d in details if d["path"] == path and message in d["message"]], details
    assert await workflow_ids(signoff) == before


async def test_updates_are_checked_too(signoff: Harness) -> None:
    wid = (await signoff.post("/api/v1/workflows", BASE)).json()["id"]
    broken = {**BASE, "actions": [BASE["actions"][0], {**BASE["actions"][1], "message": "{{ }}"}]}
    response = await signoff.api.put(f"/api/v1/workflows/{wid}", json=broken)
    assert response.status_code == 422 and response.json()["error"]["details"][0]["path"] == "actions[1].message"
    assert (await signoff.api.get(f"/api/v1/workflows/{wid}")).json()["actions"][1]["message"] == "ok {{ record.id }}"


async def test_a_workflow_sent_back_as_get_returned_it_is_saved_and_its_id_checked(signoff: Harness) -> None:
    wid = (await signoff.post("/api/v1/workflows", BASE)).json()["id"]
    read = (await signoff.api.get(f"/api/v1/workflows/{wid}")).json()
    assert {"id", "created_at", "updated_at", "warnings"} <= set(read)
    saved = await signoff.api.put(f"/api/v1/workflows/{wid}", json={**read, "name": "Renamed", "warnings": []})
    assert saved.status_code == 200, saved.text
    assert (saved.json()["name"], saved.json()["created_at"]) == ("Renamed", read["created_at"])
    for changes in ({"id": "wf-other"}, {"id": None}):
        refused = await signoff.api.put(f"/api/v1/workflows/{wid}", json={**read, **changes})
        assert refused.status_code == 422 and [d["path"] for d in refused.json()["error"]["details"]] == ["id"]
    assert (await signoff.api.get(f"/api/v1/workflows/{wid}")).json()["name"] == "Renamed"
    assert (await signoff.post("/api/v1/workflows", read)).status_code == 422  # a new workflow gets its own id


async def test_runs_are_filtered_and_paged(signoff: Harness) -> None:
    notify = {"name": "N", "record_type": "invoice", "trigger": "created_or_updated",
              "actions": [{"type": "notification", "channel": "#finance", "message": "{{ record.id }}"}]}
    first = (await signoff.post("/api/v1/workflows", notify)).json()["id"]
    second = (await signoff.post("/api/v1/workflows", {**notify, "name": "M"})).json()["id"]
    for number in range(5):
        await signoff.put(f"/api/v1/records/invoice/INV-{number}", {"amount": "10", "customer": "C1"})
    await signoff.put("/api/v1/records/invoice/INV-0", {"amount": "11", "customer": "C1"})
    every = (await signoff.api.get("/api/v1/runs", params={"limit": 500})).json()
    assert len(every["runs"]) == 12 and every["next_cursor"] is None
    assert every["runs"][0]["record_id"] == "INV-0" and every["runs"][0]["cause"] == "updated"
    pages, cursor = [], None
    while True:
        params: dict[str, Any] = {"workflow_id": first, "limit": 4, **({"cursor": cursor} if cursor else {})}
        page = (await signoff.api.get("/api/v1/runs", params=params)).json()
        pages.append([r["record_id"] for r in page["runs"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [["INV-0", "INV-4", "INV-3", "INV-2"], ["INV-1", "INV-0"]]
    by_record = (await signoff.api.get("/api/v1/runs", params={"record_type": "invoice", "record_id": "INV-0"})).json()
    assert sorted(r["workflow_id"] for r in by_record["runs"]) == sorted([first, first, second, second])
    assert (await signoff.api.get("/api/v1/runs", params={"cursor": "abc"})).status_code == 422
    assert (await signoff.api.get("/api/v1/runs", params={"record_type": "banana"})).status_code == 422
    assert (await signoff.api.get("/api/v1/runs/nope")).status_code == 404


async def test_company_name(signoff: Harness) -> None:
    assert (await signoff.api.get("/api/v1/company")).json() == {"name": "", "timezone": "UTC"}
    assert (await signoff.api.put("/api/v1/company", json={"name": " Acme "})).json()["name"] == "Acme"
    assert (await signoff.api.get("/api/v1/company")).json()["name"] == "Acme"
    read = (await signoff.api.get("/api/v1/company")).json()
    assert (await signoff.api.put("/api/v1/company", json={**read, "name": "Acme Books"})).status_code == 200
    for body, path in (({"nom": "x"}, "name"), ({"name": "Acme", "nme": "typo"}, "nme"),
                       ({"name": "Acme\u0007Books"}, "name"), ({"name": "x" * 201}, "name"), ({"name": 5}, "name"),
                       ({"name": "Acme", "timezone": "Europe/Paris"}, "timezone"), ({**read, "timezone": None},
                                                                                    "timezone")):
        refused = await signoff.api.put("/api/v1/company", json=body)
        assert refused.status_code == 422, (body, refused.text)
        assert path in [d["path"] for d in refused.json()["error"]["details"]], (body, refused.text)
    assert (await signoff.api.get("/api/v1/company")).json()["name"] == "Acme Books"
    assert (await signoff.api.put("/api/v1/company", json={"name": "  "})).json()["name"] == ""  # back to none


async def test_a_group_with_no_members_is_a_warning_until_it_has_some(signoff: Harness) -> None:
    grouped = {**BASE, "actions": [{"type": "approval", "steps": [{"approvers": ["U01AAA"]},
                                                                  {"approvers": ["group:leads"]}],
                                    "escalate_after": "P2D", "escalate_to": ["group:cfo"]}]}
    created = await signoff.post("/api/v1/workflows", grouped)
    assert created.status_code == 201
    assert [(w["path"], w["group"]) for w in created.json()["warnings"]] == [
        ("actions[0].escalate_to[0]", "cfo"), ("actions[0].steps[1].approvers[0]", "leads")]
    made = await signoff.post("/api/v1/groups", {"name": "leads", "kind": "people", "members": ["U01BBB"]})
    assert made.status_code == 201, made.text
    shown = (await signoff.api.get(f"/api/v1/workflows/{created.json()['id']}")).json()
    assert [w["group"] for w in shown["warnings"]] == ["cfo"]


async def test_a_reminder_or_escalation_after_the_expiry_is_a_warning(signoff: Harness) -> None:
    late = {**BASE, "actions": [{"type": "approval", "steps": [{"approvers": ["U01AAA"]}], "remind_every": "P5D",
                                 "escalate_after": "P3D", "escalate_to": ["U01BBB"], "expire_after": "P2D"}]}
    created = await signoff.post("/api/v1/workflows", late)
    assert created.status_code == 201, created.text
    assert [w["path"] for w in created.json()["warnings"]] == ["actions[0].remind_every", "actions[0].escalate_after"]
    assert "the request expires first" in created.json()["warnings"][0]["message"]
    timely = {**late, "record_type": "bill", "name": "Timely",
              "actions": [{**late["actions"][0], "remind_every": "P1D", "escalate_after": "PT36H"}]}
    assert (await signoff.post("/api/v1/workflows", timely)).json()["warnings"] == []


async def test_another_approval_workflow_a_document_could_match_as_well_is_a_warning(signoff: Harness) -> None:
    small = {**BASE, "name": "Small", "conditions": [{"field": "amount", "op": "lte", "value": "1000"}]}
    large = {**BASE, "name": "Large", "conditions": [{"field": "amount", "op": "gt", "value": "1000"}]}
    first = await signoff.post("/api/v1/workflows", small)
    assert first.json()["warnings"] == []
    assert (await signoff.post("/api/v1/workflows", large)).json()["warnings"] == [], "tiers that cannot meet"
    urgent = {**BASE, "name": "Urgent", "conditions": [{"field": "amount", "op": "gt", "value": "500"},
                                                       {"field": "memo", "op": "contains", "value": "urgent"}]}
    made = await signoff.post("/api/v1/workflows", urgent)
    found = {w["workflow_name"]: w["follows"] for w in made.json()["warnings"]}
    assert found == {"Small": "this", "Large": "this"}, made.text
    shown = (await signoff.api.get(f"/api/v1/workflows/{first.json()['id']}")).json()
    assert [(w["workflow_name"], w["follows"]) for w in shown["warnings"]] == [("Urgent", "other")]
    assert (await signoff.api.post(f"/api/v1/workflows/{made.json()['id']}/disable")).status_code == 200
    assert (await signoff.api.get(f"/api/v1/workflows/{first.json()['id']}")).json()["warnings"] == []


async def test_a_workflow_named_like_another_is_saved_with_a_warning(signoff: Harness) -> None:
    first = await signoff.post("/api/v1/workflows", {**BASE, "name": "Vendor bills"})
    assert first.json()["warnings"] == []
    second = await signoff.post("/api/v1/workflows", {**BASE, "name": "  vendor BILLS", "record_type": "bill"})
    assert second.status_code == 201, second.text
    assert [(w["path"], w["named_like"], w["other_name"]) for w in second.json()["warnings"]] == [
        ("name", first.json()["id"], "Vendor bills")]
    shown = (await signoff.api.get(f"/api/v1/workflows/{first.json()['id']}")).json()
    assert [w["named_like"] for w in shown["warnings"]] == [second.json()["id"]]
    renamed = await signoff.api.put(f"/api/v1/workflows/{second.json()['id']}",
                                    json={**second.json(), "name": "Vendor bills (UK)"})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["warnings"] == []


async def test_a_person_slack_cannot_reach_is_a_warning(signoff: Harness) -> None:
    made = await signoff.post("/api/v1/groups", {"name": "board", "kind": "people", "members": ["U01BBB", "U01DDD"]})
    assert made.status_code == 201, made.text
    signoff.workspace.user("U01DDD").deleted = True  # deactivated since they joined the group
    ghostly = {**BASE, "actions": [{"type": "approval", "steps": [{"approvers": ["U01AAA", "U0GHOST1"]},
                                                                  {"approvers": ["group:board"]}]}]}
    created = await signoff.post("/api/v1/workflows", ghostly)
    assert created.status_code == 201, created.text
    warned = [(w["path"], w["user"]) for w in created.json()["warnings"]]
    assert warned == [("actions[0].steps[0].approvers[1]", "U0GHOST1"),
                      ("actions[0].steps[1].approvers[0]", "U01DDD")]
    assert "not a user of this Slack workspace" in created.json()["warnings"][0]["message"]
    assert "deactivated" in created.json()["warnings"][1]["message"]
    assert "group:board" in created.json()["warnings"][1]["message"]


async def test_a_channel_slack_would_refuse_posts_in_is_a_warning(signoff: Harness) -> None:
    signoff.workspace.add_channel("old-news").is_archived = True
    posting = {**BASE, "actions": [{"type": "notification", "channel": "#finanse", "message": "New {{ record.id }}",
                                    "to": ["#old-news", "C0NOPE", "#finance", "U01AAA"]}]}
    created = await signoff.post("/api/v1/workflows", posting)
    assert created.status_code == 201, created.text
    warned = [(w["path"], w["channel"], w["problem"]) for w in created.json()["warnings"]]
    assert warned == [("actions[0].channel", "#finanse", "no_public"), ("actions[0].to[0]", "#old-news", "archived"),
                      ("actions[0].to[1]", "C0NOPE", "not_found")]
    assert "posts to it would fail" in created.json()["warnings"][0]["message"]
    fixed = {**posting, "actions": [{**posting["actions"][0], "channel": "#finance", "to": ["U01AAA"]}]}
    assert (await signoff.api.put(f"/api/v1/workflows/{created.json()['id']}", json=fixed)).json()["warnings"] == []


async def test_a_channel_slack_could_not_be_asked_about_is_no_warning(
    signoff: Harness, monkeypatch: pytest.MonkeyPatch,
) -> None:
    posting = {**BASE, "actions": [{"type": "notification", "channel": "#finanse", "to": ["C0NOPE"],
                                    "message": "New {{ record.id }}"}]}
    signoff.workspace.fail_next("conversations.list", status=503)
    signoff.workspace.fail_next("conversations.info", status=503)
    assert (await signoff.post("/api/v1/workflows", posting)).json()["warnings"] == [], "Slack was down"
    signoff.workspace.add_channel("ops")
    monkeypatch.setattr(channels, "MAX_LIST_PAGES", 1)
    monkeypatch.setattr(channels, "PAGE_SIZE", 1)
    made = await signoff.post("/api/v1/workflows", {**posting, "record_type": "bill", "name": "Bills"})
    assert [w["channel"] for w in made.json()["warnings"]] == ["C0NOPE"], "a listing cut short proves nothing"


async def test_a_step_whose_groups_name_fewer_people_than_its_quorum_is_a_warning(signoff: Harness) -> None:
    made = await signoff.post("/api/v1/groups", {"name": "leads", "kind": "people", "members": ["U01AAA"]})
    assert made.status_code == 201, made.text
    short = {**BASE, "actions": [{"type": "approval", "steps": [{"approvers": ["group:leads"], "min_approvers": 2}]}]}
    created = await signoff.post("/api/v1/workflows", short)
    assert created.status_code == 201, created.text
    assert [(w["path"], w["quorum"], w["people"]) for w in created.json()["warnings"]] == [
        ("actions[0].steps[0].min_approvers", 2, 1)]
    invoice = {"amount": "10.00", "customer": "C-1", "created_by": "U0ADMIN", "source": "app"}
    assert (await signoff.put("/api/v1/records/invoice/INV-Q", invoice)).json()["approval_status"] == "pending"
    [start] = [r for r in (await signoff.api.get("/api/v1/runs?record_id=INV-Q")).json()["runs"]
               if r["event"] == "approval_started"]
    assert (start["actions"][0]["min_approvers"], start["actions"][0]["min_approvers_asked"]) == (1, 2), \
        "the only admin requested it: nobody stands in, and the history says the quorum shrank"
    added = await signoff.post(f"/api/v1/groups/{made.json()['id']}/members", {"add": ["U01BBB"]})
    assert added.status_code == 200, added.text
    assert (await signoff.api.get(f"/api/v1/workflows/{created.json()['id']}")).json()["warnings"] == []
