"""Invoice reminders in Slack: `/signoff reminders` (settings modal with a preview) and the Send reminder button."""

from __future__ import annotations

import json
import logging
from typing import Any

from pydantic import ValidationError
from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.core.reminders import TEXT_PARTS, InvoiceReminders, settings_json
from bot.core.service import Signoff
from bot.errors import Refused, Unprocessable
from bot.senders.email import Email
from bot.slack.admin_forms import with_picked
from bot.slack.command_kit import CommandContext, Reply, command
from bot.slack.payload import (
    action_value,
    channel_id,
    first_action,
    mapping,
    private_metadata,
    state_values,
    string_list,
    user_id,
)
from bot.slack.reminders_form import (
    NO_DAY,
    PREVIEW_ACTIONS,
    action_stamp,
    error_blocks,
    is_enabled,
    previewed,
    read_settings,
    slots_as_typed,
    with_action,
)
from engine.actions import sample_contact, sample_record
from engine.invoice_reminders import (
    MAX_OFFSET_DAYS,
    MAX_SCHEDULES,
    InvoiceReminderSettings,
    ReminderSchedule,
    is_remindable,
)
from engine.records import Contact, Record, RecordType
from engine.workflows import details_from
from messages.errors import TemplateInvalidError

log = logging.getLogger(__name__)

CALLBACK_ID = "reminders_settings"
MAX_INPUT_CHARS = 3000
SAMPLE_SCAN = 200
MAX_OPEN_MODALS = 1000


def _slot_view(index: int, schedule: dict[str, Any] | None) -> dict[str, Any]:
    """Return one schedule slot as the modal shows it (texts too long for Slack's inputs are kept aside)."""
    data = schedule or {}
    texts = {part: data.get(part) or "" for part in TEXT_PARTS}
    kept = [part for part, value in texts.items() if len(value) > MAX_INPUT_CHARS]
    return {"index": index, "days": str(data["offset_days"]) if schedule else NO_DAY,
            "copy_sender": bool(data.get("copy_sender")), "kept": kept,
            **{part: "" if part in kept else value for part, value in texts.items()}}


def _kept_texts(settings: InvoiceReminderSettings) -> dict[str, str]:
    """Return the stored texts longer than a Slack input, by `s{slot}_{part}`, to keep them on save."""
    return {f"s{i}_{part}": value for i, schedule in enumerate(settings.schedules) for part in TEXT_PARTS
            if len(value := getattr(schedule, part) or "") > MAX_INPUT_CHARS}


async def sample_invoice(service: Signoff) -> tuple[Record, Contact, bool]:
    """Return an invoice to preview reminders on: a real remindable one when there is, else a made-up one."""
    async with service.db.read() as repo:
        for record in await repo.list_records(RecordType.INVOICE.value, limit=SAMPLE_SCAN):
            contact = await repo.get_contact("customer", record.customer) if record.customer else None
            if contact is not None and is_remindable(record):
                return record, contact, True
    now = service.clock.now()
    return (sample_record(RecordType.INVOICE, now, service.settings.tz), sample_contact(RecordType.INVOICE), False)


async def preview(service: Signoff, schedule: dict[str, Any] | None, slot: int = 0) -> dict[str, Any]:
    """Render one schedule's e-mail (the one in modal slot `slot`) on a sample invoice, or say why it cannot be."""
    record, contact, is_real = await sample_invoice(service)
    view: dict[str, Any] = {"invoice": record.id, "customer": contact.name or record.customer, "is_real": is_real,
                            "error": None, "subject": None, "body": None, "to": None, "slot": slot}
    if schedule is None:
        return view
    async with service.db.read() as repo:
        company_name = await repo.company_name()
    try:
        email: Email = InvoiceReminders(service).compose(record, contact, ReminderSchedule.model_validate(schedule),
                                                         service.clock.now(), company_name)
    except ValidationError as exc:
        return {**view, "error": details_from(exc)[0]["message"]}
    except TemplateInvalidError as exc:
        return {**view, "error": str(exc)}
    return {**view, "subject": email.subject, "body": email.body, "to": contact.email or "—"}


def render_modal(service: Signoff, enabled: bool, slots: list[dict[str, Any]], shown: dict[str, Any],
                 kept: list[str]) -> dict[str, Any]:
    """Render the invoice reminders modal: its slots, the preview `shown`, the ids of texts kept aside."""
    view: dict[str, Any] = service.renderer.json(
        "reminders_modal.json.j2", enabled=enabled, slots=slots, days=list(range(-MAX_OFFSET_DAYS,
                                                                                 MAX_OFFSET_DAYS + 1)),
        preview=shown, metadata=json.dumps(sorted(kept)))
    return view


async def settings_modal(service: Signoff) -> dict[str, Any]:
    """Render the invoice reminders modal from the stored settings."""
    settings = await InvoiceReminders(service).settings()
    shown = settings_json(settings, service.settings.locale)["schedules"]
    slots = [_slot_view(i, shown[i] if i < len(shown) else None) for i in range(MAX_SCHEDULES)]
    return render_modal(service, settings.enabled, slots, await preview(service, shown[0] if shown else None),
                        list(_kept_texts(settings)))



