"""Invoice reminders in Slack: `/signoff reminders` saves through the API's path; Send reminder e-mails the customer."""

from __future__ import annotations

from typing import Any

import pytest

from bot.sandbox.validation import validate_view
from tests.bot.test_reminders import SETTINGS, billing, mails  # noqa: F401
from tests.support.harness import Harness, running_signoff
from tests.support.smtp import Inbox

ADMIN, ALICE = "U0ADMIN", "U01AAA"
SLOTS = {"enabled": "on", "s0_days": "-3", "s1_days": "5", "s1_subject": "Invoice {{ invoice.id }} is late",
         "s1_copy": ["copy"], "s2_days": "none"}


async def open_modal(h: Harness, user: str = ADMIN) -> dict[str, Any]:
    await h.link.command(user, "/signoff", "reminders")
    [modal] = await h.wait_for(lambda: h.workspace.open_modals(user))
    return dict(modal)


async def stored(h: Harness) -> dict[str, Any]:
    return dict((await h.api.get("/api/v1/settings/invoice-reminders")).json())


async def test_an_admin_sets_reminders_from_slack(billing: Harness) -> None:  # noqa: F811
    modal = await open_modal(billing)
    assert modal["callback_id"] == "reminders_settings" and validate_view(modal) == []
    text = str(modal["blocks"])
    assert "INV-7" in text and "Acme SAS" in text and "Reminder: invoice INV-7" in text
    reply = await billing.link.submit(ADMIN, SLOTS)
    assert reply.json() is None
    settings = await stored(billing)
    assert settings["enabled"] is True and [s["offset_days"] for s in settings["schedules"]] == [-3, 5]
    assert settings["schedules"][1]["subject"] == "Invoice {{ invoice.id }} is late"
    assert settings["schedules"][1]["copy_sender"] is True and settings["schedules"][0]["copy_sender"] is False
    again = await open_modal(billing)
    days = next(b for b in again["blocks"] if b.get("block_id") == "s1_days")
    assert days["element"]["initial_option"]["value"] == "5"


@pytest.mark.parametrize(
    ("changes", "block", "words"),
    [({"s1_body": "Pay {{ invoice.id "}, "s1_body", "cannot be used"),
     ({"s1_days": "-3"}, "s1_days", "its own day")],
)
async def test_bad_settings_are_refused_on_the_right_input(
    signoff: Harness, changes: dict[str, str], block: str, words: str,
) -> None:
    await open_modal(signoff)
    reply = await signoff.link.submit(ADMIN, {**SLOTS, **changes})
    assert reply.json()["response_action"] == "errors" and words in reply.json()["errors"][block]
    assert (await stored(signoff))["enabled"] is False


async def test_non_admins_cannot_open_the_modal(signoff: Harness) -> None:
    answer = await signoff.link.command(ALICE, "/signoff", "reminders")
    assert "admin" in answer.text().lower() and signoff.workspace.open_modals(ALICE) == []


async def test_send_reminder_from_a_message(billing: Harness, smtp: Inbox) -> None:  # noqa: F811
    workflow = {"name": "Invoices", "record_type": "invoice", "trigger": "created_or_updated", "conditions": [],
                "actions": [{"type": "notification", "channel": "#finance", "message": "{{ record.id }} changed"}]}
    assert (await billing.post("/api/v1/workflows", workflow)).status_code == 201
    await billing.put("/api/v1/records/invoice/INV-7", {"amount": "1200.00", "balance": "400.00", "currency": "EUR",
                                                        "customer": "C-ACME", "due_date": "2026-10-27",
                                                        "created_by": ADMIN, "status": "sent"})
    [post] = await billing.wait_for(lambda: billing.workspace.messages_in("C0FINANCE"))
    assert "invoice_remind" in post.action_ids()
    await billing.click(ALICE, post, "invoice_remind")
    refused = await billing.wait_for(lambda: billing.workspace.ephemerals(ALICE))
    assert "Only admins" in refused[0].all_text() and smtp.messages == []
    await billing.click(ADMIN, post, "invoice_remind")
    told = await billing.wait_for(lambda: billing.workspace.ephemerals(ADMIN))
    assert "ap@acme.example" in told[0].all_text()
    [mail] = await mails(smtp, 1)
    assert mail["To"] == "ap@acme.example" and "INV-7" in mail["Subject"]


@pytest.mark.parametrize("locale", ["en", "fr"])
async def test_the_modal_is_valid_in_each_locale(tmp_path: Any, locale: str) -> None:
    async with running_signoff(tmp_path / "db.sqlite", locale=locale) as h:
        body = "x" * 5000
        saved = await h.api.put("/api/v1/settings/invoice-reminders",
                                json={"enabled": True, "schedules": [{"offset_days": 1, "body": body}]})
        assert saved.status_code == 200
        modal = await open_modal(h)
        assert validate_view(modal) == []
        await h.link.submit(ADMIN, {"enabled": "on", "s0_days": "2"})
        assert (await stored(h))["schedules"] == [{**(await stored(h))["schedules"][0], "body": body}]
