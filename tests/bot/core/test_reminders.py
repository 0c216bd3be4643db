"""Invoice payment reminders: settings API, scheduled e-mails over real SMTP, manual reminders (API, CLI, Slack)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from email.message import Message
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller

from bot.cli.main import main as cli_main
from bot.core.reminders import default_text
from tests.bot.conftest import free_port
from tests.support.harness import SIGNING_SECRET, Harness, running_signoff
from tests.support.smtp import Inbox

PARIS = ZoneInfo("Europe/Paris")
DUE = date(2026, 10, 27)
INVOICE = {"amount": "1200.00", "balance": "450.00", "currency": "EUR", "customer": "C-ACME",
           "due_date": DUE.isoformat(), "created_by": "U0ADMIN", "status": "sent"}
SETTINGS: dict[str, Any] = {
    "enabled": True,
    "schedules": [
        {"offset_days": -3},
        {"offset_days": 0, "subject": "Pay {{ invoice.id }} today", "greeting": "Hello {{ customer.name }},",
         "body": "Please pay {{ invoice.balance | money(invoice.currency) }} today.", "copy_sender": True},
    ],
}


@pytest.fixture
async def billing(tmp_path: Path, smtp: Inbox) -> AsyncIterator[Harness]:
    """Signoff in Paris time with e-mail on, a customer with an address and an open invoice."""
    url = f"{smtp.url}?from=billing@signoff.example"
    async with running_signoff(tmp_path / "billing.db", timezone="Europe/Paris", smtp_url=url) as signoff:
        await at(signoff, datetime(2026, 10, 20, 9, 0, tzinfo=PARIS))
        contact = {"name": "Acme SAS", "email": "ap@acme.example"}
        assert (await signoff.put("/api/v1/contacts/customer/C-ACME", contact)).status_code == 200
        assert (await signoff.put("/api/v1/records/invoice/INV-7", INVOICE)).status_code == 200
        yield signoff


async def at(signoff: Harness, moment: datetime) -> dict[str, Any]:
    assert (await signoff.post("/api/v1/clock", {"now": moment.isoformat()})).status_code == 200
    return dict((await signoff.post("/api/v1/scheduler/tick")).json())


async def mails(inbox: Inbox, count: int) -> list[Message]:
    for _ in range(200):
        if len(inbox.messages) >= count:
            break
        await asyncio.sleep(0.02)
    return inbox.parsed()


def body(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode().replace("\r\n", "\n")


async def history(signoff: Harness) -> list[dict[str, Any]]:
    events = (await signoff.api.get("/api/v1/records/invoice/INV-7/audit")).json()["events"]
    return [e for e in events if e["action"] == "reminded"]


async def test_default_settings_are_off_with_the_shipped_texts(signoff: Harness) -> None:
    settings = (await signoff.api.get("/api/v1/settings/invoice-reminders")).json()
    assert settings["enabled"] is False and [s["offset_days"] for s in settings["schedules"]] == [-3, 3]
    assert settings["schedules"][0]["subject"] == default_text("subject")
    assert "invoice.id" in settings["schedules"][0]["body"]


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"enabled": True, "schedules": [{"offset_days": d} for d in (-2, 0, 2, 4)]}, "schedules"),
        ({"schedules": [{"offset_days": -11}]}, "schedules[0].offset_days"),
        ({"schedules": [{"offset_days": 3}, {"offset_days": 3}]}, "schedules"),
        ({"schedules": [{"offset_days": 0, "subject": "Pay {{ invoice.id "}]}, "schedules[0].subject"),
        ({"schedules": [{"offset_days": 0}, {"offset_days": 1, "body": "{% for %}"}]}, "schedules[1].body"),
        ({"enabled": "yes"}, "enabled"),
    ],
)
async def test_bad_settings_are_a_422_naming_the_field_and_change_nothing(
    signoff: Harness, data: dict[str, Any], path: str,
) -> None:
    response = await signoff.api.put("/api/v1/settings/invoice-reminders", json=data)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["details"][0]["path"] == path
    assert (await signoff.api.get("/api/v1/settings/invoice-reminders")).json()["enabled"] is False


async def test_a_patch_changes_only_what_it_names(signoff: Harness) -> None:
    url = "/api/v1/settings/invoice-reminders"
    assert (await signoff.api.put(url, json=SETTINGS)).status_code == 200
    before = (await signoff.api.get(url)).json()
    off = await signoff.api.patch(url, json={"enabled": False})
    assert off.status_code == 200 and off.json() == {**before, "enabled": False}
    too_late = {"schedules": [{"offset_days": 11}]}
    for bad, path in (({"enabled": "no"}, "enabled"), (too_late, "schedules[0].offset_days")):
        refused = await signoff.api.patch(url, json=bad)
        assert refused.status_code == 422 and refused.json()["error"]["details"][0]["path"] == path, refused.text
    assert (await signoff.api.patch(url, json=["enabled"])).status_code == 422
    assert (await signoff.api.get(url)).json() == {**before, "enabled": False}


async def test_scheduled_reminders_reach_the_customer_once_each(billing: Harness, smtp: Inbox) -> None:
    saved = await billing.api.put("/api/v1/settings/invoice-reminders", json=SETTINGS)
    assert saved.status_code == 200 and saved.json()["schedules"][1]["subject"] == SETTINGS["schedules"][1]["subject"]
    assert (await at(billing, datetime(2026, 10, 24, 8, 30, tzinfo=PARIS)))["invoice_reminder"] == 0
    assert (await at(billing, datetime(2026, 10, 24, 9, 30, tzinfo=PARIS)))["invoice_reminder"] == 1
    assert (await at(billing, datetime(2026, 10, 24, 18, 0, tzinfo=PARIS)))["invoice_reminder"] == 0
    first = (await mails(smtp, 1))[0]
    assert first["To"] == "ap@acme.example" and first["Cc"] is None
    assert first["From"] == "Signoff <billing@signoff.example>" and first["Date"], "no company named yet"
    assert first["Subject"] == "Reminder: invoice INV-7 is due on Oct 27, 2026"
    assert "Dear Acme SAS," in body(first) and "€450.00" in body(first)
    assert (await billing.api.put("/api/v1/company", json={"name": "Acme Books"})).status_code == 200
    assert (await at(billing, datetime(2026, 10, 27, 9, 30, tzinfo=PARIS)))["invoice_reminder"] == 1
    second = (await mails(smtp, 2))[1]
    assert second["From"] == "Acme Books <billing@signoff.example>"
    assert second["Subject"] == "Pay INV-7 today" and second["Cc"] == "billing@signoff.example"
    assert body(second).startswith("Hello Acme SAS,\n\nPlease pay €450.00 today.")
    assert (await at(billing, datetime(2026, 11, 10, 9, 30, tzinfo=PARIS)))["invoice_reminder"] == 0
    assert [(e["detail"]["offset_days"], e["detail"]["to"]) for e in await history(billing)] == [
        (-3, "ap@acme.example"), (0, "ap@acme.example")]
    assert len(smtp.messages) == 2


async def test_invoices_due_at_the_calendar_ends_stop_no_sweep(billing: Harness, smtp: Inbox) -> None:
    assert (await billing.api.put("/api/v1/settings/invoice-reminders", json=SETTINGS)).status_code == 200
    for invoice_id, due in (("INV-MAX", "9999-12-31"), ("INV-MIN", "0001-01-01")):
        saved = await billing.put(f"/api/v1/records/invoice/{invoice_id}", {**INVOICE, "due_date": due})
        assert saved.status_code == 200
    assert (await at(billing, datetime(2026, 10, 24, 9, 30, tzinfo=PARIS)))["invoice_reminder"] == 1
    assert [m["Subject"] for m in await mails(smtp, 1)] == ["Reminder: invoice INV-7 is due on Oct 27, 2026"]


async def test_after_an_outage_the_latest_reminder_owed_is_sent_once(billing: Harness, smtp: Inbox) -> None:
    await billing.api.put("/api/v1/settings/invoice-reminders", json=SETTINGS)
    assert (await at(billing, datetime(2026, 11, 26, 10, 0, tzinfo=PARIS)))["invoice_reminder"] == 1
    assert (await at(billing, datetime(2026, 11, 27, 10, 0, tzinfo=PARIS)))["invoice_reminder"] == 0
    (late,) = await mails(smtp, 1)
    assert late["Subject"] == "Pay INV-7 today"
    assert [e["detail"]["offset_days"] for e in await history(billing)] == [0]


async def test_turning_reminders_on_sends_no_reminder_of_the_past(billing: Harness, smtp: Inbox) -> None:
    await at(billing, datetime(2026, 11, 20, 9, 0, tzinfo=PARIS))
    await billing.api.put("/api/v1/settings/invoice-reminders", json=SETTINGS)
    shown = (await billing.api.get("/api/v1/settings/invoice-reminders")).json()
    assert "since" not in shown
    assert (await at(billing, datetime(2026, 11, 20, 10, 0, tzinfo=PARIS)))["invoice_reminder"] == 0
    assert await history(billing) == [] and smtp.messages == []


async def test_an_invoice_arriving_overdue_gets_no_reminder_of_the_past(billing: Harness, smtp: Inbox) -> None:
    await billing.api.put("/api/v1/settings/invoice-reminders", json=SETTINGS)
    assert (await at(billing, datetime(2026, 11, 2, 9, 0, tzinfo=PARIS)))["invoice_reminder"] == 1  # INV-7's
    assert (await billing.put("/api/v1/records/invoice/INV-8", INVOICE)).status_code == 200
    assert (await at(billing, datetime(2026, 11, 3, 10, 0, tzinfo=PARIS)))["invoice_reminder"] == 0
    events = (await billing.api.get("/api/v1/records/invoice/INV-8/audit")).json()["events"]
    assert [e for e in events if e["action"] == "reminded"] == [] and len(await mails(smtp, 1)) == 1


@pytest.mark.parametrize(
    ("change", "contact"),
    [({"status": "paid", "balance": None}, None), ({"balance": "0"}, None), ({"status": "void"}, None),
     ({}, {"name": "Acme SAS", "email": None})],
)
async def test_no_reminder_for_paid_void_settled_or_unreachable_invoices(
    billing: Harness, smtp: Inbox, change: dict[str, Any], contact: dict[str, Any] | None,
) -> None:
    await billing.api.put("/api/v1/settings/invoice-reminders", json=SETTINGS)
    await billing.put("/api/v1/records/invoice/INV-7", {**INVOICE, **change})
    if contact is not None:
        await billing.put("/api/v1/contacts/customer/C-ACME", contact)
    skipped = (await at(billing, datetime(2026, 10, 24, 9, 30, tzinfo=PARIS)))["invoice_reminder"]
    manual = await billing.post("/api/v1/records/invoice/INV-7/remind")
    assert manual.status_code == 409 and manual.json()["error"]["code"] == "conflict"
    assert await history(billing) == [] and smtp.messages == []
    assert [e["detail"]["reason"] for e in await trail(billing, "reminder_skipped")] == (
        ["customer C-ACME has no e-mail address"] if contact else []) and skipped == (1 if contact else 0)


async def trail(signoff: Harness, action: str, invoice_id: str = "INV-7") -> list[dict[str, Any]]:
    events = (await signoff.api.get(f"/api/v1/records/invoice/{invoice_id}/audit")).json()["events"]
    return [e for e in events if e["action"] == action]


@pytest.mark.parametrize("contact", [{"name": "Acme SAS", "email": "ap@acme.example", "active": False},
                                     {"name": "Acme SAS", "email": "ap@acme.example", "reminders": False}])
async def test_a_customer_kept_out_of_reminders_gets_only_those_sent_by_hand(
    billing: Harness, smtp: Inbox, contact: dict[str, Any],
) -> None:
    await billing.api.put("/api/v1/settings/invoice-reminders", json=SETTINGS)
    assert (await billing.put("/api/v1/contacts/customer/C-ACME", contact)).status_code == 200
    assert (await at(billing, datetime(2026, 10, 24, 9, 30, tzinfo=PARIS)))["invoice_reminder"] == 1
    reason = "customer C-ACME is inactive" if "active" in contact else "customer C-ACME gets no automatic reminders"
    assert [e["detail"]["reason"] for e in await trail(billing, "reminder_skipped")] == [reason]
    assert smtp.messages == []
    assert (await billing.post("/api/v1/records/invoice/INV-7/remind")).status_code == 200
    assert len(await mails(smtp, 1)) == 1


async def test_a_reminder_too_late_to_be_useful_gives_way_to_the_next(billing: Harness, smtp: Inbox) -> None:
    await billing.api.put("/api/v1/settings/invoice-reminders", json=SETTINGS)
    assert (await at(billing, datetime(2026, 10, 27, 8, 0, tzinfo=PARIS)))["invoice_reminder"] == 1
    assert (await at(billing, datetime(2026, 10, 27, 9, 5, tzinfo=PARIS)))["invoice_reminder"] == 1
    assert [m["Subject"] for m in await mails(smtp, 1)] == ["Pay INV-7 today"]
    assert [e["detail"]["reason"] for e in await trail(billing, "reminder_skipped")] == [
        "late: the next reminder goes on 2026-10-27"]


async def test_a_reminder_is_signed_by_the_company_and_links_to_its_payment_page(
    billing: Harness, smtp: Inbox,
) -> None:
    assert (await billing.put("/api/v1/company", {"name": "Northwind Finance"})).status_code == 200
    fields = {"fields": {"payment_url": "https://pay.example/INV-7"}}
    assert (await billing.put("/api/v1/records/invoice/INV-7", {**INVOICE, **fields})).status_code == 200
    own = {"subject": "{{ company.name }}: invoice {{ invoice.id }}"}
    assert (await billing.post("/api/v1/records/invoice/INV-7/remind", own)).status_code == 200
    (message,) = await mails(smtp, 1)
    assert message["Subject"] == "Northwind Finance: invoice INV-7"
    assert body(message).rstrip().endswith("View and pay online: https://pay.example/INV-7\n\nNorthwind Finance")


@pytest.mark.parametrize("texts", [{"subject": "{{ comapny.name }} {{ invoice.id }}"},
                                   {"greeting": "Hello {{ customer.name }} {{ recrod.id }}"}])
async def test_a_misspelt_name_in_a_reminder_text_is_refused(billing: Harness, texts: dict[str, str]) -> None:
    schedule = {"offset_days": 0, **texts}
    response = await billing.put("/api/v1/settings/invoice-reminders", {"enabled": True, "schedules": [schedule]})
    assert response.status_code == 422 and "unknown name" in response.text


async def test_turning_reminders_off_stops_them(billing: Harness, smtp: Inbox) -> None:
    await billing.api.put("/api/v1/settings/invoice-reminders", json=SETTINGS)
    await billing.api.put("/api/v1/settings/invoice-reminders", json={**SETTINGS, "enabled": False})
    assert (await at(billing, datetime(2026, 10, 24, 9, 30, tzinfo=PARIS)))["invoice_reminder"] == 0
    await billing.api.put("/api/v1/settings/invoice-reminders", json=SETTINGS)
    assert (await at(billing, datetime(2026, 10, 24, 10, 30, tzinfo=PARIS)))["invoice_reminder"] == 1


async def test_a_manual_reminder_is_sent_at_any_time(billing: Harness, smtp: Inbox) -> None:
    # a key the endpoint does not know (an `actor` to impersonate, a misspelt `subjet`) sends nothing
    for unknown in ({"actor": "U0ADMIN"}, {"subjet": "Final notice", "mesage": "Call us"}):
        refused = await billing.post("/api/v1/records/invoice/INV-7/remind", unknown)
        assert refused.status_code == 422 and "unknown key" in refused.text, refused.text
    response = await billing.post("/api/v1/records/invoice/INV-7/remind", {})
    assert response.status_code == 200 and response.json()["to"] == ["ap@acme.example"]
    message = (await mails(smtp, 1))[0]
    assert message["Subject"] == "Reminder: invoice INV-7 is due on Oct 27, 2026"
    assert [(e["actor"], e["detail"]["manual"]) for e in await history(billing)] == [("token:env", True)]
    assert (await billing.post("/api/v1/records/invoice/NOPE/remind")).status_code == 404
    assert (await billing.post("/api/v1/records/invoice/INV-7/remind", {"schedule": 5})).status_code == 422


async def test_a_manual_reminder_of_an_invoice_without_due_date_invents_none(billing: Harness, smtp: Inbox) -> None:
    undated = {k: v for k, v in INVOICE.items() if k != "due_date"}
    assert (await billing.put("/api/v1/records/invoice/INV-8", undated)).status_code == 200
    assert (await billing.post("/api/v1/records/invoice/INV-8/remind")).status_code == 200
    message = (await mails(smtp, 1))[0]
    assert message["Subject"] == "Reminder: invoice INV-8"
    text = body(message)
    assert "INV-8 still has €450.00 to pay.\n\nIf you have already paid" in text
    assert "due date" not in text.lower() and "—" not in text


@pytest.mark.parametrize(("schedule", "problem"), [
    ({"offset_days": 0, "subject": "{{ invoice.nothing }}"}, "unknown field 'nothing'"),  # a misspelling
    ({"offset_days": 0, "body": "{{ customer.nothing }}"}, "unknown field 'nothing'"),
    ({"offset_days": 0, "subject": "{{ invoice.__class__ }}"}, "renders to nothing"),
])
async def test_texts_that_render_to_nothing_are_refused(
        billing: Harness, schedule: dict[str, Any], problem: str) -> None:
    response = await billing.put("/api/v1/settings/invoice-reminders", {"enabled": True, "schedules": [schedule]})
    assert response.status_code == 422 and problem in response.text


@pytest.mark.parametrize(("own", "problem"), [
    ({"subject": "{{ invoice.nope.deeper }}"}, "unknown field 'nope'"),
    ({"subject": "{{ invoice.__class__ }}"}, "renders to nothing"),
    ({"message": "  {{ customer.nothing }} "}, "unknown field 'nothing'"),
])
async def test_a_manual_reminder_whose_text_renders_to_nothing_is_refused(
        billing: Harness, smtp: Inbox, own: dict[str, str], problem: str) -> None:
    response = await billing.post("/api/v1/records/invoice/INV-7/remind", own)
    assert response.status_code == 422 and problem in response.text
    await asyncio.sleep(0.2)
    assert smtp.messages == []


async def test_manual_reminder_needs_email_to_be_on(signoff: Harness) -> None:
    await signoff.put("/api/v1/records/invoice/INV-7", INVOICE)
    response = await signoff.post("/api/v1/records/invoice/INV-7/remind")
    assert response.status_code == 409 and "SIGNOFF_SMTP_URL" in response.json()["error"]["message"]


async def test_slash_command_reminds_an_invoice(billing: Harness, smtp: Inbox) -> None:
    reply = await billing.link.command("U0ADMIN", "/signoff", "remind invoice INV-7")
    assert "INV-7" in reply.text() and "ap@acme.example" in reply.text()
    assert len(await mails(smtp, 1)) == 1
    refused = await billing.link.command("U01AAA", "/signoff", "remind invoice INV-7")
    assert "admin" in refused.text().lower() and len(smtp.messages) == 1


async def test_cli_queues_a_reminder_the_running_bot_sends(
    billing: Harness, smtp: Inbox, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    settings = billing.runtime.settings
    env = {"SIGNOFF_DATABASE": settings.database, "SLACK_BOT_TOKEN": settings.slack_bot_token or "",
           "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SIGNOFF_SMTP_URL": settings.smtp_url or "",
           "SIGNOFF_TIMEZONE": "Europe/Paris", "SLACK_API_URL": settings.slack_api_url}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    await billing.post("/api/v1/clock", {"now": datetime.now(UTC).isoformat()})
    assert await asyncio.to_thread(cli_main, ["remind", "invoice", "INV-7"]) == 0
    assert '"to": ["ap@acme.example"]' in capsys.readouterr().out
    assert len(await mails(smtp, 1)) == 1
    assert await asyncio.to_thread(cli_main, ["remind", "invoice", "NOPE"]) == 1
    assert "no invoice" in capsys.readouterr().err


async def test_a_reminder_never_delivered_never_reads_as_sent_and_one_for_an_invoice_paid_since_is_not_sent(
    tmp_path: Path,
) -> None:
    inbox = Inbox(free_port())
    async with running_signoff(tmp_path / "down.db", timezone="Europe/Paris", smtp_url=inbox.url) as signoff:
        await at(signoff, datetime(2026, 10, 20, 9, 0, tzinfo=PARIS))
        acme = {"name": "Acme SAS", "email": "ap@acme.example"}
        assert (await signoff.put("/api/v1/contacts/customer/C-ACME", acme)).status_code == 200
        assert (await signoff.put("/api/v1/records/invoice/INV-7", INVOICE)).status_code == 200
        assert (await signoff.api.put("/api/v1/settings/invoice-reminders", json=SETTINGS)).status_code == 200
        assert (await at(signoff, datetime(2026, 10, 24, 9, 30, tzinfo=PARIS)))["invoice_reminder"] == 1
        shown = (await signoff.api.get("/api/v1/records/invoice/INV-7")).json()
        assert (shown["reminded"], shown["reminder_count"]) == (False, 0), "the mail server is down: not sent"
        await at(signoff, datetime(2026, 10, 25, 12, 0, tzinfo=PARIS))  # past the delivery horizon
        [dead] = (await signoff.api.get("/api/v1/outbox?status=dead")).json()["items"]
        actions = [e["action"] for e in (await signoff.api.get("/api/v1/records/invoice/INV-7/audit")).json()["events"]]
        assert "reminder_failed" in actions and "reminded" not in actions
        assert (await signoff.api.get("/api/v1/records?type=invoice&reminded=false")).json()["records"][0]["id"] == \
            "INV-7"
        paid = {**INVOICE, "status": "paid", "balance": "0"}
        assert (await signoff.put("/api/v1/records/invoice/INV-7", paid)).status_code == 200
        controller = Controller(inbox, hostname="127.0.0.1", port=inbox.port)
        controller.start()
        try:
            assert (await signoff.api.post(f"/api/v1/outbox/{dead['id']}/retry")).status_code == 200
            await signoff.runtime.deliverer.drain()
        finally:
            controller.stop()
        assert inbox.messages == [], "the invoice was paid meanwhile: no reminder of a balance it no longer has"
        events = (await signoff.api.get("/api/v1/records/invoice/INV-7/audit")).json()["events"]
        [skipped] = [e for e in events if e["action"] == "reminder_skipped"]
        assert skipped["detail"]["reason"] == "invoice INV-7 is paid: nothing to remind"
        assert (await signoff.api.get("/api/v1/records/invoice/INV-7")).json()["reminded"] is False
