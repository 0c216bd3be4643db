"""Pre-fill rules end to end: a rule codes a new invoice, the approver sees ⚡, picks another value, approves."""

from __future__ import annotations

from typing import Any

from bot.sandbox.blockkit.validation import validate_message
from tests.support.harness import Harness

WORKFLOW: dict[str, Any] = {
    "name": "Invoices need approval",
    "record_type": "invoice",
    "trigger": "created",
    "conditions": [{"field": "amount", "op": "gt", "value": "1000"}],
    "actions": [{"type": "approval", "steps": [{"approvers": ["U01AAA"], "min_approvers": 1}]}],
}
INVOICE = {"amount": "12500.00", "currency": "EUR", "customer": "C-ACME", "created_by": "U0REQ", "source": "manual"}


def a_rule(name: str, condition: dict[str, Any], category: str) -> dict[str, Any]:
    return {"name": name, "conditions": [condition], "results": {"category": category}, "status": "published"}


async def coded_invoice_waiting(signoff: Harness, workflow: dict[str, Any] = WORKFLOW) -> tuple[str, str]:
    """Two same-level rules code the invoice (the newer wins); it goes to approval. Return both rule ids."""
    assert (await signoff.post("/api/v1/workflows", workflow)).status_code == 201
    older = await signoff.post("/api/v1/rules", a_rule("ACME is consulting",
                                                       {"field": "customer", "op": "eq", "value": "C-ACME"},
                                                       "Consulting"))
    await signoff.post("/api/v1/clock", {"advance": "PT1M"})
    newer = await signoff.post("/api/v1/rules", a_rule("Big is software",
                                                       {"field": "amount", "op": "gt", "value": "10000"}, "Software"))
    assert older.status_code == newer.status_code == 201, older.text
    created = await signoff.put("/api/v1/records/invoice/INV-7", INVOICE)
    assert created.status_code == 200 and created.json()["category"] == "Software"
    assert (await signoff.post("/api/v1/records/invoice/INV-7/submit")).status_code == 200
    return older.json()["id"], newer.json()["id"]


def category_line(message: Any) -> str:
    """Return the Category field of the message's record fields."""
    fields = next(b for b in message.blocks if b.get("block_id") == "record_fields")["fields"]
    return str(next(f["text"] for f in fields if f["text"].startswith("*Category*")))


async def test_prefilled_invoice_approver_picks_another_value_then_approves(signoff: Harness) -> None:
    consulting, software = await coded_invoice_waiting(signoff)
    dm = await signoff.wait_for(lambda: next(iter(signoff.dm("U01AAA")), None))
    assert validate_message(dm.blocks, dm.text) == []
    assert category_line(dm) == "*Category* ⚡\nSoftware\nAlso proposed: Consulting"
    assert dm.action_ids() == ["prefill_choice", "approve", "reject"]

    await signoff.link.click("U01AAA", dm.channel, dm.ts, "prefill_choice", value=consulting)
    current = lambda: signoff.workspace.message(dm.channel, dm.ts)  # noqa: E731
    chosen = "*Category* ⚡\nConsulting\nAlso proposed: Software"
    refreshed = await signoff.wait_for(lambda: category_line(current()) == chosen and current())
    assert validate_message(refreshed.blocks, refreshed.text) == []
    menu = next(b for b in refreshed.blocks if str(b.get("block_id", "")).startswith("prefill:"))
    assert menu["accessory"]["initial_option"]["value"] == consulting

    await signoff.click("U01AAA", refreshed, "approve")
    await signoff.wait_for(lambda: signoff.dm("U0REQ"))
    body = (await signoff.api.get("/api/v1/records/invoice/INV-7")).json()
    assert body["approval_status"] == "approved" and body["category"] == "Consulting"

    audit = (await signoff.api.get("/api/v1/records/invoice/INV-7/audit")).json()["events"]
    choice = next(e for e in audit if e["action"] == "prefill_chosen")
    assert choice["actor"] == "U01AAA" and (choice["from"], choice["to"]) == ("Software", "Consulting")
    assert choice["detail"]["field"] == "category" and choice["detail"]["option"] == consulting
    prefills = (await signoff.api.get("/api/v1/records/invoice/INV-7/prefills")).json()["prefills"]
    assert prefills[0]["rule_id"] == consulting and prefills[0]["chosen_by"] == "U01AAA"
    assert prefills[0]["competing"] == [{"value": "Software", "rule_id": software}]


async def test_only_an_approver_may_pick_a_value(signoff: Harness) -> None:
    with_channel = {**WORKFLOW, "actions": [{**WORKFLOW["actions"][0], "channel": "#finance"}]}
    consulting, _ = await coded_invoice_waiting(signoff, with_channel)
    posted = await signoff.wait_for(lambda: signoff.workspace.messages_in("C0FINANCE"))
    assert "prefill_choice" in posted[0].action_ids()
    await signoff.link.click("U0OUT", posted[0].channel, posted[0].ts, "prefill_choice", value=consulting)
    refusal = await signoff.wait_for(lambda: signoff.workspace.ephemerals("U0OUT"))
    assert "not an approver" in refusal[0].all_text()
    assert (await signoff.api.get("/api/v1/records/invoice/INV-7")).json()["category"] == "Software"


async def test_a_stale_choice_changes_nothing(signoff: Harness) -> None:
    await coded_invoice_waiting(signoff)
    dm = await signoff.wait_for(lambda: next(iter(signoff.dm("U01AAA")), None))
    stale = {"text": {"type": "plain_text", "text": "Gone"}, "value": "rule_gone"}
    await signoff.link.click("U01AAA", dm.channel, dm.ts, "prefill_choice", value=stale)
    refusal = await signoff.wait_for(lambda: signoff.workspace.ephemerals("U01AAA") or signoff.dm("U01AAA")[1:])
    assert "no longer offered" in refusal[0].all_text()
    assert (await signoff.api.get("/api/v1/records/invoice/INV-7")).json()["category"] == "Software"


async def test_a_persons_value_is_kept_and_the_rule_suggested_in_the_message(signoff: Harness) -> None:
    assert (await signoff.post("/api/v1/workflows", WORKFLOW)).status_code == 201
    rule = a_rule("Big is software", {"field": "amount", "op": "gt", "value": "10000"}, "Software")
    assert (await signoff.post("/api/v1/rules", rule)).status_code == 201
    created = await signoff.put("/api/v1/records/invoice/INV-8", {**INVOICE, "category": "Hardware"})
    assert created.json()["category"] == "Hardware"
    await signoff.post("/api/v1/records/invoice/INV-8/submit")
    dm = await signoff.wait_for(lambda: next(iter(signoff.dm("U01AAA")), None))
    assert category_line(dm) == "*Category*\nHardware\n⚡ Suggested: Software"
    assert "prefill_choice" in dm.action_ids()
