"""Reminders and escalations sent to the delegate of an away approver say for whom, in en and fr."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.sandbox.blockkit.validation import validate_message
from messages.render import Renderer
from tests.messages.test_views import NOW, card

UNTIL = NOW + timedelta(days=3)
BEHALF = {"who": "U01AAA", "until": UNTIL}
ESCALATION = {"level": 2, "to": ["U01DDD"], "waiting_on": ["U01AAA"], "waited": {"days": 3, "hours": 1}}
AWAY = {"en": "For <@U01AAA>, who is away until", "fr": "Pour <@U01AAA>, absent·e jusqu’au"}


def rendered(renderer: Renderer, name: str, big: bool, behalf: dict[str, Any] | None) -> Any:
    extra = {"behalf": behalf, "value": "AR-1|U01AAA" if behalf else None}
    if name == "approval_reminder.json.j2":
        return renderer.json(name, card=card(big), reminder={"n": 2, "waited": {"days": 2, "hours": 0}}, **extra)
    if name == "escalation_notice.json.j2":
        return renderer.json(name, card=card(big), escalation=ESCALATION, behalf=behalf)
    return renderer.json(name, card=card(big), escalation=ESCALATION, **extra)


@pytest.mark.parametrize("locale", ["en", "fr"])
@pytest.mark.parametrize("big", [False, True])
@pytest.mark.parametrize("name", ["approval_reminder.json.j2", "escalation.json.j2", "escalation_notice.json.j2"])
def test_messages_to_a_delegate_say_for_whom_and_act_for_them(locale: str, big: bool, name: str) -> None:
    renderer = Renderer(locale, "UTC")
    message = rendered(renderer, name, big, BEHALF)
    assert validate_message(message["blocks"], message["text"]) == []
    assert AWAY[locale] in message["text"]
    values = {e["value"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]}
    assert values == (set() if name == "escalation_notice.json.j2" else {"AR-1|U01AAA"})
    own = rendered(renderer, name, big, None)
    assert "U01AAA>, " not in own["text"] and validate_message(own["blocks"], own["text"]) == []
    own_values = {e["value"] for b in own["blocks"] if b["type"] == "actions" for e in b["elements"]}
    assert own_values <= {card(big)["request_id"]}


@pytest.mark.parametrize(("locale", "waited", "said"), [
    ("en", {"days": 1, "hours": 20}, "for 1 day 20 hours."), ("en", {"days": 2, "hours": 0}, "for 2 days."),
    ("en", {"days": 9, "hours": 5}, "for 9 days."), ("en", {"days": 0, "hours": 4}, "for 4 hours."),
    ("en", {"days": 7, "hours": 23}, "for 8 days."), ("en", {"days": 7, "hours": 12}, "for 8 days."),
    ("en", {"days": 6, "hours": 23}, "for 6 days 23 hours."), ("en", {"days": 7, "hours": 11}, "for 7 days."),
    ("fr", {"days": 1, "hours": 20}, "1 jour 20 heures"),
])
def test_a_reminder_says_how_long_to_the_hour_in_its_first_week_then_to_the_nearest_day(
    locale: str, waited: dict[str, int], said: str,
) -> None:
    message = Renderer(locale, "UTC").json("approval_reminder.json.j2", card=card(False),
                                           reminder={"n": 2, "waited": waited}, behalf=None, value=None)
    assert said in message["text"]


@pytest.mark.parametrize("locale", ["en", "fr"])
def test_a_target_already_on_the_step_is_asked_to_decide_not_told_they_now_may(locale: str) -> None:
    renderer = Renderer(locale, "UTC")
    on_step = {**ESCALATION, "to": ["U01AAA"], "waiting_on": ["U01BBB", "U01AAA"], "seat": "U01AAA"}
    text = str(renderer.json("escalation.json.j2", card=card(False), escalation=on_step)["blocks"])
    assert "<@U01BBB>" in text and "<@U01AAA>" not in text
    assert ("please decide" if locale == "en" else "merci de décider") in text
    assert "You can now approve" not in text
    solo = renderer.json("escalation.json.j2", card=card(False), escalation={**on_step, "waiting_on": ["U01AAA"]})
    assert "<@U01AAA>" not in str(solo["blocks"]) and validate_message(solo["blocks"], solo["text"]) == []
    new = str(renderer.json("escalation.json.j2", card=card(False), escalation={**ESCALATION, "seat": "U01DDD"}))
    assert "<@U01AAA>" in new and ("You can now approve" in new) is (locale == "en")
