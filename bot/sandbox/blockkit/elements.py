"""Finding the elements and texts in blocks, and the input a view keeps when its blocks change."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

NON_INTERACTIVE = frozenset({"image", "mrkdwn", "plain_text"})


def interactive_elements(
    blocks: list[dict[str, Any]] | None,
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Yield ``(block, element)`` for every interactive element in the blocks."""
    for block in blocks or []:
        for element in block_elements(block):
            if element.get("type") not in NON_INTERACTIVE and "action_id" in element:
                yield block, element


def block_texts(value: Any) -> list[str]:
    """Return every ``text`` string found anywhere in a block structure."""
    if isinstance(value, list):
        return [text for item in value for text in block_texts(item)]
    if not isinstance(value, dict):
        return []
    found = [value["text"]] if isinstance(value.get("text"), str) else []
    return found + [text for item in value.values() for text in block_texts(item)]


def block_elements(block: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the elements of a block that can hold them: its accessory, element or elements."""
    if block.get("type") not in ("actions", "section", "input", "context"):
        return []
    candidates = [block.get("accessory"), block.get("element")]
    elements = block.get("elements")
    if isinstance(elements, list):
        candidates.extend(elements)
    return [candidate for candidate in candidates if isinstance(candidate, dict)]


def kept_input_state(current: Mapping[str, Any], blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """Return what the user entered that Slack keeps across an update: input blocks whose block_id,
    action_id and element type did not change."""
    values = mapping_of(mapping_of(current.get("state")).get("values"))
    kept: dict[str, Any] = {}
    for block in blocks:
        element = mapping_of(block.get("element"))
        entry = mapping_of(values.get(block.get("block_id"))).get(element.get("action_id"))
        if block.get("type") == "input" and isinstance(entry, dict) and entry.get("type") == element.get("type") \
                and _offers(element, entry):
            kept[block["block_id"]] = {element["action_id"]: copy.deepcopy(entry)}
    return kept


def _offers(element: Mapping[str, Any], entry: Mapping[str, Any]) -> bool:
    """Tell whether an element still offers every option a state entry picked."""
    picked = [entry["selected_option"]] if entry.get("selected_option") else entry.get("selected_options") or []
    if not picked or not ("options" in element or "option_groups" in element):
        return True
    groups = element.get("option_groups") or [{"options": element.get("options") or []}]
    offered = {o.get("value") for g in groups for o in g.get("options") or []}
    return all(mapping_of(o).get("value") in offered for o in picked)


def mapping_of(value: Any) -> Mapping[str, Any]:
    """Return the value when it is a mapping, else an empty one."""
    return value if isinstance(value, Mapping) else {}
