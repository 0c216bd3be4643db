"""The template catalog: ready workflows an admin creates in one step, then adjusts."""

from __future__ import annotations

from collections.abc import Mapping
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from engine.actions import sample_contact, sample_record
from engine.dates import local_date
from engine.errors import InvalidDefinitionError
from engine.records import Contact, Record
from engine.workflows import WorkflowDefinition, parse_definition

APPROVERS = "group:finance-approvers"
LEADS = "group:finance-leads"
TEAM = "group:finance-team"
CHANNEL = "#finance"
EVERY_WEEKDAY_9 = "0 9 * * 1-5"
EVERY_DAY_9 = "0 9 * * *"
DEFAULT_SLUGS = ("bill-payment-reminder", "unsent-invoice-reminder")
OVERRIDE_KEYS = frozenset(
    {"name", "description", "enabled", "status", "schedule", "conditions", "approvers", "escalate_to", "channel", "to"}
)
DATE_OFFSET_FIELDS = ("due_date", "txn_date")
# only documents that may go to the customer: they need no approval or have it (storage migration 0011 adds it too)
MAY_BE_SENT: dict[str, Any] = {"field": "approval_status", "op": "in", "value": ["none", "approved"]}

AMOUNT = "{{ record.amount | money(record.currency) }}"
BALANCE = "{{ record.balance | money(record.currency) }}"
WHO = "{{ contact.name or record.customer or record.vendor }}"
SIGNATURE = "\n\nKind regards,\n{{ company.name or 'Accounts receivable' }}"


