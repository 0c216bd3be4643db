"""Seeding the demo's company into a database, once: a second run changes nothing."""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.cli.demo_data import (
    ADA,
    CONTACTS,
    DEFAULT_OVERRIDES,
    DOCUMENTS,
    GROUPS,
    INVOICE_APPROVAL,
    INVOICE_REMINDERS,
    REMINDED_INVOICE,
    RULES,
    DemoDocument,
)
from bot.core.reminders import InvoiceReminders
from bot.core.service import Signoff
from bot.core.workflows import save_definitions
from engine.catalog import DEFAULT_SLUGS, customize, default_workflow_id, find_template
from engine.invoice_reminders import SEND_AT_HOUR
from engine.records import ApprovalStatus, Contact, ContactInput, RecordInput, RecordType
from engine.workflows import parse_definition
from messages.catalog_text import localized

Settle = Callable[[], Awaitable[Any]]


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
    rules = service.rules
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
    async with service.db.unit_of_work() as repo:
        for kind, contact_id, data in CONTACTS:
            if await repo.get_contact(kind.value, contact_id) is None:
                contact = Contact(**ContactInput.model_validate(data).model_dump(), kind=kind, id=contact_id)
                await repo.save_contact(contact, service.clock.now())
                created += 1
    return created


async def _seed_groups(service: Signoff) -> list[str]:
    groups = service.groups
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
    definition = parse_definition(data)
    await save_definitions(service.db, [(default_workflow_id(slug), definition)], service.clock.now(), None)
    return definition.name


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

