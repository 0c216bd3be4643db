"""The approval message with pre-fills: ⚡ marks, suggestions, competing values and a valid menu."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.sandbox.blockkit.validation import validate_message
from engine.approvals import ApprovalRequest, Step
from engine.records import Record
from engine.rules import AppliedPrefill, Prefill, prefilled_fields
from messages.cards import approval_card
from messages.render import Renderer

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
REQUEST = ApprovalRequest("AR-1", "bill", "B-1", "wf", "U0REQ", (Step(0, ("U01AAA",), 1),), NOW, NOW)


def render(record: Record, prefills: dict[str, AppliedPrefill], step_index: int | None = 0) -> dict[str, Any]:
    card = approval_card(record, REQUEST, None, step_index, prefilled_fields(prefills), prefills)
    message: dict[str, Any] = Renderer().json("approval_request.json.j2", card={**card, "acted_by": {}})
    assert validate_message(message["blocks"], message["text"]) == []
    return message


def bill(**changes: Any) -> Record:
    data = {"type": "bill", "id": "B-1", "amount": "10", "vendor": "V-1", "created_at": NOW, "updated_at": NOW}
    return Record.model_validate({**data, **changes})


def menus(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in message["blocks"] if str(b.get("block_id", "")).startswith("prefill:")]


LONG = "Travel — " + "x" * 300


@pytest.mark.parametrize(
    ("record", "prefills", "menu_fields"),
    [
        (bill(category="Travel"), {"category": AppliedPrefill("category", Prefill("Travel", "r1"))}, []),
        (bill(category=LONG[:200]),
         {"category": AppliedPrefill("category", Prefill(LONG[:200], "r1", tuple((f"v{i}", f"r{i + 2}")
                                                                                 for i in range(150))))},
         ["category"]),
        (bill(department="Mine"),
         {"department": AppliedPrefill("department", Prefill("Ops", "r1", is_suggestion=True), previous="Mine")},
         ["department"]),
        (bill(fields={"vat": "FR20", "po": "P"}),
         {"fields.vat": AppliedPrefill("fields.vat", Prefill("FR20", "r1", (("FR10", "r2"),)))}, ["fields.vat"]),
    ],
    ids=["single", "long-and-many", "suggestion", "custom-field"],
)
def test_prefill_messages_are_valid_and_offer_a_menu_when_there_is_a_choice(
    record: Record, prefills: dict[str, AppliedPrefill], menu_fields: list[str]
) -> None:
    message = render(record, prefills)
    found = menus(message)
    assert [b["block_id"].rsplit(":", 1)[1] for b in found] == menu_fields
    for block in found:
        select = block["accessory"]
        assert select["action_id"] == "prefill_choice" and select["initial_option"] in select["options"]


def test_the_menu_disappears_once_the_step_is_not_actionable() -> None:
    prefills = {"category": AppliedPrefill("category", Prefill("A", "r1", (("B", "r2"),)))}
    assert menus(render(bill(category="A"), prefills, step_index=1)) == []


def test_custom_prefilled_fields_are_shown_with_their_mark() -> None:
    prefills = {"fields.vat": AppliedPrefill("fields.vat", Prefill("FR20", "r1"))}
    fields = render(bill(fields={"vat": "FR20"}), prefills)["blocks"][1]["fields"]
    assert {"type": "mrkdwn", "text": "*vat* ⚡\nFR20"} in fields
