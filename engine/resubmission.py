"""Edit and resubmit: who may change a refused document from Slack, and which of its fields."""

from __future__ import annotations

from engine.actions import contact_kind_for
from engine.records import ApprovalStatus, Record, RecordType

RESUBMITTABLE = frozenset({ApprovalStatus.REJECTED, ApprovalStatus.EXPIRED, ApprovalStatus.APPROVAL_REQUIRED})
# What may be sent for approval as it stands: a document not yet submitted, or one nobody decided on in time. A
# rejected one goes again only once changed (saving the change sends it).
SUBMITTABLE = frozenset({ApprovalStatus.APPROVAL_REQUIRED, ApprovalStatus.EXPIRED})
DUE_TYPES = frozenset(
    {RecordType.INVOICE, RecordType.BILL, RecordType.PURCHASE_ORDER, RecordType.EXPENSE, RecordType.ESTIMATE}
)
UNDATED_TYPES = frozenset({RecordType.PURCHASE_ORDER, RecordType.EXPENSE})


def editable_fields(record_type: RecordType) -> tuple[str, ...]:
    """Return the fields a requester may change before resubmitting a document of this type, in form order."""
    dates = () if record_type in UNDATED_TYPES else ("txn_date",)
    due = ("due_date",) if record_type in DUE_TYPES else ()
    return (contact_kind_for(record_type).value, "amount", "currency", *dates, *due, "category", "department",
            "memo")


def resubmit_refusal(
    record: Record | None, user: str, statuses: frozenset[ApprovalStatus] = RESUBMITTABLE
) -> str | None:
    """Return why a person may not edit and resubmit (or submit) a document; None when they may."""
    if record is None:
        return "not_found"
    if not record.created_by or record.created_by != user:
        return "not_yours"
    return None if record.approval_status in statuses else "wrong_status"

