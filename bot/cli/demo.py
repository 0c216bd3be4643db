"""`signoff demo`: the sandbox with a small finance team, its workflows and a dozen documents."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import errno
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.core.groups import GroupsService
from bot.core.reminders import InvoiceReminders
from bot.core.rules import RulesService
from bot.core.service import Signoff
from bot.runtime import freeze_startup_heap
from bot.sandbox.run import Sandbox, start_sandbox
from bot.settings import Settings
from engine.approvals import Decision
from engine.catalog import DEFAULT_SLUGS, customize, default_workflow_id, find_template
from engine.invoice_reminders import SEND_AT_HOUR
from engine.records import ApprovalStatus, Contact, ContactInput, ContactKind, RecordInput, RecordType
from engine.workflows import Workflow, parse_definition
from messages.catalog_text import localized

log = logging.getLogger(__name__)
Settle = Callable[[], Awaitable[Any]]

DEMO_DATABASE = "./signoff-demo.db"
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


@dataclass
class SeedReport:
    """What one seeding run created (nothing, when it ran before)."""

    contacts: int = 0
    rules: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    workflows: list[str] = field(default_factory=list)
    documents: list[str] = field(default_factory=list)


async def seed(service: Signoff, settle: Settle | None = None) -> SeedReport:
    """Create the demo's contacts, workflows and documents; a second run changes nothing.

    `settle` delivers what each step queued for Slack before the next step, so messages arrive in order.
    """
    report = SeedReport()
    report.contacts = await _seed_contacts(service)
    report.groups = await _seed_groups(service)
    report.workflows = await _seed_workflows(service)
    report.rules = await _seed_rules(service)
    await _seed_invoice_reminders(service)
    for document in DOCUMENTS:
        if await _seed_document(service, document, settle or _nothing):
            report.documents.append(document.id)
    return report


async def _seed_rules(service: Signoff) -> list[str]:
    rules = RulesService(service.deps)
    existing = {rule.name.casefold() for rule in await rules.list_rules()}
    created = []
    for definition in RULES:
        if definition["name"].casefold() not in existing:
            await rules.create_rule(copy.deepcopy(definition), ADA)
            created.append(definition["name"])
    return created


async def _seed_invoice_reminders(service: Signoff) -> None:
    """Turn customer reminders on, once: before the invoice they are shown with is created."""
    async with service.db.read() as repo:
        if await repo.get_record(RecordType.INVOICE.value, REMINDED_INVOICE) is not None:
            return
    await InvoiceReminders(service).save(copy.deepcopy(INVOICE_REMINDERS))


def reminder_due_in_days(now: datetime, tz: ZoneInfo) -> int:
    """Return a due date's distance in days whose 3-days-before reminder (09:00) falls within the next day."""
    return 3 if now.astimezone(tz).hour < SEND_AT_HOUR else 4


async def _nothing() -> None:
    return None


async def _seed_contacts(service: Signoff) -> int:
    created = 0
    async with service.db.transaction() as repo:
        for kind, contact_id, data in CONTACTS:
            if await repo.get_contact(kind.value, contact_id) is None:
                contact = Contact(**ContactInput.model_validate(data).model_dump(), kind=kind, id=contact_id)
                await repo.save_contact(contact, service.clock.now())
                created += 1
    return created


async def _seed_groups(service: Signoff) -> list[str]:
    groups = GroupsService(service.deps)
    existing = {group.name for group, _ in await groups.list_groups()}
    created = []
    for definition in GROUPS:
        if definition["name"] not in existing:
            await groups.create_group(copy.deepcopy(definition), ADA)
            created.append(definition["name"])
    return created


