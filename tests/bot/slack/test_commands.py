"""`/signoff` end to end over the signed HTTP path: every subcommand, as an admin and as a non-admin."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bot.sandbox.blockkit.validation import validate_message
from bot.sandbox.state.model import Message
from bot.slack.command_kit import Reply, command, run_command
from tests.bot.slack.test_home import (
    ALICE,
    BIG_INVOICES,
    BRUNO,
    DIMITRI,
    create_workflow,
    pending_invoices,
    view_text,
)
from tests.support.harness import Harness

ADMIN, MEMBER = "U0ADMIN", "U01CCC"
ADMIN_ONLY = ["workflows", "workflow show X", "templates", "new invoice-approval", "history", "remind invoice X",
              "groups", "rules"]


async def run(h: Harness, user: str, text: str) -> Message:
    before = len(h.workspace.ephemerals(user))
    reply = await h.link.command(user, "/signoff", text)
    assert reply.status == 200 and reply.elapsed_s < 3
    shown = h.workspace.ephemerals(user)
    assert len(shown) == before + 1, f"/signoff {text} showed nothing"
    message = shown[-1]
    assert validate_message(message.blocks, message.text) == []
    return message


@pytest.mark.parametrize("text", ADMIN_ONLY)
async def test_management_subcommands_refuse_non_admins(signoff: Harness, text: str) -> None:
    answer = await run(signoff, MEMBER, text)
    assert "Only Signoff admins" in answer.all_text() and "nothing was changed" in answer.all_text()
    assert signoff.workspace.open_modals(MEMBER) == []


async def test_help_lists_what_the_caller_may_use(signoff: Harness) -> None:
    member = (await run(signoff, MEMBER, "help")).all_text()
    admin = (await run(signoff, ADMIN, "")).all_text()
    for usage in ("/signoff pending", "/signoff request", "/signoff away", "/signoff help"):
        assert usage in member and usage in admin
    for usage in ("/signoff workflows", "/signoff workflow show", "/signoff templates", "/signoff new [TEMPLATE]",
                  "/signoff history", "/signoff remind", "/signoff groups", "/signoff rules"):
        assert usage not in member and usage in admin


async def test_unknown_subcommands_are_named(signoff: Harness) -> None:
    answer = await run(signoff, MEMBER, "frobnicate now")
    assert "There is no `/signoff frobnicate`" in answer.all_text()


async def test_workflows_lists_and_pages(signoff: Harness) -> None:
    for i in range(12):
        await create_workflow(signoff, {**BIG_INVOICES, "name": f"Workflow {i:02d}"})
    first = await run(signoff, ADMIN, "workflows")
    assert "Workflows (14)" in first.all_text() and "Bill payment reminder" in first.all_text()
    assert "Page 1 of 2" in first.all_text() and first.action_ids().count("page_next") == 1
    assert "page_previous" not in first.action_ids()
    await signoff.link.click(ADMIN, first.channel, first.ts, "page_next")
    second = await signoff.wait_for(
        lambda: (m := signoff.workspace.message(first.channel, first.ts)) and "Page 2 of 2" in m.all_text() and m)
    assert "Workflow 11" in second.all_text() and "page_previous" in second.action_ids()
    assert validate_message(second.blocks, second.text) == []
    await signoff.link.click(ADMIN, first.channel, first.ts, "page_previous")
    await signoff.wait_for(lambda: "Page 1 of 2" in signoff.workspace.message(first.channel, first.ts).all_text())


async def test_workflow_show_renders_conditions_and_actions_readably(signoff: Harness) -> None:
    body = {**BIG_INVOICES, "conditions": [
        {"field": "amount", "op": "gt", "value": "5000"},
        {"field": "customer.state", "op": "in", "value": ["CA", "NY"]},
        {"field": "due_date", "op": "due_within_days", "value": 7}],
        "actions": [{**BIG_INVOICES["actions"][0], "remind_every": "P1D", "escalate_after": "P3D",
                     "escalate_to": [DIMITRI], "channel": "#finance"},
                    {"type": "notification", "channel": "#finance", "message": "{{ record.id }} is waiting"}]}
    workflow_id = await create_workflow(signoff, body)
    text = (await run(signoff, ADMIN, f"workflow show {workflow_id}")).all_text()
    for line in ("Amount is greater than 5,000", "State of the customer is one of “CA”, “NY”",
                 "Due date is between today and 7 days from now", "Step 1 — 1 of: <@U01AAA>, <@U01BBB>",
                 "Reminds every day.", "Escalates to <@U01DDD> after 3 days.", "Also posted in #finance.",
                 "*2. Notification* → #finance", "Rejected automatically after 30 days"):
        assert line in text
    short = (await run(signoff, ADMIN, f"workflow show {workflow_id[:8]}")).all_text()
    assert "Amount is greater than 5,000" in short
    unsent = (await run(signoff, ADMIN, "workflow show wf_default_unsent_invoice_reminder")).all_text()
    assert "E-mail status is “not sent”" in unsent and "no approval needed”" in unsent and "not_sent" not in unsent


async def test_workflow_enable_disable_copy_delete(signoff: Harness) -> None:
    workflow_id = await create_workflow(signoff, BIG_INVOICES)
    assert "is disabled" in (await run(signoff, ADMIN, f"workflow disable {workflow_id}")).all_text()
    assert (await signoff.api.get(f"/api/v1/workflows/{workflow_id}")).json()["enabled"] is False
    assert "is enabled" in (await run(signoff, ADMIN, f"workflow enable {workflow_id}")).all_text()
    assert (await signoff.api.get(f"/api/v1/workflows/{workflow_id}")).json()["enabled"] is True
    copied = (await run(signoff, ADMIN, f"workflow copy {workflow_id}")).all_text()
    assert "Copy of Big invoices" in copied and "disabled draft" in copied
    question = await run(signoff, ADMIN, f"workflow delete {workflow_id}")
    assert "No document is waiting for approval" in question.all_text()
    await signoff.link.click(ADMIN, question.channel, question.ts, "workflow_delete_confirm")
    await signoff.wait_for(lambda: "is deleted" in signoff.workspace.message(question.channel, question.ts).all_text())
    assert (await signoff.api.get(f"/api/v1/workflows/{workflow_id}")).status_code == 404
    assert "Not found" in (await run(signoff, ADMIN, f"workflow show {workflow_id}")).all_text()
    assert "Usage" in (await run(signoff, ADMIN, "workflow explode X")).all_text()
    names = [w["name"] for w in (await signoff.api.get("/api/v1/workflows")).json()["workflows"]]
    assert names.count("Copy of Big invoices") == 1


async def test_the_workflow_menu_of_the_list_acts_on_one_workflow(signoff: Harness) -> None:
    workflow_id = await create_workflow(signoff, BIG_INVOICES)
    listing = await run(signoff, ADMIN, "workflows")
    before = len(signoff.workspace.ephemerals(ADMIN))
    [menu] = [b for b in listing.blocks or [] if b.get("block_id") == f"wf:{workflow_id}"]
    disable = next(o for o in menu["accessory"]["options"] if o["value"].startswith("disable"))
    await signoff.link.click(ADMIN, listing.channel, listing.ts, "workflow_menu", value=disable)
    await signoff.wait_for(lambda: len(signoff.workspace.ephemerals(ADMIN)) > before)
    assert (await signoff.api.get(f"/api/v1/workflows/{workflow_id}")).json()["enabled"] is False


async def test_templates_page_and_open_the_new_workflow_modal(signoff: Harness) -> None:
    listing = await run(signoff, ADMIN, "templates")
    assert "Invoice approval" in listing.all_text() and "Page 1 of" in listing.all_text()
    approvals = await run(signoff, ADMIN, "templates approval")
    assert "Expense approval" in approvals.all_text() and "Bill payment reminder" not in approvals.all_text()
    unknown = await run(signoff, ADMIN, "templates nonexistent")
    assert "There is no template category `nonexistent`" in unknown.all_text() and "`approval`" in unknown.all_text()
    await signoff.link.click(ADMIN, approvals.channel, approvals.ts, "template_use")
    [modal] = await signoff.wait_for(lambda: signoff.workspace.open_modals(ADMIN))
    assert modal["callback_id"] == "workflow_builder" and "Invoice approval" in view_text(modal)


async def test_new_from_a_template_with_people_pickers_publishes_a_workflow(signoff: Harness) -> None:
    every = await signoff.api.post("/api/v1/workflows", json={
        "name": "Every invoice", "record_type": "invoice",
        "actions": [{"type": "approval", "steps": [{"approvers": [DIMITRI]}]}]})
    assert every.status_code == 201, every.text
    await run_modal(signoff, "new large-invoice-two-step-approval")
    modal = signoff.workspace.open_modals(ADMIN)[-1]
    kinds = {b["block_id"]: b["element"]["type"] for b in modal["blocks"] if b["type"] == "input"}
    assert kinds["a0_s0_people"] == kinds["a0_s1_people"] == kinds["a0_escalate_to"] == "multi_users_select"
    assert kinds["c0_value"] == "number_input" and "Invoice {{" not in view_text(modal)
    reply = await signoff.link.submit(ADMIN, {
        "name": "Huge invoices", "c0_value": "50000", "a0_s0_people": [ALICE, BRUNO], "a0_s0_groups": [],
        "a0_s0_min": "2", "a0_s1_people": [DIMITRI], "a0_s1_groups": [], "a0_remind_n": "2", "a0_remind_u": "days",
        "a0_escalate_u": "never", "a0_escalate_to": [], "a0_expire_n": "1", "a0_expire_u": "weeks",
        "publish": "publish"})
    assert reply.json() is None
    note = await signoff.wait_for(lambda: signoff.dm(ADMIN))
    assert "Huge invoices" in note[0].all_text() and "published and enabled" in note[0].all_text()
    assert "can match both this workflow and *Every invoice*" in note[0].all_text()
    assert "it follows this one" in note[0].all_text()
    [created] = [w for w in (await signoff.api.get("/api/v1/workflows")).json()["workflows"]
                 if w["name"] == "Huge invoices"]
    approval = created["actions"][0]
    assert created["conditions"] == [{"field": "amount", "op": "gt", "value": "50000"}]
    assert approval["steps"][0] == {"name": None, "approvers": [ALICE, BRUNO], "min_approvers": 2}
    assert approval["steps"][1]["approvers"] == [DIMITRI]
    assert (approval["remind_every"], approval["escalate_after"], approval["expire_after"]) == ("P2D", None, "P7D")
    assert created["enabled"] is True and created["status"] == "published"


async def test_new_saves_a_draft_and_shows_problems_on_the_right_input(signoff: Harness) -> None:
    await run_modal(signoff, "new expense-approval")
    bad = await signoff.link.submit(ADMIN, {"c0_value": "-", "a0_s0_people": [ALICE], "a0_s0_groups": [],
                                            "a0_s0_min": "2"})
    assert bad.json()["response_action"] == "errors"
    assert bad.json()["errors"]["a0_s0_people"] == "Step 1 needs at least 2 approvers to reach its quorum of 2."
    await signoff.link.submit(ADMIN, {"a0_s0_people": [ALICE], "a0_s0_groups": [], "a0_s0_min": "1",
                                      "publish": "draft"})
    [created] = [w for w in (await signoff.api.get("/api/v1/workflows")).json()["workflows"]
                 if w["name"] == "Expense approval"]
    assert created["status"] == "draft" and created["enabled"] is False
    assert "Not found" in (await run(signoff, ADMIN, "new no-such-template")).all_text()
    assert "Usage" in (await run(signoff, ADMIN, "new a b")).all_text()


async def run_modal(h: Harness, text: str) -> None:
    reply = await h.link.command(ADMIN, "/signoff", text)
    assert reply.status == 200
    await h.wait_for(lambda: h.workspace.open_modals(ADMIN))


async def test_history_shows_the_latest_runs(signoff: Harness) -> None:
    empty = await run(signoff, ADMIN, "history")
    assert "No run yet" in empty.all_text()
    notify = {"name": "Tell finance", "record_type": "invoice", "trigger": "created",
              "actions": [{"type": "notification", "channel": "#finance", "message": "New {{ record.id }}"}]}
    workflow_id = await create_workflow(signoff, notify)
    await signoff.put("/api/v1/records/invoice/INV-9", {"amount": "10", "customer": "C-ACME"})
    text = (await run(signoff, ADMIN, "history")).all_text()
    assert "*Tell finance* → Invoice INV-9" in text and "document created" in text and "notification ✓" in text
    assert "Runs of Tell finance" in (await run(signoff, ADMIN, f"history {workflow_id}")).all_text()
    assert "Runs of Tell finance" in (await run(signoff, ADMIN, "history Tell finance")).all_text()
    assert "Not found" in (await run(signoff, ADMIN, "history wf_nothing_like_this")).all_text()


async def test_groups_and_rules_are_listed(signoff: Harness) -> None:
    assert "no groups yet" in (await run(signoff, ADMIN, "groups")).all_text()
    assert "no pre-fill rules yet" in (await run(signoff, ADMIN, "rules")).all_text()
    group = {"name": "ca-customers", "kind": "customer",
             "filters": [{"field": "state", "op": "eq", "value": "CA"}]}
    assert (await signoff.post("/api/v1/groups", group)).status_code == 201
    rule = {"name": "Air France is travel", "conditions": [{"field": "vendor", "op": "eq", "value": "V-AIR"}],
            "results": {"category": "Travel"}}
    assert (await signoff.post("/api/v1/rules", rule)).status_code == 201
    groups = (await run(signoff, ADMIN, "groups")).all_text()
    assert "*ca-customers* · customers · 0 members · 1 filter · updates automatically" in groups
    rules = (await run(signoff, ADMIN, "rules")).all_text()
    assert "*Air France is travel* · draft · 1 condition" in rules and "Category → “Travel”" in rules


async def test_remind_needs_an_invoice_and_e_mail(signoff: Harness) -> None:
    assert "Usage" in (await run(signoff, ADMIN, "remind invoice")).all_text()
    assert "Not found: bill B-1" in (await run(signoff, ADMIN, "remind bill B-1")).all_text()
    assert (await signoff.put("/api/v1/records/bill/B-1", {"amount": "10.00"})).status_code == 200
    assert "waits for no approval" in (await run(signoff, ADMIN, "remind bill B-1")).all_text()
    assert "There is no document type `banana`" in (await run(signoff, ADMIN, "remind banana B-1")).all_text()
    assert "Not found: invoice INV-404" in (await run(signoff, ADMIN, "remind invoice INV-404")).all_text()
    assert (await signoff.put("/api/v1/records/invoice/INV-1", {"amount": "10.00"})).status_code == 200
    answer = (await run(signoff, ADMIN, "remind invoice INV-1")).all_text()
    assert "That did not work" in answer and "e-mail is off" in answer


async def test_remind_reminds_the_approvers_of_a_document_waiting_for_approval_now(signoff: Harness) -> None:
    await create_workflow(signoff, BIG_INVOICES)
    [record_id] = await pending_invoices(signoff, 1)
    asked = len(await signoff.wait_for(lambda: signoff.dm(ALICE)))
    answer = (await run(signoff, ADMIN, f"remind invoice {record_id}")).all_text()
    assert f"<@{ALICE}>, <@{BRUNO}> reminded of the invoice {record_id}" in answer, answer
    reminders = await signoff.wait_for(lambda: signoff.dm(ALICE)[asked:])
    assert "Reminder" in reminders[0].all_text() and "approve" in reminders[0].action_ids()
    by_api = await signoff.api.post(f"/api/v1/records/invoice/{record_id}/remind-approvers")
    assert by_api.status_code == 200 and by_api.json()["to"] == [ALICE, BRUNO]
    await signoff.wait_for(lambda: len(signoff.dm(ALICE)) >= asked + 2)
    audit = (await signoff.api.get(f"/api/v1/records/invoice/{record_id}/audit")).json()
    assert [e["detail"]["manual"] for e in audit["events"] if e["action"] == "reminded"] == [True, True]
    assert (await signoff.api.post("/api/v1/records/bill/B-404/remind-approvers")).status_code == 404
    await signoff.link.click(ALICE, reminders[0].channel, reminders[0].ts, "approve")
    assert (await signoff.api.post(f"/api/v1/records/invoice/{record_id}/remind-approvers")).status_code == 409


async def test_pending_lists_my_approvals_with_buttons_for_everyone(signoff: Harness) -> None:
    await create_workflow(signoff, BIG_INVOICES)
    await pending_invoices(signoff, 10)
    mine = await run(signoff, ALICE, "pending")
    assert "Waiting for your approval (10)" in mine.all_text() and "Page 1 of 2" in mine.all_text()
    assert mine.action_ids().count("approve") == 8
    await signoff.link.click(ALICE, mine.channel, mine.ts, "approve")
    nothing = await run(signoff, ADMIN, "pending")
    assert "Nothing is waiting for your approval" in nothing.all_text()


async def test_an_approval_from_the_pending_list_replaces_the_list_with_what_is_left(signoff: Harness) -> None:
    await create_workflow(signoff, BIG_INVOICES)
    await pending_invoices(signoff, 3)
    mine = await run(signoff, ALICE, "pending")
    first = mine.blocks[1]["block_id"]
    await signoff.link.click(ALICE, mine.channel, mine.ts, "approve")
    now = await signoff.wait_for(
        lambda: [m for m in signoff.workspace.ephemerals(ALICE) if "Waiting for your approval (2)" in m.all_text()])
    assert now[-1].ts == mine.ts and now[-1].action_ids().count("approve") == 2
    assert first not in [b.get("block_id") for b in now[-1].blocks]
    assert validate_message(now[-1].blocks, now[-1].text) == []
    assert len(signoff.workspace.ephemerals(ALICE)) == 1


async def test_a_rejection_from_the_pending_list_replaces_the_list_once_its_reason_is_given(
        signoff: Harness) -> None:
    await create_workflow(signoff, BIG_INVOICES)
    await pending_invoices(signoff, 2)
    mine = await run(signoff, ALICE, "pending")
    await signoff.link.click(ALICE, mine.channel, mine.ts, "reject")
    await signoff.wait_for(lambda: signoff.workspace.open_modals(ALICE))
    assert "Waiting for your approval (2)" in mine.all_text()
    await signoff.link.submit(ALICE, {"reason": "Wrong amount"})
    now = await signoff.wait_for(
        lambda: [m for m in signoff.workspace.ephemerals(ALICE) if "Waiting for your approval (1)" in m.all_text()])
    assert now[-1].ts == mine.ts and now[-1].action_ids().count("reject") == 1


async def test_a_decision_from_a_direct_message_leaves_the_message_to_its_card_refresh(signoff: Harness) -> None:
    await create_workflow(signoff, BIG_INVOICES)
    await pending_invoices(signoff, 1)
    [dm] = await signoff.wait_for(lambda: [m for m in signoff.workspace.messages_in(
        signoff.workspace.dm_channel_id(ALICE)) if "approve" in m.action_ids()])
    await signoff.link.click(ALICE, dm.channel, dm.ts, "reject")
    [modal] = await signoff.wait_for(lambda: signoff.workspace.open_modals(ALICE))
    assert "\n" not in modal["private_metadata"]
    await signoff.link.submit(ALICE, {"reason": "Wrong amount"})
    assert signoff.workspace.ephemerals(ALICE) == []


async def test_request_and_away_are_for_everyone(signoff: Harness) -> None:
    for user in (ADMIN, MEMBER):
        await signoff.link.command(user, "/signoff", "request")
        [modal] = await signoff.wait_for(lambda u=user: signoff.workspace.open_modals(u))
        assert modal["callback_id"] == "request_new"
        assert "not away" in (await run(signoff, user, "away")).all_text()


async def test_other_modules_can_add_subcommands_to_the_registry(signoff: Harness) -> None:
    async def ping(ctx: Any, args: list[str]) -> Reply:
        return Reply({"text": f"pong {' '.join(args)}"}, in_channel=True)

    registry = signoff.runtime.commands
    registry.add(command("ping", ping, help_key="Answer pong", usage="ping"))
    try:
        reply = await signoff.link.command(MEMBER, "/signoff", "ping a b")
        assert json.loads(reply.body)["response_type"] == "in_channel"
        assert "pong a b" in signoff.workspace.messages_in(signoff.workspace.dm_channel_id(MEMBER))[-1].text
        assert "Answer pong" in (await run(signoff, MEMBER, "help")).all_text()
        assert await run_command(signoff.runtime.service, registry, MEMBER, "ping") is not None
        with pytest.raises(ValueError, match="defined twice"):
            registry.add(command("ping", ping))
    finally:
        registry.remove("ping")
    assert "ping" not in [c.name for c in registry]
    assert "ping" in (await run(signoff, MEMBER, "ping")).all_text()  # now unknown, and said so


async def test_a_reject_form_that_slack_no_longer_lets_open_is_told_to_the_clicker_once(signoff: Harness) -> None:
    await create_workflow(signoff, BIG_INVOICES)
    await pending_invoices(signoff, 1)
    dm = (await signoff.wait_for(lambda: signoff.dm(ALICE)))[0]
    signoff.workspace.trigger_ttl_s = 0.0  # every trigger has expired by the time it is used
    await signoff.link.click(ALICE, dm.channel, dm.ts, "reject")
    told = await signoff.wait_for(lambda: signoff.workspace.ephemerals(ALICE))
    assert "could not open in time" in told[-1].text and "click again" in told[-1].text

    async def inbox_counts() -> dict[str, int]:
        async with signoff.db.read() as repo:
            return dict(await repo.inbox_counts())

    deadline = asyncio.get_running_loop().time() + 10
    while (await inbox_counts()).get("queued"):
        assert asyncio.get_running_loop().time() < deadline, "the click was never done with"
        await asyncio.sleep(0.05)
    assert "failed" not in await inbox_counts()
    assert len(signoff.workspace.calls("views.open")) == 1, "opening again cannot help: it was not retried"
    assert signoff.workspace.open_modals(ALICE) == []
    assert (await signoff.api.get("/api/v1/records/invoice/INV-000")).json()["approval_status"] == "pending"


async def test_the_workflow_saved_from_slack_warns_of_people_slack_cannot_ask_and_timers_that_never_fire(
    signoff: Harness,
) -> None:
    await run_modal(signoff, "new large-invoice-two-step-approval")
    reply = await signoff.link.submit(ADMIN, {
        "name": "Ghostly", "c0_value": "50000", "a0_s0_people": [ALICE], "a0_s0_groups": [], "a0_s0_min": "1",
        "a0_s1_people": ["U0GHOST1"], "a0_s1_groups": [], "a0_remind_n": "2", "a0_remind_u": "weeks",
        "a0_escalate_u": "never", "a0_escalate_to": [], "a0_expire_n": "1", "a0_expire_u": "weeks",
        "publish": "publish"})
    assert reply.json() is None
    [note] = await signoff.wait_for(lambda: signoff.dm(ADMIN))
    assert "U0GHOST1" in note.all_text() and "not a user of this Slack workspace" in note.all_text(), note.all_text()
    assert "The reminder comes no sooner than the expiry" in note.all_text()
    assert validate_message(note.blocks, note.text) == []


async def test_the_workflow_saved_from_slack_warns_of_a_channel_slack_would_refuse_posts_in(signoff: Harness) -> None:
    signoff.workspace.conversation("#finance").is_archived = True
    await run_modal(signoff, "new large-invoice-two-step-approval")
    reply = await signoff.link.submit(ADMIN, {
        "name": "Archived", "c0_value": "50000", "a0_s0_people": [ALICE], "a0_s0_groups": [], "a0_s0_min": "1",
        "a0_s1_people": [BRUNO], "a0_s1_groups": [], "a0_escalate_u": "never", "a0_escalate_to": [],
        "publish": "publish"})
    assert reply.json() is None
    [note] = await signoff.wait_for(lambda: signoff.dm(ADMIN))
    assert "The channel `#finance` is archived: posts to it would fail." in note.all_text(), note.all_text()
    assert validate_message(note.blocks, note.text) == []
