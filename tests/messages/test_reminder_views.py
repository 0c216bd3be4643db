"""Reminder digests and group/rule notes stay within Slack's limits, in English and French, however long the data."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from bot.sandbox.blockkit.limits import MAX_MESSAGE_BLOCKS
from bot.sandbox.blockkit.validation import validate_message
from messages.render import Renderer

LONG = "Ω*_~`<&>" * 400


def document(n: int, text: str) -> dict[str, Any]:
    record = {"type": "invoice", "id": f"INV-{n}-{'9' * 60}", "amount": Decimal("123456789.99"), "currency": "EUR",
              "contact_name": text[:500], "due_date": date(2026, 12, 31)}
    return {"task_id": 10_000_000 + n, "text": text, "record": record}


def digest(count: int, offset: int, shown: int, text: str) -> dict[str, Any]:
    return {"workflow_id": "wf_" + "x" * 40, "workflow": text[:300], "count": count, "offset": offset,
            "page_size": 20, "documents": [document(n, text) for n in range(shown)],
            "previous": max(0, offset - 20) if offset else None, "next": offset + 20 if offset + 20 < count else None}


def check(message: dict[str, Any]) -> None:
    assert validate_message(message["blocks"], message["text"]) == []
    assert len(message["blocks"]) <= MAX_MESSAGE_BLOCKS
    for block in message["blocks"]:
        Block.parse(block).validate_json()  # type: ignore[union-attr]


@pytest.mark.parametrize("locale", ["en", "fr"])
@pytest.mark.parametrize(("count", "offset", "shown"), [(1, 0, 1), (45, 0, 20), (45, 20, 20), (45, 40, 5),
                                                        (10_000, 9_980, 20)])
@pytest.mark.parametrize("text", ["Invoice INV-1 has not been sent yet.", LONG])
def test_a_digest_page_passes_slack_validation(locale: str, count: int, offset: int, shown: int, text: str) -> None:
    renderer = Renderer(locale, "Europe/Paris")
    message = renderer.json("reminder_digest.json.j2", digest=digest(count, offset, shown, text))
    check(message)
    actions = [b["accessory"]["action_id"] for b in message["blocks"] if "accessory" in b]
    assert actions == ["digest_done"] * shown


@pytest.mark.parametrize("locale", ["en", "fr"])
def test_an_emptied_digest_says_all_is_done(locale: str) -> None:
    message = Renderer(locale, "UTC").json("reminder_digest.json.j2", digest=None)
    check(message)
    assert ("All done" if locale == "en" else "Tout est fait") in message["text"]


@pytest.mark.parametrize("locale", ["en", "fr"])
@pytest.mark.parametrize("code", ["group_created", "group_changed", "group_deleted", "rules_applied", "rule_published",
                                  "rule_unpublished", "rule_deleted"])
def test_group_and_rule_notes_pass_slack_validation(locale: str, code: str) -> None:
    detail = {"name": LONG[:200], "id": "grp_" + "x" * 40, "members": 1001, "names": [LONG[:200]] * 50,
              "changed": 3}
    check(Renderer(locale, "UTC").json("rules_note.json.j2", code=code, detail=detail))
