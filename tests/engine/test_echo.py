"""Bodies sent back as a read returned them: the read-only keys split off, and the repeats refused."""

from __future__ import annotations

from typing import Any

import pytest

from engine.echo import differing, split_echo
from engine.groups import Membership, echo_problems

EXPECTED = {"id": "g-1", "added": ["a", "b"]}
MEMBERSHIP = Membership(auto=frozenset({"C1", "C2"}), added=frozenset({"C3"}), removed=frozenset({"C2"}))


@pytest.mark.parametrize(("body", "kept", "echoed"), [
    ({"name": "x", "id": "1"}, {"name": "x"}, {"id": "1"}),
    ({"name": "x"}, {"name": "x"}, {}),
    ({"id": None}, {}, {"id": None}),
    (["id"], ["id"], {}),
    ("text", "text", {}),
])
def test_the_read_only_keys_are_split_off_an_object_body(body: Any, kept: Any, echoed: dict[str, Any]) -> None:
    assert split_echo(body, ("id", "created_at")) == (kept, echoed)


@pytest.mark.parametrize(("echoed", "paths", "message"), [
    ({}, [], ""),
    ({"id": "g-1", "added": ["a", "b"], "other": 1}, [], ""),
    ({"id": "g-2"}, ["id"], "must be g-1"),
    ({"id": None}, ["id"], "must be g-1"),
    ({"added": ["b", "a"]}, ["added"], 'must be ["a", "b"]'),
    ({"id": 1, "added": "a"}, ["id", "added"], "must be g-1"),
])
def test_a_repeated_key_must_hold_what_it_holds(echoed: dict[str, Any], paths: list[str], message: str) -> None:
    problems = differing(echoed, EXPECTED, "must be {expected}")
    assert [p["path"] for p in problems] == paths
    assert not problems or problems[0]["message"] == message


@pytest.mark.parametrize(("echoed", "paths"), [
    ({"id": "g-1", "members": ["C3", "C1"], "auto": ["anything"], "created_at": "x"}, []),
    ({"added": ["C3"], "removed": ["C2"]}, []),
    ({"id": "g-9"}, ["id"]),
    ({"members": ["C1", "C2", "C3"], "auto": []}, []),
    ({"added": []}, ["added"]),
    ({"removed": None}, ["removed"]),
    ({"added": ["C3", 3]}, ["added"]),
    ({"id": "g-9", "removed": ["C1"]}, ["id", "removed"]),
])
def test_a_group_body_repeats_its_id_and_manual_members_as_they_are(echoed: dict[str, Any], paths: list[str]) -> None:
    assert [p["path"] for p in echo_problems(echoed, "g-1", MEMBERSHIP)] == paths
