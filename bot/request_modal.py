"""Requests from Slack: a modal that creates an expense or purchase order and sends it for approval."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.commands import CommandContext, Reply, subcommand
from bot.errors import ApiError
from bot.home import refresher_for
from bot.service import Signoff
from engine.records import ApprovalStatus, Record, RecordInput, RecordType, Source
from messages.cards import record_view

log = logging.getLogger(__name__)

CALLBACK_ID = "request_new"
KINDS = {"expense": RecordType.EXPENSE, "purchase_order": RecordType.PURCHASE_ORDER}
ID_PREFIXES = {RecordType.EXPENSE: "EXP", RecordType.PURCHASE_ORDER: "PO"}
KIND_ALIASES = {"expense": "expense", "exp": "expense", "po": "purchase_order", "purchase": "purchase_order",
                "purchase_order": "purchase_order"}
CURRENCIES = ("EUR", "USD", "GBP", "CHF", "CAD", "AUD", "JPY", "SEK", "NOK", "DKK")
DEFAULT_CURRENCY = {"fr": "EUR", "en": "USD"}
MAX_AMOUNT = Decimal("1000000000")


def new_record_id(record_type: RecordType, now: datetime) -> str:
    """Return a fresh, readable record id such as `EXP-261123-4F7A2C`."""
    return f"{ID_PREFIXES[record_type]}-{now:%y%m%d}-{secrets.token_hex(3).upper()}"


def request_modal(service: Signoff, kind: str = "expense") -> dict[str, Any]:
    """Render the request modal, with the kind of document pre-selected."""
    view: dict[str, Any] = service.renderer.json(
        "request_modal.json.j2", kind=kind if kind in KINDS else "expense", currencies=CURRENCIES,
        currency=DEFAULT_CURRENCY.get(service.settings.locale, "USD"))
    return view


def _value(values: dict[str, Any], block_id: str) -> Any:
    entry = (values.get(block_id) or {}).get(block_id) or {}
    if "selected_option" in entry:
        return (entry["selected_option"] or {}).get("value")
    return entry.get("selected_date") if "selected_date" in entry else entry.get("value")


def _amount(text: str | None) -> Decimal | None:
    try:
        amount = Decimal((text or "").strip().replace(",", ".").replace(" ", ""))
    except InvalidOperation:
        return None
    is_valid = amount.is_finite() and Decimal("0") < amount < MAX_AMOUNT and -amount.as_tuple().exponent <= 2
    return amount if is_valid else None


@dataclass(frozen=True)
class RequestForm:
    """What the requester typed, checked."""

    record_type: RecordType
    data: RecordInput


def read_form(values: dict[str, Any], user: str) -> RequestForm | dict[str, str]:
    """Turn the modal's state into a record, or return `{block_id: error code}`."""
    errors: dict[str, str] = {}
    kind = _value(values, "kind") or "expense"
    vendor = (_value(values, "vendor") or "").strip()
    amount = _amount(_value(values, "amount"))
    currency = _value(values, "currency") or "USD"
    if not vendor:
        errors["vendor"] = "vendor_required"
    if amount is None:
        errors["amount"] = "amount_invalid"
    if kind not in KINDS:
        errors["kind"] = "kind_invalid"
    if currency not in CURRENCIES:
        errors["currency"] = "currency_invalid"
    if errors:
        return errors
    due = _value(values, "due_date")
    data = RecordInput(
        amount=amount, currency=currency, vendor=vendor, category=(_value(values, "category") or "").strip() or None,
        memo=(_value(values, "description") or "").strip() or None, due_date=date.fromisoformat(due) if due else None,
        source=Source.SLACK, created_by=user,
    )
    return RequestForm(KINDS[kind], data)


async def create_request(service: Signoff, form: RequestForm) -> Record:
    """Store the request as a record and submit it when an approval workflow governs it."""
    record_id = new_record_id(form.record_type, service.clock.now())
    record = await service.put_record(form.record_type, record_id, form.data)
    if record.approval_status is ApprovalStatus.APPROVAL_REQUIRED:
        record = await service.submit(form.record_type, record_id, form.data.created_by)
    return record


async def confirm_to_requester(service: Signoff, record: Record) -> None:
    """Queue the requester's confirmation DM, which links back to the record."""
    user = record.created_by or ""
    message = service.renderer.json("request_confirmation.json.j2", record=record_view(record, None))
    now = service.clock.now()
    async with service.db.transaction() as repo:
        await repo.enqueue("message", user, {"message": message}, now, key=f"request:{record.type.value}:{record.id}")
    if service.on_queued is not None:
        service.on_queued()


class RequestListeners:
    """Bolt listeners of the request modal: the shortcut, the Home button and the submission."""

    def __init__(self, service: Signoff) -> None:
        self.service = service

    async def on_open(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """The `new_request` shortcut or the Home button: open the modal."""
        await ack()
        await self.service.slack.open_view(body["trigger_id"], request_modal(self.service))

    async def on_submit(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Check the form, close the modal, then create, submit and confirm the request."""
        user = str(body["user"]["id"])
        form = read_form(view["state"]["values"], user)
        if isinstance(form, dict):
            errors = {block: self.service.renderer.text("request_error.txt.j2", code=code)
                      for block, code in form.items()}
            await ack(response_action="errors", errors=errors)
            return
        await ack()
        try:
            record = await create_request(self.service, form)
        except ApiError as exc:
            note = self.service.renderer.json("commands_note.json.j2", code="failed",
                                              detail={"message": exc.message, "details": exc.details})
            await self.service.slack.dm(user, note)
            return
        await confirm_to_requester(self.service, record)
        await refresher_for(self.service).refresh([user])


def register(app: AsyncApp, service: Signoff) -> None:
    """Wire the request shortcut, the Home button and the modal into the Bolt app."""
    listeners = RequestListeners(service)
    app.shortcut("new_request")(listeners.on_open)
    app.action("home_new_request")(listeners.on_open)
    app.view(CALLBACK_ID)(listeners.on_submit)


@subcommand("request", help_key="request", usage="request [expense|po]")
async def request_command(ctx: CommandContext, args: list[str]) -> Reply | None:
    """Open the request modal (an expense unless `po` is given)."""
    kind = KIND_ALIASES.get(args[0].lower(), "") if args else "expense"
    if not kind:
        return ctx.note("usage", usage="request [expense|po]")
    await ctx.open_modal(request_modal(ctx.service, kind))
    return None
