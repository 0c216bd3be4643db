"""Translations: every `_()` string of the templates has a French translation; money and dates follow the locale."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from messages.i18n import LOCALE_DIR, translations
from messages.render import Renderer, check_user_template

ROOT = Path(__file__).resolve().parents[2]
CONTEXTS = frozenset({"f", "m", "grammatical gender"})
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def extracted() -> dict[Any, list[str]]:
    """Return every message the templates mark, as babel.cfg tells Babel to extract them (keyed with a context)."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found: dict[Any, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, directory_filter=lambda d: "messages" in Path(d).parts or d == str(ROOT)
    ):
        if message:
            found.setdefault((_context, message) if _context else message, []).append(f"{filename}:{lineno}")
    return found


def _context_and_id(message: Any) -> tuple[str | None, Any]:
    """Split an extracted key into (context, message)."""
    if isinstance(message, tuple) and len(message) == 2 and isinstance(message[1], str | tuple) and (
            message[0] in CONTEXTS):
        return message[0], message[1]
    return None, message


def french() -> Any:
    with (LOCALE_DIR / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale="fr")


def test_babel_extracts_the_templates() -> None:
    messages = extracted()
    assert len(messages) > 200
    assert "Approve" in messages and ("%(num)d day", "%(num)d days") in messages
    assert any("templates/home.json.j2" in where for places in messages.values() for where in places)


def _both_genders(catalog: Any, msgid: Any) -> Any:
    feminine, masculine = catalog.get(msgid, context="f"), catalog.get(msgid, context="m")
    return feminine if feminine is not None and masculine is not None and masculine.string else None


def test_every_template_string_has_a_french_translation() -> None:
    catalog, missing = french(), []
    for key, places in extracted().items():
        context, message = _context_and_id(key)
        msgid = message[0] if isinstance(message, tuple) else message
        # A sentence agreeing with a document type is looked up under the type's gender, known only when rendering.
        entry = catalog.get(msgid, context=context) or _both_genders(catalog, msgid)
        strings = entry.string if entry is not None else None
        forms = list(strings) if isinstance(strings, tuple) else [strings]
        if entry is None or entry.fuzzy or not all(forms) or (isinstance(message, tuple) != entry.pluralizable):
            missing.append(f"{message!r} ({places[0]})")
    assert missing == [], "untranslated:\n" + "\n".join(missing)


def test_translations_keep_the_placeholders() -> None:
    wrong = []
    for entry in french():
        if not entry.id:
            continue
        ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        wanted = set(PLACEHOLDER.findall(ids[-1])) - {"num"}
        for text in strings:
            if set(PLACEHOLDER.findall(text)) - {"num"} != wanted:
                wrong.append(entry.id)
    assert wrong == []


def test_the_compiled_catalog_serves_every_entry() -> None:
    gettext = translations("fr")
    assert gettext.gettext("Approve") == "Approuver"
    assert gettext.ngettext("%(num)d day", "%(num)d days", 1) == "%(num)d jour"
    assert gettext.ngettext("%(num)d day", "%(num)d days", 2) == "%(num)d jours"
    assert translations("xx").gettext("Approve") == "Approve"


@pytest.mark.parametrize(
    ("locale", "amount", "currency", "expected"),
    [
        ("fr", "12500.00", "EUR", "12\u202f500,00\xa0€"),
        ("fr", "0.5", "USD", "0,50\xa0$US"),
        ("fr", "-1234567.891", "EUR", "-1\u202f234\u202f567,891\xa0€"),  # never rounded
        ("en", "1234.5678", "USD", "$1,234.5678"),
        ("en", "999999999999999.9999", "JPY", "¥999,999,999,999,999.9999"),
        ("en", "12500.00", "EUR", "€12,500.00"),
        ("en", "1234.5", "USD", "$1,234.50"),
    ],
)
def test_money_is_formatted_for_the_locale(locale: str, amount: str, currency: str, expected: str) -> None:
    assert Renderer(locale, "Europe/Paris").fmt.money(Decimal(amount), currency) == expected


@pytest.mark.parametrize(("locale", "currency", "expected"), [
    ("en", "CHF", "CHF\u00a02,000.05"), ("en", "KWD", "KWD\u00a01,500.125"), ("en", "USD", "$2,000.05"),
    ("fr", "CHF", "2\u202f000,05\u00a0CHF"),
])
def test_a_currency_code_is_spaced_from_its_amount(locale: str, currency: str, expected: str) -> None:
    amount = Decimal("1500.125") if currency == "KWD" else Decimal("2000.05")
    assert Renderer(locale).fmt.money(amount, currency) == expected


@pytest.mark.parametrize(("context", "expected"), [
    ({"record": {"amount": "12500.10", "currency": "EUR"}}, "€12,500.10"),
    ({"invoice": {"amount": "12500.10", "currency": "GBP"}, "record": None}, "£12,500.10"),
    ({"record": {"amount": "12500.10", "currency": "not a code"}}, "$12,500.10"),
    ({"record": {"amount": "12500.10"}}, "$12,500.10"),
])
def test_money_without_a_currency_takes_the_documents(context: dict[str, object], expected: str) -> None:
    amount = "{{ (record or invoice).amount | money }}"
    assert Renderer("en").user_text(amount, **context) == expected
    assert Renderer("en").slack_text(amount, **context) == expected


