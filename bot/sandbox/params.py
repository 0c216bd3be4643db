"""The arguments of one Web API call, read and refused the way Slack does."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from bot.sandbox.errors import SlackCallError


class Params:
    """Typed access to one call's arguments, refusing them the way Slack does."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw

    def has(self, key: str) -> bool:
        """Tell whether the argument was given."""
        return self.raw.get(key) is not None

    def text(self, key: str, missing: str | None = None) -> str | None:
        """Return a string argument, or raise ``missing`` when it is absent."""
        value = self.raw.get(key)
        if value is None or value == "":
            if missing is not None:
                raise SlackCallError(missing)
            return None
        return str(value)

    def required(self, key: str, missing: str = "invalid_arguments") -> str:
        """Return a string argument that must be present."""
        value = self.text(key, missing)
        assert value is not None
        return value

    def flag(self, key: str) -> bool:
        """Return a boolean argument given as a bool, ``true`` or ``1``."""
        value = self.raw.get(key)
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("1", "true")

    def number(self, key: str, default: int) -> int:
        """Return an integer argument."""
        value = self.raw.get(key)
        if value in (None, ""):
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SlackCallError("invalid_arguments") from None

    def decoded(self, key: str, invalid: str) -> Any:
        """Return a JSON argument, decoding it when it arrived as a string."""
        value = self.raw.get(key)
        if not isinstance(value, str):
            return value
        if value == "":
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise SlackCallError(invalid) from None
