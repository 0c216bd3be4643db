"""Slack's Block Kit rules and size limits, as the sandbox enforces them."""

from __future__ import annotations

from typing import Any

import pytest

from bot.sandbox.blockkit.validation import validate_blocks, validate_message, validate_view
from tests.bot.sandbox.helpers import buttons, home, modal, section


def plain(text: str) -> dict[str, Any]:
    """A plain_text object."""
    return {"type": "plain_text", "text": text}


def button(action_id: str = "go", text: str = "Go", **extra: Any) -> dict[str, Any]:
    """A button element."""
    return {"type": "button", "action_id": action_id, "text": plain(text), **extra}


def select(*option_texts: str, value: str = "v") -> dict[str, Any]:
    """A static select offering one option per text."""
    options = [{"text": plain(text), "value": f"{value}{n}"} for n, text in enumerate(option_texts)]
    return {"type": "static_select", "action_id": "pick", "options": options}


def actions(*elements: dict[str, Any]) -> dict[str, Any]:
    """An actions block."""
    return {"type": "actions", "elements": list(elements)}


def fields(count: int, length: int = 5) -> dict[str, Any]:
    """A section with ``count`` mrkdwn fields of ``length`` characters."""
    return {"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * length}] * count}


def context(count: int) -> dict[str, Any]:
    """A context block with ``count`` text elements."""
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * count}


def header(length: int) -> dict[str, Any]:
    """A header block with a title of ``length`` characters."""
    return {"type": "header", "text": plain("h" * length)}


# (case id, blocks within the limit, blocks just over it, JSON pointer of the problem)
MESSAGE_LIMITS = [
    ("blocks-per-message", [section("x")] * 50, [section("x")] * 51, "/blocks]"),
    ("section-text", [section("x" * 3000)], [section("x" * 3001)], "/blocks/0/text/text"),
    ("header-text", [header(150)], [header(151)], "/blocks/0/text/text"),
    ("fields-per-section", [fields(10)], [fields(11)], "/blocks/0/fields"),
    ("field-text", [fields(1, 2000)], [fields(1, 2001)], "/blocks/0/fields/0/text"),
    (
        "elements-per-actions",
        [actions(*[button(f"a{n}") for n in range(25)])],
        [actions(*[button(f"a{n}") for n in range(26)])],
        "/blocks/0/elements",
    ),
    (
        "button-text",
        [actions(button(text="b" * 75))],
        [actions(button(text="b" * 76))],
        "/blocks/0/elements/0/text/text",
    ),
    (
        "action-id",
        [actions(button("a" * 255))],
        [actions(button("a" * 256))],
        "/blocks/0/elements/0/action_id",
    ),
    (
        "block-id",
        [section("x", block_id="b" * 255)],
        [section("x", block_id="b" * 256)],
        "/blocks/0/block_id",
    ),
    (
        "button-value",
        [actions(button(value="v" * 2000))],
        [actions(button(value="v" * 2001))],
        "/blocks/0/elements/0/value",
    ),
    ("context-elements", [context(10)], [context(11)], "/blocks/0/elements"),
    (
        "option-text",
        [actions(select("o" * 75))],
        [actions(select("o" * 76))],
        "/blocks/0/elements/0/options/0/text/text",
    ),
]


@pytest.mark.parametrize(
    ("within", "beyond", "pointer"),
    [case[1:] for case in MESSAGE_LIMITS],
    ids=[case[0] for case in MESSAGE_LIMITS],
)
def test_message_limits(within: list[Any], beyond: list[Any], pointer: str) -> None:
    assert validate_message(within, "fallback") == []
    problems = validate_message(beyond, "fallback")
    assert problems, "expected a problem"
    assert pointer in problems[0]


def test_message_text_limit() -> None:
    assert validate_message(None, "x" * 40_000) == []
    assert "/text" in validate_message(None, "x" * 40_001)[0]


