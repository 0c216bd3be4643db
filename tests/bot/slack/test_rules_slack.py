"""Groups and rules from Slack: `/signoff group …` and `/signoff rule …` are for admins, with a clear refusal."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.sandbox.blockkit.validation import validate_message
from bot.sandbox.state.model import Message
from tests.support.harness import Harness

ADMIN, MEMBER = "U0ADMIN", "U01AAA"
RULES_YAML = """rules:
  - name: Air France is travel
    status: published
    conditions: [{field: vendor, op: eq, value: V-AIR}]
    results: {category: Travel}
"""


async def run(h: Harness, user: str, text: str) -> Message:
    before = len(h.workspace.ephemerals(user))
    reply = await h.link.command(user, "/signoff", text)
    assert reply.status == 200
    shown = h.workspace.ephemerals(user)
    assert len(shown) == before + 1, f"/signoff {text} showed nothing"
    assert validate_message(shown[-1].blocks, shown[-1].text) == []
    return shown[-1]


async def groups(h: Harness) -> list[dict[str, Any]]:
    return list((await h.api.get("/api/v1/groups")).json()["groups"])


async def rules(h: Harness) -> list[dict[str, Any]]:
    return list((await h.api.get("/api/v1/rules")).json()["rules"])


async def customers(h: Harness, *ids: str) -> None:
    for cid in ids:
        assert (await h.put(f"/api/v1/contacts/customer/{cid}", {"name": cid})).status_code == 200


@pytest.mark.parametrize("text", ["group create vips customer C1", "group add vips C2", "group remove vips C1",
                                  "group delete vips", f"rule apply {RULES_YAML}", "rule publish r1",
                                  "rule unpublish r1", "rule delete r1"])
async def test_a_non_admin_cannot_change_groups_or_rules_from_slack(signoff: Harness, text: str) -> None:
    await customers(signoff, "C1", "C2")
    vips = {"name": "vips", "kind": "customer", "members": ["C1"]}
    assert (await signoff.post("/api/v1/groups", vips)).status_code == 201
    before = (await groups(signoff), await rules(signoff))
    answer = (await run(signoff, MEMBER, text)).all_text()
    assert "Only Signoff admins" in answer and "nothing was changed" in answer
    assert (await groups(signoff), await rules(signoff)) == before


async def test_an_admin_creates_changes_and_deletes_groups_from_slack(signoff: Harness) -> None:
    await customers(signoff, "C1", "C2")
    assert "is created. It has 1 member." in (await run(signoff, ADMIN, "group create vips customer C1")).all_text()
    [group] = await groups(signoff)
    assert (group["name"], group["kind"], group["members"]) == ("vips", "customer", ["C1"])
    assert "It has 2 members." in (await run(signoff, ADMIN, "group add vips C2")).all_text()
    assert (await groups(signoff))[0]["members"] == ["C1", "C2"]
    assert "It has 1 member." in (await run(signoff, ADMIN, "group remove vips C1")).all_text()
    unknown = (await run(signoff, ADMIN, "group add vips C-NOPE")).all_text()
    assert "did not work" in unknown and (await groups(signoff))[0]["members"] == ["C2"]
    assert "is deleted" in (await run(signoff, ADMIN, "group delete vips")).all_text()
    assert await groups(signoff) == []
    assert "Usage" in (await run(signoff, ADMIN, "group create vips planets")).all_text()
    for name in ("<!channel>", "café", "x" * 65):
        refused = (await run(signoff, ADMIN, f"group create {name} people")).all_text()
        assert "letters, digits, “.”, “_” or “-” only, at most 64" in refused and "pattern" not in refused, refused
    assert await groups(signoff) == []


async def test_people_are_named_by_mention_as_slack_sends_it(signoff: Harness) -> None:
    made = (await run(signoff, ADMIN, "group create leads people <@U01AAA|alice> <@U01BBB>")).all_text()
    assert "It has 2 members." in made
    assert "It has 3 members." in (await run(signoff, ADMIN, "group add leads <@U01CCC|chloe>")).all_text()
    assert "It has 2 members." in (await run(signoff, ADMIN, "group remove leads <@U01AAA|alice>")).all_text()
    assert (await groups(signoff))[0]["members"] == ["U01BBB", "U01CCC"]


async def test_an_admin_applies_publishes_and_deletes_rules_from_slack(signoff: Harness) -> None:
    assert "Rules saved: Air France is travel" in (await run(signoff, ADMIN, f"rule apply {RULES_YAML}")).all_text()
    [rule] = await rules(signoff)
    assert rule["status"] == "published"
    assert "is unpublished" in (await run(signoff, ADMIN, f"rule unpublish {rule['id']}")).all_text()
    assert (await rules(signoff))[0]["status"] == "draft"
    assert "is published" in (await run(signoff, ADMIN, f"rule publish {rule['id']}")).all_text()
    assert "is deleted" in (await run(signoff, ADMIN, f"rule delete {rule['id']}")).all_text()
    assert await rules(signoff) == []


# the rules list, the rule modal, publishing with a preview (signed clicks and submissions)

WORKFLOW = {"name": "Invoices need approval", "record_type": "invoice", "trigger": "created",
            "actions": [{"type": "approval", "steps": [{"approvers": ["U01AAA"], "min_approvers": 1}]}]}


def top_modal(h: Harness, user: str) -> dict[str, Any]:
    from bot.sandbox.blockkit.validation import validate_view
    modal = h.workspace.open_modals(user)[-1]
    assert validate_view(modal) == []
    return modal


def modal_text(modal: dict[str, Any]) -> str:
    import json
    return json.dumps(modal, ensure_ascii=False)


async def pending_invoices(h: Harness, count: int) -> None:
    assert (await h.post("/api/v1/workflows", WORKFLOW)).status_code == 201
    for i in range(count):
        body = {"amount": "100", "currency": "EUR", "vendor": "V-AIR", "customer": "C1", "source": "app"}
        assert (await h.put(f"/api/v1/records/invoice/INV-{i}", body)).status_code == 200


async def test_an_admin_creates_a_rule_in_a_modal_and_publishes_it_after_a_preview(signoff: Harness) -> None:
    await pending_invoices(signoff, 3)
    listing = await run(signoff, ADMIN, "rules")
    await signoff.click(ADMIN, listing, "rule_new")
    modal = await signoff.wait_for(lambda: signoff.workspace.open_modals(ADMIN) and top_modal(signoff, ADMIN))
    assert modal["callback_id"] == "rule_save"
    await signoff.link.click_in_view(ADMIN, "rule_form_field", view_id=modal["id"], value="amount")
    typed = await signoff.wait_for(lambda: "Add a condition" in modal_text(top_modal(signoff, ADMIN))
                                   and top_modal(signoff, ADMIN)["hash"] != modal["hash"] and top_modal(signoff, ADMIN))
    ops = next(b for b in typed["blocks"] if b.get("block_id") == "cond_op_0")["element"]["options"]
    assert "contains" not in [o["value"] for o in ops] and "gt" in [o["value"] for o in ops]
    bad = await signoff.link.submit(ADMIN, {"name": "Air is travel", "cond_field_0": "vendor", "cond_op_0": "eq",
                                            "cond_value_0": "V-AIR"})
    assert bad.json()["response_action"] == "errors" and "res_field_0" in bad.json()["errors"]
    await signoff.link.submit(ADMIN, {"name": "Air is travel", "cond_field_0": "vendor", "cond_op_0": "eq",
                                      "cond_value_0": "V-AIR", "res_field_0": "category", "res_value_0": "Travel"})
    [rule] = await rules(signoff)
    assert rule["status"] == "draft" and rule["conditions"] == [{"field": "vendor", "op": "eq", "value": "V-AIR"}]
    listing = await run(signoff, ADMIN, "rules")
    assert "When Vendor is “V-AIR”" in listing.all_text() and "Category → “Travel”" in listing.all_text()
    await signoff.click(ADMIN, listing, "rule_publish")
    confirm = await signoff.wait_for(lambda: signoff.workspace.open_modals(ADMIN) and top_modal(signoff, ADMIN))
    assert "Publishing pre-fills 3 documents: Invoice INV-0, Invoice INV-1, Invoice INV-2" in modal_text(confirm)
    assert (await rules(signoff))[0]["status"] == "draft"
    await signoff.link.submit(ADMIN)
    assert (await rules(signoff))[0]["status"] == "published"
    note = await signoff.wait_for(lambda: [m for m in signoff.dm(ADMIN) if "is published" in m.all_text()])
    assert "3 documents changed" in note[-1].all_text()
    invoice = (await signoff.api.get("/api/v1/records/invoice/INV-1")).json()
    assert invoice["category"] == "Travel"


async def test_an_admin_edits_unpublishes_and_deletes_a_rule_from_the_list(signoff: Harness) -> None:
    await run(signoff, ADMIN, f"rule apply {RULES_YAML}")
    listing = await run(signoff, ADMIN, "rules")
    await signoff.click(ADMIN, listing, "rule_edit")
    modal = await signoff.wait_for(lambda: signoff.workspace.open_modals(ADMIN) and top_modal(signoff, ADMIN))
    assert "Edit rule" in modal_text(modal) and "V-AIR" in modal_text(modal)
    await signoff.link.submit(ADMIN, {"name": "Air France is flights", "cond_field_0": "vendor", "cond_op_0": "eq",
                                      "cond_value_0": "V-AIR", "res_field_0": "category", "res_value_0": "Flights"})
    [rule] = await rules(signoff)
    assert (rule["name"], rule["results"], rule["status"]) == ("Air France is flights", {"category": "Flights"},
                                                             "published")
    await signoff.click(ADMIN, await run(signoff, ADMIN, "rules"), "rule_unpublish")
    confirm = await signoff.wait_for(lambda: signoff.workspace.open_modals(ADMIN) and top_modal(signoff, ADMIN))
    assert "Unpublishing changes no document" in modal_text(confirm)
    await signoff.link.submit(ADMIN)
    assert (await rules(signoff))[0]["status"] == "draft"
    await signoff.click(ADMIN, await run(signoff, ADMIN, "rules"), "rule_delete")
    await signoff.wait_for(lambda: signoff.workspace.open_modals(ADMIN))
    await signoff.link.submit(ADMIN)
    assert await rules(signoff) == []
    deleted = await signoff.wait_for(lambda: [m for m in signoff.dm(ADMIN) if "is deleted" in m.all_text()])
    assert "Rule `Air France is flights` is deleted. 0 documents changed." in deleted[-1].all_text()


async def test_value_pickers_follow_the_field_and_operator(signoff: Harness) -> None:
    await signoff.click(ADMIN, await run(signoff, ADMIN, "rules"), "rule_new")
    modal = await signoff.wait_for(lambda: signoff.workspace.open_modals(ADMIN) and top_modal(signoff, ADMIN))

    async def pick(action: str, value: str) -> dict[str, Any]:
        before = top_modal(signoff, ADMIN)["hash"]
        await signoff.link.click_in_view(ADMIN, action, view_id=modal["id"], value=value)
        shown = await signoff.wait_for(lambda: top_modal(signoff, ADMIN)["hash"] != before and top_modal(signoff,
                                                                                                         ADMIN))
        return {b["block_id"]: b for b in shown["blocks"] if "block_id" in b}

    blocks = await pick("rule_form_field", "due_date")
    assert "due_within_days" in [o["value"] for o in blocks["cond_op_0"]["element"]["options"]]
    blocks = await pick("rule_form_op", "eq")
    assert blocks["cond_value_0"]["element"]["type"] == "datepicker"
    blocks = await pick("rule_form_op", "due_within_days")
    assert blocks["cond_value_0"]["element"]["type"] == "number_input"
    assert blocks["cond_value_0"]["element"]["is_decimal_allowed"] is False
    blocks = await pick("rule_form_field", "status")
    assert "cond_op_0" in blocks and blocks["cond_op_0"]["element"].get("initial_option") is None
    blocks = await pick("rule_form_op", "eq")
    assert [o["value"] for o in blocks["cond_value_0"]["element"]["options"]] == ["draft", "open", "sent", "paid",
                                                                                  "void"]
    blocks = await pick("rule_form_op", "is_empty")
    assert "cond_value_0" not in blocks
    await signoff.link.click_in_view(ADMIN, "rule_form_add_condition", view_id=modal["id"])
    await signoff.wait_for(lambda: "cond_field_1" in json.dumps(top_modal(signoff, ADMIN)))
