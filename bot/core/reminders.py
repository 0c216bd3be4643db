"""Invoice payment reminders to customers: settings, the scheduled e-mails and the manual reminder."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.clock import SystemClock
from bot.core.service import Signoff
from bot.core.template_checks import SAMPLE_COMPANY
from bot.errors import Conflict, NotFound, Refused, SettingsError, Unprocessable
from bot.senders.email import SENDER, Email
from bot.senders.slack import SlackOut, make_client
from bot.settings import SmtpConfig, load_settings
from engine.actions import record_context, sample_contact, sample_record
from engine.dates import local_date
from engine.errors import InvalidDefinitionError
from engine.invoice_reminders import (
    InvoiceReminderSettings,
    ReminderSchedule,
    automatic_reminder_hold,
    days_until_due,
    manual_reminder_refusal,
    manual_schedule,
    parse_reminder_settings,
    payment_url,
)
from engine.lifecycle import customer_hold
from engine.planning import DueAction
from engine.records import Contact, Record, RecordType
from messages.errors import TemplateInvalidError
from messages.render import TEMPLATE_DIR, check_user_template, non_blank
from storage import open_store
from storage.errors import StorageError
from storage.ports import Repository

SETTINGS_NAME = "invoice_reminders"
TEXT_PARTS = ("subject", "greeting", "body")
MAX_OWN_SUBJECT = 300
MAX_OWN_MESSAGE = 20000


PAYMENT_REMINDER_KIND = "payment_reminder"  # its outbox payload: email, invoice (id), actor, detail (for history)


@dataclass(frozen=True)
class OwnText:
    """A manual reminder's own subject and/or message (templates, like a schedule's), instead of the schedule's."""

    subject: str | None = None
    message: str | None = None

    @classmethod
    def parse(cls, subject: Any, message: Any) -> OwnText | None:
        """Validate the texts of a manual reminder (None when neither is given); raise Unprocessable naming each."""
        problems = [{"path": path, "message": problem} for path, value, limit in
                    (("subject", subject, MAX_OWN_SUBJECT), ("message", message, MAX_OWN_MESSAGE))
                    if (problem := _own_text_problem(value, limit))]
        if problems:
            raise Unprocessable(f"invalid reminder: {problems[0]['path']}: {problems[0]['message']}", problems)
        return cls(subject or None, message or None) if subject or message else None


