"""The default workflows a new company starts with, worded in the installation's language."""

from __future__ import annotations

from typing import Any

from bot.core.service import Signoff
from engine.catalog import DEFAULT_SLUGS, default_workflow_id, find_template
from messages.catalog_text import localized


async def localize_defaults(service: Signoff) -> list[str]:
    """Reword the texts of the default workflows still in the catalog's English; return the ids changed.

    A new database gets the defaults in English (storage migrations); texts an admin changed are kept.
    """
    changed = []
    for slug in DEFAULT_SLUGS:
        english = find_template(slug)
        wording = localized(english, service.settings.locale) if english else None
        if english is None or wording is None or wording is english:
            continue
        async with service.db.read() as repo:
            stored = await repo.get_workflow(default_workflow_id(slug))
        if stored is None:
            continue
        current = stored.definition().model_dump(mode="json")
        data = reworded(current, english.definition.model_dump(mode="json"), wording.definition.model_dump(mode="json"))
        if data != current:
            await service.workflows.update(stored.id, data)
            changed.append(stored.id)
    return changed


def reworded(stored: Any, english: Any, wording: Any) -> Any:
    """Return `stored` with every text still equal to the English one at the same place replaced by `wording`'s."""
    if isinstance(stored, dict) and isinstance(english, dict) and isinstance(wording, dict):
        return {key: reworded(value, english.get(key), wording.get(key)) for key, value in stored.items()}
    if isinstance(stored, list) and isinstance(english, list) and isinstance(wording, list):
        if len(stored) == len(english) == len(wording):
            return [reworded(*parts) for parts in zip(stored, english, wording, strict=True)]
        return stored
    return wording if isinstance(stored, str) and stored == english and isinstance(wording, str) else stored
