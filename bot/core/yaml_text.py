"""YAML read strictly: safe types only, and a key given twice in one mapping is an error, not the last one kept."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import yaml

MERGE_TAG = "tag:yaml.org,2002:merge"


class StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses a key repeated in one mapping (say, two `conditions:` of one workflow)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """Build a mapping; raise a ConstructorError at the second of two equal keys."""
        seen: set[Hashable] = set()
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:
                continue
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, Hashable) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark, f"the key {key!r} is given twice", key_node.start_mark)
            if isinstance(key, Hashable):
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load(text: str) -> Any:
    """Read one YAML document strictly; raise yaml.YAMLError."""
    return yaml.load(text, Loader=StrictLoader)


def load_all(text: str) -> list[Any]:
    """Read every YAML document of a text strictly; raise yaml.YAMLError."""
    return list(yaml.load_all(text, Loader=StrictLoader))


def problem_of(exc: yaml.YAMLError) -> str:
    """Return a YAML error as a person reads it: where (line and column) and what, without the parser's trace."""
    mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return where + str(problem or exc).splitlines()[0]
