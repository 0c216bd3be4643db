"""Invoice reminders in real headless Chromium: the preview follows what the admin types, and nothing typed is lost."""

from __future__ import annotations

import pytest
from playwright.async_api import BrowserContext, expect

from bot.cli.demo_data import ADA
from bot.core.reminders import InvoiceReminders
from bot.sandbox.run import Sandbox
from tests.browser.test_demo_browser import WAIT_MS, open_as

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


async def test_the_reminder_preview_follows_the_edits_and_keeps_what_was_typed(
    demo: Sandbox, browser: BrowserContext
) -> None:
    screen = await open_as(browser, demo, ADA)
    await screen.page.fill("#composer-input", "/signoff reminders")
    await screen.page.press("#composer-input", "Enter")
    modal = screen.page.locator("#modal-root .modal")
    await expect(modal.locator(".modal-title")).to_have_text("Invoice reminders", timeout=WAIT_MS)
    subject = modal.locator("[data-block-id=s0_subject] input")
    await subject.fill("")
    await subject.press_sequentially("Payment due: {{ invoice.id }}", delay=20)
    await subject.press("Enter")
    preview = modal.locator("[data-block-id=preview_subject]")
    await expect(preview).to_contain_text("Payment due: INV-", timeout=WAIT_MS)
    await expect(modal).to_be_visible()
    body = modal.locator("[data-block-id=s0_body] textarea")
    await body.fill("")
    await body.press_sequentially("Please pay", delay=20)
    await expect(modal.locator("[data-block-id=preview_body]")).to_contain_text("Please pay", timeout=WAIT_MS)
    await screen.page.keyboard.type(" this week, thank you.", delay=20)
    await expect(modal.locator("[data-block-id=preview_body]")).to_contain_text("Please pay this week, thank you.",
                                                                               timeout=WAIT_MS)
    await expect(body).to_have_value("Please pay this week, thank you.")
    await expect(subject).to_have_value("Payment due: {{ invoice.id }}")
    await modal.locator("[data-block-id=preview_body]").scroll_into_view_if_needed()
    await screen.shot("reminders-preview-follows")
    await modal.locator("[data-block-id=s1_days] select").select_option("none")
    await modal.locator("button[data-action-id=reminders_preview]").click()
    await expect(modal.locator("[data-block-id=preview_title]")).to_contain_text("Preview of reminder 1",
                                                                               timeout=WAIT_MS)
    await modal.locator("[data-role=submit]").click()
    await expect(modal).to_have_count(0, timeout=WAIT_MS)
    settings = await InvoiceReminders(demo.runtime.service).settings()
    first = settings.schedules[0]
    assert (first.subject, first.body) == ("Payment due: {{ invoice.id }}", "Please pay this week, thank you.")
    assert screen.errors == []