async def redrawn_modal(
    service: Signoff, values: dict[str, Any], kept: dict[str, Any], action_id: str
) -> dict[str, Any]:
    """Render the modal as the admin left it, with the preview of the reminder being edited."""
    data, slots = read_settings(values, kept)
    schedule, slot = previewed(data, slots, action_id)
    return render_modal(service, is_enabled(values), slots_as_typed(values, set(kept)),
                        await preview(service, schedule, slot), list(kept))


class ReminderListeners:
    """Bolt listeners of the invoice reminders modal and of the Send reminder button."""

    def __init__(self, service: Signoff) -> None:
        self.service = service
        self.reminders = InvoiceReminders(service)
        self.latest: dict[str, float] = {}

    async def _kept(self, view: Any) -> dict[str, Any]:
        """Return the stored texts too long for Slack's inputs that this modal keeps aside."""
        kept_ids = set(string_list(private_metadata(view), MAX_SCHEDULES * len(TEXT_PARTS)) or [])
        return {key: value for key, value in _kept_texts(await self.reminders.settings()).items() if key in kept_ids}

    async def on_edit(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """A schedule's day or text changed, or Preview was clicked: redraw the preview, keeping what was typed."""
        await ack()
        view, action = mapping(body.get("view")), first_action(body)
        view_id, stamp = view.get("id"), action_stamp(action)
        if not isinstance(view_id, str) or not self.service.is_admin(user_id(body)):
            return
        if len(self.latest) > MAX_OPEN_MODALS:
            self.latest.clear()
        self.latest[view_id] = max(stamp, self.latest.get(view_id, 0.0))
        values = with_action(state_values(with_picked(body)) or {}, action)
        modal = await redrawn_modal(self.service, values, await self._kept(view), str(action.get("action_id")))
        if self.latest.get(view_id, 0.0) <= stamp:
            await self._update(view_id, view.get("hash"), modal)

    async def _update(self, view_id: str, view_hash: Any, modal: dict[str, Any]) -> None:
        """views.update guarded by the hash; when a redraw for an older edit got there first, this newer one wins."""
        await self.service.slack.update_view(view_id, modal, view_hash if isinstance(view_hash, str) else None)

    async def on_save(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Save the settings through the API's path; errors go under the input they concern."""
        user, values = user_id(body), state_values(view)
        if user is None or values is None or not self.service.is_admin(user):
            await ack()
            return
        self.latest.pop(str(view.get("id")), None)
        data, slots = read_settings(values, await self._kept(view))
        try:
            saved = await self.reminders.save(data)
        except Unprocessable as exc:
            errors = {block: self.service.renderer.text("reminders_error.txt.j2", code=code, problem=problem)
                      for block, (code, problem) in error_blocks(exc, slots).items()}
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        note = self.service.renderer.json("reminders_note.json.j2", code="saved", enabled=saved.enabled,
                                          schedules=[s.offset_days for s in saved.schedules])
        await self.service.slack.dm(user, note)

    async def on_send(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Send reminder: admins send a manual reminder for the invoice now (the API's path); others are refused."""
        await ack()
        user, invoice_id = user_id(body), action_value(body)
        if user is None or not invoice_id:
            return
        where = channel_id(body) or user
        if not self.service.is_admin(user):
            await self._tell(where, user, "admin_only", invoice=invoice_id)
            return
        try:
            sent = await self.reminders.send_now(invoice_id, actor=user)
        except Refused as exc:
            await self._tell(where, user, "failed", invoice=invoice_id, message=exc.message, why=exc.why,
                             params=exc.params)
            return
        await self._tell(where, user, "sent", invoice=sent["invoice_id"], to=", ".join(sent["to"]),
                         subject=sent["subject"])

    async def _tell(self, channel: str, user: str, code: str, **detail: Any) -> None:
        note = self.service.renderer.json("reminders_note.json.j2", code=code, detail=detail)
        await self.service.slack.ephemeral(channel, user, str(note["text"]))


def register(app: AsyncApp, service: Signoff) -> None:
    """Wire the reminders modal and the Send reminder button into the Bolt app."""
    listeners = ReminderListeners(service)
    app.view(CALLBACK_ID)(listeners.on_save)
    app.action(PREVIEW_ACTIONS)(listeners.on_edit)
    app.action("invoice_remind")(listeners.on_send)


async def reminders_command(ctx: CommandContext, args: list[str]) -> Reply | None:
    """Open the invoice reminders modal: on or off, up to three schedules, their texts, and a preview."""
    await ctx.open_modal(await settings_modal(ctx.service))
    return None


SUBCOMMANDS = (
    command("reminders", reminders_command, admin=True, usage="reminders",
            help_key="set up the payment reminders e-mailed to customers"),
)
