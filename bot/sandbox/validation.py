"""Block Kit validation as Slack applies it to messages, modals and Home views.

Problems are reported in Slack's own format, e.g.
``[ERROR] must be at most 3000 characters (got 3001) [json-pointer:/blocks/0/text/text]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block, BlockElement
from slack_sdk.models.views import View

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_TEXT_CHARS = 40_000
MAX_SECTION_TEXT_CHARS = 3000
MAX_HEADER_TEXT_CHARS = 150
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT_CHARS = 2000
MAX_ACTIONS_ELEMENTS = 25
MAX_CONTEXT_ELEMENTS = 10
MAX_BUTTON_TEXT_CHARS = 75
MAX_ID_CHARS = 255
MAX_VALUE_CHARS = 2000
MAX_URL_CHARS = 3000
MAX_OPTION_TEXT_CHARS = 75
MAX_OPTION_VALUE_CHARS = 150
MAX_OPTIONS = 100
MAX_PLACEHOLDER_CHARS = 150
MAX_LABEL_CHARS = 2000
MAX_VIEW_TITLE_CHARS = 24
MAX_VIEW_BUTTON_CHARS = 24
MAX_PRIVATE_METADATA_CHARS = 3000
MAX_CONFIRM_TITLE_CHARS = 100
MAX_CONFIRM_TEXT_CHARS = 300
MAX_CONFIRM_BUTTON_CHARS = 30

_ELEMENT_KEYS = ("elements", "accessory", "element")


@dataclass
class _Checker:
    """Collects problems found while walking a payload."""

    problems: list[str] = field(default_factory=list)

    def fail(self, pointer: str, message: str) -> None:
        """Record one problem at a JSON pointer."""
        self.problems.append(f"[ERROR] {message} [json-pointer:{pointer}]")

    def max_chars(self, obj: dict[str, Any], key: str, limit: int, pointer: str) -> None:
        """Check a string attribute's length."""
        value = obj.get(key)
        if isinstance(value, str) and len(value) > limit:
            self.fail(f"{pointer}/{key}", f"must be at most {limit} characters (got {len(value)})")

    def text_chars(self, obj: dict[str, Any], key: str, limit: int, pointer: str) -> None:
        """Check the length of a text object's ``text``."""
        text_object = obj.get(key)
        if isinstance(text_object, dict):
            self.max_chars(text_object, "text", limit, f"{pointer}/{key}")

    def max_items(self, obj: dict[str, Any], key: str, limit: int, pointer: str) -> None:
        """Check the length of an array attribute."""
        items = obj.get(key)
        if isinstance(items, list) and len(items) > limit:
            self.fail(f"{pointer}/{key}", f"must have at most {limit} items (got {len(items)})")


def validate_message(blocks: Any, text: str | None) -> list[str]:
    """Return the problems Slack would report for a message's ``blocks`` and ``text``."""
    checker = _Checker()
    if not text and not blocks:
        checker.fail("/text", "a message needs text or blocks")
    if isinstance(text, str) and len(text) > MAX_MESSAGE_TEXT_CHARS:
        checker.max_chars({"text": text}, "text", MAX_MESSAGE_TEXT_CHARS, "")
    if blocks is not None:
        _check_blocks(checker, blocks, MAX_MESSAGE_BLOCKS, "/blocks")
    return checker.problems


def validate_blocks(blocks: Any, max_blocks: int = MAX_MESSAGE_BLOCKS) -> list[str]:
    """Return the problems Slack would report for a list of blocks."""
    checker = _Checker()
    _check_blocks(checker, blocks, max_blocks, "/blocks")
    return checker.problems


def validate_view(view: Any) -> list[str]:
    """Return the problems Slack would report for a modal or Home view."""
    checker = _Checker()
    if not isinstance(view, dict):
        checker.fail("/view", "must be an object")
        return checker.problems
    _check_view_fields(checker, view)
    _check_blocks(checker, view.get("blocks"), MAX_VIEW_BLOCKS, "/view/blocks")
    if not checker.problems:
        _sdk_check(checker, "/view", lambda: View(**view).to_dict())
    return checker.problems


