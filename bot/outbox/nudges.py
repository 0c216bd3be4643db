"""Delivering reminders and escalations: the DMs the sweep queued, unless the approver acted since."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.core.cards import behalf_view
from bot.core.service import Signoff
from bot.senders.slack import Posted
from engine.approvals import is_on_step, is_waiting_on
from engine.delegation import CopyStanding, Recipient, StoodIn
from engine.durations import wait_parts
from engine.nudges import reminded_seat
from storage.models import OutboxItem, SlackMessageRef


def stand_in_of(item: OutboxItem) -> StoodIn | None:
    """Return whom a queued DM's recipient stands in for while they are away, or None when it is for themselves."""
    seat = item.payload.get("on_behalf_of")
    if not seat:
        return None
    return StoodIn(Recipient(item.target, seat, datetime.fromisoformat(item.payload["until"])), CopyStanding.ACTING)


def behalf_context(item: OutboxItem) -> dict[str, Any]:
    """Return the templates' `behalf` (whom the recipient stands in for) and the buttons' task value."""
    return behalf_view(item.payload["request_id"], stand_in_of(item))


class Nudges:
    """The outbox handlers of reminders and escalations."""

    def __init__(self, service: Signoff) -> None:
        self.service = service

    async def remind(self, item: OutboxItem) -> dict[str, Any]:
        """DM one reminder (to a delegate: for the away approver), unless the approver decided since it was queued."""
        p = item.payload
        request = await self.service.approvals.request(p["request_id"])
        if not is_waiting_on(request, p["step_index"], reminded_seat(p, item.target)):
            return {"skipped": "no longer waiting on this approver"}
        card = await self.service.messages.card_for(p["request_id"])
        message = self.service.renderer.json("approval_reminder.json.j2", card=card, **behalf_context(item),
                                             reminder={"n": p["n"], "waited": wait_parts(p["waited_s"])})
        posted = await self.post_tracked(p["request_id"], p["step_index"], item.target, message)
        return {"channel": posted.channel, "ts": posted.ts}

    async def remind_digest(self, item: OutboxItem) -> dict[str, Any]:
        """DM one message listing the documents a person was reminded of at once, those still waiting for them."""
        waiting = [entry for entry in [await self._still_waiting(p, item.target) for p in item.payload["items"]]
                   if entry is not None]
        if not waiting:
            return {"skipped": "no longer waiting on this approver"}
        message = self.service.renderer.json("approval_reminder_digest.json.j2", items=waiting)
        posted = await self.service.slack.dm(item.target, message)
        return {"channel": posted.channel, "ts": posted.ts, "documents": len(waiting)}

    async def _still_waiting(self, p: dict[str, Any], target: str) -> dict[str, Any] | None:
        """Return one reminded document as the digest lists it, or None when the approver acted since."""
        request = await self.service.approvals.request(p["request_id"])
        if request is None or not is_waiting_on(request, p["step_index"], reminded_seat(p, target)):
            return None
        card = await self.service.messages.card_for(p["request_id"])
        return {"record": card["record"], "waited": wait_parts(p["waited_s"]), "on_behalf_of": p.get("on_behalf_of")}

    async def escalate_digest(self, item: OutboxItem) -> dict[str, Any]:
        """DM one message listing the documents escalated to a person at once (or, to an approver passed over, past
        them), those still on the escalated step."""
        entries = [await self._still_escalated(p) for p in item.payload["items"]]
        shown = [entry for entry in entries if entry is not None]
        if not shown:
            return {"skipped": "every document moved on"}
        message = self.service.renderer.json("escalation_digest.json.j2", items=shown, role=item.payload["role"])
        posted = await self.service.slack.dm(item.target, message)
        return {"channel": posted.channel, "ts": posted.ts, "documents": len(shown)}

    async def _still_escalated(self, p: dict[str, Any]) -> dict[str, Any] | None:
        """Return one escalated document as the digest lists it, or None when its request moved on."""
        if not is_on_step(await self.service.approvals.request(p["request_id"]), p["step_index"]):
            return None
        card = await self.service.messages.card_for(p["request_id"])
        return {"record": card["record"], "waited": wait_parts(p["waited_s"]), "to": p["to"],
                "on_behalf_of": p.get("on_behalf_of")}

    async def escalate(self, item: OutboxItem) -> dict[str, Any]:
        """DM an escalation (with the buttons) to a target, or the notice to an approver who did not act."""
        p = item.payload
        request = await self.service.approvals.request(p["request_id"])
        if not is_on_step(request, p["step_index"]):
            return {"skipped": "the request moved on"}
        card = await self.service.messages.card_for(p["request_id"])
        escalation = {"level": p["level"], "to": p["to"], "waiting_on": p["waiting_on"],
                      "waited": wait_parts(p["waited_s"]), "seat": reminded_seat(p, item.target)}
        behalf = behalf_context(item)
        if p["role"] == "notice":
            notice = self.service.renderer.json("escalation_notice.json.j2", card=card, escalation=escalation,
                                                **behalf)
            posted = await self.service.slack.dm(item.target, notice)
        else:
            message = self.service.renderer.json("escalation.json.j2", card=card, escalation=escalation, **behalf)
            posted = await self.post_tracked(p["request_id"], p["step_index"], item.target, message)
        return {"channel": posted.channel, "ts": posted.ts}

    async def post_tracked(self, request_id: str, step_index: int, user: str, message: dict[str, Any]) -> Posted:
        """DM a message with the decision buttons and remember it, so every later decision updates it."""
        posted = await self.service.slack.dm(user, message)
        async with self.service.db.unit_of_work() as repo:
            await repo.add_message(SlackMessageRef(request_id, step_index, user, posted.channel, posted.ts))
        for hook in self.service.messages.after_refresh:
            await hook(request_id, None)
        return posted
