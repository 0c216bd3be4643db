"""Requests from Slack: a modal that creates (or edits and resubmits) an expense or purchase order for approval."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.core.service import Signoff
from bot.errors import NobodyToAskError, Refused
from bot.slack.command_kit import CommandContext, Reply, command
from bot.slack.home_refresh import HomeRefresher
from bot.slack.payload import (
    action_value,
    channel_id,
    private_metadata,
    state_values,
    trigger_id,
    user_id,
)
from bot.slack.request_form import (
    DATE_FIELDS,
    KINDS,
    NEW_REQUEST_FIELDS,
    RequestForm,
    form_kept,
    offered_currencies,
    read_edit,
    read_form,
    record_key,
)
from engine.records import ApprovalStatus, Contact, Record, RecordType
from engine.resubmission import RESUBMITTABLE, SUBMITTABLE, editable_fields, resubmit_refusal

log = logging.getLogger(__name__)

CALLBACK_ID = "request_new"
EDIT_CALLBACK_ID = "request_edit"
ID_PREFIXES = {RecordType.EXPENSE: "EXP", RecordType.PURCHASE_ORDER: "PO"}
KIND_ALIASES = {"expense": "expense", "exp": "expense", "po": "purchase_order", "purchase": "purchase_order",
                "purchase_order": "purchase_order"}
DEFAULT_CURRENCY = {"fr": "EUR", "en": "USD"}
MAX_MENU_CONTACTS = 100


def new_record_id(record_type: RecordType, now: datetime) -> str:
    """Return a fresh, readable record id such as `EXP-261123-4F7A2C`."""
    return f"{ID_PREFIXES[record_type]}-{now:%y%m%d}-{secrets.token_hex(3).upper()}"


def request_modal(
    service: Signoff, kind: str = "expense", record: Record | None = None,
    choices: Mapping[str, Sequence[Contact]] | None = None,
) -> dict[str, Any]:
    """Render the request modal, with the kind of document pre-selected, or pre-filled from a record to edit.

    `choices` gives, per contact field, the contacts a menu offers instead of a text input.
    """
    home = service.settings.currency
    currency = record.currency if record else home or DEFAULT_CURRENCY.get(service.settings.locale, "USD")
    view: dict[str, Any] = service.renderer.json(
        "request_modal.json.j2", kind=kind if kind in KINDS else "expense", currencies=offered_currencies(record),
        currency=currency, form=_prefill(record) if record else None,
        fields=_edited_fields(record) if record else NEW_REQUEST_FIELDS + (("exchange_rate",) if home else ()),
        kept=form_kept(record) if record else (), home=home,
        editing=_editing(record) if record else None,
        choices=_menus(record, choices or {}))
    return view


def _edited_fields(record: Record) -> tuple[str, ...]:
    """Return the fields the edit form asks: the editable ones whose value an input can hold."""
    return tuple(name for name in editable_fields(record.type) if name not in form_kept(record))


def _editing(record: Record) -> dict[str, str]:
    """Return what an edit modal keeps of its document: its key, and the version it was opened on."""
    return {"type": record.type.value, "id": record.id, "version": record.updated_at.isoformat()}


def _menus(record: Record | None, choices: Mapping[str, Sequence[Contact]]) -> dict[str, list[dict[str, str]]]:
    """Return each contact menu's options, the record's own contact always among them."""
    menus = {}
    for field, contacts in choices.items():
        options = [{"value": c.id, "label": f"{c.name} ({c.id})" if c.name else c.id} for c in contacts]
        current = getattr(record, field, None) if record else None
        if current and current not in {o["value"] for o in options}:
            options.insert(0, {"value": current, "label": current})
        menus[field] = options
    return menus


async def contact_choices(service: Signoff, record: Record) -> dict[str, list[Contact]]:
    """Return the contacts an edit's contact field offers, when there are few enough for a menu."""
    found: dict[str, list[Contact]] = {}
    for field in ("customer", "vendor"):
        if field in editable_fields(record.type):
            async with service.db.read() as repo:
                contacts = await repo.all_contacts(field, limit=MAX_MENU_CONTACTS + 1)
            if 0 < len(contacts) <= MAX_MENU_CONTACTS:
                found[field] = contacts
    return found


def _prefill(record: Record) -> dict[str, str | None]:
    """Return a record's values as the request modal's inputs show them."""
    dates = {name: day.isoformat() if (day := getattr(record, name)) else None for name in DATE_FIELDS}
    return {"vendor": record.vendor, "customer": record.customer, "amount": str(record.amount),
            "category": record.category, "department": record.department, "description": record.memo, **dates}


async def create_request(service: Signoff, form: RequestForm, record_id: str | None = None) -> Record:
    """Store the request as a record (new, or `record_id` updated) and submit it when a workflow governs it."""
    record_id = record_id or new_record_id(form.record_type, service.clock.now())
    record = await service.records.put_record(form.record_type, record_id, form.data)
    if record.approval_status in SUBMITTABLE:
        record = await service.records.submit(form.record_type, record_id, form.data.created_by)
    return record


