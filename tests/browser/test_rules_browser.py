"""Rules from Slack in real headless Chromium: an admin publishes a rule after its preview; the approver sees ⚡."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import BrowserContext, expect

from bot.cli.demo_data import ADA, CARA
from bot.sandbox.run import Sandbox
from tests.browser.test_demo_browser import WAIT_MS, open_as

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

RULE = {"name": "Umbrella is support", "conditions": [{"field": "customer", "op": "eq", "value": "C-UMBRELLA"}],
        "results": {"category": "Support"}}


async def test_an_admin_publishes_a_rule_from_slack_and_the_pending_approval_shows_it(
    demo: Sandbox, browser: BrowserContext
) -> None:
    headers = {"Authorization": f"Bearer {demo.runtime.settings.api_token}"}
    async with httpx.AsyncClient(base_url=demo.runtime.url, headers=headers) as api:
        assert (await api.post("/api/v1/rules", json=RULE)).status_code == 201
    screen = await open_as(browser, demo, ADA)
    await screen.page.fill("#composer-input", "/signoff rules")
    await screen.page.press("#composer-input", "Enter")
    listing = screen.page.locator("#messages .message.is-ephemeral", has_text="Umbrella is support")
    await expect(listing).to_contain_text("When Customer is “C-UMBRELLA”", timeout=WAIT_MS)
    await listing.locator("button[data-action-id=rule_publish]").last.click()
    modal = screen.page.locator("#modal-root .modal")
    await expect(modal).to_be_visible(timeout=WAIT_MS)
    await expect(modal).to_contain_text("Publishing pre-fills 1 document: Invoice INV-1004")
    await screen.shot("rule-publish-preview")
    await modal.locator("[data-role=submit]").click()
    await expect(modal).to_have_count(0, timeout=WAIT_MS)
    await screen.view_as(CARA)
    card = screen.card("Approval: Invoice INV-1004")
    await expect(card).to_contain_text("⚡", timeout=WAIT_MS)
    await expect(card).to_contain_text("Support")
    await screen.shot("rule-published-approval")
    assert screen.errors == []
