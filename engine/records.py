"""Business documents (records) and contacts, with Decimal money and aware datetimes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
)

from engine.currencies import CURRENCIES, minor_units
from engine.echo import identity_problems
from engine.errors import InvalidChangeError
from engine.limits import Id, Memo, NewId, Text, check_fields, check_money, is_email, is_kept, is_person_ref
from engine.limits import to_decimal as to_decimal


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


# A calendar date as documents carry it (a time of day, or a number of seconds, is not one).
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_IMPORT_ROWS = 1000
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


class RecordInput(BaseModel):
    """The writable fields of a document, as the API and imports give them."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    currency: str = Field(default="USD", min_length=3, max_length=3)
    amount: Decimal = Decimal("0")
    balance: Decimal | None = None
    exchange_rate: Decimal | None = None
    customer: NewId | None = None
    vendor: NewId | None = None
    location: Text | None = None
    department: Text | None = None
    class_: Text | None = Field(default=None, alias="class")
    category: Text | None = None
    txn_date: date | None = None
    due_date: date | None = None
    status: DocStatus = DocStatus.OPEN
    email_status: EmailStatus = EmailStatus.NOT_SENT
    source: Source = Source.MANUAL
    created_by: Text | None = None
    memo: Memo | None = None
    fields: Annotated[dict[str, Any], AfterValidator(check_fields)] = Field(default_factory=dict)

    @field_validator("amount", "balance", mode="before")
    @classmethod
    def _exact_decimal(cls, value: Any) -> Any:
        return None if value is None else check_money(to_decimal(value))

    @field_validator("amount", "balance")
    @classmethod
    def _in_minor_units(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        """Refuse cents on a yen amount: no more decimal places than the currency has (what is stored is read as
        it was written)."""
        currency = info.data.get("currency")
        if value is None or currency is None or (info.context or {}).get("stored"):
            return value
        places = minor_units(currency)
        exponent = value.normalize().as_tuple().exponent
        if isinstance(exponent, int) and exponent < -places:
            raise ValueError(f"{currency} amounts have at most {places} decimal places" if places
                             else f"{currency} amounts have no decimal places")
        return value

    @field_validator("exchange_rate", mode="before")
    @classmethod
    def _positive_rate(cls, value: Any) -> Any:
        if value is None:
            return None
        rate = to_decimal(value)
        if not Decimal("1e-9") <= rate <= Decimal("1e9"):
            raise ValueError("must be a positive number of the company's currency per unit, 1e-9 to 1e9")
        return rate

    @field_serializer("exchange_rate", when_used="json")
    def _rate_as_written(self, rate: Decimal | None) -> str | None:
        return None if rate is None else format(rate, "f")  # 0.000000001, not 1E-9

    @field_validator("created_by")
    @classmethod
    def _one_person(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Refuse a requester written any other way than a Slack user id or an e-mail address: who may not approve
        their own document is found by it."""
        if value is None or is_kept(value, info) or is_person_ref(value):
            return value
        raise ValueError("must be a Slack user id (such as U0123ABCD) or an e-mail address (name@example.com)")

    @field_validator("txn_date", "due_date", mode="before")
    @classmethod
    def _calendar_date(cls, value: Any) -> Any:
        if value is None or (isinstance(value, date) and not isinstance(value, datetime)):
            return value
        if not (isinstance(value, str) and ISO_DATE.fullmatch(value)):
            raise ValueError("must be a date written YYYY-MM-DD")
        return value

    @field_validator("balance")
    @classmethod
    def _balance_within_amount(cls, value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        amount = info.data.get("amount")
        if value is not None and amount is not None and not min(amount, 0) <= value <= max(amount, 0):
            raise ValueError(f"must lie between 0 and the amount ({amount})")
        return value

    @field_validator("currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        if value.upper() not in CURRENCIES:
            raise ValueError("must be the ISO 4217 code of a currency in use, such as USD or EUR")
        return value.upper()

    @field_validator("status")
    @classmethod
    def _paid_has_no_balance(cls, value: DocStatus, info: ValidationInfo) -> DocStatus:
        balance = info.data.get("balance")
        if value is DocStatus.PAID and balance:
            raise ValueError(f"a paid document has no balance left, but balance is {balance}")
        return value


def exchange_rate_problem(data: RecordInput, home: str | None) -> str | None:
    """Return why a document cannot be compared in the company's currency `home` (None: it can, or no currency is
    set): another currency needs its exchange rate; the company's own has none."""
    if home is None:
        return None
    if data.currency == home:
        is_unit = data.exchange_rate is None or data.exchange_rate == 1
        return None if is_unit else f"a {home} document has no exchange rate: {home} is the company's currency"
    if data.exchange_rate is None:
        return (f"a {data.currency} document needs its exchange rate ({home} for one {data.currency}): the "
                f"company's amounts are compared in {home}")
    return None



def kept_context(record: Record) -> dict[str, Any]:
    """Return the validation context of a change to a stored document: the values it keeps pass as stored."""
    return {"kept": record.model_dump(include={"id", "created_by", "customer", "vendor"})}


def patched_input(record: Record, changes: Mapping[str, Any]) -> RecordInput:
    """Return a document's writable fields with `changes` applied (a field set to null is cleared, one left out is
    kept), checked as a whole; raise InvalidChangeError naming each field a change makes invalid."""
    current = record.model_dump(include=set(RecordInput.model_fields), by_alias=True)
    try:
        return RecordInput.model_validate({**current, **changes}, context=kept_context(record))
    except ValidationError as exc:
        details = [{"path": ".".join(str(p) for p in e["loc"]) or "(body)",
                    "message": e["msg"].removeprefix("Value error, ")} for e in exc.errors()]
        raise InvalidChangeError("the change would leave the document invalid", details) from exc


class Record(RecordInput):
    """A stored document with its identity and approval state."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: RecordType
    id: Id
    approval_status: ApprovalStatus = ApprovalStatus.NONE
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None = None
    reminded_at: datetime | None = None
    reminder_count: int = Field(default=0, ge=0)

    def key(self) -> tuple[str, str]:
        """Return the (type, id) pair that identifies the record."""
        return (self.type.value, self.id)

    def reminded(self) -> bool:
        """Tell whether the customer was ever sent a payment reminder for this document."""
        return self.reminder_count > 0

    def contact_id(self) -> str | None:
        """Return the customer or vendor this document concerns."""
        return self.customer or self.vendor

    def in_home_currency(self, amount: Decimal) -> Decimal:
        """Return an amount of the document in the company's currency (as written when it carries no rate)."""
        return amount if self.exchange_rate is None else amount * self.exchange_rate

    def effective_balance(self) -> Decimal:
        """Return the open balance, defaulting to the amount (to nothing once the document is paid)."""
        if self.balance is not None:
            return self.balance
        return Decimal(0) if self.status is DocStatus.PAID else self.amount


# What GET adds to a document's writable fields: a body sent back as it was read repeats them.
ECHOED = ("type", "id", "approval_status", "created_at", "updated_at", "sent_at", "reminded_at", "reminder_count",
          "reminded", "approval")


class RecordEcho(RecordInput):
    """A document to save: its writable fields, and the read-only ones GET returns, which a body sent back as it was
    read repeats (`echo_problems` says which it may not; the others are ignored)."""

    type: RecordType | None = Field(default=None, json_schema_extra={"readOnly": True})
    id: Id | None = Field(default=None, json_schema_extra={"readOnly": True})
    approval_status: ApprovalStatus | None = Field(default=None, json_schema_extra={"readOnly": True})
    # Ignored, whatever they hold (PATCH ignores them too): what GET showed of them is not for a save to change.
    created_at: Any = Field(default=None, json_schema_extra={"readOnly": True})
    updated_at: Any = Field(default=None, json_schema_extra={"readOnly": True})
    sent_at: Any = Field(default=None, json_schema_extra={"readOnly": True})
    reminded_at: Any = Field(default=None, json_schema_extra={"readOnly": True})
    reminder_count: Any = Field(default=None, json_schema_extra={"readOnly": True})
    reminded: Any = Field(default=None, json_schema_extra={"readOnly": True})
    approval: Any = Field(default=None, json_schema_extra={"readOnly": True})

    def writable(self) -> RecordInput:
        """Return the writable fields, as a save takes them (already validated)."""
        return RecordInput.model_construct(**{name: getattr(self, name) for name in RecordInput.model_fields})

    def echoed(self) -> dict[str, Any]:
        """Return the read-only keys the body repeats (null ones too)."""
        return {name: getattr(self, name) for name in ECHOED if name in self.model_fields_set}


def echo_problems(echoed: Mapping[str, Any], record_type: RecordType, record_id: str,
                  stored: Record | None) -> list[dict[str, str]]:
    """Return why read-only keys a body repeats cannot be taken back: they name another document than the path, or
    an approval status other than the stored one (it changes through approvals only). Other ones are ignored."""
    problems = identity_problems(echoed, {"type": record_type.value, "id": record_id})
    if "approval_status" in echoed and (stored is None or stored.approval_status.value != echoed["approval_status"]):
        now = f"it is {stored.approval_status.value}" if stored else "the document is new"
        problems.append({"path": "approval_status", "message": f"changes through approvals only ({now})"})
    return problems


class ImportRow(RecordEcho):
    """One document of an import: its id and its writable fields (its source is `import` unless it says another),
    and the read-only keys GET returns, which a row exported as it was read repeats (checked as PUT checks them)."""

    id: NewId
    amount: Decimal  # a document imported without its amount is a mistake, not a zero
    source: Source = Source.IMPORT


class RecordImport(BaseModel):
    """Documents of one type imported together: every one is checked before any is saved."""

    model_config = ConfigDict(extra="forbid")

    records: list[ImportRow] = Field(min_length=1, max_length=MAX_IMPORT_ROWS)

    def repeated_ids(self) -> list[int]:
        """Return the positions of rows whose id an earlier row of the import has."""
        seen: set[str] = set()
        repeated = []
        for index, row in enumerate(self.records):
            if row.id in seen:
                repeated.append(index)
            seen.add(row.id)
        return repeated

    def echo_problems(self, record_type: RecordType, stored: Mapping[str, Record]) -> list[dict[str, str]]:
        """Return, path by row, why read-only keys the rows repeat cannot be taken back (`echo_problems`), each row
        against its `stored` document by id."""
        return [{"path": f"records.{index}.{problem['path']}", "message": problem["message"]}
                for index, row in enumerate(self.records)
                for problem in echo_problems(row.echoed(), record_type, row.id, stored.get(row.id))]

    def is_echoing_status(self) -> bool:
        """Return whether a row repeats its approval status (checked against the stored document)."""
        return any("approval_status" in row.model_fields_set for row in self.records)


class ContactKind(StrEnum):
    """Customers and vendors."""

    CUSTOMER = "customer"
    VENDOR = "vendor"


class ContactInput(BaseModel):
    """The writable fields of a customer or vendor."""

    model_config = ConfigDict(extra="forbid")

    name: Text = ""
    email: Text | None = None
    state: Text | None = None
    country: Text | None = None
    city: Text | None = None
    active: bool = Field(default=True, strict=True)
    reminders: bool = Field(default=True, strict=True)
    balance: Decimal = Decimal("0")
    fields: Annotated[dict[str, Any], AfterValidator(check_fields)] = Field(default_factory=dict)

    @field_validator("balance", mode="before")
    @classmethod
    def _exact_decimal(cls, value: Any) -> Any:
        return check_money(to_decimal(value))

    @field_validator("email")
    @classmethod
    def _an_address(cls, value: str | None) -> str | None:
        """Refuse what no e-mail can be sent to; a blank address is no address."""
        address = (value or "").strip()
        if address and not is_email(address):
            raise ValueError("not an e-mail address (name@example.com)")
        return address or None


class Contact(ContactInput):
    """A stored customer or vendor."""

    kind: ContactKind
    id: Id

    @field_validator("email")
    @classmethod
    def _an_address(cls, value: str | None) -> str | None:
        """Read back an address as stored (one kept before addresses were checked is only never mailed)."""
        return value

    def mail_address(self) -> str | None:
        """Return the address e-mail to this contact goes to, or None when it has none that can be mailed."""
        return self.email if self.email and is_email(self.email) else None


class ContactEcho(ContactInput):
    """A customer or vendor to save: its writable fields, and the read-only keys GET returns, which a body sent back
    as it was read repeats (`kind` and `id` must be the path's; `groups` is ignored: rules decide it)."""

    kind: Any = Field(default=None, json_schema_extra={"readOnly": True})
    id: Any = Field(default=None, json_schema_extra={"readOnly": True})
    groups: Any = Field(default=None, json_schema_extra={"readOnly": True})

    def contact(self, kind: ContactKind, contact_id: str) -> Contact:
        """Return the contact to save at this path; raise InvalidChangeError when `kind` or `id` name another."""
        echoed = self.model_dump(include={"kind", "id"} & self.model_fields_set)
        problems = identity_problems(echoed, {"kind": kind.value, "id": contact_id})
        if problems:
            raise InvalidChangeError("read-only keys differ from the contact's", problems)
        return Contact(**self.model_dump(include=set(ContactInput.model_fields)), kind=kind, id=contact_id)
