"""The App Home "Tasks" tab end to end: tasks, single and batch approval, refresh, limits."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bot.core.approvals import new_id
from bot.sandbox.blockkit.validation import validate_view
from bot.slack.home_render import home_view
from bot.slack.home_tasks import HomeData, Task
from engine.approvals import plan_approval
from engine.records import ApprovalStatus, Record, RecordType
from engine.workflows import Workflow, parse_definition
from messages.render import Renderer
from tests.support.harness import Harness, running_signoff

ALICE, BRUNO, CHLOE, DIMITRI, REQ, ADMIN = "U01AAA", "U01BBB", "U01CCC", "U01DDD", "U0REQ", "U0ADMIN"


def approval_workflow(name: str, conditions: list[dict[str, Any]], steps: list[list[str]] | None = None,
                      record_type: str = "invoice", **action: Any) -> dict[str, Any]:
    steps = steps or [[ALICE, BRUNO]]
    return {"name": name, "record_type": record_type, "trigger": "created", "conditions": conditions,
            "actions": [{"type": "approval", "steps": [{"approvers": s, "min_approvers": 1} for s in steps],
                         **action}]}


BIG_INVOICES = approval_workflow("Big invoices", [{"field": "amount", "op": "gt", "value": "5000"}])
TRAVEL = approval_workflow("Travel invoices", [{"field": "category", "op": "eq", "value": "travel"}])


def invoice(amount: str = "7500.00", **fields: Any) -> dict[str, Any]:
    return {"amount": amount, "currency": "EUR", "customer": "C-ACME", "due_date": "2026-12-20",
            "created_by": REQ, "source": "app", **fields}


async def create_workflow(h: Harness, body: dict[str, Any]) -> str:
    response = await h.post("/api/v1/workflows", body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def pending_invoices(h: Harness, count: int, prefix: str = "INV-", **fields: Any) -> list[str]:
    ids = [f"{prefix}{i:03d}" for i in range(count)]
    for record_id in ids:
        response = await h.put(f"/api/v1/records/invoice/{record_id}", invoice(**fields))
        assert response.json()["approval_status"] == "pending", response.text
    return ids


async def record_json(h: Harness, record_id: str, record_type: str = "invoice") -> dict[str, Any]:
    return (await h.api.get(f"/api/v1/records/{record_type}/{record_id}")).json()


async def status_becomes(h: Harness, record_id: str, status: str, record_type: str = "invoice") -> dict[str, Any]:
    async with asyncio.timeout(10):
        while (body := await record_json(h, record_id, record_type))["approval_status"] != status:
            await asyncio.sleep(0.02)
    return body


def task_blocks(view: dict[str, Any] | None) -> list[dict[str, Any]]:
    return [b for b in (view or {}).get("blocks", []) if str(b.get("block_id", "")).startswith("task:")]


def view_text(view: dict[str, Any] | None) -> str:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk((view or {}).get("blocks"))
    return "\n".join(found)


async def home_with(h: Harness, user: str, predicate: Any, open_first: bool = True) -> dict[str, Any]:
    if open_first:
        await h.link.open_home(user)
    view: dict[str, Any] = await h.wait_for(lambda: (v := h.workspace.home_view(user)) and predicate(v) and v)
    return view


def tick_all(h: Harness, user: str) -> dict[str, Any]:
    home = h.workspace.home_view(user)
    assert home is not None
    state = {}
    for block in task_blocks(home):
        option = block["accessory"]["options"][0]
        state[block["block_id"]] = {"task_select": {"type": "checkboxes", "selected_options": [option]}}
    h.workspace.set_view_state(home["id"], state)
    return home


async def test_home_lists_my_pending_approvals_oldest_first_with_age(signoff: Harness) -> None:
    await create_workflow(signoff, BIG_INVOICES)
    await pending_invoices(signoff, 2)
    signoff.runtime.service.clock.advance(timedelta(days=2))
    await pending_invoices(signoff, 1, prefix="LATE-")
    home = await home_with(signoff, ALICE, lambda v: len(task_blocks(v)) == 3)
    texts = [b["text"]["text"] for b in task_blocks(home)]
    assert "INV-000" in texts[0] and "INV-001" in texts[1] and "LATE-000" in texts[2]
    assert "2 days" in texts[0] and "less than an hour" in texts[2]
    assert "€12,500.00" not in texts[0] and "€7,500.00" in texts[0]
    assert not validate_view(home)
    assert task_blocks(await home_with(signoff, CHLOE, lambda v: True)) == []


async def test_approve_and_reject_from_the_home_tab_refresh_it(signoff: Harness) -> None:
    await create_workflow(signoff, BIG_INVOICES)
    await pending_invoices(signoff, 2)
    await home_with(signoff, ALICE, lambda v: len(task_blocks(v)) == 2)
    await signoff.link.click_in_view(ALICE, "approve")
    await status_becomes(signoff, "INV-000", "approved")
    home = await home_with(signoff, ALICE, lambda v: len(task_blocks(v)) == 1, open_first=False)
    assert "INV-001" in view_text(home)
    await signoff.link.click_in_view(ALICE, "reject")
    await signoff.wait_for(lambda: signoff.workspace.open_modals(ALICE))
    await signoff.link.submit(ALICE, {"reason": "Duplicate of INV-000"})
    await status_becomes(signoff, "INV-001", "rejected")
    await signoff.wait_for(lambda: task_blocks(signoff.workspace.home_view(ALICE)) == [])
    requester_home = await home_with(signoff, REQ, lambda v: "rejected" in view_text(v))
    assert "approved" in view_text(requester_home) and "Your requests" in view_text(requester_home)


async def test_the_home_refreshes_when_a_task_is_decided_elsewhere(signoff: Harness) -> None:
    await create_workflow(signoff, BIG_INVOICES)
    await pending_invoices(signoff, 1)
    await home_with(signoff, BRUNO, lambda v: len(task_blocks(v)) == 1)
    dm = await signoff.wait_for(lambda: signoff.dm(ALICE))
    await signoff.click(ALICE, dm[0], "approve")
    home = await signoff.wait_for(lambda: (v := signoff.workspace.home_view(BRUNO)) and not task_blocks(v) and v)
    assert "Nothing is waiting for your approval" in view_text(home)


async def test_batch_approval_of_twenty_with_one_forced_confirmation(signoff: Harness) -> None:
    await create_workflow(signoff, BIG_INVOICES)
    travel = await create_workflow(signoff, TRAVEL)
    await pending_invoices(signoff, 19)
    [stale] = await pending_invoices(signoff, 1, prefix="TRIP-", amount="120.00", category="travel")
    assert (await signoff.post(f"/api/v1/workflows/{travel}/disable")).status_code == 200
    home = await home_with(signoff, ALICE, lambda v: len(task_blocks(v)) == 20 and "no longer follows" in view_text(v))
    assert view_text(home).count("no longer follows the workflow that asked for this approval") == 1
    tick_all(signoff, ALICE)
    await signoff.link.click_in_view(ALICE, "batch_approve")
    [modal] = await signoff.wait_for(lambda: signoff.workspace.open_modals(ALICE))
    assert "TRIP-000" in view_text(modal) and "20 documents" in view_text(modal)
    assert not validate_view(modal)
    assert (await record_json(signoff, "INV-000"))["approval_status"] == "pending"
    reply = await signoff.link.submit(ALICE, {"force_reason": ""})
    assert reply.json()["response_action"] == "errors"
    await signoff.link.submit(ALICE, {"force_reason": "Travel policy changed, still fine"})
    home = await signoff.wait_for(
        lambda: (v := signoff.workspace.home_view(ALICE)) and "20 documents approved" in view_text(v) and v)
    assert task_blocks(home) == [] and "1 of them was a forced approval" in view_text(home)
    for record_id in [f"INV-{i:03d}" for i in range(19)] + [stale]:
        await status_becomes(signoff, record_id, "approved")
    audit = (await signoff.api.get(f"/api/v1/records/invoice/{stale}/audit")).json()["events"]
    forced = [e for e in audit if e["action"] == "forced_approval"]
    assert forced and forced[0]["actor"] == ALICE and forced[0]["detail"]["kind"] == "stale"
    assert forced[0]["detail"]["reason"] == "Travel policy changed, still fine"


async def test_batch_without_forced_items_approves_at_once(signoff: Harness) -> None:
    await create_workflow(signoff, BIG_INVOICES)
    await pending_invoices(signoff, 3)
    await home_with(signoff, BRUNO, lambda v: len(task_blocks(v)) == 3)
    await signoff.link.click_in_view(BRUNO, "batch_approve")
    home = await signoff.wait_for(
        lambda: (v := signoff.workspace.home_view(BRUNO)) and "Tick the documents" in view_text(v) and v)
    assert len(task_blocks(home)) == 3
    tick_all(signoff, BRUNO)
    await signoff.link.click_in_view(BRUNO, "batch_approve")
    await signoff.wait_for(lambda: "3 documents approved" in view_text(signoff.workspace.home_view(BRUNO)))
    assert signoff.workspace.open_modals(BRUNO) == []


async def test_single_forced_approval_asks_for_a_confirmation_first(signoff: Harness) -> None:
    travel = await create_workflow(signoff, TRAVEL)
    [trip] = await pending_invoices(signoff, 1, prefix="TRIP-", amount="120.00", category="travel")
    await signoff.put(f"/api/v1/workflows/{travel}", {**TRAVEL, "conditions": [
        {"field": "category", "op": "eq", "value": "hotel"}]})
    await home_with(signoff, BRUNO, lambda v: "no longer follows" in view_text(v))
    await signoff.link.click_in_view(BRUNO, "approve")
    await signoff.wait_for(lambda: signoff.workspace.open_modals(BRUNO))
    assert (await record_json(signoff, trip))["approval_status"] == "pending"
    await signoff.link.close_modal(BRUNO)
    assert (await record_json(signoff, trip))["approval_status"] == "pending"


async def test_an_admin_overrides_a_step_from_the_channel_post_after_confirming(signoff: Harness) -> None:
    workflow = approval_workflow("Two steps", [{"field": "amount", "op": "gt", "value": "5000"}],
                                 steps=[[ALICE, BRUNO, CHLOE], [DIMITRI]], channel="#finance")
    workflow["actions"][0]["steps"][0]["min_approvers"] = 2
    await create_workflow(signoff, workflow)
    await pending_invoices(signoff, 1)
    [post] = await signoff.wait_for(lambda: signoff.workspace.messages_in("C0FINANCE"))
    await signoff.click(ADMIN, post, "approve")
    await signoff.wait_for(lambda: signoff.workspace.open_modals(ADMIN))
    await signoff.link.submit(ADMIN, {"force_reason": "CFO said yes by phone"})
    await signoff.wait_for(lambda: signoff.dm(DIMITRI))
    body = await record_json(signoff, "INV-000")
    assert body["approval"]["current_step"] == 1 and body["approval_status"] == "pending"
    assert body["approval"]["votes"][0]["approver"] == ADMIN
    await signoff.click("U0OUT", post, "approve")
    refusal = await signoff.wait_for(lambda: signoff.workspace.ephemerals("U0OUT"))
    assert "not an approver" in refusal[0].all_text()
    forced = "Step 1 was approved by force by <@U0ADMIN>: “CFO said yes by phone”"
    await signoff.wait_for(lambda: forced in signoff.workspace.message(post.channel, post.ts).all_text())
    first_dm = signoff.dm(ALICE)[0]
    await signoff.wait_for(lambda: forced in signoff.workspace.message(first_dm.channel, first_dm.ts).all_text())
    assert forced in signoff.dm(DIMITRI)[0].all_text()


async def test_five_hundred_tasks_render_within_limits_by_pages_of_forty(signoff: Harness) -> None:
    workflow_id = await create_workflow(signoff, BIG_INVOICES)
    service = signoff.runtime.service
    now = service.clock.now()
    async with service.db.read() as repo:
        workflow = await repo.get_workflow(workflow_id)
    assert isinstance(workflow, Workflow)
    long_memo = "Quarterly consulting retainer <with> *stars* & ampersands. " * 60
    async with service.db.unit_of_work() as repo:
        for i in range(500):
            record = Record(type=RecordType.INVOICE, id=f"BULK-{i:04d}", amount="6000.00", currency="EUR",
                            customer="C-" + "X" * 62, memo=long_memo, created_by=REQ,
                            approval_status=ApprovalStatus.PENDING, created_at=now, updated_at=now)
            await repo.save_record(record)
            await repo.insert_request(plan_approval(new_id("AR-"), record, workflow, now).request)
    started = asyncio.get_running_loop().time()
    await signoff.link.open_home(ALICE)
    home = await signoff.wait_for(lambda: signoff.workspace.home_view(ALICE), timeout_s=20)
    elapsed_s = asyncio.get_running_loop().time() - started
    assert not validate_view(home) and len(home["blocks"]) <= 100
    first_page = {b["block_id"] for b in task_blocks(home)}
    assert len(first_page) == 40 and "(500) · oldest first · page 1 of 13" in view_text(home)
    assert elapsed_s < 10
    await signoff.link.click_in_view(ALICE, "home_tasks_next")
    home = await signoff.wait_for(lambda: "page 2 of 13" in view_text(v := signoff.workspace.home_view(ALICE)) and v)
    assert not validate_view(home) and len(home["blocks"]) <= 100
    second_page = {b["block_id"] for b in task_blocks(home)}
    assert len(second_page) == 40 and not first_page & second_page


def test_parse_definition_of_the_test_workflows() -> None:
    for body in (BIG_INVOICES, TRAVEL):
        assert parse_definition(body).approval() is not None


async def test_reminded_approvals_and_reminder_tasks_show_under_reminders(signoff: Harness) -> None:
    await create_workflow(signoff, approval_workflow(
        "Remind hourly", [{"field": "amount", "op": "gt", "value": "5000"}], remind_every="PT1H"))
    await create_workflow(signoff, {"name": "Chase", "record_type": "invoice", "trigger": "created", "actions": [
        {"type": "reminder", "to": [ALICE], "message": "Chase {{ record.id }} before the audit"}]})
    await pending_invoices(signoff, 1)
    home = await home_with(signoff, ALICE, lambda v: "📌 Chase INV-000 before the audit" in view_text(v))
    assert "reminded" not in view_text(home)
    assert (await signoff.post("/api/v1/clock", {"advance": "PT2H"})).status_code == 200
    assert (await signoff.post("/api/v1/scheduler/tick")).status_code == 200
    home = await home_with(signoff, ALICE, lambda v: "— reminded" in view_text(v))
    assert not validate_view(home)
    await signoff.link.click_in_view(ALICE, "reminder_done")
    home = await signoff.wait_for(
        lambda: (v := signoff.workspace.home_view(ALICE)) and "📌" not in view_text(v) and v)
    async with signoff.db.read() as repo:
        assert await repo.reminders_for(ALICE) == []


async def test_the_home_tab_and_commands_speak_french(tmp_path: Path) -> None:
    async with running_signoff(tmp_path / "fr.db", locale="fr", timezone="Europe/Paris") as signoff:
        await create_workflow(signoff, BIG_INVOICES)
        await pending_invoices(signoff, 1)
        home = await home_with(signoff, ALICE, lambda v: len(task_blocks(v)) == 1)
        text = view_text(home)
        assert "📋 Tâches" in text and "7\u202f500,00\xa0€" in text and "Approuver la sélection" in text
        assert not validate_view(home)
        await signoff.link.command(ALICE, "/signoff", "aide")
        assert "`/signoff aide` n’existe pas" in signoff.workspace.ephemerals(ALICE)[-1].all_text()
        await signoff.link.command(ALICE, "/signoff", "help")
        assert "les documents qui vous attendent" in signoff.workspace.ephemerals(ALICE)[-1].all_text()


async def test_a_batch_completes_its_inbox_row_after_its_last_approval_and_a_rerun_counts_nothing_twice(
    signoff: Harness,
) -> None:
    from bot.slack.home_batch import approve_many
    from bot.slack.home_tasks import open_tasks, task_value

    await create_workflow(signoff, BIG_INVOICES)
    await pending_invoices(signoff, 3)
    async with signoff.db.read() as repo:
        tasks = await open_tasks(repo, BRUNO, signoff.runtime.service.clock.now())
    values = [task_value(t.request.id, t.seat, BRUNO) for t in tasks]
    calls: list[str] = []

    async def completion(repo: Any) -> None:
        calls.append("completed")

    with signoff.db.carrying(completion) as carried:
        first = await approve_many(signoff.runtime.service, BRUNO, values)
    again = await approve_many(signoff.runtime.service, BRUNO, values)
    assert (first.approved, again.approved) == (3, 0) and not carried.is_committed and calls == []



def test_home_tasks_taken_for_someone_away_say_until_when() -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    workflow = Workflow(**parse_definition(BIG_INVOICES).model_dump(), id="wf", created_at=now, updated_at=now)
    records = [Record(type=RecordType.INVOICE, id=f"INV-{n}", amount="9000", created_by=REQ, created_at=now,
                      updated_at=now) for n in range(2)]
    tasks = [Task(plan_approval(f"AR-{n}", r, workflow, now).request, ALICE,
                  away_until=now + timedelta(days=3) if n else None) for n, r in enumerate(records)]
    wordings = {"en": f"for <@{ALICE}>, who is away until", "fr": f"pour <@{ALICE}>, absent·e jusqu’au"}
    for locale, wording in wordings.items():
        service = SimpleNamespace(renderer=Renderer(locale, "UTC"), settings=SimpleNamespace(locale=locale))
        view = home_view(service, HomeData(BRUNO, now, tasks, 2))  # type: ignore[arg-type]
        assert validate_view(view) == [] and str(view).count(wording) == 1
