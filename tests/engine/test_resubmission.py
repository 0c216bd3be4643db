"""Edit and resubmit: who may change a refused document, and which fields each kind of document offers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engine.records import ApprovalStatus, Record, RecordType
from engine.resubmission import editable_fields, resubmit_refusal

NOW = datetime(2026, 11, 25, tzinfo=UTC)


def record(status: ApprovalStatus, created_by: str | None = "U01") -> Record:
    return Record(type=RecordType.INVOICE, id="INV-1", amount="10.00", customer="C1", approval_status=status,
                  created_by=created_by, created_at=NOW, updated_at=NOW)


@pytest.mark.parametrize(("record_type", "fields"), [
    (RecordType.INVOICE, ("customer", "amount", "currency", "txn_date", "due_date", "category", "department", "memo")),
    (RecordType.BILL, ("vendor", "amount", "currency", "txn_date", "due_date", "category", "department", "memo")),
    (RecordType.EXPENSE, ("vendor", "amount", "currency", "due_date", "category", "department", "memo")),
    (RecordType.SALES_RECEIPT, ("customer", "amount", "currency", "txn_date", "category", "department", "memo")),
])
def test_each_kind_of_document_offers_its_own_fields(record_type: RecordType, fields: tuple[str, ...]) -> None:
    assert editable_fields(record_type) == fields


@pytest.mark.parametrize(("status", "user", "created_by", "refusal"), [
    (ApprovalStatus.REJECTED, "U01", "U01", None),
    (ApprovalStatus.EXPIRED, "U01", "U01", None),
    (ApprovalStatus.APPROVAL_REQUIRED, "U01", "U01", None),
    (ApprovalStatus.PENDING, "U01", "U01", "wrong_status"),
    (ApprovalStatus.APPROVED, "U01", "U01", "wrong_status"),
    (ApprovalStatus.REJECTED, "U02", "U01", "not_yours"),
    (ApprovalStatus.REJECTED, "", None, "not_yours"),
])
def test_only_the_requester_resubmits_a_refused_or_unsent_document(
    status: ApprovalStatus, user: str, created_by: str | None, refusal: str | None
) -> None:
    assert resubmit_refusal(record(status, created_by), user) == refusal
    assert resubmit_refusal(None, user) == "not_found"