def _own_text_problem(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        return "a non-empty text"
    return f"at most {limit} characters" if len(value) > limit else None


def default_text(part: str, locale: str = "en") -> str:
    """Return the shipped default template of a reminder part (subject, greeting or body) in a locale's words."""
    worded = TEMPLATE_DIR / f"invoice_reminder_{part}.{locale}.txt.j2"
    path = worded if worded.is_file() else TEMPLATE_DIR / f"invoice_reminder_{part}.txt.j2"
    return path.read_text(encoding="utf-8").strip()


def settings_json(settings: InvoiceReminderSettings, locale: str = "en") -> dict[str, Any]:
    """Return settings as the API shows them: every text filled in (the locale's default when not set)."""
    data = settings.model_dump(mode="json")
    for schedule in data["schedules"]:
        for part in TEXT_PARTS:
            schedule[part] = schedule[part] or default_text(part, locale)
    return data


def reminder_context(
    record: Record, contact: Contact | None, now: datetime, tz: ZoneInfo, company_name: str = "",
) -> dict[str, Any]:
    """Return what reminder templates see: invoice (also as record), customer, company, today, days until and past
    due."""
    invoice = record_context(record)
    days = days_until_due(record.due_date, now, tz) if record.due_date else 0
    return {"invoice": invoice, "record": invoice, "customer": contact.model_dump() if contact else {},
            "company": {"name": company_name, "timezone": tz.key}, "today": local_date(now, tz),
            "days_until_due": days, "days_overdue": max(0, -days)}


class InvoiceReminders:
    """The company's invoice reminders, as the scheduler, the API, the CLI and Slack use them."""

    def __init__(self, service: Signoff) -> None:
        self.service = service

    async def load(self, repo: Repository) -> InvoiceReminderSettings:
        """Return the stored settings (the defaults, off, until saved)."""
        stored = await repo.get_setting(SETTINGS_NAME)
        return InvoiceReminderSettings.model_validate(stored) if stored else InvoiceReminderSettings()

    async def settings(self) -> InvoiceReminderSettings:
        """Return the current settings."""
        async with self.service.db.read() as repo:
            return await self.load(repo)

    async def save(self, data: Any) -> InvoiceReminderSettings:
        """Validate and store new settings, then plan every invoice again; 422 and no change when invalid."""
        settings = self._checked(data)
        async with self.service.deps.unit_of_work() as repo:
            await self._store(repo, settings)
        return settings

    async def change(self, changes: Any) -> InvoiceReminderSettings:
        """Change some settings (top-level keys: `enabled`, `schedules`…), keeping the others as stored."""
        if not isinstance(changes, dict):
            raise Unprocessable("settings changes must be an object", [{"path": "(root)", "message": "an object"}])
        async with self.service.deps.unit_of_work() as repo:
            stored = (await self.load(repo)).model_dump(mode="json")
            settings = self._checked({**stored, **changes})
            await self._store(repo, settings)
        return settings

    def _checked(self, data: Any) -> InvoiceReminderSettings:
        try:
            settings = parse_reminder_settings(data)
        except InvalidDefinitionError as exc:
            raise Unprocessable(str(exc), exc.details) from exc
        self._check_templates(settings)
        return settings

    async def _store(self, repo: Repository, settings: InvoiceReminderSettings) -> None:
        now = self.service.clock.now()
        await repo.put_setting(SETTINGS_NAME, {**settings.model_dump(mode="json"), "since": now.isoformat()}, now)
        await repo.replan_invoices(now)
        await repo.audit(now, None, "settings_changed", ("settings", SETTINGS_NAME), None,
                         "on" if settings.enabled else "off")

    def _check_templates(self, settings: InvoiceReminderSettings) -> None:
        now, tz = self.service.clock.now(), self.service.settings.tz
        sample = reminder_context(sample_record(RecordType.INVOICE, now, tz), sample_contact(RecordType.INVOICE),
                                  now, tz, SAMPLE_COMPANY)
        problems = []
        for index, schedule in enumerate(settings.schedules):
            for part in TEXT_PARTS:
                source = getattr(schedule, part)
                problem = check_user_template(source, sample, self.service.renderer) if source else None
                if problem is not None:
                    problems.append({"path": f"schedules[{index}].{part}", "message": problem})
        if problems:
            raise Unprocessable(f"invalid template: {problems[0]['path']}: {problems[0]['message']}", problems)

    def compose(
        self, record: Record, contact: Contact, schedule: ReminderSchedule, now: datetime, company_name: str = "",
    ) -> Email:
        """Render one reminder e-mail for an invoice; raise TemplateInvalidError when a template fails."""
        renderer = self.service.renderer
        context = reminder_context(record, contact, now, self.service.settings.tz, company_name)
        locale = self.service.settings.locale
        texts = {part: renderer.user_text(getattr(schedule, part) or default_text(part, locale), **context).strip()
                 for part in TEXT_PARTS}
        body = renderer.text("invoice_reminder_email.txt.j2", greeting=texts["greeting"], body=texts["body"],
                             invoice=context["invoice"], company=context["company"],
                             payment_url=payment_url(record))
        subject = " ".join(non_blank(texts["subject"], "subject").split())[:300]
        non_blank(texts["body"], "message")
        return Email(to=[contact.mail_address() or ""], subject=subject, body=body, cc=self._copy_to(schedule, contact),
                     sender_name=company_name or SENDER)

    def _copy_to(self, schedule: ReminderSchedule, contact: Contact) -> list[str]:
        url = self.service.settings.smtp_url
        sender = SmtpConfig.from_url(url).sender if url and schedule.copy_sender else None
        return [sender] if sender and sender != contact.mail_address() else []

    async def queue(
        self, repo: Repository, record: Record, contact: Contact, schedule: ReminderSchedule, key: str,
        actor: str | None, detail: dict[str, Any],
    ) -> Email:
        """Queue one reminder e-mail, in the caller's transaction: once delivered, the invoice is stamped `reminded`
        and its history says so (`bot.outbox.payment_reminders`)."""
        now = self.service.clock.now()
        email = self.compose(record, contact, schedule, now, await repo.company_name())
        told = {**detail, "to": email.to[0], "cc": email.cc, "subject": email.subject}
        payload = {"email": email.to_json(), "invoice": record.id, "actor": actor, "detail": told}
        await repo.enqueue(PAYMENT_REMINDER_KIND, email.to[0], payload, now, key=key)
        return email

    async def perform(self, repo: Repository, action: DueAction, settings: InvoiceReminderSettings) -> bool:
        """Send a scheduled reminder the planner found due; tell whether one was queued."""
        record = await repo.get_record(RecordType.INVOICE.value, action.data["invoice_id"])
        index = action.data["schedule_index"]
        if record is None or index >= len(settings.schedules):
            return False
        contact = await repo.get_contact("customer", record.customer) if record.customer else None
        hold = (action.data.get("skipped") or customer_hold(record)
                or (automatic_reminder_hold(contact) if contact else None))
        if hold is not None:
            await repo.audit(self.service.clock.now(), None, "reminder_skipped", record.key(), None, None,
                             {"schedule": index, "offset_days": action.data["offset_days"], "reason": hold})
            return False
        if contact is None or not contact.mail_address():
            return False
        detail = {"schedule": index, "offset_days": action.data["offset_days"], "manual": False}
        try:
            await self.queue(repo, record, contact, settings.schedules[index], action.key, None, detail)
        except TemplateInvalidError as exc:
            await repo.audit(self.service.clock.now(), None, "reminder_failed", record.key(), None, None,
                             {"schedule": index, "error": str(exc)})
            return False
        return True

    async def send_now(
        self, invoice_id: str, actor: str | None = None, schedule: int | None = None,
        own: OwnText | None = None,
    ) -> dict[str, Any]:
        """Send a reminder for an invoice now, whatever the schedules, with its own subject and message if given.

        Raise NotFound, Conflict (e-mail off, nothing to remind, not approved) or Unprocessable (bad texts).
        """
        if not self.service.settings.smtp_url:
            raise Conflict("e-mail is off: set SIGNOFF_SMTP_URL to send reminders", why="email_off")
        async with self.service.deps.unit_of_work() as repo:
            record = await repo.get_record(RecordType.INVOICE.value, invoice_id)
            if record is None:
                raise NotFound.no("invoice", invoice_id)
            contact = await self._recipient(repo, record)
            settings = await self.load(repo)
            chosen, index = self._schedule_for(record, settings, schedule)
            company_name = await repo.company_name()
            chosen = self._with_own_text(chosen, own, record, contact, company_name) if own else chosen
            key = f"invoice-manual:{record.id}:{uuid.uuid4().hex[:12]}"
            detail = {"schedule": index, "manual": True, "own_text": own is not None}
            try:
                email = await self.queue(repo, record, contact, chosen, key, actor, detail)
            except TemplateInvalidError as exc:
                raise Unprocessable(f"the reminder template cannot be rendered: {exc}") from exc
        return {"invoice_id": record.id, "to": email.to, "cc": email.cc, "subject": email.subject, "queued": True}

    def _with_own_text(
        self, schedule: ReminderSchedule, own: OwnText, record: Record, contact: Contact, company_name: str,
    ) -> ReminderSchedule:
        """Return the schedule's texts with the reminder's own subject and/or message; 422 when one fails."""
        now, tz = self.service.clock.now(), self.service.settings.tz
        context = reminder_context(record, contact, now, tz, company_name)
        for path, source in (("subject", own.subject), ("message", own.message)):
            problem = check_user_template(source, context, self.service.renderer) if source else None
            if problem is not None:
                raise Unprocessable(f"invalid template: {path}: {problem}", [{"path": path, "message": problem}])
        changes = {"subject": own.subject or schedule.subject, "body": own.message or schedule.body}
        return schedule.model_copy(update=changes)

    async def _recipient(self, repo: Repository, record: Record) -> Contact:
        contact = await repo.get_contact("customer", record.customer) if record.customer else None
        refusal = manual_reminder_refusal(record, contact)
        if refusal is not None:
            raise Conflict(refusal.message, why=f"reminder_{refusal.code}",
                           params={"status": record.status.value, "approval_status": record.approval_status.value})
        assert contact is not None  # a reminder to nobody is refused above
        return contact

    def _schedule_for(
        self, record: Record, settings: InvoiceReminderSettings, wanted: int | None,
    ) -> tuple[ReminderSchedule, int | None]:
        """Pick the texts of a manual reminder as the engine says; 422 when the schedule asked for does not exist."""
        try:
            return manual_schedule(record, settings, wanted, self.service.clock.now(), self.service.settings.tz)
        except InvalidDefinitionError as exc:
            raise Unprocessable(str(exc), exc.details) from exc


def add_remind_command(sub: Any) -> None:
    """Register `signoff remind invoice ID` on the command line parser."""
    remind = sub.add_parser("remind", help="e-mail a payment reminder for an invoice now")
    remind.add_argument("record_type", choices=["invoice"], help="only invoices have payment reminders")
    remind.add_argument("record_id", help="the invoice number")
    remind.add_argument("--schedule", type=int, default=None, help="use this schedule's texts (0, 1 or 2)")


async def _remind(record_id: str, schedule: int | None) -> dict[str, Any]:
    settings = load_settings()
    db = await open_store(settings.database, create=False)
    try:
        service = Signoff(db, settings, SlackOut(make_client(settings.slack_bot_token, settings.slack_api_url)),
                          SystemClock())
        return await InvoiceReminders(service).send_now(record_id, actor="cli", schedule=schedule)
    finally:
        await db.close()


def run_remind_command(args: argparse.Namespace) -> int:
    """Run `signoff remind invoice ID`: queue the e-mail (the running bot sends it); print what was queued."""
    try:
        sent = asyncio.run(_remind(args.record_id, args.schedule))
    except (SettingsError, StorageError) as exc:
        print(f"signoff: {exc}", file=sys.stderr)
        return 2
    except Refused as exc:
        print(f"signoff: {exc.message}", file=sys.stderr)
        return 1
    print(json.dumps(sent))
    return 0
