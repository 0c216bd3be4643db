"""A payment reminder sent by hand: which invoices may get one, and whose texts it uses."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.errors import InvalidDefinitionError
from engine.invoice_reminders import InvoiceReminderSettings, manual_reminder_refusal, manual_schedule
from engine.records import Contact, Record

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 10, 20, 9, tzinfo=PARIS)
CUSTOMER = Contact.model_validate({"kind": "customer", "id": "C1", "name": "Acme", "email": "ap@acme.example"})
NO_EMAIL = Contact.model_validate({"kind": "customer", "id": "C1", "name": "Acme"})


def invoice(**overrides: Any) -> Record:
    data = {"type": "invoice", "id": "INV-1", "amount": "100.00", "due_date": date(2026, 10, 27),
            "customer": "C1", "created_at": NOW, "updated_at": NOW}
    return Record.model_validate({**data, **overrides})


@pytest.mark.parametrize(
    ("record", "contact", "code", "expected"),
    [
        (invoice(), CUSTOMER, None, None),
        (invoice(status="sent"), CUSTOMER, None, None),
        (invoice(status="paid"), CUSTOMER, "closed", "invoice INV-1 is paid: nothing to remind"),
        (invoice(status="void"), CUSTOMER, "closed", "invoice INV-1 is void: nothing to remind"),
        (invoice(status="draft"), CUSTOMER, "not_finalised",
         "invoice INV-1 is a draft: only finalised invoices get reminders"),
        (invoice(approval_status="pending"), CUSTOMER, "not_approved", "not approved"),
        (invoice(balance="0.00"), CUSTOMER, "paid", "invoice INV-1 has no balance left to pay"),
        (invoice(), None, "no_address", "invoice INV-1 has no customer e-mail address"),
        (invoice(), NO_EMAIL, "no_address", "invoice INV-1 has no customer e-mail address"),
    ],
)
def test_which_invoices_may_be_reminded_by_hand(
    record: Record, contact: Contact | None, code: str | None, expected: str | None,
) -> None:
    refusal = manual_reminder_refusal(record, contact)
    if expected is None or refusal is None:
        assert refusal == expected
    else:
        assert refusal.code == code and refusal.message.startswith(expected)


SETTINGS = InvoiceReminderSettings.model_validate(
    {"schedules": [{"offset_days": -3}, {"offset_days": 3}, {"offset_days": 7}]})


@pytest.mark.parametrize(
    ("settings", "wanted", "now", "expected"),
    [
        (SETTINGS, 1, NOW, (3, 1)),
        (SETTINGS, None, NOW, (-3, 0)),
        (SETTINGS, None, datetime(2026, 10, 24, 9, tzinfo=PARIS), (-3, 0)),
        (SETTINGS, None, datetime(2026, 10, 30, 10, tzinfo=PARIS), (3, 1)),
        (SETTINGS, None, datetime(2026, 11, 30, 10, tzinfo=PARIS), (7, 2)),
        (InvoiceReminderSettings(schedules=[]), None, NOW, (0, None)),
    ],
)
def test_whose_texts_a_manual_reminder_uses(
    settings: InvoiceReminderSettings, wanted: int | None, now: datetime, expected: tuple[int, int | None],
) -> None:
    schedule, index = manual_schedule(invoice(), settings, wanted, now, PARIS)
    assert (schedule.offset_days, index) == expected


def test_an_invoice_without_a_due_date_uses_the_first_schedule() -> None:
    schedule, index = manual_schedule(invoice(due_date=None), SETTINGS, None, NOW, PARIS)
    assert (schedule.offset_days, index) == (-3, 0)


@pytest.mark.parametrize("wanted", [-1, 3, 10])
def test_a_schedule_that_does_not_exist_is_refused(wanted: int) -> None:
    with pytest.raises(InvalidDefinitionError) as refused:
        manual_schedule(invoice(), SETTINGS, wanted, NOW, PARIS)
    assert refused.value.details == [{"path": "schedule", "message": "no such schedule"}]