@pytest.mark.parametrize(
    ("locale", "expected_day", "expected_moment"),
    [("fr", "20 déc. 2026", "20 déc. 2026, 10:00"), ("en", "Dec 20, 2026", "Dec 20, 2026, 10:00\u202fAM")],
)
def test_dates_are_formatted_for_the_locale_in_the_company_zone(locale: str, expected_day: str,
                                                                 expected_moment: str) -> None:
    fmt = Renderer(locale, "Europe/Paris").fmt
    assert fmt.day(date(2026, 12, 20)) == expected_day
    assert fmt.moment(datetime(2026, 12, 20, 9, 0, tzinfo=UTC)) == expected_moment
    assert fmt.moment(datetime(2026, 12, 20, 9, 0, tzinfo=UTC), zone=True) == f"{expected_moment} CET"
    assert fmt.moment(datetime(2026, 7, 20, 9, 0, tzinfo=UTC), zone=True).endswith(" CEST")


def test_a_french_message_reads_in_french_with_french_money() -> None:
    renderer = Renderer("fr", "Europe/Paris")
    record = {"type": "invoice", "id": "INV-1", "amount": Decimal("12500.00"), "currency": "EUR",
              "approval_status": "pending", "contact_name": "ACME", "contact_kind": "customer",
              "due_date": date(2026, 12, 20), "memo": None, "extra_fields": []}
    message = renderer.json("request_confirmation.json.j2", record=record)
    assert message["text"] == ("📨 Votre facture INV-1 de 12\u202f500,00\xa0€ est envoyée pour approbation. "
                               "Vous recevrez un message dès qu’une décision sera prise.")
    assert "20 déc. 2026" in str(message["blocks"])


@pytest.mark.parametrize(
    ("record_type", "status", "expected"),
    [
        ("expense", "none", "Votre dépense EXP-1 de 12,00 € est enregistrée ;"),
        ("purchase_order", "pending", "Votre bon de commande EXP-1 de 12,00 € est envoyé pour approbation."),
        ("invoice", "approved", "Votre facture EXP-1 de 12,00 € est approuvée."),
        ("credit_memo", "approved", "Votre avoir EXP-1 de 12,00 € est approuvé."),
    ],
)
def test_french_sentences_agree_with_the_document_type(record_type: str, status: str, expected: str) -> None:
    record = {"type": record_type, "id": "EXP-1", "amount": Decimal("12.00"), "currency": "EUR",
              "approval_status": status, "contact_name": "Acme", "contact_kind": "vendor", "due_date": None,
              "extra_fields": [], "memo": ""}
    text = Renderer("fr", "Europe/Paris").json("request_confirmation.json.j2", record=record)["text"]
    assert expected.replace(" ", "\u00a0") in text.replace(" ", "\u00a0")


@pytest.mark.parametrize(
    ("record_type", "expected"),
    [("invoice", "Pourquoi refusez-vous la facture INV-1001"), ("estimate", "Pourquoi refusez-vous le devis INV-1001"),
     ("credit_memo", "Pourquoi refusez-vous l’avoir INV-1001")],
)
def test_french_questions_use_the_article_of_the_document_type(record_type: str, expected: str) -> None:
    card = {"record": {"type": record_type, "id": "INV-1001", "amount": Decimal("10"), "currency": "EUR"},
            "request_id": "AR-1"}
    view = Renderer("fr", "Europe/Paris").json("reject_modal.json.j2", card=card)
    assert expected in json.dumps(view, ensure_ascii=False)


@pytest.mark.parametrize(("source", "problem"), [
    ("{{ comapny.name }} {{ record.id }}", "unknown name 'comapny'"),
    ("{% set total = record.amount %}{{ total }} {{ _('Invoice') }} {{ locale }}", None),
    ("{% for i in range(2) %}{{ i }}{% endfor %}{{ record.nothing.deeper }}", "unknown field 'nothing'"),
    ("{{ record.amout }}", "unknown field 'amout' (line 1)"),
    ("{{ record.fields.po_number }} {{ record.id }}", None),  # a custom field some documents have
    ("{{ record.fields.address.city }} {{ record.id }}", None),  # custom fields nest
    ("{% if record.memo is defined %}{{ record.memo }}{% endif %}{{ record.id }}", None),
    ("{{ record.id }} {% if recrod %}x{% endif %}", "unknown name 'recrod'"),
])
def test_a_template_reading_a_name_it_does_not_know_is_refused(source: str, problem: str | None) -> None:
    sample = {"record": {"id": "INV-1", "amount": 1, "fields": {}}, "company": {"name": "N"}}
    found = check_user_template(source, sample)
    assert (found or "").startswith(problem or "") and (found is None) == (problem is None)


@pytest.mark.parametrize(("amount", "currency", "expected"), [
    ("0.505", "USD", "$0.51"), ("0.504", "USD", "$0.50"), ("1000.005", "USD", "$1,000.01"),
    ("-0.505", "USD", "-$0.51"), ("149.5", "JPY", "¥150"), ("1.0005", "KWD", "KWD\u00a01.001"),
])
def test_a_converted_amount_is_rounded_half_up_as_accounts_round(amount: str, currency: str, expected: str) -> None:
    assert Renderer("en").fmt.money(Decimal(amount), currency, rounded=True) == expected
