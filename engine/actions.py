"""What a workflow's non-approval actions mean for one record, planned as data the bot performs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine.dates import local_date
from engine.echo import differing
from engine.facts import facts_of
from engine.lifecycle import customer_hold
from engine.limits import check_text
from engine.records import Contact, ContactKind, Record, RecordType, kept_context
from engine.workflows import (
    NotificationAction,
    ReminderAction,
    SendAction,
    Trigger,
    UpdateAction,
    Workflow,
    WorkflowDefinition,
)

VENDOR_TYPES = frozenset(
    {RecordType.BILL, RecordType.PURCHASE_ORDER, RecordType.EXPENSE, RecordType.BILL_PAYMENT, RecordType.VENDOR_CREDIT}
)
NO_EMAIL = "contact has no e-mail"
SAMPLE_ID = "SAMPLE-1001"


@dataclass(frozen=True)
class PostMessage:
    """Post a message rendered from `template` to one Slack user, channel or e-mail address."""

    action_index: int
    target: str
    template: str
    context: Mapping[str, Any] = field(repr=False)


class ReminderState(StrEnum):
    """Where one person's reminder of one document by one workflow stands while the document still matches."""

    OPEN = "open"
    DISMISSED = "dismissed"


@dataclass(frozen=True)
class RemindPeople:
    """Remind each target with a message rendered from `template`; `new_tasks` are those without an open task.

    `dismissed` are the targets who marked this document's reminder done while it kept matching: they are
    not reminded again until it stops matching and matches anew.
    """

    action_index: int
    targets: tuple[str, ...]
    template: str
    context: Mapping[str, Any] = field(repr=False)
    new_tasks: tuple[str, ...] = ()
    dismissed: tuple[str, ...] = ()


@dataclass(frozen=True)
class SendEmail:
    """E-mail the document to its contact; the record is then marked sent. With `once_key` (a scheduled
    workflow's e-mail), only when that key was never claimed."""

    action_index: int
    to: str
    cc: tuple[str, ...]
    subject_template: str
    body_template: str
    context: Mapping[str, Any] = field(repr=False)
    once_key: str | None = None


@dataclass(frozen=True)
class SetField:
    """Set one field of the record; `previous` is the value it replaces."""

    action_index: int
    field: str
    value: Any
    previous: Any


@dataclass(frozen=True)
class Skipped:
    """An action that cannot be performed for this record, and why."""

    action_index: int
    kind: str
    reason: str


Planned = PostMessage | RemindPeople | SendEmail | SetField | Skipped


MAX_COMPANY_NAME_CHARS = 200


@dataclass(frozen=True)
class Company:
    """What templates know of the company."""

    name: str
    timezone: str


class CompanyInput(BaseModel):
    """What an admin sets of the company: its name (blank: none); the time zone a body as GET returned it repeats is
    a setting (`time_zone_problems`)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    timezone: Any = Field(default=None, json_schema_extra={"readOnly": True})

    @field_validator("name")
    @classmethod
    def _a_name(cls, value: str) -> str:
        return check_text(value.strip(), MAX_COMPANY_NAME_CHARS)

    def time_zone_problems(self, timezone: str) -> list[dict[str, str]]:
        """Return why the time zone the body repeats cannot be taken: another than the company's setting."""
        echoed = {"timezone": self.timezone} if "timezone" in self.model_fields_set else {}
        return differing(echoed, {"timezone": timezone}, "is {expected}, as SIGNOFF_TIMEZONE sets it")


def contact_kind_for(record_type: RecordType) -> ContactKind:
    """Return whether a document type concerns a customer or a vendor."""
    return ContactKind.VENDOR if record_type in VENDOR_TYPES else ContactKind.CUSTOMER


def record_context(record: Record) -> dict[str, Any]:
    """Return the record as templates see it: every field, `class` by name, the open balance."""
    data = record.model_dump(by_alias=True)
    data["balance"] = record.effective_balance()
    return data


def template_context(
    record: Record, contact: Contact | None, workflow: WorkflowDefinition, company: Company, now: datetime
) -> dict[str, Any]:
    """Return the variables of a workflow's message templates: record, contact, company, workflow, today."""
    return {
        "record": record_context(record),
        "contact": contact.model_dump() if contact else {},
        "company": {"name": company.name, "timezone": company.timezone},
        "workflow": {"id": getattr(workflow, "id", None), "name": workflow.name,
                     "record_type": workflow.record_type.value, "description": workflow.description},
        "today": local_date(now, ZoneInfo(company.timezone)),
    }


def expand_targets(
    refs: Sequence[str], people_groups: Mapping[str, tuple[str, ...]], fallback: tuple[str, ...]
) -> tuple[str, ...]:
    """Expand `group:NAME` into its people (the fallback people when it has none), keeping order, once each."""
    out: list[str] = []
    for ref in refs:
        members = (people_groups.get(ref.removeprefix("group:")) or fallback) if ref.startswith("group:") else (ref,)
        out.extend(m for m in members if m not in out)
    return tuple(out)


