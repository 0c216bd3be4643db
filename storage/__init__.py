"""Persistence of Signoff: the `Store` interface (storage.ports), its values (storage.models) and its backends."""

from __future__ import annotations

from pathlib import Path

from storage.ports import Store


async def open_store(url_or_path: str | Path) -> Store:
    """Open (creating and migrating if needed) the store at a path or `sqlite:///path` URL."""
    from storage.db import Database

    text = str(url_or_path)
    path = text.removeprefix("sqlite:///") if text.startswith("sqlite:///") else text
    return await Database.open(path)