def _check_view_fields(checker: _Checker, view: dict[str, Any]) -> None:
    kind = view.get("type")
    if kind not in ("modal", "home"):
        checker.fail("/view/type", f"must be 'modal' or 'home' (got {kind!r})")
    if kind == "modal" and not isinstance(view.get("title"), dict):
        checker.fail("/view/title", "a modal needs a title")
    for key in ("title", "submit", "close"):
        checker.text_chars(view, key, MAX_VIEW_TITLE_CHARS, "/view")
    checker.max_chars(view, "private_metadata", MAX_PRIVATE_METADATA_CHARS, "/view")
    checker.max_chars(view, "callback_id", MAX_ID_CHARS, "/view")
    checker.max_chars(view, "external_id", MAX_ID_CHARS, "/view")
    if kind == "modal" and _has_input_block(view) and "submit" not in view:
        checker.fail("/view/submit", "a modal with input blocks needs a submit button")


def _has_input_block(view: dict[str, Any]) -> bool:
    blocks = view.get("blocks")
    return isinstance(blocks, list) and any(
        isinstance(block, dict) and block.get("type") == "input" for block in blocks
    )


def _check_blocks(checker: _Checker, blocks: Any, max_blocks: int, pointer: str) -> None:
    if not isinstance(blocks, list):
        checker.fail(pointer, "must be an array of blocks")
        return
    if len(blocks) > max_blocks:
        checker.fail(pointer, f"must have at most {max_blocks} blocks (got {len(blocks)})")
    seen_block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        block_pointer = f"{pointer}/{index}"
        if not isinstance(block, dict):
            checker.fail(block_pointer, "must be an object")
            continue
        _check_block_id_unique(checker, block, seen_block_ids, block_pointer)
        found_before = len(checker.problems)
        _check_block(checker, block, block_pointer)
        if len(checker.problems) == found_before:
            _sdk_check_block(checker, block, block_pointer)


def _check_block_id_unique(
    checker: _Checker, block: dict[str, Any], seen: set[str], pointer: str
) -> None:
    block_id = block.get("block_id")
    if block_id is None:
        return
    if block_id in seen:
        checker.fail(f"{pointer}/block_id", f"duplicate block_id {block_id!r}")
    seen.add(block_id)


def _check_block(checker: _Checker, block: dict[str, Any], pointer: str) -> None:
    checker.max_chars(block, "block_id", MAX_ID_CHARS, pointer)
    check = _BLOCK_CHECKS.get(block.get("type"))
    if check is not None:
        check(checker, block, pointer)
    _check_action_ids_unique(checker, block, pointer)


def _check_section(checker: _Checker, block: dict[str, Any], pointer: str) -> None:
    checker.text_chars(block, "text", MAX_SECTION_TEXT_CHARS, pointer)
    checker.max_items(block, "fields", MAX_SECTION_FIELDS, pointer)
    for index, field_object in enumerate(_dicts(block.get("fields"))):
        checker.max_chars(field_object, "text", MAX_FIELD_TEXT_CHARS, f"{pointer}/fields/{index}")
    if isinstance(block.get("accessory"), dict):
        _check_element(checker, block["accessory"], f"{pointer}/accessory")


def _check_header(checker: _Checker, block: dict[str, Any], pointer: str) -> None:
    checker.text_chars(block, "text", MAX_HEADER_TEXT_CHARS, pointer)


def _check_actions(checker: _Checker, block: dict[str, Any], pointer: str) -> None:
    checker.max_items(block, "elements", MAX_ACTIONS_ELEMENTS, pointer)
    for index, element in enumerate(_dicts(block.get("elements"))):
        _check_element(checker, element, f"{pointer}/elements/{index}")


def _check_context(checker: _Checker, block: dict[str, Any], pointer: str) -> None:
    checker.max_items(block, "elements", MAX_CONTEXT_ELEMENTS, pointer)


def _check_input(checker: _Checker, block: dict[str, Any], pointer: str) -> None:
    checker.text_chars(block, "label", MAX_LABEL_CHARS, pointer)
    checker.text_chars(block, "hint", MAX_LABEL_CHARS, pointer)
    if isinstance(block.get("element"), dict):
        _check_element(checker, block["element"], f"{pointer}/element")


