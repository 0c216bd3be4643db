"""Delivering a customer's payment reminder: sent only while the invoice still owes it, stamped once delivered.

The reminder was queued by the sweep or by hand (`bot.core.reminders`). When it goes out, the invoice is read
again: one paid, voided, back to draft or held for approval since is not reminded (`reminder_skipped`), nor on
schedule a customer who takes no reminders since. The invoice is stamped `reminded` in the transaction that
records the e-mail sent, so a reminder never delivered (dead-lettered: `reminder_failed`) never reads as sent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.core.service import Signoff
from bot.outbox.errors import Permanent
from bot.senders.email import Email, send_email
from bot.settings import SmtpConfig
from engine.invoice_reminders import automatic_reminder_hold, stale_reminder_reason
from engine.records import RecordType
from storage.models import OutboxItem
from storage.ports import Repository


class PaymentReminders:
    """The outbox handler of payment reminders, and what recording one sent or dead-lettered writes."""

    def __init__(self, service: Signoff) -> None:
        self.service = service

    async def deliver(self, item: OutboxItem) -> dict[str, Any]:
        """Send the reminder, unless the invoice no longer owes it."""
        async with self.service.db.read() as repo:
            record = await repo.get_record(RecordType.INVOICE.value, item.payload["invoice"])
            contact = await repo.get_contact("customer", record.customer) if record and record.customer else None
        reason = stale_reminder_reason(record)
        if reason is None and contact is not None and not item.payload["detail"].get("manual"):
            reason = automatic_reminder_hold(contact)  # a payment plan or a dispute since: none on schedule
        if reason is not None:
            return {"skipped": reason}
        smtp_url = self.service.settings.smtp_url
        if not smtp_url:
            raise Permanent("e-mail is off: SIGNOFF_SMTP_URL is not set")
        email = Email.from_json(item.payload["email"])
        return {"message_id": await send_email(email, SmtpConfig.from_url(smtp_url), item.lasting_ref())}

    async def sent(self, repo: Repository, item: OutboxItem, result: dict[str, Any] | None, at: datetime) -> None:
        """Stamp the invoice reminded and write it in its history; or write why it was not reminded after all."""
        key = (RecordType.INVOICE.value, item.payload["invoice"])
        detail = item.payload["detail"]
        if result and "skipped" in result:
            await repo.audit(at, None, "reminder_skipped", key, None, None, {**detail, "reason": result["skipped"]})
            return
        stamped = await repo.mark_reminded(*key, at)
        await repo.audit(at, item.payload.get("actor"), "reminded", key, None, None,
                         {**detail, "count": stamped.reminder_count if stamped else None})

    async def dead(self, repo: Repository, item: OutboxItem, error: str, at: datetime) -> None:
        """Write in the invoice's history that its reminder could not be delivered."""
        await repo.audit(at, None, "reminder_failed", (RecordType.INVOICE.value, item.payload["invoice"]), None, None,
                         {**item.payload["detail"], "error": error})