class RequestListeners:
    """Bolt listeners of the request modal: the shortcut, the Home buttons, the rejection DM and the submissions."""

    def __init__(self, service: Signoff, refresher: HomeRefresher) -> None:
        self.service = service
        self.refresher = refresher

    async def on_open(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """The `new_request` shortcut or the Home button: open the modal (nothing without a trigger)."""
        await ack()
        trigger = trigger_id(body)
        if trigger is not None and user_id(body) is not None:
            await self.service.slack.open_view(trigger, request_modal(self.service))

    async def on_submit(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Check the form, close the modal, then create, submit and confirm the request."""
        await self._save(ack, body, view)

    async def on_edit(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Edit and resubmit (rejection DM): open the modal pre-filled from the requester's own document."""
        await ack()
        user, trigger = user_id(body), trigger_id(body)
        record = await self._own_record(body, user, record_key(action_value(body)), RESUBMITTABLE)
        if record is not None and trigger is not None:
            choices = await contact_choices(self.service, record)
            await self.service.slack.open_view(trigger, request_modal(self.service, record=record, choices=choices))

    async def on_edit_submit(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        """The edited document: check it, save the changes as the API does, then submit it again."""
        metadata, _, version = (private_metadata(view) or "").partition("\n")
        user, values, key = user_id(body), state_values(view), record_key(metadata)
        record = await self._own_record({}, user, key, RESUBMITTABLE) if values is not None else None
        if record is None or user is None or values is None:
            await ack()
            return
        if record.updated_at.isoformat() != version:
            await ack(response_action="errors", errors=self._errors({"amount": "changed_meanwhile"}))
            return
        data = read_edit(values, record)
        if isinstance(data, dict):
            await ack(response_action="errors", errors=self._errors(data))
            return
        await ack()
        await self._store(user, RequestForm(record.type, data), record.key()[1])

    async def on_home_submit(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Submit for approval (Home): send the requester's `approval_required` document for approval."""
        await ack()
        user = user_id(body)
        statuses = frozenset({ApprovalStatus.APPROVAL_REQUIRED})
        record = await self._own_record(body, user, record_key(action_value(body)), statuses)
        if record is None or user is None:
            return
        try:
            record = await self.service.records.submit(record.type, record.id, user)
        except NobodyToAskError:
            note = self.service.renderer.text("request_note.txt.j2", code="no_approver", type=record.type.value,
                                              id=record.id, status=record.approval_status.value)
            await self.service.slack.ephemeral(channel_id(body) or user, user, note)
        except Refused as exc:
            await self._failed(user, exc)
        else:
            await self.service.records.confirm_to_requester(record)
        await self.refresher.publish(user)

    async def _own_record(
        self, body: dict[str, Any], user: str | None, key: tuple[RecordType, str] | None,
        statuses: frozenset[ApprovalStatus],
    ) -> Record | None:
        """Return the clicker's own document in one of these states, or tell them why not and return None."""
        if user is None or key is None:
            return None
        async with self.service.db.read() as repo:
            record = await repo.get_record(key[0].value, key[1])
        code = resubmit_refusal(record, user, statuses)
        if code is None:
            return record
        note = self.service.renderer.text("request_note.txt.j2", code=code, type=key[0].value, id=key[1],
                                          status=record.approval_status.value if record else "")
        await self.service.slack.ephemeral(channel_id(body) or user, user, note)
        return None

    async def _save(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        user, values = user_id(body), state_values(view)
        if user is None or values is None:
            await ack()
            return
        form = read_form(values, user, self.service.settings.currency)
        if isinstance(form, dict):
            await ack(response_action="errors", errors=self._errors(form))
            return
        await ack()
        await self._store(user, form, None)

    def _errors(self, codes: dict[str, str]) -> dict[str, str]:
        return {block: self.service.renderer.text("resubmit_error.txt.j2", code=code)
                for block, code in codes.items()}

    async def _store(self, user: str, form: RequestForm, record_id: str | None) -> None:
        """Create the request, or save the edited document and send it for approval again (its requester only)."""
        key = (form.record_type, record_id) if record_id else None
        if key is not None and await self._own_record({}, user, key, RESUBMITTABLE) is None:
            return
        try:
            record = await create_request(self.service, form, record_id)
        except Refused as exc:
            await self._failed(user, exc)
            return
        if key is not None and record.approval_status is ApprovalStatus.REJECTED:
            note = self.service.renderer.text("request_note.txt.j2", code="unchanged", type=key[0].value, id=key[1],
                                              status=record.approval_status.value)
            await self.service.slack.dm(user, {"text": note})
            return
        await self.service.records.confirm_to_requester(record)
        await self.refresher.refresh([user])

    async def _failed(self, user: str, exc: Refused) -> None:
        note = self.service.renderer.json("commands_note.json.j2", code="failed",
                                          detail={"message": exc.message, "details": exc.details})
        await self.service.slack.dm(user, note)


def register(app: AsyncApp, service: Signoff, refresher: HomeRefresher) -> None:
    """Wire the request shortcut, the Home buttons, Edit and resubmit and the modals into the Bolt app."""
    listeners = RequestListeners(service, refresher)
    app.shortcut("new_request")(listeners.on_open)
    app.action("home_new_request")(listeners.on_open)
    app.action(re.compile(r"^request_submit(:[0-9]+)?$"))(listeners.on_home_submit)
    app.action("request_edit")(listeners.on_edit)
    app.view(CALLBACK_ID)(listeners.on_submit)
    app.view(EDIT_CALLBACK_ID)(listeners.on_edit_submit)


async def request_command(ctx: CommandContext, args: list[str]) -> Reply | None:
    """Open the request modal (an expense unless `po` is given)."""
    kind = KIND_ALIASES.get(args[0].lower(), "") if args else "expense"
    if not kind:
        return ctx.note("usage", usage="request [expense|po]")
    await ctx.open_modal(request_modal(ctx.service, kind))
    return None


SUBCOMMANDS = (
    command("request", request_command, help_key="request", usage="request [expense|po]"),
)
