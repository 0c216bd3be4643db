"""What the requester typed in the request modal, checked: a new request, or the new values of an edited document."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from bot.slack.payload import input_state, mapping
from engine.limits import to_decimal
from engine.records import ISO_DATE, Record, RecordInput, RecordType, Source
from engine.resubmission import editable_fields

KINDS = {"expense": RecordType.EXPENSE, "purchase_order": RecordType.PURCHASE_ORDER}
CURRENCIES = ("EUR", "USD", "GBP", "CHF", "CAD", "AUD", "JPY", "SEK", "NOK", "DKK")
MAX_AMOUNT = Decimal("1e15")
MAX_AMOUNT_CHARS = 40
MAX_FORM_TEXT_CHARS = 3000  # the longest value Slack lets a plain_text_input hold
FIELD_BLOCKS = {"vendor": "vendor", "customer": "customer", "amount": "amount", "currency": "currency",
                "category": "category", "department": "department", "memo": "description", "due_date": "due_date",
                "txn_date": "txn_date", "created_by": "vendor", "balance": "amount", "exchange_rate": "exchange_rate"}
NEW_REQUEST_FIELDS = ("vendor", "amount", "currency", "category", "memo", "due_date")
DATE_FIELDS = ("txn_date", "due_date")
MONEY = ("amount", "balance")


def offered_currencies(record: Record | None) -> tuple[str, ...]:
    """Return the currencies the form offers: the usual ones, and the edited document's own."""
    return CURRENCIES if record is None or record.currency in CURRENCIES else (record.currency, *CURRENCIES)


def record_key(value: str | None) -> tuple[RecordType, str] | None:
    """Decode a `type/id` button value or metadata into a record key (None when malformed)."""
    kind, _, record_id = (value or "").partition("/")
    try:
        return (RecordType(kind), record_id) if record_id else None
    except ValueError:
        return None


def _raw(values: dict[str, Any], block_id: str) -> Any:
    entry = input_state(values, block_id)
    if "selected_option" in entry:
        return mapping(entry["selected_option"]).get("value")
    return entry.get("selected_date") if "selected_date" in entry else entry.get("value")


def _value(values: dict[str, Any], block_id: str) -> str:
    value = _raw(values, block_id)
    return value.strip() if isinstance(value, str) else ""


def _is_date_valid(values: dict[str, Any], block_id: str = "due_date") -> bool:
    raw = _raw(values, block_id)
    return raw is None or raw == "" or (isinstance(raw, str) and _date(raw.strip()) is not None)


def _amount(text: str) -> Decimal | None:
    if len(text) > MAX_AMOUNT_CHARS:
        return None
    try:
        amount = to_decimal(text.replace(",", ".").replace(" ", ""))
    except ValueError:
        return None
    is_valid = amount.is_finite() and Decimal("0") < amount < MAX_AMOUNT and -amount.as_tuple().exponent <= 3
    return amount if is_valid else None


def _date(text: str) -> date | None:
    """Read a date picker's `YYYY-MM-DD`; anything else (`31/12/2026`, `2026-02-30`) is None."""
    if not ISO_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class RequestForm:
    """What the requester typed, checked."""

    record_type: RecordType
    data: RecordInput


def _form_errors(
    values: dict[str, Any], fields: tuple[str, ...] = NEW_REQUEST_FIELDS, currencies: tuple[str, ...] = CURRENCIES,
) -> dict[str, str]:
    checks = {"vendor": ("vendor_required", bool(_value(values, "vendor"))),
              "customer": ("customer_required", bool(_value(values, "customer"))),
              "amount": ("amount_invalid", _amount(_value(values, "amount")) is not None),
              "currency": ("currency_invalid", (_value(values, "currency") or currencies[0]) in currencies),
              **{name: ("date_invalid", _is_date_valid(values, name)) for name in DATE_FIELDS}}
    errors = {FIELD_BLOCKS[name]: checks[name][0] for name in fields if name in checks and not checks[name][1]}
    if fields == NEW_REQUEST_FIELDS and (_value(values, "kind") or "expense") not in KINDS:
        errors["kind"] = "kind_invalid"
    return errors


