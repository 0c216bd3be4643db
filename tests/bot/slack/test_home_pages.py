"""Paging the App Home: the tasks and the requests, each by pages kept in the published view."""

from __future__ import annotations

import re
from typing import Any

from bot.sandbox.blockkit.validation import validate_view
from bot.slack.home_pages import HomePages, page_count
from tests.bot.slack.test_home import (
    ALICE,
    BIG_INVOICES,
    BRUNO,
    REQ,
    create_workflow,
    home_with,
    pending_invoices,
    status_becomes,
    task_blocks,
    view_text,
)
from tests.support.harness import Harness

REQUEST_LINE = re.compile(r"Invoice (INV-\d+)")


def test_pages_go_through_button_values_and_refuse_anything_else() -> None:
    pages = HomePages(3, 7)
    assert HomePages.decode(pages.encode()) == pages
    for forged in ("", "[]", '{"t": 1}', '{"t": -1, "r": 0}', '{"t": true, "r": 0}', '{"t": 1.5, "r": 0}',
                   '{"t": 10000, "r": 0}', '{"t": "1", "r": 0}', "x" * 3000, None):
        assert HomePages.decode(forged) is None, forged


def test_a_pager_names_the_pages_next_to_this_one_and_keeps_the_other_list_s_page() -> None:
    assert page_count(0, 40) == 1 and page_count(40, 40) == 1 and page_count(41, 40) == 2
    middle = HomePages(1, 4).pager("tasks", 125, 40, 40)
    assert (middle["page"], middle["pages"], middle["first"], middle["last"]) == (2, 4, 41, 80)
    assert HomePages.decode(middle["previous"]) == HomePages(0, 4)
    assert HomePages.decode(middle["next"]) == HomePages(2, 4)
    last = HomePages(1, 3).pager("requests", 35, 10, 5)
    assert last["next"] is None and HomePages.decode(last["previous"]) == HomePages(1, 2)
    assert HomePages().pager("tasks", 0, 40, 0)["previous"] is None


def pages_of(view: dict[str, Any] | None) -> HomePages | None:
    """Return the pages a Home view shows, as its private metadata keeps them."""
    return HomePages.decode((view or {}).get("private_metadata"))


async def republished(h: Harness, user: str, before: dict[str, Any], predicate: Any) -> dict[str, Any]:
    """Wait for a Home view published after `before` that satisfies the predicate."""
    return await home_with(h, user, lambda v: v["hash"] != before["hash"] and predicate(v), open_first=False)


async def test_the_tasks_page_forward_and_back_and_a_change_elsewhere_keeps_the_page(signoff: Harness) -> None:
    await create_workflow(signoff, BIG_INVOICES)
    await pending_invoices(signoff, 45)
    home = await home_with(signoff, ALICE, lambda v: len(task_blocks(v)) == 40)
    assert "(45) · oldest first · page 1 of 2" in view_text(home) and "INV-000" in view_text(home)
    await signoff.link.click_in_view(ALICE, "home_tasks_next")
    home = await home_with(signoff, ALICE, lambda v: len(task_blocks(v)) == 5, open_first=False)
    assert "page 2 of 2" in view_text(home) and "INV-040" in view_text(home) and "INV-000" not in view_text(home)
    assert pages_of(home) == HomePages(1, 0) and not validate_view(home)
    await home_with(signoff, BRUNO, lambda v: len(task_blocks(v)) == 40)
    await signoff.link.click_in_view(BRUNO, "home_tasks_next")
    await home_with(signoff, BRUNO, lambda v: "INV-040" in view_text(v), open_first=False)
    await signoff.link.click_in_view(BRUNO, "approve")  # the first task of his page 2
    await status_becomes(signoff, "INV-040", "approved")
    home = await home_with(signoff, ALICE, lambda v: len(task_blocks(v)) == 4, open_first=False)
    assert "(44) · oldest first · page 2 of 2" in view_text(home)
    await signoff.link.click_in_view(ALICE, "home_refresh")
    home = await republished(signoff, ALICE, home, lambda v: len(task_blocks(v)) == 4)
    await signoff.link.open_home(ALICE)
    home = await republished(signoff, ALICE, home, lambda v: len(task_blocks(v)) == 4)
    await signoff.link.click_in_view(ALICE, "home_tasks_previous")
    home = await home_with(signoff, ALICE, lambda v: len(task_blocks(v)) == 40, open_first=False)
    assert "page 1 of 2" in view_text(home) and pages_of(home) == HomePages(0, 0)


async def test_your_requests_page_through_every_request(signoff: Harness) -> None:
    await create_workflow(signoff, BIG_INVOICES)
    ids = await pending_invoices(signoff, 25)
    home = await home_with(signoff, REQ, lambda v: "Your requests* (25) · page 1 of 3" in view_text(v))
    seen = [REQUEST_LINE.findall(view_text(home))]
    for page in (2, 3):
        await signoff.link.click_in_view(REQ, "home_requests_next")
        home = await home_with(signoff, REQ, lambda v, p=page: f"(25) · page {p} of 3" in view_text(v),
                               open_first=False)
        assert not validate_view(home) and len(home["blocks"]) <= 100
        seen.append(REQUEST_LINE.findall(view_text(home)))
    assert [len(s) for s in seen] == [10, 10, 5] and sorted(i for s in seen for i in s) == ids
    blocks = {b.get("block_id"): b for b in home["blocks"]}
    assert [e["action_id"] for e in blocks["requests_pager"]["elements"]] == ["home_requests_previous"]
    await signoff.link.click_in_view(REQ, "home_requests_previous")
    home = await home_with(signoff, REQ, lambda v: "(25) · page 2 of 3" in view_text(v), open_first=False)
    assert REQUEST_LINE.findall(view_text(home)) == seen[1]
