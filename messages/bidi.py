"""Bidirectional-text controls in what people type: dropped wherever it is shown."""

from __future__ import annotations

import re
from typing import Any

# LRE RLE PDF LRO RLO and LRI RLI FSI PDI: they reorder what follows them, so that typed text could show
# `INV-1` as `1-VNI` or an amount's digits backwards; right-to-left letters still show as they are.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def without_bidi_controls(value: Any) -> Any:
    """Return a printed value without bidirectional embedding, override and isolate controls (its own type kept)."""
    if not isinstance(value, str) or value.isascii() or not BIDI_CONTROLS.search(value):
        return value
    return type(value)(BIDI_CONTROLS.sub("", value))


def may_hold_bidi_controls(json_text: str) -> bool:
    """Tell whether JSON text may hold a bidirectional-text control, raw or escaped (`\\u202e`)."""
    return BIDI_CONTROLS.search(json_text) is not None or ESCAPED_CONTROL.search(json_text) is not None


ESCAPED_CONTROL = re.compile(r"\\u(?:202[a-eA-E]|206[6-9])")
SHOWN_TYPES = ("plain_text", "mrkdwn")


def shown_without_bidi_controls(blocks: Any) -> Any:
    """Return Block Kit JSON with bidirectional-text controls left out of what Slack shows (every `plain_text` and
    `mrkdwn` text, a message's `text`: Block Kit names nothing else `text`); values, ids and metadata stay whole."""
    if isinstance(blocks, list):
        return [shown_without_bidi_controls(item) for item in blocks]
    if not isinstance(blocks, dict):
        return blocks
    found = {key: shown_without_bidi_controls(value) for key, value in blocks.items()}
    if isinstance(found.get("text"), str) and found.get("type", "plain_text") in SHOWN_TYPES:
        found["text"] = without_bidi_controls(found["text"])
    return found
