"""Invoice reminders in Slack: `/signoff reminders` saves through the API's path; Send reminder e-mails the customer."""

from __future__ import annotations

import json
from typing import Any

import pytest
from slack_sdk.models.views import View

from bot.core.reminders import TEXT_PARTS
from bot.sandbox.blockkit.validation import validate_view
from tests.bot.core.test_reminders import SETTINGS, billing, mails  # noqa: F401
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


def block(modal: dict[str, Any], block_id: str) -> dict[str, Any]:
    return dict(next(b for b in modal["blocks"] if b.get("block_id") == block_id))


async def redrawn(h: Harness, user: str, words: str) -> dict[str, Any]:
    return dict((await h.wait_for(lambda: [m for m in h.workspace.open_modals(user) if words in str(m["blocks"])]))[0])


async def test_the_preview_follows_what_the_admin_types(billing: Harness) -> None:  # noqa: F811
    modal = await open_modal(billing)
    subject = block(modal, "s0_subject")
    assert subject["dispatch_action"] is True and block(modal, "s0_days")["dispatch_action"] is True
    assert subject["element"]["dispatch_action_config"]["trigger_actions_on"] == ["on_enter_pressed",
                                                                                  "on_character_entered"]
    assert block(modal, "s0_body")["element"]["dispatch_action_config"]["trigger_actions_on"] == [
        "on_character_entered"]
    typed = {"s0_greeting": {"s0_greeting": "Hello {{ customer.name }},"}}
    reply = await billing.link.click_in_view(ADMIN, "s0_subject", view_id=modal["id"], state=typed,
                                             value="Please pay {{ invoice.id }} today")
    assert reply.status == 200
    after = await redrawn(billing, ADMIN, "Please pay INV-7 today")
    assert after["id"] == modal["id"] and after["hash"] != modal["hash"] and validate_view(after) == []
    assert "Hello Acme SAS," in block(after, "preview_body")["text"]["text"]
    assert after["state"]["values"]["s0_subject"]["s0_subject"]["value"] == "Please pay {{ invoice.id }} today"
    assert block(after, "s0_subject")["element"]["initial_value"] == "Please pay {{ invoice.id }} today"
    await billing.link.click_in_view(ADMIN, "s1_days", view_id=modal["id"], value="5")
    await redrawn(billing, ADMIN, "Preview of reminder 2")
    await billing.link.click_in_view(ADMIN, "s1_body", view_id=modal["id"], value="Pay {{ invoice.id ")
    broken = await redrawn(billing, ADMIN, "cannot be written")
    assert "Preview of reminder 2" in str(broken["blocks"]) and "preview_error" in str(broken["blocks"])
    await billing.link.click_in_view(ADMIN, "s1_days", view_id=modal["id"], value="none")
    await billing.link.click_in_view(ADMIN, "reminders_preview", view_id=modal["id"])
    back = await redrawn(billing, ADMIN, "Preview of reminder 1")
    assert "Please pay INV-7 today" in str(back["blocks"])
    assert block(back, "s1_days")["element"]["initial_option"]["value"] == "none"
    reply = await billing.link.submit(ADMIN, {"enabled": "on", "s0_days": "-3"})
    assert reply.json() is None
    settings = await stored(billing)
    assert [s["subject"] for s in settings["schedules"]] == ["Please pay {{ invoice.id }} today"]


async def test_a_redraw_refused_for_a_stale_hash_is_sent_again(billing: Harness) -> None:  # noqa: F811
    modal = await open_modal(billing)
    billing.workspace.refuse_next("views.update", "hash_conflict")
    await billing.link.click_in_view(ADMIN, "s0_subject", view_id=modal["id"], value="Second {{ invoice.id }}")
    await redrawn(billing, ADMIN, "Second INV-7")
    updates = billing.workspace.calls("views.update")
    assert [c.params.get("hash") is not None for c in updates] == [True, False]


@pytest.mark.parametrize("locale", ["en", "fr"])
async def test_the_redrawn_modal_is_valid_in_each_locale(tmp_path: Any, locale: str) -> None:
    async with running_signoff(tmp_path / "db.sqlite", locale=locale) as h:
        modal = await open_modal(h)
        await h.link.click_in_view(ADMIN, "s0_body", view_id=modal["id"], value="x" * 3000)
        after = await h.wait_for(lambda: [m for m in h.workspace.open_modals(ADMIN) if m["hash"] != modal["hash"]])
        assert validate_view(after[0]) == [] and "x" * 3000 in json.dumps(after[0])
        View(**{k: v for k, v in after[0].items() if k not in ("state", "hash", "id")}).validate_json()


@pytest.mark.parametrize(("locale", "greeting"), [("en", "Dear {{ customer.name"), ("fr", "Bonjour {{ customer.name")])
async def test_the_standard_texts_are_shown_in_plain_words_of_the_company_language(
    tmp_path: Any, locale: str, greeting: str,
) -> None:
    async with running_signoff(tmp_path / "db.sqlite", locale=locale) as h:
        modal = await open_modal(h)
        texts = [block(modal, f"s0_{part}")["element"].get("initial_value", "") for part in TEXT_PARTS]
        assert texts[1].startswith(greeting) and all(text and "_(" not in text for text in texts)
        shown = (await h.api.get("/api/v1/settings/invoice-reminders")).json()["schedules"][0]
        assert [shown[part] for part in TEXT_PARTS] == texts
