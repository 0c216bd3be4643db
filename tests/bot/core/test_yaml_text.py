"""YAML is read strictly: a key given twice in one mapping is refused at its line; merges and lists still read."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from bot.core import yaml_text


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("name: A\nname: B\n", 2),
        ("rules:\n  - name: R\n    conditions: []\n    conditions: [1]\n", 4),
        ("a: 1\nb:\n  c: 1\n  c: 2\n", 4),
        ("1: x\n1: y\n", 2),
    ],
)
def test_a_key_given_twice_is_refused_at_its_line(text: str, line: int) -> None:
    with pytest.raises(yaml.YAMLError) as refused:
        yaml_text.load(text)
    mark = getattr(refused.value, "problem_mark", None)
    assert mark is not None and mark.line + 1 == line and "given twice" in str(refused.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("base: &b {x: 1, y: 2}\nmine:\n  <<: *b\n  y: 3\n", {"base": {"x": 1, "y": 2}, "mine": {"x": 1, "y": 3}}),
        ("- {a: 1}\n- {a: 2}\n", [{"a": 1}, {"a": 2}]),
        ("", None),
    ],
)
def test_merges_lists_and_empty_text_read_as_before(text: str, expected: Any) -> None:
    assert yaml_text.load(text) == expected


def test_documents_are_read_one_by_one_and_python_tags_refused() -> None:
    assert yaml_text.load_all("a: 1\n---\na: 2\n") == [{"a": 1}, {"a": 2}]
    with pytest.raises(yaml.YAMLError):
        yaml_text.load("!!python/object/apply:os.system ['true']")


@pytest.mark.parametrize(("text", "said"), [
    ("name: [", "line 1, column 8: expected the node content, but found '<stream end>'"),
    ("a: 1\na: 2", "line 2, column 1: the key 'a' is given twice"),
])
def test_a_yaml_error_says_where_and_what_without_the_parsers_trace(text: str, said: str) -> None:
    with pytest.raises(yaml.YAMLError) as caught:
        yaml_text.load(text)
    assert yaml_text.problem_of(caught.value) == said
