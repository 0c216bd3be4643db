"""Nothing leaves for a customer before approval; invoices show `reminded`; a manual reminder says what it is given."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from tests.bot.core.test_reminders import DUE, INVOICE, PARIS, SETTINGS, at, billing, body, mails
from tests.support.harness import Harness, running_signoff
from tests.support.smtp import Inbox

__all__ = ["billing"]

APPROVAL = {"name": "Invoices need approval", "record_type": "invoice", "trigger": "created",
            "actions": [{"type": "approval", "steps": [{"approvers": ["U01AAA"]}]}]}
SEND = {"name": "Send new invoices", "record_type": "invoice", "trigger": "created",
        "actions": [{"type": "send", "subject": "Invoice {{ record.id }}", "body": "Please find {{ record.id }}."}]}
NEW = {"amount": "300.00", "currency": "EUR", "customer": "C-ACME", "due_date": "2026-12-20"}


async def create(signoff: Harness, definition: dict[str, Any]) -> str:
    response = await signoff.post("/api/v1/workflows", definition)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def put(signoff: Harness, record_id: str, **fields: Any) -> dict[str, Any]:
    response = await signoff.put(f"/api/v1/records/invoice/{record_id}", {**NEW, **fields})
    assert response.status_code == 200, response.text
    return dict(response.json())


async def record(signoff: Harness, record_id: str) -> dict[str, Any]:
    return dict((await signoff.api.get(f"/api/v1/records/invoice/{record_id}")).json())


async def test_a_send_workflow_skips_unapproved_invoices_and_the_history_says_why(tmp_path: Path, smtp: Inbox) -> None:
    async with running_signoff(tmp_path / "send.db", smtp_url=smtp.url) as signoff:
        await signoff.put("/api/v1/contacts/customer/C-ACME", {"name": "Acme", "email": "ap@acme.example"})
        await create(signoff, APPROVAL)
        send = await create(signoff, SEND)
        assert (await put(signoff, "INV-REQ", created_by="U0REQ"))["approval_status"] == "approval_required"
        assert (await put(signoff, "INV-APP", created_by="U0REQ", source="app"))["approval_status"] == "pending"
        assert (await put(signoff, "INV-ADM", created_by="U0ADMIN"))["approval_status"] == "none"
        await signoff.post("/api/v1/scheduler/tick")
        [mail] = await mails(smtp, 1)
        assert mail["To"] == "ap@acme.example" and mail["Subject"] == "Invoice INV-ADM"
        runs = (await signoff.api.get("/api/v1/runs", params={"workflow_id": send})).json()["runs"]
        why = {r["record_id"]: (r["actions"][0]["result"], r["actions"][0].get("reason")) for r in runs}
        assert why["INV-REQ"] == ("skipped", "not approved: invoice INV-REQ awaits submission for approval")
        assert why["INV-APP"] == ("skipped", "not approved: invoice INV-APP is pending approval")
        assert why["INV-ADM"] == ("queued", None)
        assert (await record(signoff, "INV-REQ"))["email_status"] == "not_sent"
        assert len(smtp.messages) == 1


async def test_payment_reminders_go_only_to_finalised_approved_invoices(billing: Harness, smtp: Inbox) -> None:
    await create(billing, APPROVAL)
    assert (await billing.put("/api/v1/settings/invoice-reminders", SETTINGS)).status_code == 200
    base = {**INVOICE, "due_date": DUE.isoformat()}
    for record_id, fields in (("INV-DRAFT", {"status": "draft"}), ("INV-HELD", {"created_by": "U0REQ"}),
                              ("INV-PEND", {"created_by": "U0REQ", "source": "app"})):
        assert (await billing.put(f"/api/v1/records/invoice/{record_id}", {**base, **fields})).status_code == 200
    await at(billing, datetime(2026, 10, 24, 10, 0, tzinfo=PARIS))
    [mail] = await mails(smtp, 1)
    assert "INV-7" in str(mail["Subject"]) and len(smtp.messages) == 1
    for held in ("INV-HELD", "INV-PEND"):
        events = (await billing.api.get(f"/api/v1/records/invoice/{held}/audit")).json()["events"]
        skipped = [e for e in events if e["action"] == "reminder_skipped"]
        assert len(skipped) == 1 and skipped[0]["detail"]["reason"].startswith(f"not approved: invoice {held}")
        assert not [e for e in events if e["action"] == "reminded"]
    draft = (await billing.api.get("/api/v1/records/invoice/INV-DRAFT/audit")).json()["events"]
    assert not [e for e in draft if e["action"] in ("reminded", "reminder_skipped")]


async def test_an_invoice_shows_reminded_and_the_list_filters_on_it(billing: Harness, smtp: Inbox) -> None:
    await billing.put("/api/v1/records/invoice/INV-8", {**INVOICE, "status": "open"})
    fresh = await record(billing, "INV-7")
    assert (fresh["reminded"], fresh["reminder_count"], fresh["reminded_at"]) == (False, 0, None)
    assert (await billing.post("/api/v1/records/invoice/INV-7/remind", {})).status_code == 200
    assert (await billing.post("/api/v1/records/invoice/INV-7/remind", {})).status_code == 200
    assert len(await mails(smtp, 2)) == 2
    await billing.runtime.deliverer.drain()  # recorded sent, so stamped, once the mail server took them
    reminded = await record(billing, "INV-7")
    now = (await billing.post("/api/v1/clock", {"advance": "PT1S"})).json()["now"]
    assert reminded["reminded"] is True and reminded["reminder_count"] == 2
    assert datetime.fromisoformat(reminded["reminded_at"]) <= datetime.fromisoformat(now)

    async def listed(flag: str) -> list[str]:
        response = await billing.api.get("/api/v1/records", params={"type": "invoice", "reminded": flag})
        assert response.status_code == 200
        return [r["id"] for r in response.json()["records"]]

    assert await listed("true") == ["INV-7"] and await listed("false") == ["INV-8"]
    assert (await billing.api.get("/api/v1/records", params={"reminded": "maybe"})).status_code == 422
    await billing.put("/api/v1/records/invoice/INV-7", {**INVOICE, "memo": "changed"})
    assert (await record(billing, "INV-7"))["reminder_count"] == 2
    assert len(await mails(smtp, 2)) == 2


async def test_a_manual_reminder_carries_its_own_subject_and_message(billing: Harness, smtp: Inbox) -> None:
    url = "/api/v1/records/invoice/INV-7/remind"
    own = {"subject": "Payment for {{ invoice.id }}", "message": "Hi {{ customer.name }}, please pay soon."}
    for bad, path in (({"subject": ""}, "subject"), ({"message": 5}, "message"), ({"message": "{{ oops"}, "message"),
                      ({"subject": "x" * 301}, "subject")):
        response = await billing.post(url, bad)
        assert response.status_code == 422 and response.json()["error"]["details"][0]["path"] == path
    sent = await billing.post(url, own)
    assert sent.status_code == 200 and sent.json()["subject"] == "Payment for INV-7"
    [mail] = await mails(smtp, 1)
    assert mail["Subject"] == "Payment for INV-7" and "Hi Acme SAS, please pay soon." in body(mail)
    command = 'remind invoice INV-7 "Second notice" "Settle {{ invoice.id }}"'
    reply = await billing.link.command("U0ADMIN", "/signoff", command)
    assert reply.status == 200
    second = (await mails(smtp, 2))[1]
    assert second["Subject"] == "Second notice" and "Settle INV-7" in body(second)
    assert "Second notice" in billing.workspace.ephemerals("U0ADMIN")[-1].all_text()
    unclosed = await billing.link.command("U0ADMIN", "/signoff", 'remind invoice INV-7 "unterminated')
    assert unclosed.status == 200 and 'remind invoice ID ["SUBJECT"' in billing.workspace.ephemerals(
        "U0ADMIN")[-1].all_text(), "an unclosed quote is refused with the usage"
    await billing.runtime.deliverer.drain()
    assert len(smtp.messages) == 2, "nothing went to the customer"
    events = (await billing.api.get("/api/v1/records/invoice/INV-7/audit")).json()["events"]
    assert [e["detail"]["subject"] for e in events if e["action"] == "reminded"] == ["Payment for INV-7",
                                                                                     "Second notice"]


async def test_a_manual_reminder_of_an_unapproved_or_draft_invoice_is_refused(billing: Harness, smtp: Inbox) -> None:
    await create(billing, APPROVAL)
    await billing.put("/api/v1/records/invoice/INV-HELD", {**INVOICE, "created_by": "U0REQ"})
    await billing.put("/api/v1/records/invoice/INV-DRAFT", {**INVOICE, "status": "draft"})
    held = await billing.post("/api/v1/records/invoice/INV-HELD/remind", {})
    assert held.status_code == 409 and "before approval" in held.json()["error"]["message"]
    draft = await billing.post("/api/v1/records/invoice/INV-DRAFT/remind", {})
    assert draft.status_code == 409 and "finalised" in draft.json()["error"]["message"]
    assert (await record(billing, "INV-HELD"))["reminder_count"] == 0
    await billing.post("/api/v1/scheduler/tick")
    assert smtp.messages == []
