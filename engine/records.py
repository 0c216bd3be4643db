"""Business documents (records) and contacts, with Decimal money and aware datetimes."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class RecordType(StrEnum):
    """Kinds of business documents."""

    INVOICE = "invoice"
    BILL = "bill"
    PURCHASE_ORDER = "purchase_order"
    ESTIMATE = "estimate"
    EXPENSE = "expense"
    SALES_RECEIPT = "sales_receipt"
    PAYMENT = "payment"
    BILL_PAYMENT = "bill_payment"
    DEPOSIT = "deposit"
    CREDIT_MEMO = "credit_memo"
    VENDOR_CREDIT = "vendor_credit"


class DocStatus(StrEnum):
    """Accounting status of a document."""

    DRAFT = "draft"
    OPEN = "open"
    SENT = "sent"
    PAID = "paid"
    VOID = "void"


class EmailStatus(StrEnum):
    """Whether the document was e-mailed to its contact."""

    NOT_SENT = "not_sent"
    SENT = "sent"


class Source(StrEnum):
    """Where a document came from."""

    MANUAL = "manual"
    APP = "app"
    IMPORT = "import"
    RECEIPT_CAPTURE = "receipt_capture"
    SPREADSHEET_SYNC = "spreadsheet_sync"
    SLACK = "slack"


AUTO_SUBMIT_SOURCES = frozenset(
    {Source.APP, Source.IMPORT, Source.RECEIPT_CAPTURE, Source.SPREADSHEET_SYNC}
)


class ApprovalStatus(StrEnum):
    """Where a document stands in its approval."""

    NONE = "none"
    APPROVAL_REQUIRED = "approval_required"
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


def to_decimal(value: Any) -> Decimal:
    """Convert a JSON number or string to Decimal without passing through binary floats."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError("must be a decimal number, not a boolean")
    if isinstance(value, float):
        value = repr(value)
    try:
        result = Decimal(str(value).strip())
    except Exception as exc:
        raise ValueError(f"{value!r} is not a decimal number") from exc
    if not result.is_finite():
        raise ValueError("must be a finite decimal number")
    exponent = result.as_tuple().exponent
    return Decimal(format(result, "f")) if isinstance(exponent, int) and exponent > 0 else result


class RecordInput(BaseModel):
    """The writable fields of a document, as the API and imports give them."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    amount: Decimal = Decimal("0")
    balance: Decimal | None = None
    currency: str = Field(default="USD", min_length=3, max_length=3)
    customer: str | None = None
    vendor: str | None = None
    location: str | None = None
    department: str | None = None
    class_: str | None = Field(default=None, alias="class")
    category: str | None = None
    txn_date: date | None = None
    due_date: date | None = None
    status: DocStatus = DocStatus.OPEN
    email_status: EmailStatus = EmailStatus.NOT_SENT
    source: Source = Source.MANUAL
    created_by: str | None = None
    memo: str | None = None
    fields: dict[str, Any] = Field(default_factory=dict)

    @field_validator("amount", "balance", mode="before")
    @classmethod
    def _exact_decimal(cls, value: Any) -> Any:
        return None if value is None else to_decimal(value)

    @field_validator("currency")
    @classmethod
    def _upper_currency(cls, value: str) -> str:
        if not value.isalpha():
            raise ValueError("must be a 3-letter ISO 4217 code")
        return value.upper()


class Record(RecordInput):
    """A stored document with its identity and approval state."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: RecordType
    id: str = Field(min_length=1, max_length=128)
    approval_status: ApprovalStatus = ApprovalStatus.NONE
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None = None

    def key(self) -> tuple[str, str]:
        """Return the (type, id) pair that identifies the record."""
        return (self.type.value, self.id)

    def contact_id(self) -> str | None:
        """Return the customer or vendor this document concerns."""
        return self.customer or self.vendor

    def effective_balance(self) -> Decimal:
        """Return the open balance, defaulting to the amount."""
        return self.amount if self.balance is None else self.balance


class ContactKind(StrEnum):
    """Customers and vendors."""

    CUSTOMER = "customer"
    VENDOR = "vendor"


class ContactInput(BaseModel):
    """The writable fields of a customer or vendor."""

    model_config = ConfigDict(extra="forbid")

    name: str = ""
    email: str | None = None
    state: str | None = None
    country: str | None = None
    city: str | None = None
    active: bool = True
    balance: Decimal = Decimal("0")
    fields: dict[str, Any] = Field(default_factory=dict)

    @field_validator("balance", mode="before")
    @classmethod
    def _exact_decimal(cls, value: Any) -> Any:
        return to_decimal(value)


class Contact(ContactInput):
    """A stored customer or vendor."""

    kind: ContactKind
    id: str = Field(min_length=1, max_length=128)