@dataclass(frozen=True)
class CatalogTemplate:
    """One ready workflow: its slug, wording for the picker, definition and a sample it fires on."""

    slug: str
    title: str
    description: str
    category: str
    definition: WorkflowDefinition
    sample: Mapping[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Return the picker entry as JSON."""
        return {"slug": self.slug, "title": self.title, "description": self.description, "category": self.category,
                "record_type": self.definition.record_type.value, "trigger": self.definition.trigger.value,
                "is_default": self.slug in DEFAULT_SLUGS}


def _approval(record_type: str, over: str) -> dict[str, Any]:
    return {
        "record_type": record_type, "trigger": "created",
        "conditions": [{"field": "amount", "op": "gt", "value": over}] if over else [],
        "actions": [{"type": "approval", "steps": [{"approvers": [APPROVERS], "min_approvers": 1}],
                     "remind_every": "P1D", "expire_after": "P30D"}],
    }


def _scheduled(record_type: str, conditions: list[dict[str, Any]], action: dict[str, Any],
               schedule: str = EVERY_WEEKDAY_9) -> dict[str, Any]:
    return {"record_type": record_type, "trigger": "scheduled", "schedule": schedule,
            "conditions": conditions, "actions": [action]}


def _on(record_type: str, trigger: str, conditions: list[dict[str, Any]], action: dict[str, Any],
        trigger_fields: list[str] | None = None) -> dict[str, Any]:
    return {"record_type": record_type, "trigger": trigger, "trigger_fields": trigger_fields or [],
            "conditions": conditions, "actions": [action]}


def _remind(message: str) -> dict[str, Any]:
    return {"type": "reminder", "to": [TEAM], "message": message}


def _notify(message: str) -> dict[str, Any]:
    return {"type": "notification", "channel": CHANNEL, "message": message}


def _send(subject: str, body: str, copy_sender: bool = False) -> dict[str, Any]:
    return {"type": "send", "subject": subject, "body": body + SIGNATURE, "copy_sender": copy_sender}


def _cond(name: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"field": name, "op": op, "value": value} if value is not None else {"field": name, "op": op}


OPEN_BALANCE = _cond("balance", "gt", "0")
# A payment reminder goes as the invoice reminders do: for a finalised invoice, to a customer who takes reminders.
REMINDABLE = [_cond("status", "in", ["open", "sent"]), _cond("customer.active", "eq", True),
              _cond("customer.reminders", "eq", True)]

_APPROVALS: list[tuple[str, str, str, dict[str, Any], dict[str, Any]]] = [
    ("invoice-approval", "Invoice approval",
     "Invoices over 5,000 wait for a finance approver before they go out.",
     _approval("invoice", "5000"), {"amount": "7500"}),
    ("large-invoice-two-step-approval", "Large invoice: two-step approval",
     "Invoices over 25,000 need a finance approver, then a finance lead; the team channel is told.",
     {**_approval("invoice", "25000"),
      "actions": [
          {"type": "approval", "steps": [{"approvers": [APPROVERS]}, {"approvers": [LEADS]}],
           "remind_every": "P1D", "escalate_after": "P3D", "escalate_to": [LEADS], "expire_after": "P30D"},
          _notify(f"Invoice {{{{ record.id }}}} for {AMOUNT} to {WHO} awaits a two-step approval."),
      ]},
     {"amount": "30000"}),
    ("bill-approval", "Bill approval", "Bills over 1,000 are approved before they are paid.",
     _approval("bill", "1000"), {"amount": "2500"}),
    ("purchase-order-approval", "Purchase order approval",
     "Purchase orders over 2,500 are approved before they reach the vendor.",
     _approval("purchase_order", "2500"), {"amount": "4000"}),
    ("estimate-approval", "Estimate approval", "Estimates over 10,000 are reviewed before they are sent.",
     _approval("estimate", "10000"), {"amount": "12000"}),
    ("expense-approval", "Expense approval", "Expenses over 500 are approved by finance.",
     _approval("expense", "500"), {"amount": "750"}),
    ("credit-memo-approval", "Credit memo approval", "Every credit memo is approved before it is applied.",
     _approval("credit_memo", ""), {}),
    ("vendor-credit-approval", "Vendor credit approval", "Every vendor credit is approved before it is used.",
     _approval("vendor_credit", ""), {}),
    ("bill-payment-approval", "Large bill payment approval", "Bill payments over 10,000 need an approval.",
     _approval("bill_payment", "10000"), {"amount": "15000"}),
    ("sales-receipt-approval", "Sales receipt approval",
     "Sales receipts over 5,000 are approved before they are sent to the customer.",
     _approval("sales_receipt", "5000"), {"amount": "6000"}),
    ("large-deposit-approval", "Large deposit approval",
     "Deposits over 50,000 are checked by a finance approver.",
     _approval("deposit", "50000"), {"amount": "60000"}),
    ("large-bill-two-step-approval", "Large bill: two-step approval",
     "Bills over 20,000 need a finance approver, then a finance lead; after 3 days the leads are asked.",
     {**_approval("bill", "20000"),
      "actions": [{"type": "approval", "steps": [{"approvers": [APPROVERS]}, {"approvers": [LEADS]}],
                   "remind_every": "P1D", "escalate_after": "P3D", "escalate_to": [LEADS], "expire_after": "P30D"}]},
     {"amount": "25000"}),
    ("bill-approval-by-department", "Bill approval by department",
     "Bills over 500 charged to the Operations or IT department are approved by a finance approver.",
     {**_approval("bill", ""), "conditions": [_cond("department", "in", ["Operations", "IT"]),
                                               _cond("amount", "gt", "500")]},
     {"department": "IT", "amount": "800"}),
    ("purchase-order-approval-by-department", "Purchase order approval by department",
     "Marketing purchase orders over 1,000 are approved by a finance lead.",
     {**_approval("purchase_order", ""),
      "conditions": [_cond("department", "eq", "Marketing"), _cond("amount", "gt", "1000")],
      "actions": [{"type": "approval", "steps": [{"approvers": [LEADS], "min_approvers": 1}],
                   "remind_every": "P1D", "expire_after": "P30D"}]},
     {"department": "Marketing", "amount": "1800"}),
    ("expense-approval-by-vendor", "Expense approval by vendor",
     "Expenses paid to the vendors you list (travel agencies, airlines…) are approved by finance.",
     {**_approval("expense", ""), "conditions": [_cond("vendor", "in", ["V-TRAVEL", "V-AIRLINE"])]},
     {"vendor": "V-TRAVEL"}),
    ("foreign-currency-bill-payment-approval", "Foreign-currency bill payment approval",
     "Bill payments in another currency than US dollars are approved before they leave.",
     {**_approval("bill_payment", ""), "conditions": [_cond("currency", "ne", "USD")]},
     {"currency": "EUR"}),
]

_REMINDERS: list[tuple[str, str, str, dict[str, Any], dict[str, Any]]] = [
    ("bill-payment-reminder", "Bill payment reminder",
     "Every weekday morning, reminds the team of bills due within 3 days.",
     _scheduled("bill", [_cond("due_date", "due_within_days", 3), OPEN_BALANCE], _remind(
         f"Bill {{{{ record.id }}}} from {WHO} for {BALANCE} is due {{{{ record.due_date | day }}}}.")),
     {"due_date": 2}),
    ("unsent-invoice-reminder", "Unsent invoice reminder",
     "Every weekday morning, reminds the team of open invoices created a day or more ago and not yet sent.",
     _scheduled("invoice", [_cond("email_status", "eq", "not_sent"), _cond("status", "eq", "open"),
                            _cond("created_at", "days_since_at_least", 1), MAY_BE_SENT], _remind(
         f"Invoice {{{{ record.id }}}} to {WHO} for {AMOUNT} has not been sent yet.")),
     {"created_days_ago": 2}),
    ("bank-deposit-reminder", "Bank deposit reminder",
     "Reminds the team to deposit customer payments received 2 or more days ago that are not marked "
     "deposited (custom field `deposited`).",
     _scheduled("payment", [_cond("txn_date", "days_since_at_least", 2), _cond("fields.deposited", "ne", True)],
                _remind(f"Payment {{{{ record.id }}}} of {AMOUNT} from {WHO} is waiting to be deposited.")),
     {"txn_date": -3}),
    ("expense-receipt-reminder", "Missing receipt reminder",
     "Reminds the team of expenses with no receipt (custom field `receipt`) a day after they are entered.",
     _scheduled("expense", [_cond("fields.receipt", "is_empty"), _cond("created_at", "days_since_at_least", 1)],
                _remind(f"Expense {{{{ record.id }}}} for {AMOUNT} has no receipt attached.")),
     {"created_days_ago": 2}),
    ("purchase-order-follow-up", "Open purchase order follow-up",
     "Reminds the team of purchase orders still open two weeks after their date.",
     _scheduled("purchase_order", [_cond("status", "eq", "open"), _cond("txn_date", "days_since_at_least", 14)],
                _remind(f"Purchase order {{{{ record.id }}}} to {WHO} for {AMOUNT} is still open after two weeks.")),
     {"txn_date": -15}),
    ("purchase-order-receipt-follow-up", "Purchase order receipt follow-up",
     "Reminds the team to check the goods of open purchase orders 3 days after their expected date.",
     _scheduled("purchase_order", [_cond("status", "eq", "open"), _cond("due_date", "overdue_by_days", 3)],
                _remind(f"Purchase order {{{{ record.id }}}} to {WHO} was expected {{{{ record.due_date | day }}}}: "
                        "has it been received?")),
     {"due_date": -4}),
    ("expiring-estimate-reminder", "Expiring estimate reminder",
     "Reminds the team of open or sent estimates that expire within 7 days.",
     _scheduled("estimate", [_cond("status", "in", ["open", "sent"]), _cond("due_date", "due_within_days", 7)],
                _remind(f"Estimate {{{{ record.id }}}} to {WHO} for {AMOUNT} expires "
                        "{{ record.due_date | day }}.")),
     {"due_date": 5}),
    ("unsent-estimate-reminder", "Unsent estimate reminder",
     "Reminds the team of open estimates created a day or more ago and not yet sent.",
     _scheduled("estimate", [_cond("email_status", "eq", "not_sent"), _cond("status", "eq", "open"),
                             _cond("created_at", "days_since_at_least", 1), MAY_BE_SENT],
                _remind(f"Estimate {{{{ record.id }}}} to {WHO} for {AMOUNT} has not been sent yet.")),
     {"created_days_ago": 2}),
    ("overdue-bill-reminder", "Overdue bill reminder",
     "Every weekday morning, reminds the team of bills past their due date that still have a balance.",
     _scheduled("bill", [_cond("due_date", "overdue_by_days", 1), OPEN_BALANCE],
                _remind(f"Bill {{{{ record.id }}}} from {WHO} for {BALANCE} was due {{{{ record.due_date | day }}}}.")),
     {"due_date": -2}),
    ("unapplied-payment-reminder", "Unapplied payment reminder",
     "Reminds the team of customer payments with an amount still unapplied 3 days after they were received.",
     _scheduled("payment", [OPEN_BALANCE, _cond("txn_date", "days_since_at_least", 3)],
                _remind(f"Payment {{{{ record.id }}}} from {WHO} still has {BALANCE} to apply to invoices.")),
     {"txn_date": -4}),
    ("deposit-reconciliation-reminder", "Deposit reconciliation reminder",
     "Reminds the team of deposits not reconciled (custom field `reconciled`) a week after their date.",
     _scheduled("deposit", [_cond("fields.reconciled", "ne", True), _cond("txn_date", "days_since_at_least", 7)],
                _remind(f"Deposit {{{{ record.id }}}} of {AMOUNT} is not reconciled yet.")),
     {"txn_date": -8}),
    ("expense-reimbursement-reminder", "Expense reimbursement reminder",
     "Reminds the team of expenses still open two weeks after their date, so employees get reimbursed.",
     _scheduled("expense", [_cond("status", "eq", "open"), _cond("txn_date", "days_since_at_least", 14)],
                _remind(f"Expense {{{{ record.id }}}} for {AMOUNT} is still open after two weeks.")),
     {"txn_date": -15}),
    ("unused-vendor-credit-reminder", "Unused vendor credit reminder",
     "Reminds the team of vendor credits with a balance left a month after their date, to use them on bills.",
     _scheduled("vendor_credit", [OPEN_BALANCE, _cond("txn_date", "days_since_at_least", 30)],
                _remind(f"Vendor credit {{{{ record.id }}}} from {WHO} still has {BALANCE} to use on their bills.")),
     {"txn_date": -31}),
    ("unapplied-credit-memo-reminder", "Unapplied credit memo reminder",
     "Reminds the team of credit memos with a balance left a month after their date.",
     _scheduled("credit_memo", [OPEN_BALANCE, _cond("txn_date", "days_since_at_least", 30)],
                _remind(f"Credit memo {{{{ record.id }}}} to {WHO} still has {BALANCE} to apply.")),
     {"txn_date": -31}),
]

_CUSTOMER_EMAILS: list[tuple[str, str, str, dict[str, Any], dict[str, Any]]] = [
    ("payment-due-reminder", "Payment due reminder",
     "E-mails customers whose invoice is due within 3 days and still has a balance.",
     _scheduled("invoice", [_cond("due_date", "due_within_days", 3), OPEN_BALANCE, *REMINDABLE], _send(
         "Reminder: invoice {{ record.id }} is due {{ record.due_date | day }}",
         f"Hello {WHO},\n\nThis is a friendly reminder that invoice {{{{ record.id }}}} for {BALANCE} "
         "is due on {{ record.due_date | day }}.")), {"due_date": 2}),
    ("unsent-invoice-send", "Send unsent invoices automatically",
     "E-mails open invoices that were not sent a day after they were created, with a copy to the sender.",
     _scheduled("invoice", [_cond("email_status", "eq", "not_sent"), _cond("status", "eq", "open"),
                            _cond("created_at", "days_since_at_least", 1)], _send(
         "Invoice {{ record.id }} from {{ company.name or 'us' }}",
         f"Hello {WHO},\n\nPlease find invoice {{{{ record.id }}}} for {AMOUNT}, "
         "due on {{ record.due_date | day }}.", copy_sender=True)), {"created_days_ago": 2}),
    ("overdue-invoice-customer-reminder", "Overdue invoice reminder",
     "E-mails customers whose invoice is a week or more overdue.",
     _scheduled("invoice", [_cond("due_date", "overdue_by_days", 7), OPEN_BALANCE, *REMINDABLE], _send(
         "Invoice {{ record.id }} is overdue",
         f"Hello {WHO},\n\nOur records show that invoice {{{{ record.id }}}} for {BALANCE} was due on "
         "{{ record.due_date | day }}. Please let us know when we can expect payment.")), {"due_date": -10}),
    ("payment-received-thanks", "Payment received: thank you",
     "Thanks the customer by e-mail when their payment is recorded.",
     _on("payment", "created", [], _send(
         "Thank you for your payment",
         f"Hello {WHO},\n\nWe received your payment of {AMOUNT}. Thank you!")), {}),
    ("sales-receipt-thank-you", "Sales receipt thank-you",
     "E-mails the customer a thank-you with their sales receipt.",
     _on("sales_receipt", "created", [], _send(
         "Your receipt {{ record.id }}",
         f"Hello {WHO},\n\nThank you for your purchase of {AMOUNT} (receipt {{{{ record.id }}}}).")), {}),
    ("estimate-follow-up", "Estimate follow-up",
     "A week after an estimate, asks the customer whether they have questions.",
     _scheduled("estimate", [_cond("status", "in", ["open", "sent"]), _cond("txn_date", "days_since_at_least", 7)],
                _send("Following up on estimate {{ record.id }}",
                      f"Hello {WHO},\n\nWe sent you estimate {{{{ record.id }}}} for {AMOUNT}. "
                      "Do you have any questions, or shall we go ahead?")), {"txn_date": -8}),
    ("invoice-due-today-email", "Invoice due today",
     "On the due date, e-mails customers whose invoice still has a balance.",
     _scheduled("invoice", [_cond("due_date", "is_today"), OPEN_BALANCE, *REMINDABLE], _send(
         "Invoice {{ record.id }} is due today",
         f"Hello {WHO},\n\nInvoice {{{{ record.id }}}} for {BALANCE} is due today. "
         "If you have already paid it, thank you and please ignore this message."), EVERY_DAY_9), {"due_date": 0}),
    ("expiring-estimate-email", "Estimate expiring soon",
     "E-mails customers whose sent estimate expires within 5 days.",
     _scheduled("estimate", [_cond("status", "eq", "sent"), _cond("due_date", "due_within_days", 5)], _send(
         "Estimate {{ record.id }} expires {{ record.due_date | day }}",
         f"Hello {WHO},\n\nOur estimate {{{{ record.id }}}} for {AMOUNT} is valid until "
         "{{ record.due_date | day }}. Let us know if you would like to go ahead.")),
     {"status": "sent", "due_date": 3}),
    ("unsent-sales-receipt-send", "Send unsent sales receipts",
     "E-mails sales receipts that were not sent a day after they were created, with a copy to the sender.",
     _scheduled("sales_receipt", [_cond("email_status", "eq", "not_sent"),
                                  _cond("created_at", "days_since_at_least", 1), MAY_BE_SENT], _send(
         "Your receipt {{ record.id }} from {{ company.name or 'us' }}",
         f"Hello {WHO},\n\nPlease find your sales receipt {{{{ record.id }}}} for {AMOUNT}.", copy_sender=True)),
     {"created_days_ago": 2}),
    ("bill-payment-remittance", "Bill payment remittance advice",
     "E-mails the vendor a remittance advice when a bill payment is recorded.",
     _on("bill_payment", "created", [MAY_BE_SENT], _send(
         "Payment {{ record.id }} is on its way",
         f"Hello {WHO},\n\nWe have paid {AMOUNT} (payment {{{{ record.id }}}}, "
         "{{ record.txn_date | day }}). Please allow a few days for it to reach your account.")), {}),
    ("purchase-order-send", "Send purchase orders to vendors",
     "E-mails open purchase orders not yet sent a day after they were created (once approved, if they need it).",
     _scheduled("purchase_order", [_cond("email_status", "eq", "not_sent"), _cond("status", "eq", "open"),
                                   _cond("created_at", "days_since_at_least", 1), MAY_BE_SENT], _send(
         "Purchase order {{ record.id }} from {{ company.name or 'us' }}",
         f"Hello {WHO},\n\nPlease find our purchase order {{{{ record.id }}}} for {AMOUNT}, "
         "expected by {{ record.due_date | day }}.", copy_sender=True)), {"created_days_ago": 2}),
    ("credit-memo-send", "Send credit memos",
     "E-mails the customer their credit memo when it is created (once approved, if it needs it).",
     _on("credit_memo", "created", [MAY_BE_SENT], _send(
         "Credit memo {{ record.id }}",
         f"Hello {WHO},\n\nWe have issued credit memo {{{{ record.id }}}} for {AMOUNT} to your account.")), {}),
]

_NOTIFICATIONS: list[tuple[str, str, str, dict[str, Any], dict[str, Any]]] = [
    ("large-payment-notification", "Large payment received",
     "Tells the finance channel about every payment of 10,000 or more.",
     _on("payment", "created", [_cond("amount", "gte", "10000")],
         _notify(f"💰 Payment {{{{ record.id }}}} of {AMOUNT} received from {WHO}.")), {"amount": "12000"}),
    ("new-vendor-bill-notification", "New vendor bill",
     "Tells the finance channel about every new bill.",
     _on("bill", "created", [], _notify(
         f"New bill {{{{ record.id }}}} from {WHO} for {AMOUNT}, due {{{{ record.due_date | day }}}}.")), {}),
    ("overdue-invoice-escalation", "Overdue invoice escalation",
     "Escalates invoices 30 or more days overdue to the finance channel.",
     _scheduled("invoice", [_cond("due_date", "overdue_by_days", 30), OPEN_BALANCE], _notify(
         f"🚨 Invoice {{{{ record.id }}}} to {WHO} is 30+ days overdue: {BALANCE} "
         "was due {{ record.due_date | day }}.")), {"due_date": -35}),
    ("invoice-paid-notification", "Invoice paid",
     "Tells the finance channel when an invoice is marked paid.",
     _on("invoice", "updated", [_cond("status", "eq", "paid")], _notify(
         f"✅ Invoice {{{{ record.id }}}} to {WHO} for {AMOUNT} is paid."), ["status"]), {"status": "paid"}),
    ("invoice-voided-notification", "Invoice voided",
     "Tells the finance channel when an invoice is voided.",
     _on("invoice", "updated", [_cond("status", "eq", "void")], _notify(
         f"Invoice {{{{ record.id }}}} to {WHO} for {AMOUNT} was voided."), ["status"]), {"status": "void"}),
    ("large-deposit-notification", "Large deposit",
     "Tells the finance channel about every deposit of 25,000 or more.",
     _on("deposit", "created", [_cond("amount", "gte", "25000")],
         _notify(f"🏦 Deposit {{{{ record.id }}}} of {AMOUNT} recorded.")), {"amount": "30000"}),
    ("bill-due-today-notification", "Bills due today",
     "Each morning, posts the bills due today that still have a balance.",
     _scheduled("bill", [_cond("due_date", "is_today"), OPEN_BALANCE], _notify(
         f"📅 Bill {{{{ record.id }}}} from {WHO} for {BALANCE} is due today."), EVERY_DAY_9), {"due_date": 0}),
    ("large-invoice-notification", "Large invoice created",
     "Tells the finance channel about every invoice of 50,000 or more.",
     _on("invoice", "created", [_cond("amount", "gte", "50000")],
         _notify(f"🧾 Invoice {{{{ record.id }}}} for {AMOUNT} to {WHO} was created.")), {"amount": "55000"}),
    ("unusual-credit-memo-notification", "Unusual credit memo",
     "Tells the finance channel about every credit memo of 2,000 or more.",
     _on("credit_memo", "created", [_cond("amount", "gte", "2000")],
         _notify(f"⚠️ Credit memo {{{{ record.id }}}} of {AMOUNT} was issued to {WHO}.")), {"amount": "2500"}),
    ("vendor-credit-notification", "Vendor credit received",
     "Tells the finance channel about every vendor credit of 1,000 or more, to use on the next bills.",
     _on("vendor_credit", "created", [_cond("amount", "gte", "1000")],
         _notify(f"Vendor credit {{{{ record.id }}}} of {AMOUNT} from {WHO} is available.")), {"amount": "1500"}),
    ("large-bill-payment-notification", "Large bill payment",
     "Tells the finance channel about every bill payment of 10,000 or more.",
     _on("bill_payment", "created", [_cond("amount", "gte", "10000")],
         _notify(f"💸 Bill payment {{{{ record.id }}}} of {AMOUNT} to {WHO} was recorded.")), {"amount": "12000"}),
    ("large-expense-notification", "Large expense",
     "Tells the finance channel about every expense of 2,000 or more.",
     _on("expense", "created", [_cond("amount", "gte", "2000")],
         _notify(f"Expense {{{{ record.id }}}} of {AMOUNT} to {WHO} was recorded.")), {"amount": "2400"}),
    ("sales-receipt-voided-notification", "Sales receipt voided",
     "Tells the finance channel when a sales receipt is voided.",
     _on("sales_receipt", "updated", [_cond("status", "eq", "void")], _notify(
         f"Sales receipt {{{{ record.id }}}} to {WHO} for {AMOUNT} was voided."), ["status"]), {"status": "void"}),
]

_BOOKKEEPING: list[tuple[str, str, str, dict[str, Any], dict[str, Any]]] = [
    ("overdue-memo-stamp", "Stamp overdue invoices",
     "Sets the memo of invoices overdue with a balance to OVERDUE.",
     _scheduled("invoice", [_cond("due_date", "overdue_by_days", 1), OPEN_BALANCE, _cond("memo", "ne", "OVERDUE")],
                {"type": "update", "field": "memo", "value": "OVERDUE"}, EVERY_DAY_9), {"due_date": -3}),
    ("mark-paid-invoices", "Mark fully paid invoices paid",
     "Sets an invoice's status to paid when its balance reaches zero.",
     _on("invoice", "updated", [_cond("balance", "eq", "0"), _cond("status", "ne", "paid")],
         {"type": "update", "field": "status", "value": "paid"}, ["balance"]), {"balance": "0"}),
    ("overdue-bill-memo-stamp", "Stamp overdue bills",
     "Sets the memo of bills overdue with a balance to OVERDUE.",
     _scheduled("bill", [_cond("due_date", "overdue_by_days", 1), OPEN_BALANCE, _cond("memo", "ne", "OVERDUE")],
                {"type": "update", "field": "memo", "value": "OVERDUE"}, EVERY_DAY_9), {"due_date": -3}),
    ("expired-estimate-stamp", "Stamp expired estimates",
     "Sets the memo of open or sent estimates past their expiration date to EXPIRED.",
     _scheduled("estimate", [_cond("due_date", "overdue_by_days", 1), _cond("status", "in", ["open", "sent"]),
                             _cond("memo", "ne", "EXPIRED")],
                {"type": "update", "field": "memo", "value": "EXPIRED"}, EVERY_DAY_9), {"due_date": -2}),
    ("mark-paid-bills", "Mark fully paid bills paid",
     "Sets a bill's status to paid when its balance reaches zero.",
     _on("bill", "updated", [_cond("balance", "eq", "0"), _cond("status", "ne", "paid")],
         {"type": "update", "field": "status", "value": "paid"}, ["balance"]), {"balance": "0"}),
]

_GROUPS = {"approval": _APPROVALS, "reminder": _REMINDERS, "customer-email": _CUSTOMER_EMAILS,
           "notification": _NOTIFICATIONS, "bookkeeping": _BOOKKEEPING}


@cache
def catalog() -> tuple[CatalogTemplate, ...]:
    """Return every catalog template, each definition validated."""
    found = []
    for category, entries in _GROUPS.items():
        for slug, title, description, data, sample in entries:
            definition = parse_definition({"name": title, "description": description, **data})
            found.append(CatalogTemplate(slug, title, description, category, definition, sample))
    return tuple(found)


def find_template(slug: str) -> CatalogTemplate | None:
    """Return the catalog template with this slug, or None."""
    return next((t for t in catalog() if t.slug == slug), None)


def default_workflow_id(slug: str) -> str:
    """Return the fixed id of a default workflow seeded in a new database."""
    return "wf_default_" + slug.replace("-", "_")


def _replace_refs(action: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    kind = action.get("type")
    if kind == "approval" and "approvers" in overrides:
        approvers = overrides["approvers"]
        per_step = approvers if approvers and all(isinstance(a, list) for a in approvers) else None
        for index, step in enumerate(action["steps"]):
            step["approvers"] = per_step[min(index, len(per_step) - 1)] if per_step else approvers
    if kind == "approval" and "escalate_to" in overrides:
        action["escalate_to"] = overrides["escalate_to"]
    if kind in ("reminder", "notification") and "to" in overrides:
        action["to"] = overrides["to"]
    if kind == "notification" and "channel" in overrides:
        action["channel"] = overrides["channel"]


def customize(template: CatalogTemplate, overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return the template's definition as JSON with an admin's overrides applied (validated later)."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - OVERRIDE_KEYS)
    if unknown:
        details = [{"path": key, "message": f"unknown override; use {', '.join(sorted(OVERRIDE_KEYS))}"}
                   for key in unknown]
        raise InvalidDefinitionError(f"unknown override {unknown[0]!r}", details)
    data = deepcopy(template.definition.model_dump(mode="json"))
    for key in ("name", "description", "enabled", "status", "schedule", "conditions"):
        if key in overrides:
            data[key] = overrides[key]
    for action in data["actions"]:
        _replace_refs(action, overrides)
    return data


def sample_for(template: CatalogTemplate, now: datetime, tz: ZoneInfo) -> tuple[Record, Contact]:
    """Return a document and its contact on which the template fires at `now`."""
    record_type = template.definition.record_type
    base = sample_record(record_type, now, tz)
    sample = dict(template.sample)
    today = local_date(now, tz)
    changes: dict[str, Any] = {}
    for name in DATE_OFFSET_FIELDS:
        if name in sample:
            changes[name] = today + timedelta(days=int(sample.pop(name)))
    if "created_days_ago" in sample:
        changes["created_at"] = now - timedelta(days=int(sample.pop("created_days_ago")))
    data = {**base.model_dump(by_alias=True), **sample, **changes}
    return Record.model_validate(data), sample_contact(record_type)