def _field_value(record: Record, name: str) -> Any:
    if name.startswith("fields."):
        return record.fields.get(name.removeprefix("fields."))
    return getattr(record, "class_" if name == "class" else name)


def with_field(record: Record, name: str, value: Any) -> Record:
    """Return the record with one field set, validated; raise ValueError when the value does not fit."""
    data = record.model_dump(by_alias=True)
    if name.startswith("fields."):
        data["fields"] = {**data["fields"], name.removeprefix("fields."): value}
    else:
        data[name] = value
    try:
        return Record.model_validate(data, context=kept_context(record))
    except ValidationError as exc:
        raise ValueError(f"{name} cannot be {value!r}: {exc.errors()[0]['msg']}") from None


def _plan_update(index: int, action: UpdateAction, record: Record) -> Planned:
    previous = _field_value(record, action.field)
    try:
        updated = with_field(record, action.field, action.value)
    except ValueError as exc:
        return Skipped(index, "update", str(exc))
    value = _field_value(updated, action.field)
    if value == previous:
        return Skipped(index, "update", f"{action.field} is already {value!s}")
    return SetField(index, action.field, value, previous)


def split_reminded(
    targets: Sequence[str], states: Mapping[str, ReminderState]
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """Split a document's reminder targets: who is reminded, who of them gets a new task, who dismissed it."""
    dismissed = tuple(t for t in targets if states.get(t) is ReminderState.DISMISSED)
    reminded = tuple(t for t in targets if t not in dismissed)
    return reminded, tuple(t for t in reminded if t not in states), dismissed


def lapsed_reminders(
    known: Iterable[tuple[str, str]], matching: Iterable[tuple[str, str]]
) -> list[tuple[str, str]]:
    """Return the documents (type, id) whose reminders end because they no longer match (Done stops holding)."""
    still = set(matching)
    return sorted({key for key in known if key not in still})


@dataclass(frozen=True)
class Planner:
    """Plans one workflow's actions for one record."""

    record: Record
    contact: Contact | None
    context: Mapping[str, Any]
    now: datetime
    people_groups: Mapping[str, tuple[str, ...]]
    fallback: tuple[str, ...]
    sender: str | None
    is_email_on: bool
    reminder_states: Mapping[str, ReminderState] = field(default_factory=dict)
    once_prefix: str | None = None
    once_fields: tuple[str, ...] = ()

    def notification(self, index: int, action: NotificationAction) -> list[Planned]:
        """Plan a message to the channel and every person named."""
        refs = ([action.channel] if action.channel else []) + list(action.to)
        targets = expand_targets(refs, self.people_groups, self.fallback)
        if not targets:
            return [Skipped(index, "notification", "nobody to notify")]
        return [PostMessage(index, target, action.message, self.context) for target in targets]

    def reminder(self, index: int, action: ReminderAction) -> list[Planned]:
        """Plan a reminder task and message for every person or channel named."""
        targets = expand_targets(action.to, self.people_groups, self.fallback)
        if not targets:
            return [Skipped(index, "reminder", "nobody to remind")]
        reminded, new_tasks, dismissed = split_reminded(targets, self.reminder_states)
        return [RemindPeople(index, reminded, action.message, self.context, new_tasks, dismissed)]

    def send(self, index: int, action: SendAction) -> list[Planned]:
        """Plan the e-mail to the contact and marking the document sent (never before approval)."""
        hold = customer_hold(self.record)
        if hold is not None:
            return [Skipped(index, "send", hold)]
        to = self.contact.mail_address() if self.contact else None
        if not to:
            return [Skipped(index, "send", NO_EMAIL)]
        if not self.is_email_on:
            return [Skipped(index, "send", "e-mail is off")]
        cc = (self.sender,) if action.copy_sender and self.sender and self.sender != to else ()
        return [
            SendEmail(index, to, cc, action.subject, action.body, self.context, self._once_key(index)),
            SetField(index, "email_status", "sent", self.record.email_status.value),
            SetField(index, "sent_at", self.now, self.record.sent_at),
        ]

    def _once_key(self, index: int) -> str | None:
        """Return the key that lets a scheduled workflow e-mail a document once for the values its conditions read
        (a new due date or balance makes it due again), or None for other workflows."""
        if self.once_prefix is None:
            return None
        contacts = {f"{self.contact.kind.value}:{self.contact.id}": self.contact} if self.contact else {}
        facts = facts_of(self.record, contacts)
        read = json.dumps([[name, str(facts.get(name))] for name in self.once_fields])
        digest = hashlib.sha256(read.encode()).hexdigest()[:20]
        return f"{self.once_prefix}:{index}:{self.record.type.value}:{self.record.id}:{digest}"

    def update(self, index: int, action: UpdateAction) -> list[Planned]:
        """Plan setting one field."""
        return [_plan_update(index, action, self.record)]


_STEPS: dict[type, Callable[[Planner, int, Any], list[Planned]]] = {
    NotificationAction: Planner.notification,
    ReminderAction: Planner.reminder,
    SendAction: Planner.send,
    UpdateAction: Planner.update,
}


def plan_actions(
    workflow: Workflow | WorkflowDefinition,
    record: Record,
    contact: Contact | None,
    now: datetime,
    company: Company,
    *,
    people_groups: Mapping[str, tuple[str, ...]] | None = None,
    fallback: tuple[str, ...] = (),
    sender: str | None = None,
    is_email_on: bool = True,
    reminder_states: Mapping[str, ReminderState] | None = None,
    only: Collection[int] | None = None,
) -> list[Planned]:
    """Return, in order, what each non-approval action of the workflow does to this record (`only`: those actions
    alone, by index). An action sees the document as the `update` actions before it left it."""
    context = template_context(record, contact, workflow, company, now)
    is_scheduled = workflow.trigger is Trigger.SCHEDULED
    planner = Planner(record, contact, context, now, people_groups or {}, fallback, sender, is_email_on,
                      reminder_states or {}, f"send:{getattr(workflow, 'id', None) or workflow.name}"
                      if is_scheduled else None, tuple(sorted({c.field for c in workflow.conditions})))
    planned: list[Planned] = []
    for index, action in enumerate(workflow.actions):
        step = _STEPS.get(type(action))
        if step is None or (only is not None and index not in only):
            continue
        done = step(planner, index, action)
        planned += done
        if isinstance(action, UpdateAction):
            planner = _after_update(planner, done, contact, workflow, company)
    return planned


def _after_update(planner: Planner, done: Sequence[Planned], contact: Contact | None,
                  workflow: Workflow | WorkflowDefinition, company: Company) -> Planner:
    """Return the planner the next actions use: the document as the update left it (as it was, when a document
    stored under older rules cannot take the new value: the run says so when it applies it)."""
    try:
        changed = apply_fields(planner.record, done, planner.now)
    except ValueError:
        return planner
    if changed == planner.record:
        return planner
    return replace(planner, record=changed, context=template_context(changed, contact, workflow, company, planner.now))


def apply_fields(record: Record, planned: Sequence[Planned], now: datetime) -> Record:
    """Return the record with every planned field set (unchanged when there is none)."""
    updated = record
    for item in planned:
        if isinstance(item, SetField):
            updated = with_field(updated, item.field, item.value)
    return updated if updated == record else updated.model_copy(update={"updated_at": now})


def has_side_actions(workflow: WorkflowDefinition) -> bool:
    """Tell whether a workflow has actions besides approval."""
    return any(type(action) in _STEPS for action in workflow.actions)


def sample_record(record_type: RecordType, now: datetime, tz: ZoneInfo) -> Record:
    """Return a representative document of a type, every field filled, for previews and template checks."""
    today = local_date(now, tz)
    contact_field = "vendor" if contact_kind_for(record_type) is ContactKind.VENDOR else "customer"
    return Record.model_validate({
        "type": record_type, "id": SAMPLE_ID, "amount": Decimal("1250.00"),
        "currency": "USD", contact_field: "C-SAMPLE", "location": "Head office", "department": "Finance",
        "class": "Services", "category": "Consulting", "txn_date": today, "due_date": today + timedelta(days=30),
        "status": "open", "email_status": "not_sent", "source": "manual", "created_by": "U0SAMPLE",
        "memo": "Sample memo", "fields": {"po_number": "PO-1"}, "created_at": now, "updated_at": now,
    })


def sample_contact(record_type: RecordType) -> Contact:
    """Return a representative customer or vendor for a document type."""
    return sample_contact_of(contact_kind_for(record_type))


def sample_contact_of(kind: ContactKind) -> Contact:
    """Return a representative customer or vendor, every field filled, for template checks."""
    return Contact(kind=kind, id="C-SAMPLE", name="Sample Company Ltd", email="accounts@example.com", state="CA",
                   country="US", city="San Francisco", balance=Decimal("1250.00"))


def template_sources(workflow: WorkflowDefinition) -> list[tuple[str, str]]:
    """Return every admin-written template of a workflow as (path, source)."""
    found: list[tuple[str, str]] = []
    for index, action in enumerate(workflow.actions):
        if isinstance(action, NotificationAction | ReminderAction):
            found.append((f"actions[{index}].message", action.message))
        elif isinstance(action, SendAction):
            found += [(f"actions[{index}].subject", action.subject), (f"actions[{index}].body", action.body)]
    return found


def days_from(today: date, offset: int) -> date:
    """Return the calendar day `offset` days after today."""
    return today + timedelta(days=offset)
