"""Delivering status webhooks: POST one queued event to SIGNOFF_WEBHOOK_URL, signed.

Each POST carries the JSON `{id, event, record, approval, at, sequence}` and the headers
`X-Signoff-Timestamp` (Unix seconds) and `X-Signoff-Signature: sha256=HEX`, the HMAC-SHA256 of
`f"{timestamp}.{body}"` keyed with SIGNOFF_WEBHOOK_SECRET. A 2xx answer delivers it; 408, 429,
5xx and network errors are retried with backoff; any other 4xx is final. `sequence` is the event's place in the
outbox: the events of one document are queued in the order they happened, so a receiver that got them out of order
(a retried one overtaken by a later one) orders them by it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import aiohttp

from bot.outbox.errors import Permanent
from bot.settings import Settings
from storage.models import OutboxItem

TIMEOUT_S = 10.0
RETRIED_CLIENT_ERRORS = frozenset({408, 429})


def sign(secret: str, timestamp: str, body: str) -> str:
    """Return the `X-Signoff-Signature` value of a body sent at a timestamp."""
    digest = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookPoster:
    """The outbox handler of webhook events."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def headers(self, item: OutboxItem, body: str) -> dict[str, str]:
        """Return the headers of one event's POST, signed when a secret is set."""
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "User-Agent": "Signoff-Webhooks/1",
                   "X-Signoff-Timestamp": timestamp, "X-Signoff-Event": str(item.payload.get("event")),
                   "X-Signoff-Delivery": str(item.payload.get("id"))}
        secret = self.settings.webhook_secret
        if secret:
            headers["X-Signoff-Signature"] = sign(secret, timestamp, body)
        return headers

    async def deliver(self, item: OutboxItem) -> dict[str, Any]:
        """POST one queued event, signed; raise to have the outbox retry (Permanent: never retry)."""
        body = json.dumps(item.payload | {"sequence": item.id}, separators=(",", ":"), sort_keys=True,
                          ensure_ascii=False)
        headers = self.headers(item, body)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_S)) as session, \
                session.post(item.target, data=body.encode(), headers=headers, allow_redirects=False) as response:
            status = response.status
        if 200 <= status < 300:
            return {"status": status}
        if 400 <= status < 500 and status not in RETRIED_CLIENT_ERRORS:
            raise Permanent(f"webhook refused with HTTP {status}; not retried")
        raise ConnectionError(f"webhook answered HTTP {status}; will retry")
