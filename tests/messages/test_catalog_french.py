"""The template catalog in French: every title, description and message text translated, and still working."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from babel.messages.pofile import read_po

from bot.core.template_checks import check_templates
from engine.actions import (
    Company,
    PostMessage,
    RemindPeople,
    SendEmail,
    SetField,
    Skipped,
    plan_actions,
    template_sources,
)
from engine.catalog import SIGNATURE, CatalogTemplate, catalog, sample_for
from engine.conditions import EvalContext, evaluate
from engine.facts import facts_of
from engine.workflows import UpdateAction, Workflow
from messages.catalog_text import DOMAIN, WORDED_FIELDS, localized
from messages.i18n import LOCALE_DIR
from messages.render import Renderer
from tests.messages.english import english_words

TZ = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 3, 30, 7, 0, tzinfo=UTC)  # Monday 09:00 in Paris
TEMPLATES = catalog()
IDS = [t.slug for t in TEMPLATES]
EXPRESSION = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
SPACE_BEFORE_MARK = re.compile(r" [:;?!»]|« ")


def texts(template: CatalogTemplate) -> Iterator[tuple[str, str]]:
    """Yield every wording of a template as (where, text): title, description, messages and memo stamps."""
    yield "title", template.title
    yield "description", template.description
    yield from template_sources(template.definition)
    for index, action in enumerate(template.definition.actions):
        if isinstance(action, UpdateAction) and action.field in WORDED_FIELDS:
            yield f"actions[{index}].value", str(action.value)


def data_values(template: CatalogTemplate) -> list[str]:
    """Return what a template's conditions name (departments, vendor ids): data, not words to translate."""
    found: list[str] = []
    for condition in template.definition.conditions:
        values = condition.value if isinstance(condition.value, list) else [condition.value]
        found += [v for v in values if isinstance(v, str)]
    return found


def as_workflow(template: CatalogTemplate) -> Workflow:
    return Workflow(**template.definition.model_dump(), id=template.slug, created_at=NOW, updated_at=NOW)


@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
def test_every_text_of_the_template_is_french(template: CatalogTemplate) -> None:
    french = localized(template, "fr")
    pairs = list(zip(texts(template), texts(french), strict=True))
    assert len(pairs) >= 2 and french.definition.name == french.title
    for (where, english), (_, translated) in pairs:
        assert translated != english, f"{where} has no French translation in catalog.po: {english!r}"
        assert english_words(translated, allowed=data_values(template)) == [], f"{where}: {translated!r}"
        assert not SPACE_BEFORE_MARK.search(translated), f"{where}: a plain space before a mark in {translated!r}"


@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
def test_french_texts_keep_the_template_expressions(template: CatalogTemplate) -> None:
    for (where, english), (_, translated) in zip(texts(template), texts(localized(template, "fr")), strict=True):
        def shapes(text: str) -> list[str]:
            return sorted(QUOTED.sub("''", e) for e in EXPRESSION.findall(text))

        assert shapes(translated) == shapes(english), where


@pytest.mark.parametrize("company", ["Acme", ""])
@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
def test_french_template_renders_french_messages_on_its_sample(template: CatalogTemplate, company: str) -> None:
    french = localized(template, "fr")
    renderer = Renderer("fr", "Europe/Paris")
    check_templates(french.definition, renderer, NOW)
    record, contact = sample_for(french, NOW, TZ)
    planned = plan_actions(as_workflow(french), record, contact, NOW, Company(company, "Europe/Paris"),
                           fallback=("U0ADMIN",), sender="billing@example.com")
    assert not [p for p in planned if isinstance(p, Skipped)]
    facts = facts_of(record, {f"{contact.kind.value}:{contact.id}": contact})
    assert evaluate(french.definition.conditions, facts, EvalContext.at(NOW, TZ))  # a memo stamp is looked for too
    shown: list[str] = []
    for item in planned:
        if isinstance(item, PostMessage | RemindPeople):
            shown.append(renderer.user_text(item.template, **item.context))
            assert record.id in shown[-1]
        elif isinstance(item, SendEmail):
            shown += [renderer.user_text(item.subject_template, **item.context),
                      renderer.user_text(item.body_template, **item.context)]
            assert shown[-1].startswith(f"Bonjour {contact.name},") and "Cordialement" in shown[-1]
        elif isinstance(item, SetField) and item.field in WORDED_FIELDS:
            shown.append(str(item.value))
    allowed = [contact.name, record.id, company, *data_values(template)]
    assert all(text.strip() and english_words(text, allowed=allowed) == [] for text in shown), shown


@pytest.mark.parametrize("locale", ["en", "de", ""])
def test_english_and_unknown_locales_keep_the_catalog_as_it_is(locale: str) -> None:
    assert all(localized(t, locale) is t for t in TEMPLATES)


def english_sources() -> set[str]:
    found = {SIGNATURE}
    for template in TEMPLATES:
        found |= {text.removesuffix(SIGNATURE) for _, text in texts(template)}
    return found


def test_catalog_po_holds_only_catalog_texts_and_nothing_fuzzy() -> None:
    with (LOCALE_DIR / "fr" / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as handle:
        entries: list[Any] = [m for m in read_po(handle, locale="fr") if m.id]
    assert [m.id for m in entries if m.fuzzy or not m.string] == []
    assert sorted({m.id for m in entries} - english_sources()) == []
    assert len({m.id for m in entries}) == len(entries)
