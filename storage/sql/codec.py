"""Encoding of domain values in the database: JSON with exact decimals and UTC ISO timestamps."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return ts(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"cannot store {type(value).__name__}")


def dumps(value: Any) -> str:
    """Serialise a value to JSON, decimals as strings and times as UTC ISO text."""
    return json.dumps(value, default=_default, separators=(",", ":"), sort_keys=True)


def loads(text: str) -> Any:
    """Parse stored JSON."""
    return json.loads(text)


def ts(moment: datetime) -> str:
    """Format an aware datetime as sortable UTC ISO text."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime cannot be stored")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def parse_ts(text: str | None) -> datetime | None:
    """Parse stored UTC ISO text back to an aware datetime."""
    return None if text is None else datetime.fromisoformat(text)
