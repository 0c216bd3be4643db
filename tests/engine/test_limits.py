"""Where a JSON value holds text no database stores: found by path, whatever the shape; clean values pass."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from engine.limits import unstorable_path

CASES: list[tuple[Any, bool, str | None]] = [
    ({"a": "fine", "b": [1, 2.5, None, True, {"c": "é ✓ 🎉"}]}, False, None),
    ({"a": "x\x00y"}, False, "a"),
    ({"a": "x\x00y"}, True, None),
    ({"a": ["ok", "bad\ud800"]}, False, "a[1]"),
    ({"a": ["ok", "bad\ud800"]}, True, "a[1]"),
    ({"k\x00": "v"}, False, "(body)"),
    ({"outer": {"k\udfff": 1}}, True, "outer"),
    ("\x00", False, "(body)"),
    ({"a": "the six characters \\u0000 are text"}, False, None),
    ({"a": "\\\x00"}, False, "a"),
    ({"amount": Decimal("1.5"), 3: "int key"}, False, None),
    ([[[[[["deep", "\ud83d"]]]]]], False, "[0][0][0][0][0][1]"),
]


@pytest.mark.parametrize(("value", "allow_nul", "expected"), CASES)
def test_unstorable_path(value: Any, allow_nul: bool, expected: str | None) -> None:
    assert unstorable_path(value, allow_nul=allow_nul) == expected


def test_a_value_that_is_not_json_is_still_searched() -> None:
    assert unstorable_path({"a": "x\x00", "b": object()}) == "a"