@pytest.mark.parametrize(("blocks", "text"), [(None, None), ([], ""), (None, "")])
def test_message_needs_text_or_blocks(blocks: list[Any] | None, text: str | None) -> None:
    assert validate_message(blocks, text) != []


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        ([{"type": "teleport"}], "unknown block type"),
        ([actions({"type": "hologram", "action_id": "x"})], "unknown element type"),
        ([{"type": "section"}], "text or fields attribute must be specified"),
        ([section("a", block_id="same"), section("b", block_id="same")], "duplicate block_id"),
        ([actions(button("twice"), button("twice"))], "duplicate action_id"),
        (["not a block"], "must be an object"),
        ({"type": "section"}, "must be an array"),
    ],
    ids=["block-type", "element-type", "sdk-rule", "block-id", "action-id", "object", "array"],
)
def test_malformed_blocks(blocks: Any, expected: str) -> None:
    problems = validate_blocks(blocks)
    assert any(expected in problem for problem in problems), problems


def test_well_formed_message_passes() -> None:
    blocks = [
        header(20),
        section("*Invoice 42* from ACME", accessory=button("open")),
        fields(4),
        context(2),
        buttons("approve", "reject"),
        {"type": "divider"},
    ]
    assert validate_message(blocks, "Invoice 42") == []


def test_a_block_seen_before_is_judged_the_same() -> None:
    valid, invalid = section("*Invoice 42*", accessory=button("open")), section("x" * 3001)
    for _ in range(3):
        assert validate_message([valid], "Invoice 42") == []
        assert validate_message([valid, invalid], "x") == [
            "[ERROR] must be at most 3000 characters (got 3001) [json-pointer:/blocks/1/text/text]"
        ]
    assert validate_blocks([valid | {"accessory": {"type": "no_such_element"}}]) != []


def test_problems_use_slack_format() -> None:
    (problem,) = validate_message([section("x" * 3001)], "x")
    assert problem == (
        "[ERROR] must be at most 3000 characters (got 3001) [json-pointer:/blocks/0/text/text]"
    )


# (case id, view within the limit, view just over it, JSON pointer of the problem)
VIEW_LIMITS = [
    (
        "blocks-per-view",
        home() | {"blocks": [section("x")] * 100},
        home() | {"blocks": [section("x")] * 101},
        "/view/blocks]",
    ),
    (
        "title",
        modal(title=plain("t" * 24)),
        modal(title=plain("t" * 25)),
        "/view/title/text",
    ),
    ("submit", modal(submit=plain("s" * 24)), modal(submit=plain("s" * 25)), "/view/submit/text"),
    ("close", modal(close=plain("c" * 24)), modal(close=plain("c" * 25)), "/view/close/text"),
    (
        "private-metadata",
        modal(private_metadata="m" * 3000),
        modal(private_metadata="m" * 3001),
        "/view/private_metadata",
    ),
    (
        "callback-id",
        modal(callback_id="c" * 255),
        modal(callback_id="c" * 256),
        "/view/callback_id",
    ),
]


@pytest.mark.parametrize(
    ("within", "beyond", "pointer"),
    [case[1:] for case in VIEW_LIMITS],
    ids=[case[0] for case in VIEW_LIMITS],
)
def test_view_limits(within: dict[str, Any], beyond: dict[str, Any], pointer: str) -> None:
    assert validate_view(within) == []
    problems = validate_view(beyond)
    assert problems, "expected a problem"
    assert pointer in problems[0]


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        ({"type": "modal", "blocks": [section("x")]}, "/view/title"),
        ({"type": "sheet", "blocks": [section("x")]}, "/view/type"),
        ({k: v for k, v in modal().items() if k != "submit"}, "/view/submit"),
        ({"type": "home", "blocks": []}, "between 1 and 100 blocks"),
        ("not a view", "/view"),
    ],
    ids=["modal-title", "type", "input-needs-submit", "no-blocks", "object"],
)
def test_malformed_views(view: Any, expected: str) -> None:
    problems = validate_view(view)
    assert any(expected in problem for problem in problems), problems
