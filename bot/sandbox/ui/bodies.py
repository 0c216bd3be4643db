"""What the page sends: who views it, clicks, submissions, commands, new documents and clock moves."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

APP_CONVERSATION = "app"


class ViewerBody(BaseModel):
    """Who the page is viewed as."""

    model_config = ConfigDict(extra="forbid")

    viewer: str = Field(min_length=1, max_length=64)


class ClickBody(ViewerBody):
    """A click on an element of a message (channel + ts) or of a view (view_id)."""

    action_id: str = Field(min_length=1, max_length=255)
    block_id: str | None = Field(default=None, max_length=255)
    channel: str | None = None
    ts: str | None = None
    view_id: str | None = None
    value: str | list[str] | None = None
    state: dict[str, dict[str, str | list[str] | None]] = Field(default_factory=dict)


class SubmitBody(ViewerBody):
    """A modal submission: input values keyed by block_id."""

    view_id: str = Field(min_length=1)
    values: dict[str, str | list[str] | None] = Field(default_factory=dict)
    state: dict[str, dict[str, str | list[str] | None]] = Field(default_factory=dict)


class CloseBody(ViewerBody):
    """The user closes a modal."""

    view_id: str = Field(min_length=1)


class CommandBody(ViewerBody):
    """A slash command typed in a conversation (`app` is the DM with Signoff)."""

    text: str = Field(min_length=1, max_length=4000)
    channel: str = APP_CONVERSATION


DOCUMENT_TYPES = ("invoice", "bill", "purchase_order", "estimate", "expense", "sales_receipt", "payment",
                  "bill_payment", "deposit", "credit_memo", "vendor_credit")
VENDOR_TYPES = frozenset({"bill", "purchase_order", "expense", "bill_payment", "vendor_credit"})
ID_PREFIXES = {"invoice": "INV", "bill": "BILL", "purchase_order": "PO", "estimate": "EST", "expense": "EXP",
               "sales_receipt": "SR", "payment": "PAY", "bill_payment": "BP", "deposit": "DEP",
               "credit_memo": "CM", "vendor_credit": "VC"}


class DocumentBody(BaseModel):
    """The New document form: what an integration would PUT to /api/v1/records/{type}/{id}."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(default="invoice", pattern="^(" + "|".join(DOCUMENT_TYPES) + ")$")
    id: str | None = Field(default=None, max_length=64)
    amount: str = Field(min_length=1, max_length=40)
    currency: str = Field(default="USD", min_length=3, max_length=3)
    contact: str | None = Field(default=None, max_length=64)
    department: str | None = Field(default=None, max_length=200)
    memo: str | None = Field(default=None, max_length=4000)
    source: str = Field(default="app", max_length=40)
    due_date: str | None = Field(default=None, max_length=20)
    created_by: str | None = Field(default=None, max_length=64)
    submit: bool = False

    def record(self) -> dict[str, Any]:
        """Return the record body the REST API takes."""
        party = "vendor" if self.type in VENDOR_TYPES else "customer"
        data = {"amount": self.amount, "currency": self.currency.upper(), party: self.contact,
                "department": self.department, "memo": self.memo, "source": self.source,
                "due_date": self.due_date, "created_by": self.created_by}
        return {key: value for key, value in data.items() if value not in (None, "")}


class ClockBody(BaseModel):
    """How far to move the test clock (an ISO 8601 duration)."""

    model_config = ConfigDict(extra="forbid")

    advance: str = Field(min_length=2, max_length=40)