async def _seed_workflows(service: Signoff) -> list[str]:
    existing = await service.workflows.list_all()
    names, ids = {w.name.casefold() for w in existing}, {w.id for w in existing}
    created = []
    if INVOICE_APPROVAL["name"].casefold() not in names:
        created.append((await service.workflows.create(INVOICE_APPROVAL)).name)
    for slug in DEFAULT_SLUGS:
        english = find_template(slug)
        template = localized(english, service.settings.locale) if english else None
        if english is None or template is None or default_workflow_id(slug) in ids:
            continue
        if {english.title.casefold(), template.title.casefold()} & names:
            continue
        created.append(await _save_default(service, slug, customize(template, DEFAULT_OVERRIDES)))
    return created


async def _save_default(service: Signoff, slug: str, data: dict[str, Any]) -> str:
    now = service.clock.now()
    definition = parse_definition(data)
    workflow = Workflow(**definition.model_dump(), id=default_workflow_id(slug), created_at=now, updated_at=now)
    async with service.db.transaction() as repo:
        await repo.save_workflow(workflow)
        await repo.audit(now, None, "workflow_created", ("workflow", workflow.id), None, workflow.status.value)
    return workflow.name


async def _seed_document(service: Signoff, document: DemoDocument, settle: Settle) -> bool:
    async with service.db.read() as repo:
        if await repo.get_record(document.type.value, document.id) is not None:
            return False
    now, tz = service.clock.now(), service.settings.tz
    today = now.astimezone(tz).date()
    due_in = document.due_in_days if document.due_in_days is not None else reminder_due_in_days(now, tz)
    data = {**document.data, "txn_date": (today - timedelta(days=2)).isoformat(),
            "due_date": (today + timedelta(days=due_in)).isoformat()}
    record = await service.records.put_record(document.type, document.id, RecordInput.model_validate(data))
    await settle()
    if document.submit and record.approval_status is ApprovalStatus.APPROVAL_REQUIRED:
        await service.records.submit(document.type, document.id, document.data.get("created_by"))
        await settle()
    for actor, decision, reason in document.votes:
        request = await _open_request_id(service, document)
        if request is not None:
            await service.approvals.decide(request, actor, decision, reason)
            await settle()
    return True


async def _open_request_id(service: Signoff, document: DemoDocument) -> str | None:
    async with service.db.read() as repo:
        request = await repo.open_request_for(document.type.value, document.id)
    return request.id if request else None


async def start_demo(
    database: str | Path = DEMO_DATABASE, port: int = 3000, *, base: Settings | None = None,
    is_persistent: bool = True,
) -> Sandbox:
    """Start the sandbox and seed it (once per database)."""
    sandbox = await start_sandbox(database, port, base=base, is_persistent=is_persistent, default_viewer=BOB)
    sandbox.ui.contacts = [{"kind": kind.value, "id": contact_id, "name": data["name"]}
                           for kind, contact_id, data in CONTACTS]
    deliverer = sandbox.runtime.deliverer
    try:
        report = await seed(sandbox.runtime.service, deliverer.drain if deliverer else None)
    except BaseException:
        await sandbox.close()
        raise
    if report.documents:
        log.info("seeded %d documents, %d workflows, %d contacts",
                 len(report.documents), len(report.workflows), report.contacts)
    return sandbox


async def run_demo(base: Settings) -> None:
    """Run the demo until interrupted, printing the address of the web client."""
    sandbox = await start_demo(DEMO_DATABASE, base.port, base=base)
    freeze_startup_heap()
    stop = asyncio.Event()
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        # Registered after the HTTP server started, so these win over the server's own handlers.
        with contextlib.suppress(NotImplementedError):
            asyncio.get_running_loop().add_signal_handler(stop_signal, stop.set)
    print(f"Signoff sandbox: open {sandbox.url} (Ctrl-C to stop)", flush=True)
    try:
        await stop.wait()
    finally:
        await sandbox.close()


def main(base: Settings) -> int:
    """Run `signoff demo`; return the exit status."""
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # the SMTP catcher's every command
    try:
        asyncio.run(run_demo(base))
    except KeyboardInterrupt:
        return 0
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        print(f"signoff: port {base.port} is in use; set SIGNOFF_PORT to another port", file=sys.stderr)
        return 1
    return 0
