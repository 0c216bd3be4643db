"""The demo's company: its people, customers and vendors, workflow, rule, groups, reminders and documents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.approvals import Decision
from engine.records import ContactKind, RecordType

ADA, BOB, CARA, DAN = "U0ADA", "U0BOB", "U0CARA", "U0DAN"

CONTACTS: list[tuple[ContactKind, str, dict[str, Any]]] = [
    (ContactKind.CUSTOMER, "C-ACME", {"name": "Acme Corporation", "email": "billing@acme.example",
                                      "state": "CA", "country": "US", "city": "San Francisco", "balance": "18400.00"}),
    (ContactKind.CUSTOMER, "C-GLOBEX", {"name": "Globex Inc.", "email": "ap@globex.example", "state": "NY",
                                        "country": "US", "city": "New York", "balance": "3200.00"}),
    (ContactKind.CUSTOMER, "C-INITECH", {"name": "Initech", "email": "accounts@initech.example", "state": "TX",
                                         "country": "US", "city": "Austin", "balance": "8750.00"}),
    (ContactKind.CUSTOMER, "C-UMBRELLA", {"name": "Umbrella Health", "email": "finance@umbrella.example",
                                          "state": "WA", "country": "US", "city": "Seattle", "balance": "4100.00"}),
    (ContactKind.CUSTOMER, "C-STARK", {"name": "Stark Industries", "email": "payables@stark.example",
                                       "state": "NY", "country": "US", "city": "New York", "balance": "0"}),
    (ContactKind.CUSTOMER, "C-HOOLI", {"name": "Hooli", "email": "invoices@hooli.example", "state": "CA",
                                       "country": "US", "city": "Palo Alto", "balance": "1950.00"}),
    (ContactKind.CUSTOMER, "C-SOYLENT", {"name": "Soylent Foods", "email": "ap@soylent.example", "state": "NJ",
                                         "country": "US", "city": "Newark", "balance": "15000.00",
                                         "active": False}),
    (ContactKind.VENDOR, "V-PAPER", {"name": "Paper Supply Co.", "email": "orders@paper.example", "state": "PA",
                                     "country": "US", "city": "Scranton"}),
    (ContactKind.VENDOR, "V-CLOUD", {"name": "CloudHost Ltd", "email": "billing@cloudhost.example",
                                     "country": "GB", "city": "London"}),
]

INVOICE_APPROVAL: dict[str, Any] = {
    "name": "Invoice approval",
    "description": "Invoices over $1,000 are checked by Bob, then Cara.",
    "record_type": "invoice",
    "trigger": "created",
    "conditions": [{"field": "amount", "op": "gt", "value": "1000"}],
    "actions": [{
        "type": "approval", "channel": "#finance",
        "steps": [{"name": "Review", "approvers": [BOB], "min_approvers": 1},
                  {"name": "Sign-off", "approvers": [CARA], "min_approvers": 1}],
        "remind_every": "P1D", "escalate_after": "P3D", "escalate_to": [ADA], "expire_after": "P30D",
        "notify": ["dm", "home", "email"],
    }],
}
# A published rule: Acme's documents are pre-filled (⚡ on INV-1001, which waits for Bob).
RULES: list[dict[str, Any]] = [
    {"name": "Acme is an enterprise account", "description": "Acme's documents go to enterprise sales.",
     "conditions": [{"field": "customer", "op": "eq", "value": "C-ACME"}],
     "results": {"department": "Enterprise sales", "class": "Enterprise"}, "status": "published"},
]
# Customer payment reminders: three days before and three days after the due date, at 09:00.
INVOICE_REMINDERS: dict[str, Any] = {"enabled": True, "schedules": [{"offset_days": -3}, {"offset_days": 3}]}
REMINDED_INVOICE = "INV-1011"
# The two defaults a new company starts with, from the template catalog, told to #finance.
DEFAULT_OVERRIDES: dict[str, Any] = {"to": ["#finance"]}
# The people groups the catalog's templates name, and a customer group that follows its filter.
GROUPS: list[dict[str, Any]] = [
    {"name": "finance-team", "kind": "people", "description": "Everyone in finance",
     "members": [ADA, BOB, CARA]},
    {"name": "finance-approvers", "kind": "people", "description": "Who approves documents",
     "members": [BOB, CARA]},
    {"name": "finance-leads", "kind": "people", "description": "Who signs off large amounts", "members": [ADA]},
    {"name": "california-customers", "kind": "customer", "description": "Active customers in California",
     "filters": [{"field": "state", "op": "eq", "value": "CA"}, {"field": "active", "op": "eq", "value": True}]},
]


@dataclass(frozen=True)
class DemoDocument:
    """One seeded document and where the seed leaves its approval."""

    type: RecordType
    id: str
    data: dict[str, Any]
    due_in_days: int | None  # None: the next customer reminder falls within the next day
    submit: bool = False
    votes: tuple[tuple[str, Decision, str | None], ...] = ()


def _invoice(
    record_id: str, amount: str, customer: str, memo: str, due_in_days: int | None, **more: Any
) -> DemoDocument:
    data = {"amount": amount, "currency": "USD", "customer": customer, "created_by": DAN,
            "source": "manual", "memo": memo, **more.pop("data", {})}
    return DemoDocument(RecordType.INVOICE, record_id, data, due_in_days, **more)


APPROVE, REJECT = Decision.APPROVE, Decision.REJECT
DOCUMENTS: tuple[DemoDocument, ...] = (
    _invoice("INV-1001", "12500.00", "C-ACME", "Annual platform licence", 30, submit=True),
    _invoice("INV-1002", "3200.00", "C-GLOBEX", "Q3 consulting, 16 days", 21, submit=True),
    _invoice("INV-1003", "8750.00", "C-INITECH", "Data migration project", 14, submit=True,
             votes=((BOB, APPROVE, None),)),
    _invoice("INV-1004", "4100.00", "C-UMBRELLA", "Support renewal", 30, submit=True,
             votes=((BOB, APPROVE, None),)),
    _invoice("INV-1005", "2400.00", "C-STARK", "Workshop, 2 days", 10, submit=True,
             votes=((BOB, APPROVE, None), (CARA, APPROVE, None))),
    _invoice("INV-1006", "6300.00", "C-GLOBEX", "Hardware resale", 30, submit=True,
             votes=((BOB, REJECT, "Duplicate of INV-0998; please void it instead."),)),
    _invoice("INV-1007", "1950.00", "C-HOOLI", "Travel costs re-billed", 30),
    _invoice("INV-1008", "15000.00", "C-SOYLENT", "Implementation, phase 1", 45),
    _invoice("INV-1009", "640.00", "C-ACME", "Extra seats, pro rata", 30),
    _invoice("INV-1010", "5400.00", "C-ACME", "Usage overage, imported from the billing app", 30,
             data={"source": "app"}),
    _invoice(REMINDED_INVOICE, "900.00", "C-GLOBEX", "Training day, sent to the customer", None,
             data={"status": "sent", "email_status": "sent"}),
    DemoDocument(RecordType.BILL, "BILL-2001", {"amount": "480.00", "vendor": "V-PAPER", "created_by": ADA,
                                                "memo": "Printer paper and toner"}, 2),
    DemoDocument(RecordType.BILL, "BILL-2002", {"amount": "1299.00", "vendor": "V-CLOUD", "created_by": ADA,
                                                "memo": "Hosting, this month"}, 12),
)
