"""Block Kit validation as Slack applies it to messages, modals and Home views.

Problems are reported in Slack's own format, e.g.
``[ERROR] must be at most 3000 characters (got 3001) [json-pointer:/blocks/0/text/text]``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block, BlockElement
from slack_sdk.models.views import View

from bot.sandbox.blockkit.block_checks import check_block
from bot.sandbox.blockkit.checker import Checker, dicts
from bot.sandbox.blockkit.limits import (
    MAX_ID_CHARS,
    MAX_MESSAGE_BLOCKS,
    MAX_MESSAGE_TEXT_CHARS,
    MAX_PRIVATE_METADATA_CHARS,
    MAX_VIEW_BLOCKS,
    MAX_VIEW_TITLE_CHARS,
)

_ELEMENT_KEYS = ("elements", "accessory", "element")
#: How many blocks found valid are remembered (by their exact JSON), so a block sent again is not checked again.
PASSED_BLOCKS_KEPT = 4096
_passed_blocks: set[str] = set()


def validate_message(blocks: Any, text: str | None) -> list[str]:
    """Return the problems Slack would report for a message's ``blocks`` and ``text``."""
    checker = Checker()
    if not text and not blocks:
        checker.fail("/text", "a message needs text or blocks")
    if isinstance(text, str) and len(text) > MAX_MESSAGE_TEXT_CHARS:
        checker.max_chars({"text": text}, "text", MAX_MESSAGE_TEXT_CHARS, "")
    if blocks is not None:
        _check_blocks(checker, blocks, MAX_MESSAGE_BLOCKS, "/blocks")
    return checker.problems


def validate_blocks(blocks: Any, max_blocks: int = MAX_MESSAGE_BLOCKS) -> list[str]:
    """Return the problems Slack would report for a list of blocks."""
    checker = Checker()
    _check_blocks(checker, blocks, max_blocks, "/blocks")
    return checker.problems


def validate_view(view: Any) -> list[str]:
    """Return the problems Slack would report for a modal or Home view."""
    checker = Checker()
    if not isinstance(view, dict):
        checker.fail("/view", "must be an object")
        return checker.problems
    _check_view_fields(checker, view)
    _check_blocks(checker, view.get("blocks"), MAX_VIEW_BLOCKS, "/view/blocks")
    if not checker.problems:
        _sdk_check(checker, "/view", lambda: View(**view).to_dict())
    return checker.problems


def _check_view_fields(checker: Checker, view: dict[str, Any]) -> None:
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


def _check_blocks(checker: Checker, blocks: Any, max_blocks: int, pointer: str) -> None:
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
        _check_one_block(checker, block, block_pointer)


def _check_one_block(checker: Checker, block: dict[str, Any], pointer: str) -> None:
    """Check a block, unless the very same block (the same JSON) was found valid before: the checks depend on
    nothing else."""
    try:
        seen_as = json.dumps(block, sort_keys=True)
    except (TypeError, ValueError):
        seen_as = None
    if seen_as in _passed_blocks:
        return
    found_before = len(checker.problems)
    check_block(checker, block, pointer)
    if len(checker.problems) == found_before:
        _sdk_check_block(checker, block, pointer)
    if len(checker.problems) == found_before and seen_as is not None:
        if len(_passed_blocks) >= PASSED_BLOCKS_KEPT:
            _passed_blocks.clear()
        _passed_blocks.add(seen_as)


def _check_block_id_unique(
    checker: Checker, block: dict[str, Any], seen: set[str], pointer: str
) -> None:
    block_id = block.get("block_id")
    if block_id is None:
        return
    if block_id in seen:
        checker.fail(f"{pointer}/block_id", f"duplicate block_id {block_id!r}")
    seen.add(block_id)


def _sdk_check_block(checker: Checker, block: dict[str, Any], pointer: str) -> None:
    found_before = len(checker.problems)
    parsed = _sdk_check(checker, pointer, lambda: Block.parse(block))
    if parsed is None:
        if len(checker.problems) == found_before:
            checker.fail(f"{pointer}/type", f"unknown block type {block.get('type')!r}")
        return
    _sdk_check_elements(checker, block, pointer)
    _sdk_check(checker, pointer, parsed.to_dict)


def _sdk_check_elements(checker: Checker, block: dict[str, Any], pointer: str) -> None:
    for key in _ELEMENT_KEYS:
        value = block.get(key)
        elements = value if isinstance(value, list) else [value]
        for index, element in enumerate(dicts(elements)):
            if BlockElement.parse(element) is not None:
                continue
            suffix = f"/{index}" if isinstance(value, list) else ""
            message = f"unknown element type {element.get('type')!r}"
            checker.fail(f"{pointer}/{key}{suffix}", message)


def _sdk_check(checker: Checker, pointer: str, build: Callable[[], Any]) -> Any:
    try:
        return build()
    except SlackObjectFormationError as error:
        checker.fail(pointer, str(error))
    except (TypeError, ValueError, AttributeError, KeyError) as error:
        checker.fail(pointer, f"malformed: {error}")
    return None
