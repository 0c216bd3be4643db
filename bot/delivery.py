"""The outbox worker: claims due messages and performs them against Slack (and e-mail)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.email_out import Email, SmtpConfig, send_email
from bot.service import Signoff
from storage.outbox_repo import OutboxItem

log = logging.getLogger(__name__)

Handler = Callable[[OutboxItem], Awaitable[dict[str, Any] | None]]
MAX_ATTEMPTS = 8
LEASE_S = 60.0


def backoff_s(attempts: int) -> float:
    """Return the wait before retry number `attempts` (exponential, capped at 10 minutes)."""
    return float(min(600, 2 ** max(0, attempts - 1)))


class Deliverer:
    """Drains the outbox; one per process, woken when work is queued."""

    def __init__(self, service: Signoff, batch_size: int = 50) -> None:
        self.service = service
        self.batch_size = batch_size
        self.handlers: dict[str, Handler] = {
            "ask": self._ask, "channel_copy": self._channel_copy, "refresh": self._refresh,
            "outcome": self._outcome, "message": self._message, "email": self._email,
        }
        self._wake = asyncio.Event()
        self._drain_lock = asyncio.Lock()

    def kick(self) -> None:
        """Wake the worker: new work was queued."""
        self._wake.set()

    async def run_forever(self, idle_s: float = 1.0) -> None:
        """Deliver due work whenever woken, and at least every `idle_s`."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=idle_s)
            self._wake.clear()
            try:
                await self.drain()
            except Exception:
                log.exception("outbox drain failed")

    async def drain(self) -> int:
        """Deliver every item due now; return how many were handled."""
        handled = 0
        async with self._drain_lock:
            while True:
                now = self.service.clock.now()
                async with self.service.db.transaction() as repo:
                    batch = await repo.claim_due(now, LEASE_S, self.batch_size)
                if not batch:
                    return handled
                for item in batch:
                    await self._perform(item)
                handled += len(batch)

    async def _perform(self, item: OutboxItem) -> None:
        handler = self.handlers.get(item.kind)
        try:
            if handler is None:
                raise LookupError(f"no handler for outbox kind {item.kind!r}")
            result = await handler(item)
        except Exception as exc:
            await self._failed(item, exc)
            return
        async with self.service.db.transaction() as repo:
            await repo.mark_sent(item.id, self.service.clock.now(), result)

    async def _failed(self, item: OutboxItem, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"
        is_permanent = isinstance(exc, LookupError | KeyError) or _is_permanent_slack_error(exc)
        async with self.service.db.transaction() as repo:
            if is_permanent or item.attempts >= MAX_ATTEMPTS:
                log.error("outbox item %s dead-lettered: %s", item.id, error)
                await repo.mark_dead(item.id, error)
            else:
                later = self.service.clock.now() + timedelta(seconds=backoff_s(item.attempts))
                await repo.mark_retry(item.id, later, error)

    async def _ask(self, item: OutboxItem) -> dict[str, Any]:
        payload = item.payload
        posted = await self.service.post_request_copy(payload["request_id"], payload["step_index"], user=item.target)
        return {"channel": posted.channel, "ts": posted.ts}

    async def _channel_copy(self, item: OutboxItem) -> dict[str, Any]:
        posted = await self.service.post_request_copy(item.payload["request_id"], None, channel=item.target)
        return {"channel": posted.channel, "ts": posted.ts}

    async def _refresh(self, item: OutboxItem) -> None:
        await self.service.refresh_messages(item.payload["request_id"])

    async def _outcome(self, item: OutboxItem) -> dict[str, Any]:
        posted = await self.service.tell_requester(item.payload["request_id"])
        return {"channel": posted.channel, "ts": posted.ts} if posted else {}

    async def _message(self, item: OutboxItem) -> dict[str, Any]:
        message = item.payload["message"]
        slack = self.service.slack
        posted = await (slack.dm(item.target, message) if item.target.startswith(("U", "W")) else
                        slack.post(item.target, message))
        return {"channel": posted.channel, "ts": posted.ts}


    async def _email(self, item: OutboxItem) -> dict[str, Any]:
        smtp_url = self.service.settings.smtp_url
        if not smtp_url:
            raise LookupError("e-mail is off: SIGNOFF_SMTP_URL is not set")
        message_id = await send_email(Email.from_json(item.payload), SmtpConfig.from_url(smtp_url))
        return {"message_id": message_id}


PERMANENT_SLACK_ERRORS = frozenset({
    "channel_not_found", "user_not_found", "invalid_blocks", "msg_too_long", "no_text", "not_in_channel",
    "is_archived", "invalid_arguments", "cannot_dm_bot", "user_disabled", "message_not_found",
})


def _is_permanent_slack_error(exc: Exception) -> bool:
    return isinstance(exc, SlackApiError) and exc.response.get("error") in PERMANENT_SLACK_ERRORS
