"""Approve selected on the App Home: only the tasks of the page shown, and a notice of what was approved, what was
skipped and why."""

from __future__ import annotations

import copy
from typing import Any

from bot.sandbox.app_link.payloads import view_actions_payload
from bot.sandbox.app_link.signing import interaction_request
from bot.slack.home_batch import approve_many, selected_values
from bot.slack.home_pages import HomePages
from bot.slack.home_tasks import open_tasks, task_value
from tests.bot.slack.test_home import (
    ALICE,
    BIG_INVOICES,
    BRUNO,
    CHLOE,
    create_workflow,
    home_with,
    pending_invoices,
    record_json,
    status_becomes,
    task_blocks,
    tick_all,
    view_text,
)
from tests.support.harness import Harness


def ticked(block_id: str, value: str) -> dict[str, Any]:
    return {block_id: {"task_select": {"type": "checkboxes", "selected_options": [{"value": value}]}}}


def test_only_the_tasks_the_view_shows_can_be_selected() -> None:
    blocks = [{"block_id": "task:AR-1"}, {"block_id": "task:AR-2|U01BBB"}, {"block_id": "decide:AR-1"}]
    state = {**ticked("task:AR-1", "AR-1"), **ticked("task:AR-2|U01BBB", "AR-2|U01BBB"),
             **ticked("task:AR-9", "AR-9")}  # a task of another page: its block is not shown
    assert selected_values({"blocks": blocks, "state": {"values": state}}) == ["AR-1", "AR-2|U01BBB"]
    forged = {**ticked("task:AR-1", "AR-7"), **ticked("decide:AR-1", "AR-1")}  # not the block's own task
    assert selected_values({"blocks": blocks, "state": {"values": forged}}) == []
    assert selected_values({"blocks": "x", "state": {"values": state}}) == []


async def click_on_a_stale_home(h: Harness, user: str, stale: dict[str, Any], action_id: str) -> None:
    """Click a button of a Home view as it was (with what was ticked on it), though a newer one was published since:
    as Slack delivers a click made before the refresh reached the person."""
    payload = view_actions_payload(h.workspace, user, action_id)
    payload["view"], payload["state"] = copy.deepcopy(stale), copy.deepcopy(stale["state"])
    factory = h.link.requests
    await h.link.send(interaction_request(payload, factory.signing_secret, factory.timestamp()))


def notice(view: dict[str, Any] | None) -> str:
    return next((b["text"]["text"] for b in (view or {}).get("blocks", []) if b.get("block_id") == "notice"), "")


async def test_a_batch_approves_only_what_is_ticked_on_the_page_shown_and_ignores_forged_ticks(
    signoff: Harness,
) -> None:
    await create_workflow(signoff, BIG_INVOICES)
    await pending_invoices(signoff, 44)
    page_one = await home_with(signoff, ALICE, lambda v: len(task_blocks(v)) == 40)
    first = task_blocks(page_one)[0]
    first_value = first["accessory"]["options"][0]["value"]
    await signoff.link.click_in_view(ALICE, "home_tasks_next")
    page_two = await home_with(signoff, ALICE, lambda v: len(task_blocks(v)) == 4, open_first=False)
    stale, shown = copy.deepcopy(page_two), task_blocks(page_two)
    state = {k: v for b in shown[:3] for k, v in ticked(b["block_id"], b["accessory"]["options"][0]["value"]).items()}
    state |= ticked(shown[3]["block_id"], first_value) | ticked(first["block_id"], first_value)  # forged ticks
    stale["state"] = {"values": state}
    await click_on_a_stale_home(signoff, ALICE, stale, "batch_approve")
    home = await home_with(signoff, ALICE, lambda v: "3 documents approved" in notice(v), open_first=False)
    assert "skipped" not in notice(home) and "(41) · oldest first · page 2 of 2" in view_text(home)
    assert len(task_blocks(home)) == 1 and "INV-043" in view_text(home)
    for n in range(40, 43):
        await status_becomes(signoff, f"INV-{n:03d}", "approved")
    assert (await record_json(signoff, "INV-000"))["approval_status"] == "pending"
    assert (await record_json(signoff, "INV-043"))["approval_status"] == "pending"
    tick_all(signoff, ALICE)
    await signoff.link.click_in_view(ALICE, "batch_approve")
    home = await home_with(signoff, ALICE, lambda v: "1 document approved" in notice(v), open_first=False)
    assert len(task_blocks(home)) == 40 and "page 1 of" not in view_text(home)  # the last page left, and the only
    assert HomePages.decode(home["private_metadata"]) == HomePages(0, 0)
    assert not [b for b in home["blocks"] if b.get("block_id") == "tasks_pager"]