def _check_image(checker: _Checker, block: dict[str, Any], pointer: str) -> None:
    checker.max_chars(block, "image_url", MAX_URL_CHARS, pointer)
    checker.max_chars(block, "alt_text", MAX_LABEL_CHARS, pointer)
    checker.text_chars(block, "title", MAX_LABEL_CHARS, pointer)


_BLOCK_CHECKS: dict[Any, Callable[[_Checker, dict[str, Any], str], None]] = {
    "section": _check_section,
    "header": _check_header,
    "actions": _check_actions,
    "context": _check_context,
    "input": _check_input,
    "image": _check_image,
}


def _check_element(checker: _Checker, element: dict[str, Any], pointer: str) -> None:
    checker.max_chars(element, "action_id", MAX_ID_CHARS, pointer)
    checker.text_chars(element, "placeholder", MAX_PLACEHOLDER_CHARS, pointer)
    if element.get("type") == "button":
        checker.text_chars(element, "text", MAX_BUTTON_TEXT_CHARS, pointer)
        checker.max_chars(element, "value", MAX_VALUE_CHARS, pointer)
        checker.max_chars(element, "url", MAX_URL_CHARS, pointer)
    _check_options(checker, element, pointer)
    if isinstance(element.get("confirm"), dict):
        _check_confirm(checker, element["confirm"], f"{pointer}/confirm")


def _check_options(checker: _Checker, element: dict[str, Any], pointer: str) -> None:
    checker.max_items(element, "options", MAX_OPTIONS, pointer)
    for index, option in enumerate(_dicts(element.get("options"))):
        option_pointer = f"{pointer}/options/{index}"
        checker.text_chars(option, "text", MAX_OPTION_TEXT_CHARS, option_pointer)
        checker.max_chars(option, "value", MAX_OPTION_VALUE_CHARS, option_pointer)


def _check_confirm(checker: _Checker, confirm: dict[str, Any], pointer: str) -> None:
    checker.text_chars(confirm, "title", MAX_CONFIRM_TITLE_CHARS, pointer)
    checker.text_chars(confirm, "text", MAX_CONFIRM_TEXT_CHARS, pointer)
    checker.text_chars(confirm, "confirm", MAX_CONFIRM_BUTTON_CHARS, pointer)
    checker.text_chars(confirm, "deny", MAX_CONFIRM_BUTTON_CHARS, pointer)


def _check_action_ids_unique(checker: _Checker, block: dict[str, Any], pointer: str) -> None:
    seen: set[str] = set()
    for element in _dicts(block.get("elements")):
        action_id = element.get("action_id")
        if action_id is None:
            continue
        if action_id in seen:
            checker.fail(f"{pointer}/elements", f"duplicate action_id {action_id!r}")
        seen.add(action_id)


def _sdk_check_block(checker: _Checker, block: dict[str, Any], pointer: str) -> None:
    found_before = len(checker.problems)
    parsed = _sdk_check(checker, pointer, lambda: Block.parse(block))
    if parsed is None:
        if len(checker.problems) == found_before:
            checker.fail(f"{pointer}/type", f"unknown block type {block.get('type')!r}")
        return
    _sdk_check_elements(checker, block, pointer)
    _sdk_check(checker, pointer, parsed.to_dict)


def _sdk_check_elements(checker: _Checker, block: dict[str, Any], pointer: str) -> None:
    for key in _ELEMENT_KEYS:
        value = block.get(key)
        elements = value if isinstance(value, list) else [value]
        for index, element in enumerate(_dicts(elements)):
            if BlockElement.parse(element) is not None:
                continue
            suffix = f"/{index}" if isinstance(value, list) else ""
            message = f"unknown element type {element.get('type')!r}"
            checker.fail(f"{pointer}/{key}{suffix}", message)


def _sdk_check(checker: _Checker, pointer: str, build: Callable[[], Any]) -> Any:
    try:
        return build()
    except SlackObjectFormationError as error:
        checker.fail(pointer, str(error))
    except (TypeError, ValueError, AttributeError, KeyError) as error:
        checker.fail(pointer, f"malformed: {error}")
    return None


def _dicts(items: Any) -> list[dict[str, Any]]:
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, dict)]
