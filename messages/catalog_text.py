"""The template catalog in the installation's language: its English wording swapped for the `catalog.po` one."""

from __future__ import annotations

from dataclasses import replace
from gettext import GNUTranslations, NullTranslations
from typing import Any

from engine.catalog import SIGNATURE, CatalogTemplate
from engine.workflows import parse_definition
from messages.i18n import translations

DOMAIN = "catalog"
TEXT_KEYS = ("message", "subject")
# an update action writing one of these fields writes words (a memo stamp such as OVERDUE), not a code
WORDED_FIELDS = frozenset({"memo"})


def localized(template: CatalogTemplate, locale: str) -> CatalogTemplate:
    """Return the template with its title, description and texts in a locale (as it is in English or unknown ones)."""
    words = translations(locale, DOMAIN)
    if not isinstance(words, GNUTranslations):
        return template
    title, description = words.gettext(template.title), words.gettext(template.description)
    data = template.definition.model_dump(mode="json")
    stamps: dict[tuple[str, str], str] = {}
    for action in data["actions"]:
        _translate_action(action, words, stamps)
    for condition in data["conditions"]:
        _translate_stamp(condition, stamps)
    definition = parse_definition({**data, "name": title, "description": description})
    return replace(template, title=title, description=description, definition=definition)


def _translate_action(action: dict[str, Any], words: NullTranslations, stamps: dict[tuple[str, str], str]) -> None:
    for key in TEXT_KEYS:
        if key in action:
            action[key] = words.gettext(action[key])
    if "body" in action:
        body: str = action["body"]
        signed = body.endswith(SIGNATURE)
        text = words.gettext(body.removesuffix(SIGNATURE) if signed else body)
        action["body"] = text + words.gettext(SIGNATURE) if signed else text
    if action["type"] == "update" and action["field"] in WORDED_FIELDS and isinstance(action["value"], str):
        stamp = words.gettext(action["value"])
        stamps[(action["field"], action["value"])] = stamp
        action["value"] = stamp


def _translate_stamp(condition: dict[str, Any], stamps: dict[tuple[str, str], str]) -> None:
    """A condition that looks for the stamp an action writes looks for the translated stamp."""
    field, value = condition.get("field"), condition.get("value")
    if isinstance(field, str) and isinstance(value, str) and (field, value) in stamps:
        condition["value"] = stamps[(field, value)]