async def test_a_batch_tells_what_it_approved_and_which_it_skipped_and_why(signoff: Harness) -> None:
    await create_workflow(signoff, BIG_INVOICES)
    await pending_invoices(signoff, 3)
    await home_with(signoff, ALICE, lambda v: len(task_blocks(v)) == 3)
    stale = copy.deepcopy(tick_all(signoff, ALICE))
    await home_with(signoff, BRUNO, lambda v: len(task_blocks(v)) == 3)
    await signoff.link.click_in_view(BRUNO, "approve")  # INV-000, decided before Alice's click arrives
    await status_becomes(signoff, "INV-000", "approved")
    await click_on_a_stale_home(signoff, ALICE, stale, "batch_approve")
    home = await home_with(signoff, ALICE, lambda v: "2 documents approved" in notice(v), open_first=False)
    assert "1 document was skipped:" in notice(home)
    assert f"• *Invoice INV-000* — already approved by <@{BRUNO}>" in notice(home)
    assert task_blocks(home) == []


async def test_the_batch_notice_stays_until_the_approver_acts_on_the_home_again(signoff: Harness) -> None:
    await create_workflow(signoff, BIG_INVOICES)
    await pending_invoices(signoff, 3)
    home = await home_with(signoff, ALICE, lambda v: len(task_blocks(v)) == 3)
    option = task_blocks(home)[0]["accessory"]["options"][0]
    signoff.workspace.set_view_state(home["id"], ticked(task_blocks(home)[0]["block_id"], option["value"]))
    await signoff.link.click_in_view(ALICE, "batch_approve")
    home = await home_with(signoff, ALICE, lambda v: "1 document approved" in notice(v), open_first=False)
    await home_with(signoff, BRUNO, lambda v: len(task_blocks(v)) == 2)
    await signoff.link.click_in_view(BRUNO, "approve")  # a change elsewhere republishes Alice's Home
    home = await home_with(signoff, ALICE, lambda v: len(task_blocks(v)) == 1, open_first=False)
    assert "1 document approved" in notice(home)
    await signoff.link.click_in_view(ALICE, "home_refresh")
    await signoff.wait_for(lambda: notice(signoff.workspace.home_view(ALICE)) == "")


async def test_a_batch_skips_and_reports_tasks_that_are_not_the_approver_s(signoff: Harness) -> None:
    await create_workflow(signoff, BIG_INVOICES)
    await pending_invoices(signoff, 2)
    service = signoff.runtime.service
    async with signoff.db.read() as repo:
        tasks = await open_tasks(repo, BRUNO, service.clock.now())
    values = [task_value(t.request.id, t.seat, BRUNO) for t in tasks]
    result = await approve_many(service, CHLOE, [*values, f"{values[0]}|{BRUNO}", "AR-nothing"])
    assert result.approved == 0 and [s["code"] for s in result.skipped] == [
        "not_an_approver", "not_an_approver", "not_a_delegate", "not_found"]
    assert [s["id"] for s in result.skipped] == ["INV-000", "INV-001", "INV-000", "AR-nothing"]
    again = await approve_many(service, BRUNO, values)
    twice = await approve_many(service, BRUNO, values)
    assert again.approved == 2 and [(s["code"], s["status"], s["by"]) for s in twice.notice()["skipped"]] == [
        ("request_closed", "approved", BRUNO)] * 2
    for record_id in ("INV-000", "INV-001"):
        await status_becomes(signoff, record_id, "approved")

