"""Bidirectional-text controls in what people type: dropped wherever it is shown."""

from __future__ import annotations

import re
from typing import Any

# LRE RLE PDF LRO RLO and LRI RLI FSI PDI: they reorder what follows them, so that typed text could show
# `INV-1` as `1-VNI` or an amount's digits backwards; right-to-left letters still show as they are.
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def without_bidi_controls(value: Any) -> Any:
    """Return a printed value without bidirectional embedding, override and isolate controls (its own type kept)."""
    if not isinstance(value, str) or not BIDI_CONTROLS.search(value):
        return value
    return type(value)(BIDI_CONTROLS.sub("", value))
