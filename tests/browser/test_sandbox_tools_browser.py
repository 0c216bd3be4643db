"""The sandbox's tools in real headless Chromium: batch approval on Home, New document, Mail, Settings.

A group e-mail sent from Slack and read in Mail is in test_groups_browser.py."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from playwright.async_api import BrowserContext, expect

from bot.cli.demo_data import BOB, DAN, REMINDED_INVOICE
from bot.sandbox.run import Sandbox
from tests.browser.test_demo_browser import WAIT_MS, Screen, open_as

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]


async def open_tool(screen: Screen, tool: str) -> None:
    """Open a sandbox tool from the sidebar."""
    await screen.page.click(f"[data-testid=tool-{tool}]")
    await expect(screen.page.locator("#tool")).to_be_visible()


async def test_batch_approve_two_tasks_from_home(demo: Sandbox, browser: BrowserContext) -> None:
    screen = await open_as(browser, demo, BOB)
    await screen.page.click("#tabs button[data-tab=home]")
    home = screen.page.locator("#home .home-view")
    await expect(home.locator("button[data-action-id=batch_approve]")).to_be_visible(timeout=WAIT_MS)
    for record_id in ("INV-1001", "INV-1002"):
        task = home.locator(".block-section", has_text=record_id).filter(has=screen.page.locator("input"))
        await task.locator("input[type=checkbox]").check()
    await screen.shot("home-two-ticked")
    await home.locator("button[data-action-id=batch_approve]").click()
    await expect(home).to_contain_text("Waiting for your approval (1)", timeout=WAIT_MS)
    await expect(home).not_to_contain_text("INV-1001")
    await expect(home).not_to_contain_text("INV-1002")
    await expect(home.locator(".block-section", has_text="INV-1010").locator("input")).to_have_count(1)
    async with demo.runtime.db.read() as repo:
        for record_id in ("INV-1001", "INV-1002"):
            request = await repo.open_request_for("invoice", record_id)
            assert request is not None and request.current_step == 1
    await screen.shot("home-batch-approved")
    assert screen.errors == []


async def test_a_new_document_from_the_form_asks_its_approver(demo: Sandbox, browser: BrowserContext) -> None:
    screen = await open_as(browser, demo, BOB)
    await open_tool(screen, "document")
    form = screen.page.locator("[data-testid=document-form]")
    await form.locator("[name=amount]").fill("7300.00")
    await form.locator("[name=contact]").select_option("C-UMBRELLA")
    await form.locator("[name=department]").fill("Healthcare")
    await form.locator("[name=memo]").fill("Onboarding, created from the form")
    await screen.shot("new-document-form")
    await screen.page.click("[data-testid=create-document]")
    created = screen.page.locator("[data-testid=document-created]")
    await expect(created).to_contain_text("pending", timeout=WAIT_MS)
    record_id = (await created.text_content() or "").split()[2]
    await screen.page.click("#apps .sidebar-item")
    card = screen.card(f"Approval: Invoice {record_id}")
    await expect(card).to_contain_text("Onboarding, created from the form", timeout=WAIT_MS)
    await expect(card.locator("button[data-action-id=approve]")).to_be_visible()
    assert screen.errors == []


async def test_moving_the_clock_e_mails_a_customer_reminder(demo: Sandbox, browser: BrowserContext) -> None:
    screen = await open_as(browser, demo, DAN)
    await open_tool(screen, "mail")
    mails = screen.page.locator("[data-testid=mail]")
    await expect(mails.first).to_be_visible(timeout=WAIT_MS)
    await expect(mails.filter(has_text="Approval needed").first).to_be_visible()
    approve_link = mails.filter(has_text="Approval needed").first.locator("a.link").first
    assert re.match(r"^http://127\.0\.0\.1:\d+/approve/", await approve_link.get_attribute("href") or "")
    assert await mails.filter(has_text=REMINDED_INVOICE).count() == 0
    await screen.page.click("[data-testid=advance-day]")
    reminder = mails.filter(has_text=f"invoice {REMINDED_INVOICE}")
    await expect(reminder).to_have_count(1, timeout=60_000)
    await expect(reminder.locator(".mail-to")).to_have_text("ap@globex.example")
    await expect(reminder.locator(".mail-body")).not_to_be_empty()
    await screen.shot("mail-customer-reminder")
    assert screen.errors == []


async def test_the_settings_panel_shows_a_token_the_api_takes(demo: Sandbox, browser: BrowserContext) -> None:
    screen = await open_as(browser, demo, DAN)
    await open_tool(screen, "settings")
    token = screen.page.locator("[data-testid=api-token]")
    await expect(token).to_have_text(demo.runtime.settings.api_token, timeout=WAIT_MS)
    await screen.shot("settings-panel")
    headers = {"Authorization": f"Bearer {await token.text_content() or ''}"}
    async with httpx.AsyncClient(base_url=demo.runtime.url, headers=headers, timeout=30) as api:
        groups = (await api.get("/api/v1/groups")).json()["groups"]
    assert "california-customers" in [g["name"] for g in groups]
    assert screen.errors == []


async def test_a_mention_typed_in_the_composer_reaches_signoff_as_slack_sends_it(
    demo: Sandbox, browser: BrowserContext
) -> None:
    screen = await open_as(browser, demo, DAN)
    until = (demo.clock.now() + timedelta(days=10)).date().isoformat()
    await screen.page.fill("#composer-input", f"/signoff away @bob {until}")
    await screen.page.press("#composer-input", "Enter")
    answer = screen.page.locator("#messages .message.is-ephemeral").last
    await expect(answer).to_contain_text("approves for you", timeout=WAIT_MS)
    await expect(answer.locator(".mention")).to_have_text("@Bob Martin")
    assert screen.errors == []
