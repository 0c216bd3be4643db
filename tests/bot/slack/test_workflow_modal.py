"""Admins build, edit, show and delete workflows from Slack, end to end over signed requests."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.models.views import View

from bot.sandbox.blockkit.validation import validate_message, validate_view
from bot.slack import workflow_checks as checks
from bot.slack import workflow_draft as drafts
from bot.slack import workflow_inputs as inputs
from bot.slack.workflow_modal import Choices, render_modal
from bot.slack.workflow_words import preview
from engine.catalog import catalog
from messages.render import Renderer
from tests.bot.slack.test_home import (
    ALICE,
    BIG_INVOICES,
    BRUNO,
    DIMITRI,
    REQ,
    create_workflow,
    pending_invoices,
    status_becomes,
    view_text,
)
from tests.support.harness import Harness

ADMIN, MEMBER = "U0ADMIN", "U01CCC"


async def command(h: Harness, user: str, text: str) -> Any:
    before = len(h.workspace.ephemerals(user))
    reply = await h.link.command(user, "/signoff", text)
    assert reply.status == 200 and reply.elapsed_s < 3
    shown = h.workspace.ephemerals(user)
    if len(shown) == before:
        return None
    assert validate_message(shown[-1].blocks, shown[-1].text) == []
    return shown[-1]


async def open_modal(h: Harness, text: str) -> dict[str, Any]:
    assert await command(h, ADMIN, text) is None
    [modal] = await h.wait_for(lambda: h.workspace.open_modals(ADMIN))
    assert modal["callback_id"] == "workflow_builder" and validate_view(modal) == []
    return modal


async def click(h: Harness, action_id: str, value: Any = None) -> dict[str, Any]:
    before = h.workspace.open_modals(ADMIN)[-1]["hash"]
    await h.link.click_in_view(ADMIN, action_id, view_id=h.workspace.open_modals(ADMIN)[-1]["id"], value=value)
    modal = await h.wait_for(lambda: (m := h.workspace.open_modals(ADMIN)[-1])["hash"] != before and m)
    assert validate_view(modal) == []
    return modal


def block(modal: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in modal["blocks"] if b.get("block_id") == block_id)


async def workflows(h: Harness) -> list[dict[str, Any]]:
    return (await h.api.get("/api/v1/workflows")).json()["workflows"]


async def named(h: Harness, name: str) -> dict[str, Any]:
    [found] = [w for w in await workflows(h) if w["name"] == name]
    return found


async def test_a_blank_modal_builds_a_two_step_workflow_with_typed_conditions(signoff: Harness) -> None:
    modal = await open_modal(signoff, "new")
    assert block(modal, "wf_record_type")["element"]["initial_option"]["value"] == "invoice"
    modal = await click(signoff, "wf_add_condition")
    assert block(modal, "c0_value")["element"]["type"] == "number_input"
    modal = await click(signoff, "c0_field", "due_date")
    modal = await click(signoff, "c0_op", "due_within_days")
    assert block(modal, "c0_value")["element"]["type"] == "number_input"
    assert "due within" in view_text(modal)
    modal = await click(signoff, "wf_add_condition")
    modal = await click(signoff, "c1_field", "status")
    assert block(modal, "c1_value")["element"]["type"] == "static_select"
    modal = await click(signoff, "wf_add_step", "0")
    assert block(modal, "a0_s1_people")["element"]["type"] == "multi_users_select"
    reply = await signoff.link.submit(ADMIN, {
        "name": "Due soon", "c0_value": "7", "c1_value": "open", "a0_s0_people": [ALICE, BRUNO], "a0_s0_min": "2",
        "a0_s1_people": [DIMITRI], "a0_s1_min": "1", "a0_remind_n": "2", "a0_remind_u": "days",
        "a0_expire_n": "2", "a0_expire_u": "weeks", "publish": "publish"})
    assert reply.json() is None and signoff.workspace.open_modals(ADMIN) == []
    created = await named(signoff, "Due soon")
    assert created["conditions"] == [{"field": "due_date", "op": "due_within_days", "value": 7},
                                     {"field": "status", "op": "eq", "value": "open"}]
    approval = created["actions"][0]
    assert [s["approvers"] for s in approval["steps"]] == [[ALICE, BRUNO], [DIMITRI]]
    assert approval["steps"][0]["min_approvers"] == 2
    assert (approval["remind_every"], approval["expire_after"]) == ("P2D", "P14D")
    note = await signoff.wait_for(lambda: signoff.dm(ADMIN))
    assert "Due soon" in note[-1].all_text() and "published and enabled" in note[-1].all_text()


async def test_problems_show_on_the_right_input_in_plain_words(signoff: Harness) -> None:
    await open_modal(signoff, "new")
    await click(signoff, "wf_add_condition")
    reply = await signoff.link.submit(ADMIN, {"name": " ", "a0_s0_people": [ALICE], "a0_s0_min": "3"})
    errors = reply.json()["errors"]
    assert reply.json()["response_action"] == "errors"
    assert errors["a0_s0_people"] == "Step 1 needs at least 3 approvers to reach its quorum of 3."
    assert errors["name"] == "Give the workflow a name." and errors["c0_value"] == "Pick or type a value."
    assert await workflows(signoff) == [w for w in await workflows(signoff) if w["name"] != " "]
    assert len(await workflows(signoff)) == 2  # only the two defaults


async def test_other_actions_are_previewed_on_a_sample_document(signoff: Harness) -> None:
    await open_modal(signoff, "new")
    modal = await click(signoff, "wf_add_action", "notification")
    assert "SAMPLE-1001" in view_text(modal) and "$1,250.00" in view_text(modal)
    await signoff.link.submit(ADMIN, {"name": "Tell finance", "a0_s0_people": [ALICE],
                                      "a1_channel": "#finance", "a1_message": "{{ record.id } broken"})
    errors = signoff.workspace.view_errors(signoff.workspace.open_modals(ADMIN)[-1]["id"])
    assert "does not render" in errors["a1_message"] and "{{" not in errors.get("name", "")
    typed = {"type": "plain_text_input", "value": "Due {{ record.due_date }}: {{ record.id }}"}
    view_id = signoff.workspace.open_modals(ADMIN)[-1]["id"]
    signoff.workspace.set_view_state(view_id, {"a1_message": {"a1_message": typed}})
    modal = await click(signoff, "wf_preview", "1")
    assert "Due " in view_text(modal) and "SAMPLE-1001" in view_text(modal)


async def test_a_scheduled_workflow_reads_in_plain_words(signoff: Harness) -> None:
    await open_modal(signoff, "new")
    await click(signoff, "wf_remove_action", "0")
    modal = await click(signoff, "wf_add_action", "reminder")
    await signoff.link.click_in_view(ADMIN, "wf_trigger", view_id=modal["id"], value="scheduled")
    modal = await signoff.wait_for(lambda: (m := signoff.workspace.open_modals(ADMIN)[-1]) and any(
        b.get("block_id") == "sched_days" for b in m["blocks"]) and m)
    await signoff.link.submit(ADMIN, {"name": "Weekday nudge", "sched_days": "weekdays", "sched_time": "09:30",
                                      "a0_to": [ALICE], "a0_message": "{{ record.id }} is unsent"})
    created = await named(signoff, "Weekday nudge")
    assert created["schedule"] == "30 9 * * 1-5" and created["trigger"] == "scheduled"
    shown = (await command(signoff, ADMIN, "workflow show weekday nudge")).all_text()
    assert "every weekday at 09:30, UTC" in shown and "SAMPLE-1001 is unsent" in shown
    assert "{{" not in shown and "* * 1-5" not in shown


async def test_edit_prefills_the_modal_and_saves_the_same_workflow(signoff: Harness) -> None:
    workflow_id = await create_workflow(signoff, BIG_INVOICES)
    modal = await open_modal(signoff, "workflow edit big invoices")
    assert block(modal, "name")["element"]["initial_value"] == "Big invoices"
    assert block(modal, "a0_s0_people")["element"]["initial_users"] == [ALICE, BRUNO]
    assert block(modal, "c0_value")["element"]["initial_value"] == "5000"
    await signoff.link.submit(ADMIN, {"name": "Bigger invoices", "c0_value": "8000", "a0_s0_min": "2",
                                      "a0_s0_people": [ALICE, BRUNO]})
    edited = (await signoff.api.get(f"/api/v1/workflows/{workflow_id}")).json()
    assert edited["name"] == "Bigger invoices" and edited["conditions"][0]["value"] == "8000"
    assert edited["actions"][0]["steps"][0]["min_approvers"] == 2
    assert len(await workflows(signoff)) == 3


async def test_saving_an_edit_never_undoes_a_change_made_after_it_opened(signoff: Harness) -> None:
    workflow_id = await create_workflow(signoff, BIG_INVOICES)
    await open_modal(signoff, "workflow edit big invoices")
    changed = await signoff.put(f"/api/v1/workflows/{workflow_id}", {**BIG_INVOICES, "name": "Changed meanwhile"})
    assert changed.status_code == 200
    reply = await signoff.link.submit(ADMIN, {"name": "Big invoices", "a0_s0_people": [ALICE, BRUNO]})
    assert reply.json()["response_action"] == "errors"
    assert "changed since you opened this form" in reply.json()["errors"]["name"]
    assert (await signoff.api.get(f"/api/v1/workflows/{workflow_id}")).json()["name"] == "Changed meanwhile"


async def test_workflows_are_named_by_name_or_id(signoff: Harness) -> None:
    first = await create_workflow(signoff, BIG_INVOICES)
    await create_workflow(signoff, {**BIG_INVOICES, "name": "Big invoices abroad"})
    assert "Big invoices" in (await command(signoff, ADMIN, "workflow show BIG INVOICES")).all_text()
    assert "Big invoices" in (await command(signoff, ADMIN, f"workflow show {first}")).all_text()
    both = (await command(signoff, ADMIN, "workflow show big inv")).all_text()
    assert "fits several workflows" in both and first in both and "Big invoices abroad" in both
    assert both.count("\n• *Big invoices") == 2  # one workflow per line
    assert "Not found" in (await command(signoff, ADMIN, "workflow show nothing like it")).all_text()
    shown = (await command(signoff, ADMIN, "workflow disable big invoices abroad")).all_text()
    assert "is disabled" in shown


async def test_delete_asks_first_then_cancels_the_pending_requests(signoff: Harness) -> None:
    await create_workflow(signoff, BIG_INVOICES)
    [record_id] = await pending_invoices(signoff, 1)
    asked = await signoff.wait_for(lambda: signoff.dm(ALICE))
    question = await command(signoff, ADMIN, "workflow delete Big invoices")
    assert "1 document is waiting for approval" in question.all_text()
    assert len(await workflows(signoff)) == 3
    await signoff.link.click(ADMIN, question.channel, question.ts, "workflow_delete_keep")
    await signoff.wait_for(lambda: "is kept" in signoff.workspace.message(question.channel, question.ts).all_text())
    assert len(await workflows(signoff)) == 3
    question = await command(signoff, ADMIN, "workflow delete Big invoices")
    await signoff.link.click(ADMIN, question.channel, question.ts, "workflow_delete_confirm")
    await signoff.wait_for(lambda: "1 pending request was cancelled" in signoff.workspace.message(
        question.channel, question.ts).all_text())
    assert len(await workflows(signoff)) == 2
    await status_becomes(signoff, record_id, "none")
    await signoff.wait_for(lambda: [m for m in signoff.dm(REQ) if "was cancelled" in m.all_text()])
    await signoff.wait_for(lambda: "Cancelled" in signoff.workspace.message(asked[0].channel, asked[0].ts).all_text())


async def test_rest_delete_cancels_the_pending_requests_too(signoff: Harness) -> None:
    workflow_id = await create_workflow(signoff, BIG_INVOICES)
    [record_id] = await pending_invoices(signoff, 1)
    assert (await signoff.api.delete(f"/api/v1/workflows/{workflow_id}")).status_code == 204
    await status_becomes(signoff, record_id, "none")
    await signoff.wait_for(lambda: [m for m in signoff.dm(REQ) if "was cancelled" in m.all_text()])


@pytest.mark.parametrize("text", ["new", "new invoice-approval", "workflow edit Big invoices",
                                  "workflow delete Big invoices", "workflow show Big invoices"])
async def test_non_admins_are_refused_and_nothing_changes(signoff: Harness, text: str) -> None:
    await create_workflow(signoff, BIG_INVOICES)
    answer = await command(signoff, MEMBER, text)
    assert "Only Signoff admins" in answer.all_text() and signoff.workspace.open_modals(MEMBER) == []
    assert len(await workflows(signoff)) == 3


@pytest.mark.parametrize("locale", ["en", "fr"])
def test_every_modal_state_passes_slack_validation(locale: str) -> None:
    from datetime import UTC, datetime
    from types import SimpleNamespace

    service = SimpleNamespace(renderer=Renderer(locale, "Europe/Paris"),
                              clock=SimpleNamespace(now=lambda: datetime(2026, 11, 23, 9, tzinfo=UTC)))
    draft = drafts.blank_draft()
    draft.update(trigger="scheduled", schedule="0 9 * * 1-5", name="N" * 200)
    for field, op, value in [
        ("amount", "gt", "5000"), ("due_date", "due_within_days", 7), ("status", "in", ["open"]),
        ("customer", "eq", "C-1"), ("customer", "in_group", "ca"), ("amount", "between", ["1", "2"]),
        ("memo", "contains", "x"), ("due_date", "before_today", None), ("customer.active", "eq", True),
        ("txn_date", "eq", "2026-01-01"),
    ]:
        draft["conditions"].append({"field": field, "op": op, "value": value})
    for kind in ("reminder", "notification", "send", "update"):
        drafts.add_action(draft, kind)
    for _ in range(4):
        drafts.add_step(draft, "0")
    choices = Choices(["leads"], {"customer": ["ca"]}, {"customer": [{"value": "C-1", "label": "Acme " * 30}]})
    for modal in [render_modal(service, draft, choices),
                  *(render_modal(service, drafts.template_draft(t), Choices()) for t in catalog())]:
        assert validate_view(modal) == [] and len(modal["blocks"]) <= 100
        View(**modal).validate_json()


async def test_a_modal_in_a_non_admins_hands_changes_nothing(signoff: Harness) -> None:
    from bot.slack.workflow_commands import new_workflow_modal

    service = signoff.runtime.service
    await service.slack.open_view(signoff.workspace.issue_trigger_id(MEMBER), new_workflow_modal(service, None))
    [modal] = await signoff.wait_for(lambda: signoff.workspace.open_modals(MEMBER))
    await signoff.link.click_in_view(MEMBER, "wf_add_condition", view_id=modal["id"])
    assert signoff.workspace.open_modals(MEMBER)[-1]["hash"] == modal["hash"]
    reply = await signoff.link.submit(MEMBER, {"name": "Sneaky", "a0_s0_people": [ALICE], "a0_s0_min": "1"})
    assert reply.json()["response_action"] == "errors"
    assert "Only Signoff admins" in reply.json()["errors"]["name"]
    assert "Sneaky" not in [w["name"] for w in await workflows(signoff)]


async def test_the_workflow_list_menu_edits_and_asks_before_deleting(signoff: Harness) -> None:
    workflow_id = await create_workflow(signoff, BIG_INVOICES)
    listing = await command(signoff, ADMIN, "workflows")
    [menu] = [b for b in listing.blocks or [] if b.get("block_id") == f"wf:{workflow_id}"]
    values = [o["value"] for o in menu["accessory"]["options"]]
    assert f"edit {workflow_id}" in values and f"delete {workflow_id}" in values
    edit = next(o for o in menu["accessory"]["options"] if o["value"] == f"edit {workflow_id}")
    await signoff.link.click(ADMIN, listing.channel, listing.ts, "workflow_menu", value=edit)
    [modal] = await signoff.wait_for(lambda: signoff.workspace.open_modals(ADMIN))
    assert block(modal, "name")["element"]["initial_value"] == "Big invoices"
    before = len(signoff.workspace.ephemerals(ADMIN))
    delete = next(o for o in menu["accessory"]["options"] if o["value"] == f"delete {workflow_id}")
    await signoff.link.click(ADMIN, listing.channel, listing.ts, "workflow_menu", value=delete)
    asked = await signoff.wait_for(lambda: signoff.workspace.ephemerals(ADMIN)[before:])
    assert "Delete the workflow" in asked[-1].all_text() and len(await workflows(signoff)) == 3


@pytest.mark.parametrize(("days", "at", "cron"), [
    ("daily", "07:05", "5 7 * * *"), ("weekdays", "09:00", "0 9 * * 1-5"), ("fri", "17:30", "30 17 * * 5"),
    ("month_15", "08:00", "0 8 15 * *"), ("cron:0 */2 * * *", None, "0 */2 * * *"),
])
def test_schedule_pickers_write_cron(days: str, at: str | None, cron: str) -> None:
    assert inputs.schedule_cron(days, at, None) == cron


@pytest.mark.parametrize(("iso", "parts"), [("P1D", (1, "days")), ("P2W", (2, "weeks")), ("PT4H", (4, "hours")),
                                            ("P14D", (2, "weeks")), (None, (None, "never"))])
def test_durations_read_as_number_and_unit(iso: str | None, parts: tuple[int | None, str]) -> None:
    assert inputs.duration_parts(iso) == parts


def test_a_long_draft_is_compressed_into_the_metadata_and_read_back() -> None:
    draft = drafts.blank_draft()
    draft["actions"].append({**drafts.new_action("send"), "body": "Dear customer, please pay. " * 150})
    packed = drafts.dump_draft(draft)
    assert packed is not None and packed.startswith("z:") and len(packed) <= 3000
    assert drafts.load_draft(packed) == draft
    with pytest.raises(drafts.DraftError):
        drafts.load_draft("z:not-base64!")


def test_definition_problems_land_on_their_inputs() -> None:
    draft = drafts.blank_draft()
    drafts.add_action(draft, "notification")
    assert checks.block_for("actions[0].steps[1].min_approvers", draft) == "a0_s1_min"
    assert checks.block_for("actions[0].escalate_to", draft) == "a0_escalate_to"
    assert checks.block_for("actions[1].message", draft) == "a1_message"
    assert checks.block_for("conditions[2].value", draft) == "c2_value"
    assert checks.block_for("schedule", draft) == "sched_days"


async def test_a_template_escalating_to_a_group_saves_as_it_is(signoff: Harness) -> None:
    modal = await open_modal(signoff, "new large-invoice-two-step-approval")
    assert not validate_view(modal)
    escalate_groups = block(modal, "a0_escalate_groups")["element"]
    assert [o["value"] for o in escalate_groups["initial_options"]] == ["group:finance-leads"]
    reply = await signoff.link.submit(ADMIN, {"name": "Two-step invoices"})
    assert reply.json() is None, reply.text()
    saved = await named(signoff, "Two-step invoices")
    assert saved["actions"][0]["escalate_to"] == ["group:finance-leads"]


@pytest.mark.parametrize(("source", "ok", "shown"), [
    ("Invoice {{ record.id }}", True, "Invoice INV-1"),
    ("{{ record.nope.deeper }}", False, "unknown field 'nope' (line 1)"),
    ("{% if false %}x{% endif %}", False, "renders to nothing"),
])
def test_a_preview_says_why_a_message_prints_nothing(source: str, ok: bool, shown: str) -> None:
    found = preview(source, {"record": {"id": "INV-1"}}, Renderer())
    assert found["ok"] is ok and shown in found["text"], found
