"""Bidirectional-text controls people type are dropped wherever their text is shown; right-to-left letters stay."""

from __future__ import annotations

import json
from typing import Any

import pytest

from messages.bidi import shown_without_bidi_controls, without_bidi_controls
from messages.budget import Mrkdwn
from messages.pages import render_page
from messages.render import Renderer
from tests.messages.test_views import NOW, card

CONTROLS = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]
SPOOF = "Acme \u202egnp.exe\u202c Ltd"


@pytest.mark.parametrize(("typed", "shown"), [
    (SPOOF, "Acme gnp.exe Ltd"),
    ("INV-\u20661\u2069", "INV-1"),
    ("".join(CONTROLS), ""),
    ("שלום Ltd", "שלום Ltd"),
    ("mark\u200f stays", "mark\u200f stays"),
    (12, 12),
])
def test_bidi_controls_are_dropped_and_everything_else_kept(typed: Any, shown: Any) -> None:
    assert without_bidi_controls(typed) == shown


def test_a_value_keeps_its_type_when_controls_are_dropped() -> None:
    assert type(without_bidi_controls(Mrkdwn("a\u202eb"))) is Mrkdwn


def spoofed_card() -> dict[str, Any]:
    shown = card(False)
    return {**shown, "record": {**shown["record"], "memo": SPOOF, "id": "INV-\u202e1"},
            "contact": {**(shown.get("contact") or {}), "name": SPOOF}}


def shown_everywhere() -> dict[str, str]:
    renderer, spoofed = Renderer(), spoofed_card()
    page = {"state": "form", "decision": "approve", "card": spoofed, "step_index": 0, "requester_name": SPOOF,
            "reason": "", "lang": "en", "error": None, "message": None, "forced": None}
    return {
        "card": json.dumps(renderer.json("approval_request.json.j2", card=spoofed, viewer="U01AAA"),
                           ensure_ascii=False),
        "e-mail": renderer.text("approval_email.txt.j2", card=spoofed, step_index=0, requester_name=SPOOF,
                                approve_url="https://s.example/a", reject_url="https://s.example/r", expires_at=NOW),
        "page": render_page("approval_page.html.j2", page=page),
        "admin's text": renderer.user_text("{{ record.memo }} \u202e{{ record.id }}", record=spoofed["record"]),
        "admin's Slack text": renderer.slack_text("{{ record.memo }}", record=spoofed["record"]),
    }


@pytest.mark.parametrize("where", list(shown_everywhere()))
def test_a_spoofing_memo_shows_in_reading_order_on_cards_e_mails_pages_and_admins_templates(where: str) -> None:
    shown = shown_everywhere()[where]
    assert "gnp.exe" in shown
    assert not any(c in shown for c in CONTROLS)


def test_a_modal_shows_a_name_without_controls_but_carries_its_value_whole() -> None:
    view = Renderer().json("group_delete.json.j2", group={"name": SPOOF, "members": 2}, users=[],
                           metadata='{"group": "g\u202e1"}')
    assert view["private_metadata"] == '{"group": "g\u202e1"}'
    assert "Acme gnp.exe Ltd" in view["blocks"][0]["text"]["text"]


@pytest.mark.parametrize(("blocks", "shown"), [
    ({"text": "a\u202eb"}, {"text": "ab"}),
    ({"type": "mrkdwn", "text": "a\u2067b"}, {"type": "mrkdwn", "text": "ab"}),
    ([{"type": "button", "value": "a\u202eb", "text": {"type": "plain_text", "text": "x\u202ey"}}],
     [{"type": "button", "value": "a\u202eb", "text": {"type": "plain_text", "text": "xy"}}]),
    ({"type": "plain_text_input", "initial_value": "a\u202eb"},
     {"type": "plain_text_input", "initial_value": "a\u202eb"}),
])
def test_block_kit_texts_lose_their_controls_and_values_keep_them(blocks: Any, shown: Any) -> None:
    assert shown_without_bidi_controls(blocks) == shown
