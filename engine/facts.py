"""Flatten a record and its contact into the field map that conditions read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.records import Contact, Record

RECORD_FIELD_TYPES: dict[str, str] = {
    "type": "enum",
    "id": "string",
    "amount": "decimal",
    "balance": "decimal",
    "exchange_rate": "decimal",
    "currency": "string",
    "customer": "string",
    "vendor": "string",
    "location": "string",
    "department": "string",
    "class": "string",
    "category": "string",
    "txn_date": "date",
    "due_date": "date",
    "status": "enum",
    "email_status": "enum",
    "source": "enum",
    "created_by": "string",
    "memo": "string",
    "approval_status": "enum",
    "created_at": "datetime",
    "updated_at": "datetime",
    "sent_at": "datetime",
}

CONTACT_FIELD_TYPES: dict[str, str] = {
    "id": "string",
    "name": "string",
    "email": "string",
    "state": "string",
    "country": "string",
    "city": "string",
    "active": "bool",
    "reminders": "bool",
    "balance": "decimal",
}

CONTACT_PREFIXES = ("customer", "vendor")


def field_type(path: str) -> str | None:
    """Return the type name of a field path, `any` for custom fields, None when unknown."""
    if path in RECORD_FIELD_TYPES:
        return RECORD_FIELD_TYPES[path]
    head, _, rest = path.partition(".")
    if head == "fields" and rest:
        return "any"
    if head in CONTACT_PREFIXES and rest:
        if rest.startswith("fields.") and len(rest) > len("fields."):
            return "any"
        return CONTACT_FIELD_TYPES.get(rest)
    return None


def _contact_facts(prefix: str, contact: Contact | None, out: dict[str, Any]) -> None:
    if contact is None:
        return
    for name in CONTACT_FIELD_TYPES:
        out[f"{prefix}.{name}"] = getattr(contact, name)
    for name, value in contact.fields.items():
        out[f"{prefix}.fields.{name}"] = value


def facts_of(record: Record, contacts: Mapping[str, Contact] | None = None) -> dict[str, Any]:
    """Return every field of the record (and its customer/vendor) keyed by condition path."""
    out: dict[str, Any] = {name: getattr(record, name) for name in RECORD_FIELD_TYPES if name != "class"}
    out["class"] = record.class_
    out["amount"] = record.in_home_currency(record.amount)
    out["balance"] = record.in_home_currency(record.effective_balance())
    for name, value in record.fields.items():
        out[f"fields.{name}"] = value
    contacts = contacts or {}
    _contact_facts("customer", contacts.get(f"customer:{record.customer}"), out)
    _contact_facts("vendor", contacts.get(f"vendor:{record.vendor}"), out)
    return out