def _rate_errors(values: dict[str, Any], home: str | None) -> dict[str, str]:
    """Return the error of the exchange rate: needed for another currency than the company's, and a number."""
    currency, text = _value(values, "currency") or "USD", _value(values, "exchange_rate")
    if home is None or currency == home:
        return {}
    if not text:
        return {"exchange_rate": "rate_required"}
    return {} if _rate(text) is not None else {"exchange_rate": "rate_invalid"}


def _rate(text: str) -> Decimal | None:
    try:
        rate = to_decimal(text.replace(",", ".").replace(" ", "")) if len(text) <= MAX_AMOUNT_CHARS else None
    except ValueError:
        return None
    return rate if rate is not None and Decimal(0) < rate else None


def read_form(values: dict[str, Any], user: str, home: str | None = None) -> RequestForm | dict[str, str]:
    """Turn the modal's state into a record, or return `{block_id: error code}` (`home`: the company's currency, in
    which amounts are compared; another currency then needs its exchange rate)."""
    errors = _form_errors(values) | _rate_errors(values, home)
    if errors:
        return errors
    currency = _value(values, "currency") or "USD"
    try:
        data = RecordInput(
            amount=_amount(_value(values, "amount")), currency=currency,
            vendor=_value(values, "vendor"), category=_value(values, "category") or None,
            memo=_value(values, "description") or None, due_date=_date(_value(values, "due_date")),
            source=Source.SLACK, created_by=user,
            exchange_rate=_rate(_value(values, "exchange_rate")) if home and currency != home else None,
        )
    except ValidationError as exc:
        return _validation_errors(exc, "vendor")
    return RequestForm(KINDS[_value(values, "kind") or "expense"], data)


REFS = frozenset({"vendor", "customer"})


def _validation_errors(exc: ValidationError, default_block: str) -> dict[str, str]:
    """Return the form's error codes of a document the API's rules refuse: an amount with more decimals than its
    currency has, a vendor or customer an id cannot name, or a text too long or with control characters."""
    errors = {}
    for error in exc.errors():
        if error["loc"]:
            name = str(error["loc"][0])
            code = "amount_decimals" if name in MONEY else "ref_invalid" if name in REFS else "text_invalid"
            errors[FIELD_BLOCKS.get(name, default_block)] = code
    return errors


def _edited_value(values: dict[str, Any], name: str) -> Any:
    """Return what the form says about one editable field (None when left empty)."""
    text = _value(values, FIELD_BLOCKS[name])
    if name == "amount":
        return _amount(text)
    return _date(text) if name in DATE_FIELDS else text or None


def read_edit(values: dict[str, Any], record: Record) -> RecordInput | dict[str, str]:
    """Turn the edit modal's state into the document's new values, or `{block_id: code}`: its other fields, and those
    the form could not hold (`form_kept`), are kept as they are."""
    fields = tuple(name for name in editable_fields(record.type) if name not in form_kept(record))
    errors = _form_errors(values, fields, offered_currencies(record))
    if errors:
        return errors
    data = record.model_dump(include=set(RecordInput.model_fields))
    changes = {name: _edited_value(values, name) for name in fields}
    changes["currency"] = changes.get("currency") or record.currency
    if record.balance == record.amount:
        changes["balance"] = changes["amount"] if record.balance is not None else None
    try:
        return RecordInput.model_validate({**data, **changes})
    except ValidationError as exc:
        return _validation_errors(exc, "amount")


def form_kept(record: Record) -> tuple[str, ...]:
    """Return the editable fields whose value is longer than Slack lets a form input hold: the edit form leaves them
    out, and they are kept as they are."""
    memo_fits = record.memo is None or len(record.memo) <= MAX_FORM_TEXT_CHARS
    return () if memo_fits else ("memo",)
