"""Workflow actions on save, end to end: REST in, Slack messages and e-mail out, runs recorded."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from bot.sandbox.blockkit.validation import validate_message
from engine.workflows import Workflow
from tests.support.harness import Harness, running_signoff
from tests.support.smtp import Inbox

INVOICE = {"amount": "12500.00", "currency": "EUR", "customer": "C-ACME", "due_date": "2026-12-20",
           "created_by": "U0ADMIN", "memo": "first"}


def workflow(*actions: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {"name": "Automation", "record_type": "invoice", "trigger": "created", "actions": list(actions), **changes}


async def setup(signoff: Harness, *workflows: dict[str, Any], email: str | None = "ap@acme.example") -> list[str]:
    contact = {"name": "ACME", **({"email": email} if email else {})}
    assert (await signoff.put("/api/v1/contacts/customer/C-ACME", contact)).status_code == 200
    assert (await signoff.put("/api/v1/contacts/customer/C-GLOBEX", {"name": "Globex"})).status_code == 200
    ids = []
    for wf in workflows:
        created = await signoff.post("/api/v1/workflows", wf)
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    return ids


async def put_invoice(signoff: Harness, record_id: str = "INV-1", **changes: Any) -> dict[str, Any]:
    response = await signoff.put(f"/api/v1/records/invoice/{record_id}", {**INVOICE, **changes})
    assert response.status_code == 200, response.text
    return response.json()


async def runs(signoff: Harness, **params: Any) -> list[dict[str, Any]]:
    response = await signoff.api.get("/api/v1/runs", params=params)
    assert response.status_code == 200, response.text
    return response.json()["runs"]


def assert_valid(message: Any) -> None:
    assert validate_message(message.blocks, message.text) == []


NOTIFY_CHANNEL = {"type": "notification", "channel": "#finance",
                  "message": "New {{ record.type }} {{ record.id }} for {{ record.amount | money(record.currency) }} "
                             "from {{ contact.name }}"}
NOTIFY_PERSON = {"type": "notification", "to": ["U01AAA"], "message": "*{{ record.id }}* is yours, {{ workflow.name }}"}
REMIND = {"type": "reminder", "to": ["U01BBB", "#finance"],
          "message": "Chase {{ record.id }} before {{ record.due_date | day }}"}
UPDATE = {"type": "update", "field": "memo", "value": "OVERDUE"}


@pytest.mark.parametrize(
    ("action", "where", "text"),
    [
        (NOTIFY_CHANNEL, "C0FINANCE", "New invoice INV-1 for €12,500.00 from ACME"),
        (NOTIFY_PERSON, "U01AAA", "*INV-1* is yours, Automation"),
        (REMIND, "U01BBB", "Reminder: Chase INV-1 before Dec 20, 2026"),
        (REMIND, "C0FINANCE", "Reminder: Chase INV-1 before Dec 20, 2026"),
    ],
)
async def test_message_actions(signoff: Harness, action: dict[str, Any], where: str, text: str) -> None:
    [wid] = await setup(signoff, workflow(action))
    await put_invoice(signoff)
    inbox = (lambda: signoff.dm(where)) if where.startswith("U") else (lambda: signoff.workspace.messages_in(where))
    [message] = await signoff.wait_for(inbox)
    assert text in message.text and "Invoice INV-1 · workflow “Automation”" in message.all_text()
    assert_valid(message)
    [run] = await runs(signoff, workflow_id=wid)
    assert run["outcome"] == "ok" and run["cause"] == "created" and run["record_id"] == "INV-1"
    assert {a["result"] for a in run["actions"]} == {"queued"} and run["actions"][0]["type"] == action["type"]


async def test_reminders_become_tasks(signoff: Harness) -> None:
    [wid] = await setup(signoff, workflow(REMIND))
    await put_invoice(signoff)
    tasks = (await signoff.api.get("/api/v1/reminders", params={"assignee": "U01BBB"})).json()["reminders"]
    assert [(t["record_id"], t["workflow_id"], t["text"]) for t in tasks] == [
        ("INV-1", wid, "Chase INV-1 before Dec 20, 2026")
    ]
    async with signoff.db.read() as repo:
        assert len(await repo.reminders_for("#finance")) == 1 and await repo.reminders_for("U01AAA") == []


async def test_update_action_sets_the_field_and_audits_it(signoff: Harness) -> None:
    [wid] = await setup(signoff, workflow(UPDATE))
    body = await put_invoice(signoff)
    assert body["memo"] == "OVERDUE"
    stored = (await signoff.api.get("/api/v1/records/invoice/INV-1")).json()
    assert stored["memo"] == "OVERDUE"
    events = (await signoff.api.get("/api/v1/records/invoice/INV-1/audit")).json()["events"]
    [stamp] = [e for e in events if e["action"] == "field_set"]
    assert (stamp["from"], stamp["to"], stamp["detail"]["field"], stamp["detail"]["workflow_id"]) == (
        "first", "OVERDUE", "memo", wid)
    [run] = await runs(signoff)
    assert run["actions"] == [{"index": 0, "type": "update", "result": "set", "field": "memo",
                               "value": "OVERDUE", "previous": "first"}]


async def test_send_emails_the_contact_and_marks_the_record_sent(tmp_path: Path, smtp: Inbox) -> None:
    send = {"type": "send", "subject": "Invoice {{ record.id }} from {{ company.name }}",
            "body": "Hello {{ contact.name }},\n\nYou owe {{ record.balance | money(record.currency) }}.",
            "copy_sender": True}
    async with running_signoff(tmp_path / "s.db", smtp_url=f"{smtp.url}?from=billing@signoff.example") as signoff:
        assert (await signoff.api.put("/api/v1/company", json={"name": "Acme Books"})).status_code == 200
        await setup(signoff, workflow(send))
        body = await put_invoice(signoff)
        assert body["email_status"] == "sent" and body["sent_at"] is not None
        for _ in range(200):
            if smtp.messages:
                break
            await asyncio.sleep(0.05)
        mail_from, rcpts, _ = smtp.messages[0]
        [parsed] = smtp.parsed()
        assert mail_from == "billing@signoff.example" and rcpts == ["ap@acme.example", "billing@signoff.example"]
        assert parsed["Subject"] == "Invoice INV-1 from Acme Books" and parsed["Cc"] == "billing@signoff.example"
        assert "You owe €12,500.00." in parsed.get_payload(decode=True).decode()
        assert "Acme Books" in parsed["From"]
        [run] = await runs(signoff)
        assert run["outcome"] == "ok" and run["actions"][0]["to"] == "ap@acme.example"


async def test_send_without_contact_email_is_skipped(tmp_path: Path, smtp: Inbox) -> None:
    send = {"type": "send", "subject": "s", "body": "b"}
    async with running_signoff(tmp_path / "s.db", smtp_url=smtp.url) as signoff:
        await setup(signoff, workflow(send), email=None)
        body = await put_invoice(signoff)
        assert body["email_status"] == "not_sent" and body["sent_at"] is None
        [run] = await runs(signoff)
        assert run["outcome"] == "skipped: contact has no e-mail"
        await signoff.runtime.deliverer.drain()
        assert smtp.messages == []


@pytest.mark.parametrize(
    ("trigger", "trigger_fields", "expected"),
    [
        # runs after: create, identical PUT, memo change, status change, amount change
        ("created", [], [1, 1, 1, 1, 1]),
        ("updated", [], [0, 0, 1, 2, 3]),
        ("updated", ["status"], [0, 0, 0, 1, 1]),
        ("updated", ["status", "amount"], [0, 0, 0, 1, 2]),
        ("created_or_updated", [], [1, 1, 2, 3, 4]),
        ("scheduled", [], [0, 0, 0, 0, 0]),
    ],
)
async def test_triggers(signoff: Harness, trigger: str, trigger_fields: list[str], expected: list[int]) -> None:
    extra = {"schedule": "0 9 * * *"} if trigger == "scheduled" else {}
    [wid] = await setup(signoff, workflow(NOTIFY_CHANNEL, trigger=trigger, trigger_fields=trigger_fields, **extra))
    counts = []
    for changes in ({}, {}, {"memo": "second"}, {"memo": "second", "status": "sent"},
                    {"memo": "second", "status": "sent", "amount": "99"}):
        await put_invoice(signoff, **changes)
        counts.append(len(await runs(signoff, workflow_id=wid)))
    assert counts == expected
    causes = {r["cause"] for r in await runs(signoff, workflow_id=wid)}
    assert causes <= {"created", "updated"}


@pytest.mark.parametrize(
    ("changes", "fires"),
    [({}, True), ({"enabled": False}, False), ({"status": "draft"}, False),
     ({"record_type": "bill"}, False), ({"conditions": [{"field": "amount", "op": "lt", "value": "100"}]}, False)],
)
async def test_only_live_matching_workflows_fire(signoff: Harness, changes: dict[str, Any], fires: bool) -> None:
    await setup(signoff, {**workflow(NOTIFY_CHANNEL), **changes})
    await put_invoice(signoff)
    assert len(await runs(signoff)) == (1 if fires else 0)


async def test_workflows_for_different_customers_each_fire_for_their_own(signoff: Harness) -> None:
    acme, globex = await setup(
        signoff,
        workflow({**NOTIFY_CHANNEL, "message": "ACME wf: {{ record.id }}"}, name="ACME",
                 conditions=[{"field": "customer", "op": "eq", "value": "C-ACME"}]),
        workflow({**NOTIFY_CHANNEL, "message": "Globex wf: {{ record.id }}"}, name="Globex",
                 conditions=[{"field": "customer.name", "op": "eq", "value": "Globex"}]),
    )
    await put_invoice(signoff, "INV-A")
    await put_invoice(signoff, "INV-G", customer="C-GLOBEX")
    posted = await signoff.wait_for(lambda: [m for m in signoff.workspace.messages_in("C0FINANCE")]
                                    if len(signoff.workspace.messages_in("C0FINANCE")) >= 2 else None)
    assert sorted(m.text for m in posted) == ["ACME wf: INV-A", "Globex wf: INV-G"]
    assert [r["record_id"] for r in await runs(signoff, workflow_id=acme)] == ["INV-A"]
    assert [r["record_id"] for r in await runs(signoff, workflow_id=globex)] == ["INV-G"]


async def test_several_actions_run_in_order_with_idempotency_keys(signoff: Harness) -> None:
    await setup(signoff, workflow(NOTIFY_CHANNEL, NOTIFY_PERSON, UPDATE))
    await put_invoice(signoff)
    [run] = await runs(signoff)
    assert [(a["index"], a["type"], a["result"]) for a in run["actions"]] == [
        (0, "notification", "queued"), (1, "notification", "queued"), (2, "update", "set")]
    async with signoff.db.read() as repo:
        keys = sorted(i.key for i in await repo.outbox_items() if i.kind == "message")
    assert keys == [f"run:{run['id']}:0", f"run:{run['id']}:1"]
    [message] = await signoff.wait_for(lambda: signoff.workspace.messages_in("C0FINANCE"))
    assert "INV-1" in message.text


async def test_a_template_failing_on_real_data_records_a_failed_run(signoff: Harness) -> None:
    failing = {**NOTIFY_CHANNEL, "message": "{{ contact.name.upper() }} owes"}
    await setup(signoff, workflow(failing, NOTIFY_PERSON))
    await put_invoice(signoff, customer="C-NOBODY")
    [run] = await runs(signoff)
    assert run["outcome"].startswith("partial: failed: cannot render")
    assert [a["result"] for a in run["actions"]] == ["failed", "queued"]
    await signoff.wait_for(lambda: signoff.dm("U01AAA"))


async def test_approval_workflow_also_notifies(signoff: Harness) -> None:
    approval = {"type": "approval", "steps": [{"approvers": ["U01AAA"]}]}
    notify = {**NOTIFY_CHANNEL, "message": "{{ record.id }} awaits approval ({{ record.approval_status }})"}
    await setup(signoff, workflow(approval, notify))
    body = await put_invoice(signoff, source="app", created_by="U0REQ")
    assert body["approval_status"] == "pending"
    posted = await signoff.wait_for(lambda: signoff.workspace.messages_in("C0FINANCE"))
    assert posted[0].text == "INV-1 awaits approval (pending)"
    await signoff.wait_for(lambda: signoff.dm("U01AAA"))
    [run] = [r for r in await runs(signoff) if r["event"] == "actions"]
    assert [a["type"] for a in run["actions"]] == ["notification"]


async def test_run_workflow_is_callable_for_a_scheduled_sweep(signoff: Harness) -> None:
    [wid] = await setup(signoff, workflow(REMIND, trigger="scheduled", schedule="0 9 * * *"))
    await put_invoice(signoff)
    assert await runs(signoff) == []
    service = signoff.runtime.service
    now = service.clock.now()
    async with signoff.db.unit_of_work() as repo:
        stored = await repo.get_workflow(wid)
        record = await repo.get_record("invoice", "INV-1")
        assert isinstance(stored, Workflow) and record is not None
        run_id = await service.automation.run_workflow(repo, stored, record, now, cause="scheduled")
    signoff.runtime.deliverer.kick()
    await signoff.wait_for(lambda: signoff.dm("U01BBB"))
    [run] = await runs(signoff)
    assert run["id"] == run_id and run["cause"] == "scheduled" and run["outcome"] == "ok"
    assert (await signoff.api.get(f"/api/v1/runs/{run_id}")).json()["id"] == run_id


# (template, the budget it exceeds — "a|b": the first one reached on a busy machine): refused when the workflow is
# saved, with the path and the line
SAVE_BOMBS = [
    ("{{ (9**(9**7)) % 10 }}", "power"),
    ("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}", "loop|time"),
    ("{{ 'x' * 10**9 }}", "repetition"),
    ("{{ 'x' | center(10**9) }}", "size"),
    ("{{ record.memo | indent(10**9) }}", "size"),
    ("{{ '%1000000000d' | format(1) }}", "size"),
    ("{% for i in range(10000) recursive %}{% if loop.depth < 4 %}{{ loop(range(10000)) }}{% endif %}{% endfor %}",
     "time"),
]


@pytest.mark.parametrize(("bomb", "budget"), SAVE_BOMBS)
@pytest.mark.parametrize("kind", ["notification", "send"])
async def test_template_bombs_are_refused_at_save(signoff: Harness, kind: str, bomb: str, budget: str) -> None:
    action = ({**NOTIFY_CHANNEL, "message": "Hello\n" + bomb} if kind == "notification"
              else {"type": "send", "subject": "s", "body": "Hello\n" + bomb})
    path = "actions[1].message" if kind == "notification" else "actions[1].body"
    started = asyncio.get_running_loop().time()
    response = await signoff.post("/api/v1/workflows", workflow(NOTIFY_PERSON, action))
    assert asyncio.get_running_loop().time() - started < 2
    assert response.status_code == 422, response.text
    [detail] = response.json()["error"]["details"]
    assert detail["path"] == path and re.match(rf"line 2: over the ({budget}) budget: ", detail["message"])
    assert await runs(signoff) == []


# (template fine on the sample invoice of 1250.00, the amount that makes it explode, the budget)
RUN_BOMBS = [
    ("{{ 2 ** (record.amount | int) }}", "99999999", "power"),
    ("{{ ('x' * (record.amount | int)) | length }}", "99999999", "repetition"),
    ("{% for i in range(record.amount | int) %}{% endfor %}", "99999999", "loop"),
    ("{% for i in range(record.amount | int // 100) %}{% for j in range(record.amount | int // 100) %}"
     "{% endfor %}{% endfor %}", "999900", "loop|time"),
    ("{{ 'x' | center(record.amount | int) }}", "99999999", "size"),
    ("{% for i in range(record.amount | int // 100) recursive %}{% if loop.depth < 3 %}"
     "{{ loop(range(record.amount | int // 100)) }}{% endif %}{% endfor %}", "999900", "time"),
]


@pytest.mark.parametrize(("bomb", "amount", "budget"), RUN_BOMBS)
async def test_template_bombs_on_real_data_fail_cleanly_in_the_run_history(
    signoff: Harness, bomb: str, amount: str, budget: str
) -> None:
    await setup(signoff, workflow({**NOTIFY_CHANNEL, "message": "Big one\n" + bomb + " done"}, NOTIFY_PERSON))
    loop = asyncio.get_running_loop()
    started = loop.time()
    await put_invoice(signoff, amount=amount)
    assert loop.time() - started < 2
    [run] = await runs(signoff)
    assert [a["result"] for a in run["actions"]] == ["failed", "queued"]
    assert re.match(rf"line 2: over the ({budget}) budget: ", run["actions"][0]["reason"])
    assert run["outcome"] == f"partial: failed: {run['actions'][0]['reason']}"
    await signoff.wait_for(lambda: signoff.dm("U01AAA"))
    assert signoff.workspace.messages_in("C0FINANCE") == []


MEMO = "<@U01BBB> <!channel> <https://evil.example|click> & *x*"


async def test_data_inserted_into_slack_text_is_escaped(signoff: Harness) -> None:
    notify = {**NOTIFY_CHANNEL, "message": "<!here> *{{ record.id }}*: {{ record.memo }} from {{ contact.name }}"}
    await setup(signoff, workflow(notify, {**REMIND, "message": "Chase {{ record.memo }}"}))
    assert (await signoff.put("/api/v1/contacts/customer/C-ACME", {"name": "Tom & <Jerry>"})).status_code == 200
    await put_invoice(signoff, memo=MEMO)
    posted = await signoff.wait_for(lambda: signoff.workspace.messages_in("C0FINANCE")
                                    if len(signoff.workspace.messages_in("C0FINANCE")) >= 2 else None)
    escaped = "&lt;@U01BBB&gt; &lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; *x*"
    assert sorted(m.text for m in posted) == [f"<!here> *INV-1*: {escaped} from Tom &amp; &lt;Jerry&gt;",
                                              f"⏰ Reminder: Chase {escaped}"]
    for message in posted:
        assert_valid(message)
    [dm] = await signoff.wait_for(lambda: signoff.dm("U01BBB"))
    assert dm.text == f"⏰ Reminder: Chase {escaped}"
    tasks = (await signoff.api.get("/api/v1/reminders", params={"assignee": "U01BBB"})).json()["reminders"]
    assert [t["text"] for t in tasks] == [f"Chase {MEMO}"]


async def test_e_mail_gets_the_data_as_it_is_and_headers_on_one_line(tmp_path: Path, smtp: Inbox) -> None:
    send = {"type": "send", "subject": "Invoice {{ record.id }}{{ '\\r\\n' }}Bcc: evil@x.example {{ record.memo }}",
            "body": "Memo: {{ record.memo }}"}
    notify = {"type": "notification", "to": ["ops@acme.example"], "message": "Memo: {{ record.memo }}"}
    async with running_signoff(tmp_path / "s.db", smtp_url=smtp.url) as signoff:
        await setup(signoff, workflow(send, notify))
        await put_invoice(signoff, memo=f"{MEMO}\r\nBcc: evil@x.example")
        for _ in range(200):
            if len(smtp.messages) >= 2:
                break
            await asyncio.sleep(0.05)
        assert all("evil@x.example" not in rcpts for _, rcpts, _ in smtp.messages)
        parsed = {m["To"]: m for m in smtp.parsed()}
        sent = parsed["ap@acme.example"]
        assert sent["Bcc"] is None and sent["Subject"].startswith("Invoice INV-1 Bcc: evil@x.example <@U01BBB>")
        for message in parsed.values():
            assert f"Memo: {MEMO}" in message.get_payload(decode=True).decode()


async def test_the_catalog_payment_reminder_skips_drafts_and_customers_who_take_no_reminders(
    tmp_path: Path, smtp: Inbox,
) -> None:
    async with running_signoff(tmp_path / "p.db", smtp_url=smtp.url) as signoff:
        assert (await signoff.post("/api/v1/clock", {"now": "2027-02-02T10:00:00+00:00"})).status_code == 200
        made = await signoff.post("/api/v1/templates/payment-due-reminder/create", {})
        assert made.status_code == 201, made.text
        assert (await signoff.post(f"/api/v1/workflows/{made.json()['id']}/enable")).status_code == 200
        for contact_id, extra in (("C-OK", {}), ("C-PLAN", {"reminders": False}), ("C-GONE", {"active": False})):
            contact = {"name": contact_id, "email": f"{contact_id.lower()}@example.com", **extra}
            assert (await signoff.put(f"/api/v1/contacts/customer/{contact_id}", contact)).status_code == 200
        for invoice_id, customer, status in (("W1", "C-OK", "sent"), ("W2", "C-OK", "draft"),
                                             ("W3", "C-PLAN", "sent"), ("W4", "C-GONE", "open")):
            invoice = {"amount": "100.00", "customer": customer, "due_date": "2027-02-04", "status": status,
                       "created_by": "U0ADMIN"}
            assert (await signoff.put(f"/api/v1/records/invoice/{invoice_id}", invoice)).status_code == 200
        assert (await signoff.post("/api/v1/clock", {"now": "2027-02-03T09:00:01+00:00"})).status_code == 200
        assert (await signoff.post("/api/v1/scheduler/tick")).status_code == 200
        for _ in range(100):
            if smtp.messages:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
        assert [m["Subject"] for m in smtp.parsed()] == ["Reminder: invoice W1 is due Feb 4, 2027"]


async def test_a_send_held_until_approval_goes_once_the_document_is_approved(tmp_path: Path, smtp: Inbox) -> None:
    approval = {"type": "approval", "steps": [{"approvers": ["U01AAA"]}]}
    send = {"type": "send", "subject": "Invoice {{ record.id }} ({{ record.approval_status }})", "body": "Attached."}
    async with running_signoff(tmp_path / "held.db", smtp_url=smtp.url) as signoff:
        [wid] = await setup(signoff, workflow(approval, send))
        assert (await put_invoice(signoff, source="app", created_by="U0REQ"))["approval_status"] == "pending"
        [held] = [r for r in await runs(signoff, workflow_id=wid, record_id="INV-1") if r["event"] == "actions"]
        assert held["actions"][0]["result"] == "skipped" and held["actions"][0]["reason"].startswith("not approved")
        first = (await signoff.wait_for(lambda: signoff.dm("U01AAA")))[0]
        await put_invoice(signoff, source="app", created_by="U0REQ", amount="12600.00")  # asked again from scratch
        card = await signoff.wait_for(lambda: next((m for m in signoff.dm("U01AAA")
                                                    if m.ts != first.ts and "approve" in m.action_ids()), None))
        await signoff.click("U01AAA", card, "approve")
        for _ in range(200):
            if smtp.messages:
                break
            await asyncio.sleep(0.05)
        assert [m["Subject"] for m in smtp.parsed()] == ["Invoice INV-1 (approved)"]
        released = [r for r in await runs(signoff, workflow_id=wid, record_id="INV-1") if r["cause"] == "approved"]
        assert [(a["type"], a["result"]) for r in released for a in r["actions"]] == [("send", "queued")]
        stored = (await signoff.api.get("/api/v1/records/invoice/INV-1")).json()
        assert (stored["approval_status"], stored["email_status"]) == ("approved", "sent")
        await put_invoice(signoff, source="app", created_by="U0REQ", memo="edited after approval")
        assert len([r for r in await runs(signoff, workflow_id=wid) if r["cause"] == "approved"]) == 1
