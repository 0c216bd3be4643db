"""Bodies sent back as a read returned them: the read-only keys they repeat, and which repeats are refused."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any


def split_echo(body: Any, read_only: Collection[str]) -> tuple[Any, dict[str, Any]]:
    """Return a body without the read-only keys it repeats, and those keys with their values (a body that is not an
    object comes back as it is, for its own validation to refuse)."""
    if not isinstance(body, Mapping):
        return body, {}
    return ({key: value for key, value in body.items() if key not in read_only},
            {key: value for key, value in body.items() if key in read_only})


def differing(echoed: Mapping[str, Any], expected: Mapping[str, Any], message: str) -> list[dict[str, str]]:
    """Return a problem for each repeated key of `expected` whose value is another; `message` says why, `{expected}`
    standing in it for the value the key must have."""
    return [{"path": key, "message": message.format(expected=_shown(value))}
            for key, value in expected.items() if key in echoed and echoed[key] != value]


def identity_problems(echoed: Mapping[str, Any], identity: Mapping[str, Any]) -> list[dict[str, str]]:
    """Return a problem for each repeated identity key (`id`, `type`, `kind`) naming another than the one addressed."""
    return differing(echoed, identity, "must be {expected}, the one the path names")


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
