"""Outbound status webhooks: queued in the deciding transaction, POSTed signed by the outbox worker.

Each POST carries the JSON `{id, event, record, approval, at}` and the headers
`X-Signoff-Timestamp` (Unix seconds) and `X-Signoff-Signature: sha256=HEX`, the HMAC-SHA256 of
`f"{timestamp}.{body}"` keyed with SIGNOFF_WEBHOOK_SECRET. A 2xx answer delivers it; 408, 429,
5xx and network errors are retried with backoff; any other 4xx is final.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from datetime import datetime
from typing import Any

import aiohttp

from bot.core.cards import approval_json
from bot.core.deps import Deps
from bot.errors import UndeliverableError
from engine.approvals import ApprovalRequest, Outcome
from engine.events import ApprovalRequested, Event, RecordApproved, RecordRejected
from engine.records import Record
from storage.models import OutboxItem
from storage.ports import Repository

TIMEOUT_S = 10.0
RETRIED_CLIENT_ERRORS = frozenset({408, 429})
REJECTED_EVENTS = {"rejected": "approval.rejected", "expired": "approval.expired", "cancelled": "approval.cancelled"}


def sign(secret: str, timestamp: str, body: str) -> str:
    """Return the `X-Signoff-Signature` value of a body sent at a timestamp."""
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def event_name(event: Event) -> str | None:
    """Return the webhook event an approval event is published as, if any."""
    if isinstance(event, ApprovalRequested):
        return "approval.requested"
    if isinstance(event, RecordApproved):
        return "approval.approved"
    if isinstance(event, RecordRejected):
        return REJECTED_EVENTS.get(event.status)
    return None


class Webhooks:
    """Queues status events for SIGNOFF_WEBHOOK_URL and delivers them."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    @property
    def url(self) -> str | None:
        """Return where events go (None: webhooks are off)."""
        return self.deps.settings.webhook_url

    async def queue(
        self, repo: Repository, event: str, record: Record | None, request: ApprovalRequest | None, now: datetime
    ) -> None:
        """Queue one event, in the caller's transaction, when webhooks are on."""
        if not self.url:
            return
        event_id = f"evt_{uuid.uuid4().hex}"
        payload = {
            "id": event_id, "event": event, "at": now.isoformat(),
            "record": record.model_dump(mode="json", by_alias=True) if record else None,
            "approval": approval_json(request) if request else None,
        }
        await repo.enqueue("webhook", self.url, payload, now, key=f"webhook:{event_id}")

    async def record_saved(self, repo: Repository, before: Record | None, after: Record, now: datetime) -> None:
        """Queue `record.created` or `record.updated`."""
        if not self.url:
            return
        requests = await repo.requests_for_record(after.type.value, after.id)
        name = "record.created" if before is None else "record.updated"
        await self.queue(repo, name, after, requests[-1] if requests else None, now)

    async def on_outcome(self, repo: Repository, outcome: Outcome, now: datetime) -> None:
        """Queue the approval events of an outcome (requested, approved, rejected, expired, cancelled)."""
        if not self.url:
            return
        request = outcome.request
        for event in outcome.events:
            name = event_name(event)
            if name is not None:
                record = await repo.get_record(request.record_type, request.record_id)
                await self.queue(repo, name, record, request, now)

    async def deliver(self, item: OutboxItem) -> dict[str, Any]:
        """POST one queued event, signed; raise to have the outbox retry (UndeliverableError: never retry)."""
        body = json.dumps(item.payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "User-Agent": "Signoff-Webhooks/1",
                   "X-Signoff-Timestamp": timestamp, "X-Signoff-Event": str(item.payload.get("event")),
                   "X-Signoff-Delivery": str(item.payload.get("id"))}
        secret = self.deps.settings.webhook_secret
        if secret:
            headers["X-Signoff-Signature"] = sign(secret, timestamp, body)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as session, \
                session.post(item.target, data=body.encode(), headers=headers, allow_redirects=False) as response:
            status = response.status
        if 200 <= status < 300:
            return {"status": status}
        if 400 <= status < 500 and status not in RETRIED_CLIENT_ERRORS:
            raise UndeliverableError(f"webhook refused with HTTP {status}; not retried")
        raise ConnectionError(f"webhook answered HTTP {status}; will retry")
