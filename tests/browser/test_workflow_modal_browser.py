"""Workflows in real headless Chromium: an admin builds a two-step workflow in the modal; it routes a new PO."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from playwright.async_api import BrowserContext, Locator, expect

from bot.cli.demo_data import ADA, BOB, CARA, DAN
from bot.sandbox.run import Sandbox
from tests.browser.test_demo_browser import WAIT_MS, Screen, open_as

pytestmark = [pytest.mark.browser, pytest.mark.timeout(120)]

PO = {"amount": "4200.00", "currency": "EUR", "vendor": "V-PAPER", "due_date": "2026-12-20", "created_by": DAN,
      "source": "app", "memo": "Paper for Q1"}


async def redrawn(demo: Sandbox, has: str) -> dict[str, Any]:
    """Wait until Ada's modal, as the workspace holds it, has the block `has`."""
    async with asyncio.timeout(WAIT_MS / 1000):
        while True:
            modals = demo.workspace.open_modals(ADA)
            if modals and any(b.get("block_id") == has for b in modals[-1]["blocks"]):
                return modals[-1]
            await asyncio.sleep(0.05)


async def build_two_step_workflow(screen: Screen, demo: Sandbox) -> Locator:
    await screen.page.fill("#composer-input", "/signoff new")
    await screen.page.press("#composer-input", "Enter")
    modal = screen.page.locator("#modal-root .modal")
    await expect(modal.locator(".modal-title")).to_have_text("New workflow", timeout=WAIT_MS)
    await modal.locator("[data-block-id=wf_record_type] select").select_option("purchase_order")
    await redrawn(demo, "wf_record_type")
    await modal.locator("button[data-action-id=wf_add_condition]").click()
    await redrawn(demo, "c0_value")
    await expect(modal.locator("[data-block-id=c0_value] input")).to_be_visible(timeout=WAIT_MS)
    await modal.locator("button[data-action-id=wf_add_step]").click()
    await redrawn(demo, "a0_s1_people")
    await expect(modal.locator("[data-block-id=a0_s1_people] select")).to_be_visible(timeout=WAIT_MS)
    await modal.locator("[data-block-id=name] input").fill("Purchase orders: review then sign-off")
    await modal.locator("[data-block-id=c0_value] input").fill("1000")
    await modal.locator("[data-block-id=a0_s0_people] select").select_option([BOB])
    await modal.locator("[data-block-id=a0_s1_people] select").select_option([CARA])
    return modal


async def test_an_admin_builds_a_two_step_workflow_that_routes_a_new_purchase_order(
    demo: Sandbox, browser: BrowserContext
) -> None:
    screen = await open_as(browser, demo, ADA)
    modal = await build_two_step_workflow(screen, demo)
    await screen.shot("workflow-modal")
    await modal.locator("[data-role=submit]").click()
    await expect(modal).to_have_count(0, timeout=WAIT_MS)
    headers = {"Authorization": f"Bearer {demo.runtime.settings.api_token}"}
    async with httpx.AsyncClient(base_url=demo.runtime.url, headers=headers) as api:
        [made] = [w for w in (await api.get("/api/v1/workflows")).json()["workflows"]
                  if w["name"] == "Purchase orders: review then sign-off"]
        assert [s["approvers"] for s in made["actions"][0]["steps"]] == [[BOB], [CARA]]
        assert made["conditions"] == [{"field": "amount", "op": "gt", "value": "1000"}]
        created = await api.put("/api/v1/records/purchase_order/PO-9001", json=PO)
        assert created.json()["approval_status"] == "pending", created.text
    await screen.view_as(BOB)
    card = screen.card("PO-9001")
    await expect(card.locator("button[data-action-id=approve]")).to_be_visible(timeout=WAIT_MS)
    await card.locator("button[data-action-id=approve]").click()
    await expect(card).to_contain_text("Step 1/2 — 1 of 1 approved", timeout=WAIT_MS)
    await screen.view_as(CARA)
    second = screen.card("PO-9001")
    await expect(second.locator("button[data-action-id=approve]")).to_be_visible(timeout=WAIT_MS)
    await screen.shot("workflow-routed-step-two")
    await second.locator("button[data-action-id=approve]").click()
    await screen.view_as(DAN)
    await expect(screen.card("PO-9001")).to_contain_text("was approved", timeout=WAIT_MS)
    assert screen.errors == []
