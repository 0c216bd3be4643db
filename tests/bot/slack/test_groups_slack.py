"""Groups managed from Slack: list, members (paged), filters and auto-update, e-mail, delete; admins only."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.models.views import View

from bot.sandbox.app_link.payloads import block_actions_payload, view_submission_payload
from bot.sandbox.app_link.signing import interaction_request
from bot.sandbox.blockkit.validation import validate_message, validate_view
from bot.sandbox.state.model import Message
from tests.bot.slack.test_rules_slack import ADMIN, MEMBER, customers, groups, run
from tests.support.harness import SIGNING_SECRET, Harness, running_signoff
from tests.support.smtp import Inbox


def top_modal(h: Harness, user: str) -> dict[str, Any]:
    modal = h.workspace.open_modals(user)[-1]
    assert validate_view(modal) == [], validate_view(modal)
    return modal


async def opened(h: Harness, user: str, callback: str) -> dict[str, Any]:
    return await h.wait_for(lambda: h.workspace.open_modals(user) and top_modal(h, user)["callback_id"] == callback
                            and top_modal(h, user))


async def a_group(h: Harness, body: dict[str, Any]) -> dict[str, Any]:
    created = await h.post("/api/v1/groups", body)
    assert created.status_code == 201, created.text
    return dict(created.json())


async def click_as(h: Harness, clicker: str, message: Message, action_id: str) -> None:
    """A signed click from someone else on a list an admin was shown (as if it had been shared)."""
    payload = block_actions_payload(h.workspace, ADMIN, message.channel, message.ts, action_id)
    payload["user"] = {**payload["user"], "id": clicker}
    payload["response_url"] = h.workspace.issue_response_url(clicker, message.channel, message.ts, True)
    await h.link.send(interaction_request(payload, SIGNING_SECRET, int(h.link.requests.timestamp())))


async def test_groups_are_listed_with_member_counts_and_buttons(signoff: Harness) -> None:
    await customers(signoff, "C1", "C2")
    await a_group(signoff, {"name": "vips", "kind": "customer", "members": ["C1", "C2"]})
    listing = await run(signoff, ADMIN, "groups")
    assert "*vips* · customers · 2 members" in listing.all_text()
    assert {"group_new", "group_members", "group_edit", "group_email", "group_delete"} <= set(listing.action_ids())


async def test_an_admin_creates_a_group_with_filters_and_edits_it(signoff: Harness) -> None:
    for cid, state in (("C1", "CA"), ("C2", "NY"), ("C3", "CA")):
        assert (await signoff.put(f"/api/v1/contacts/customer/{cid}", {"name": cid, "state": state})).status_code == 200
    await signoff.click(ADMIN, await run(signoff, ADMIN, "groups"), "group_new")
    modal = await opened(signoff, ADMIN, "group_save")
    await signoff.link.click_in_view(ADMIN, "group_form_field", view_id=modal["id"], value="balance")
    typed = await signoff.wait_for(
        lambda: top_modal(signoff, ADMIN)["hash"] != modal["hash"] and top_modal(signoff, ADMIN))
    op_block = next(b for b in typed["blocks"] if b.get("block_id") == "flt_op_0")
    ops = [o["value"] for o in op_block["element"]["options"]]
    assert "between" in ops and "in_group" not in ops
    bad = await signoff.link.submit(ADMIN, {"name": "california", "kind": "customer", "flt_field_0": "state",
                                            "flt_op_0": "gt", "flt_value_0": "CA", "auto_update": ["auto"]})
    assert bad.json()["response_action"] == "errors"
    await signoff.link.submit(ADMIN, {"name": "california", "kind": "customer", "flt_field_0": "state",
                                      "flt_op_0": "eq", "flt_value_0": "CA", "auto_update": ["auto"]})
    [group] = await groups(signoff)
    assert (group["name"], group["members"], group["auto_update"]) == ("california", ["C1", "C3"], True)
    note = await signoff.wait_for(lambda: [m for m in signoff.dm(ADMIN) if "is saved" in m.all_text()])
    assert "It has 2 members." in note[-1].all_text()
    await signoff.click(ADMIN, await run(signoff, ADMIN, "groups"), "group_edit")
    await opened(signoff, ADMIN, "group_save")
    await signoff.link.submit(ADMIN, {"name": "california", "flt_field_0": "state", "flt_op_0": "in",
                                      "flt_value_0": "CA, NY", "auto_update": []})
    [group] = await groups(signoff)
    assert group["members"] == ["C1", "C2", "C3"] and group["auto_update"] is False


async def test_an_admin_pages_adds_and_removes_members(signoff: Harness) -> None:
    ids = [f"C{i:02d}" for i in range(25)]
    await customers(signoff, *ids)
    await a_group(signoff, {"name": "many", "kind": "customer", "members": ids[:22]})
    await signoff.click(ADMIN, await run(signoff, ADMIN, "groups"), "group_members")
    modal = await opened(signoff, ADMIN, "group_members")
    assert "Page 1 of 2" in json.dumps(modal) and "C19" in json.dumps(modal) and "C20" not in json.dumps(modal)
    await signoff.link.click_in_view(ADMIN, "group_members_page", view_id=modal["id"])
    second = await signoff.wait_for(lambda: "Page 2 of 2" in json.dumps(top_modal(signoff, ADMIN))
                                    and top_modal(signoff, ADMIN))
    await signoff.link.click_in_view(ADMIN, "group_member_remove", view_id=second["id"], block_id="member:C21")
    await signoff.wait_for(lambda: "C21" not in json.dumps(top_modal(signoff, ADMIN)))
    refused = await signoff.link.submit(ADMIN, {"add": "C-NOPE"})
    assert refused.json()["response_action"] == "errors" and "C-NOPE" in refused.json()["errors"]["add"]
    await signoff.link.submit(ADMIN, {"add": "C23, C24"})
    members = (await groups(signoff))[0]["members"]
    assert "C21" not in members and {"C23", "C24"} <= set(members) and len(members) == 23
    assert "23 members" in json.dumps(top_modal(signoff, ADMIN))


async def test_an_admin_e_mails_chosen_members(tmp_path: Path, smtp: Inbox) -> None:
    async with running_signoff(tmp_path / "s.db", smtp_url=smtp.url) as h:
        for cid in ("C1", "C2", "C3"):
            await h.put(f"/api/v1/contacts/customer/{cid}", {"name": cid, "email": f"{cid.lower()}@example.com"})
        await a_group(h, {"name": "vips", "kind": "customer", "members": ["C1", "C2", "C3"]})
        await h.click(ADMIN, await run(h, ADMIN, "groups"), "group_email")
        modal = await opened(h, ADMIN, "group_email")
        assert "C1" in json.dumps(modal)
        none = await h.link.submit(ADMIN, {"to": [], "subject": "Hello", "message": "Hi"})
        assert none.json()["response_action"] == "errors"
        await h.link.submit(ADMIN, {"to": ["C1", "C3"], "subject": "Hello {{ contact.name }}", "message": "Hi"})
        note = await h.wait_for(lambda: [m for m in h.dm(ADMIN) if "on their way" in m.all_text()])
        assert "2 e-mails are on their way to the group *vips*." in note[-1].all_text()
        for _ in range(200):
            if len(smtp.messages) >= 2:
                break
            await asyncio.sleep(0.05)
        assert sorted(r for _, rcpts, _ in smtp.messages for r in rcpts) == ["c1@example.com", "c3@example.com"]


async def test_deleting_a_group_is_refused_while_a_workflow_uses_it(signoff: Harness) -> None:
    await customers(signoff, "C1")
    await a_group(signoff, {"name": "vips", "kind": "customer", "members": ["C1"]})
    workflow = {"name": "VIP invoices", "record_type": "invoice", "trigger": "created",
                "conditions": [{"field": "customer", "op": "in_group", "value": "vips"}],
                "actions": [{"type": "approval", "steps": [{"approvers": ["U01AAA"]}]}]}
    created = await signoff.post("/api/v1/workflows", workflow)
    assert created.status_code == 201, created.text
    await signoff.click(ADMIN, await run(signoff, ADMIN, "groups"), "group_delete")
    modal = await opened(signoff, ADMIN, "group_delete")
    assert "cannot be deleted" in json.dumps(modal, ensure_ascii=False) and "submit" not in modal
    await signoff.link.close_modal(ADMIN)
    assert (await signoff.api.delete(f"/api/v1/workflows/{created.json()['id']}")).status_code in (200, 204)
    await signoff.click(ADMIN, await run(signoff, ADMIN, "groups"), "group_delete")
    await opened(signoff, ADMIN, "group_delete")
    await signoff.link.submit(ADMIN)
    assert await groups(signoff) == []


async def test_a_non_admin_changes_nothing_from_the_group_and_rule_buttons(signoff: Harness) -> None:
    await customers(signoff, "C1")
    await a_group(signoff, {"name": "vips", "kind": "customer", "members": ["C1"]})
    rule = {"name": "Air", "conditions": [{"field": "vendor", "op": "eq", "value": "V-AIR"}],
            "results": {"category": "Travel"}}
    assert (await signoff.post("/api/v1/rules", rule)).status_code == 201
    before = [(await signoff.api.get(p)).json() for p in ("/api/v1/groups", "/api/v1/rules")]
    group_list, rule_list = await run(signoff, ADMIN, "groups"), await run(signoff, ADMIN, "rules")
    for message, action in [(group_list, a) for a in ("group_new", "group_members", "group_edit", "group_email",
                                                      "group_delete")] + [
            (rule_list, a) for a in ("rule_new", "rule_edit", "rule_publish", "rule_delete")]:
        shown = len(signoff.workspace.ephemerals(MEMBER))
        await click_as(signoff, MEMBER, message, action)
        refusal = await signoff.wait_for(lambda n=shown: signoff.workspace.ephemerals(MEMBER)[n:])
        assert "Only Signoff admins" in refusal[-1].all_text() and "nothing was changed" in refusal[-1].all_text()
    assert signoff.workspace.open_modals(MEMBER) == []
    assert [(await signoff.api.get(p)).json() for p in ("/api/v1/groups", "/api/v1/rules")] == before


async def submit_as(h: Harness, clicker: str, values: dict[str, Any] | None = None) -> Any:
    """A signed submission, by someone else, of the modal an admin opened."""
    payload = view_submission_payload(h.workspace, ADMIN, values, view_id=top_modal(h, ADMIN)["id"])
    payload["user"] = {**payload["user"], "id": clicker}
    return await h.link.send(interaction_request(payload, SIGNING_SECRET, int(h.link.requests.timestamp())))


async def test_a_non_admin_submission_of_any_group_or_rule_modal_changes_nothing(signoff: Harness) -> None:
    await customers(signoff, "C1")
    await a_group(signoff, {"name": "vips", "kind": "customer", "members": ["C1"]})
    rule = {"name": "Air", "conditions": [{"field": "vendor", "op": "eq", "value": "V-AIR"}],
            "results": {"category": "Travel"}}
    assert (await signoff.post("/api/v1/rules", rule)).status_code == 201
    before = [(await signoff.api.get(p)).json() for p in ("/api/v1/groups", "/api/v1/rules")]
    cases = [("groups", "group_edit", {"name": "renamed"}), ("groups", "group_members", {"add": "C1"}),
             ("groups", "group_delete", None), ("groups", "group_new", {"name": "x", "kind": "customer"}),
             ("rules", "rule_edit", {"name": "renamed"}), ("rules", "rule_publish", None),
             ("rules", "rule_delete", None)]
    for command, action, values in cases:
        await signoff.click(ADMIN, await run(signoff, ADMIN, command), action)
        await signoff.wait_for(lambda: signoff.workspace.open_modals(ADMIN))
        reply = await submit_as(signoff, MEMBER, values)
        answer = reply.json() or {}
        if answer.get("response_action") == "errors":
            assert "Only Signoff admins" in json.dumps(answer)
        else:
            refusal = await signoff.wait_for(lambda: [m for m in signoff.dm(MEMBER) if "Only Signoff admins" in
                                                      m.all_text()])
            assert refusal
        signoff.workspace.clear_modals(ADMIN)
    assert [(await signoff.api.get(p)).json() for p in ("/api/v1/groups", "/api/v1/rules")] == before


async def test_every_group_and_rule_view_is_valid_in_french(tmp_path: Path) -> None:
    async with running_signoff(tmp_path / "fr.db", locale="fr") as h:
        await customers(h, "C1")
        await a_group(h, {"name": "vips", "kind": "customer", "members": ["C1"],
                          "filters": [{"field": "balance", "op": "between", "value": ["100", "1000"]}]})
        rule = {"name": "Air", "conditions": [{"field": "due_date", "op": "due_within_days", "value": 5}],
                "results": {"category": "Travel"}}
        assert (await h.post("/api/v1/rules", rule)).status_code == 201
        for command, actions in (("groups", ("group_new", "group_members", "group_edit", "group_email",
                                             "group_delete")),
                                 ("rules", ("rule_new", "rule_edit", "rule_publish", "rule_delete"))):
            for action in actions:
                listing = await run(h, ADMIN, command)
                assert validate_message(listing.blocks, listing.text) == []
                await h.click(ADMIN, listing, action)
                modal = await h.wait_for(lambda: h.workspace.open_modals(ADMIN) and top_modal(h, ADMIN))
                assert "Only" not in json.dumps(modal)
                h.workspace.clear_modals(ADMIN)
        assert "Modifier la règle" in json.dumps(await rule_modal_of(h), ensure_ascii=False)


async def rule_modal_of(h: Harness) -> dict[str, Any]:
    await h.click(ADMIN, await run(h, ADMIN, "rules"), "rule_edit")
    return await h.wait_for(lambda: h.workspace.open_modals(ADMIN) and top_modal(h, ADMIN))


async def test_a_people_group_is_created_without_filters_and_members_are_picked_as_people(signoff: Harness) -> None:
    await signoff.click(ADMIN, await run(signoff, ADMIN, "groups"), "group_new")
    await opened(signoff, ADMIN, "group_save")
    await signoff.link.submit(ADMIN, {"name": "approvers", "kind": "people"})
    [group] = await groups(signoff)
    assert (group["kind"], group["filters"], group["members"]) == ("people", [], [])
    listing = await run(signoff, ADMIN, "groups")
    assert "group_email" not in listing.action_ids()
    await signoff.click(ADMIN, listing, "group_members")
    modal = await opened(signoff, ADMIN, "group_members")
    assert next(b for b in modal["blocks"] if b.get("block_id") == "add")["element"]["type"] == "multi_users_select"
    await signoff.link.submit(ADMIN, {"add": ["U01AAA", "U01BBB"]})
    assert (await groups(signoff))[0]["members"] == ["U01AAA", "U01BBB"]
    assert "<@U01AAA>" in json.dumps(top_modal(signoff, ADMIN))


@pytest.mark.parametrize("locale", ["en", "fr"])
async def test_a_saved_group_offers_members_and_e_mail_whose_views_are_valid(tmp_path: Path, locale: str) -> None:
    async with running_signoff(tmp_path / "s.db", locale=locale) as h:
        await h.put("/api/v1/contacts/customer/C1", {"name": "Acme <SAS>", "email": "ap@acme.example", "state": "CA"})
        await h.put("/api/v1/contacts/customer/C2", {"name": "Globex", "state": "CA"})
        await customers(h, "C3")
        await h.click(ADMIN, await run(h, ADMIN, "groups"), "group_new")
        await opened(h, ADMIN, "group_save")
        await h.link.submit(ADMIN, {"name": "west", "kind": "customer", "flt_field_0": "state", "flt_op_0": "eq",
                                    "flt_value_0": "CA", "auto_update": ["auto"]})
        [note] = await h.wait_for(lambda: [m for m in h.dm(ADMIN) if "group_email" in m.action_ids()])
        assert note.action_ids() == ["group_members", "group_email"]
        assert validate_message(note.blocks, note.text) == []
        await h.click(ADMIN, note, "group_members")
        members = await opened(h, ADMIN, "group_members")
        View(**members).validate_json()
        await h.link.submit(ADMIN, {"add": "C3"})
        after = await h.wait_for(lambda: "C3" in json.dumps(top_modal(h, ADMIN)) and top_modal(h, ADMIN))
        [add] = [b for b in after["blocks"] if b.get("type") == "input"]
        assert add["block_id"] != "add" and "C3" not in json.dumps(add)
        refused = await h.link.submit(ADMIN, {"add": "C-NOPE"})
        assert list(refused.json()["errors"]) == [add["block_id"]]
        h.workspace.clear_modals(ADMIN)
        await h.click(ADMIN, note, "group_email")
        email = await opened(h, ADMIN, "group_email")
        View(**email).validate_json()
        [to] = [b for b in email["blocks"] if b.get("block_id") == "to_0"]
        options = {o["value"]: (o["text"]["text"], o["description"]["text"]) for o in to["element"]["options"]}
        assert options["C1"] == ("Acme <SAS>", "ap@acme.example") and options["C3"][0] == "C3"
        assert "e-mail" in options["C2"][1]


async def test_picking_people_as_a_new_group_s_kind_drops_the_filters(signoff: Harness) -> None:
    await signoff.click(ADMIN, await run(signoff, ADMIN, "groups"), "group_new")
    modal = await opened(signoff, ADMIN, "group_save")
    assert "flt_field_0" in json.dumps(modal)
    await signoff.link.click_in_view(ADMIN, "kind", view_id=modal["id"], value="people",
                                     state={"name": {"name": "approvers"}})
    people = await signoff.wait_for(lambda: top_modal(signoff, ADMIN)["hash"] != modal["hash"]
                                    and top_modal(signoff, ADMIN))
    assert "flt_field_0" not in json.dumps(people)
    kind = next(b for b in people["blocks"] if b.get("block_id") == "kind")
    assert kind["element"]["initial_option"]["value"] == "people"
    name = next(b for b in people["blocks"] if b.get("block_id") == "name")
    assert name["element"]["initial_value"] == "approvers"


async def test_a_redraw_refused_for_a_stale_hash_is_drawn_from_the_newer_choices(signoff: Harness) -> None:
    await signoff.click(ADMIN, await run(signoff, ADMIN, "groups"), "group_new")
    modal = await opened(signoff, ADMIN, "group_save")
    signoff.workspace.refuse_next("views.update", "hash_conflict")
    await signoff.link.click_in_view(ADMIN, "group_form_field", view_id=modal["id"], value="balance")
    redrawn = await signoff.wait_for(lambda: top_modal(signoff, ADMIN)["hash"] != modal["hash"]
                                     and top_modal(signoff, ADMIN))
    op_block = next(b for b in redrawn["blocks"] if b.get("block_id") == "flt_op_0")
    assert "between" in [o["value"] for o in op_block["element"]["options"]]
    updates = signoff.workspace.calls("views.update")
    assert [c.params.get("hash") is not None for c in updates] == [True, False]


async def test_a_french_admin_is_told_in_french_what_is_missing_or_refused(tmp_path: Path) -> None:
    async with running_signoff(tmp_path / "fr.db", locale="fr", smtp_url="smtp://127.0.0.1:9") as h:
        await customers(h, "C1")
        for command, said in (("group delete nosuch", "Introuvable : groupe « nosuch »"),
                              ("workflow show nosuch", "Introuvable : workflow « nosuch »"),
                              ("remind invoice INV-404", "Introuvable : facture INV-404")):
            answer = (await run(h, ADMIN, command)).all_text()
            assert said in answer and "no " not in answer, answer
        assert "est créé" in (await run(h, ADMIN, "group create vips customer C1")).all_text()
        taken = (await run(h, ADMIN, "group create vips customer C1")).all_text()
        assert "un groupe nommé « vips » existe déjà" in taken, taken
        assert (await h.put("/api/v1/records/invoice/INV-1", {"amount": "10.00", "customer": "C1",
                                                              "created_by": "U0REQ"})).status_code == 200
        held = (await run(h, ADMIN, "remind invoice INV-1")).all_text()
        assert "le client n’a pas d’adresse e-mail" in held, held


async def test_a_french_admin_is_told_in_french_which_member_is_wrong(tmp_path: Path) -> None:
    async with running_signoff(tmp_path / "fr.db", locale="fr") as h:
        await customers(h, "C1")
        assert "est créé" in (await run(h, ADMIN, "group create leads people <@U01AAA|alice>")).all_text()
        not_member = (await run(h, ADMIN, "group remove leads <@U01BBB|bob>")).all_text()
        assert "n’est pas membre de ce groupe" in not_member and "U01BBB" in not_member, not_member
        assert "est créé" in (await run(h, ADMIN, "group create vips customer C1")).all_text()
        unknown = (await run(h, ADMIN, "group add vips C-NOPE")).all_text()
        assert "Il n’y a pas de client « C-NOPE »" in unknown, unknown
        workflow = {"name": "Leads approve", "record_type": "bill",
                    "actions": [{"type": "approval", "steps": [{"approvers": ["group:leads"]}]}]}
        assert (await h.post("/api/v1/workflows", workflow)).status_code == 201
        in_use = (await run(h, ADMIN, "group delete leads")).all_text()
        assert "le groupe « leads » est utilisé" in in_use and "utilisé par le workflow « Leads approve »" in in_use, (
            in_use)
