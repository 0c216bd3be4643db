"""Slack's limits on each kind of block and on the elements, options and confirm dialogs inside them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.sandbox.blockkit.checker import Checker, dicts
from bot.sandbox.blockkit.limits import (
    MAX_ACTIONS_ELEMENTS,
    MAX_BUTTON_TEXT_CHARS,
    MAX_CONFIRM_BUTTON_CHARS,
    MAX_CONFIRM_TEXT_CHARS,
    MAX_CONFIRM_TITLE_CHARS,
    MAX_CONTEXT_ELEMENTS,
    MAX_FIELD_TEXT_CHARS,
    MAX_HEADER_TEXT_CHARS,
    MAX_ID_CHARS,
    MAX_LABEL_CHARS,
    MAX_OPTION_TEXT_CHARS,
    MAX_OPTION_VALUE_CHARS,
    MAX_OPTIONS,
    MAX_PLACEHOLDER_CHARS,
    MAX_SECTION_FIELDS,
    MAX_SECTION_TEXT_CHARS,
    MAX_URL_CHARS,
    MAX_VALUE_CHARS,
)


def check_block(checker: Checker, block: dict[str, Any], pointer: str) -> None:
    """Check one block against the limits of its type, and its action_ids for duplicates."""
    checker.max_chars(block, "block_id", MAX_ID_CHARS, pointer)
    check = _BLOCK_CHECKS.get(block.get("type"))
    if check is not None:
        check(checker, block, pointer)
    _check_action_ids_unique(checker, block, pointer)


def _check_section(checker: Checker, block: dict[str, Any], pointer: str) -> None:
    checker.text_chars(block, "text", MAX_SECTION_TEXT_CHARS, pointer)
    checker.max_items(block, "fields", MAX_SECTION_FIELDS, pointer)
    for index, field_object in enumerate(dicts(block.get("fields"))):
        checker.max_chars(field_object, "text", MAX_FIELD_TEXT_CHARS, f"{pointer}/fields/{index}")
    if isinstance(block.get("accessory"), dict):
        _check_element(checker, block["accessory"], f"{pointer}/accessory")


def _check_header(checker: Checker, block: dict[str, Any], pointer: str) -> None:
    checker.text_chars(block, "text", MAX_HEADER_TEXT_CHARS, pointer)


def _check_actions(checker: Checker, block: dict[str, Any], pointer: str) -> None:
    checker.max_items(block, "elements", MAX_ACTIONS_ELEMENTS, pointer)
    for index, element in enumerate(dicts(block.get("elements"))):
        _check_element(checker, element, f"{pointer}/elements/{index}")


def _check_context(checker: Checker, block: dict[str, Any], pointer: str) -> None:
    checker.max_items(block, "elements", MAX_CONTEXT_ELEMENTS, pointer)


def _check_input(checker: Checker, block: dict[str, Any], pointer: str) -> None:
    checker.text_chars(block, "label", MAX_LABEL_CHARS, pointer)
    checker.text_chars(block, "hint", MAX_LABEL_CHARS, pointer)
    if isinstance(block.get("element"), dict):
        _check_element(checker, block["element"], f"{pointer}/element")


def _check_image(checker: Checker, block: dict[str, Any], pointer: str) -> None:
    checker.max_chars(block, "image_url", MAX_URL_CHARS, pointer)
    checker.max_chars(block, "alt_text", MAX_LABEL_CHARS, pointer)
    checker.text_chars(block, "title", MAX_LABEL_CHARS, pointer)


_BLOCK_CHECKS: dict[Any, Callable[[Checker, dict[str, Any], str], None]] = {
    "section": _check_section,
    "header": _check_header,
    "actions": _check_actions,
    "context": _check_context,
    "input": _check_input,
    "image": _check_image,
}


def _check_element(checker: Checker, element: dict[str, Any], pointer: str) -> None:
    checker.max_chars(element, "action_id", MAX_ID_CHARS, pointer)
    checker.text_chars(element, "placeholder", MAX_PLACEHOLDER_CHARS, pointer)
    if element.get("type") == "button":
        checker.text_chars(element, "text", MAX_BUTTON_TEXT_CHARS, pointer)
        checker.max_chars(element, "value", MAX_VALUE_CHARS, pointer)
        checker.max_chars(element, "url", MAX_URL_CHARS, pointer)
    _check_options(checker, element, pointer)
    if isinstance(element.get("confirm"), dict):
        _check_confirm(checker, element["confirm"], f"{pointer}/confirm")


def _check_options(checker: Checker, element: dict[str, Any], pointer: str) -> None:
    checker.max_items(element, "options", MAX_OPTIONS, pointer)
    for index, option in enumerate(dicts(element.get("options"))):
        option_pointer = f"{pointer}/options/{index}"
        checker.text_chars(option, "text", MAX_OPTION_TEXT_CHARS, option_pointer)
        checker.max_chars(option, "value", MAX_OPTION_VALUE_CHARS, option_pointer)


def _check_confirm(checker: Checker, confirm: dict[str, Any], pointer: str) -> None:
    checker.text_chars(confirm, "title", MAX_CONFIRM_TITLE_CHARS, pointer)
    checker.text_chars(confirm, "text", MAX_CONFIRM_TEXT_CHARS, pointer)
    checker.text_chars(confirm, "confirm", MAX_CONFIRM_BUTTON_CHARS, pointer)
    checker.text_chars(confirm, "deny", MAX_CONFIRM_BUTTON_CHARS, pointer)


def _check_action_ids_unique(checker: Checker, block: dict[str, Any], pointer: str) -> None:
    seen: set[str] = set()
    for element in dicts(block.get("elements")):
        action_id = element.get("action_id")
        if action_id is None:
            continue
        if action_id in seen:
            checker.fail(f"{pointer}/elements", f"duplicate action_id {action_id!r}")
        seen.add(action_id)
