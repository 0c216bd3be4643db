"""The sandbox's SMTP catcher: a small SMTP server on loopback that keeps every e-mail Signoff sends."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses
from typing import Any

from aiosmtpd.smtp import SMTP

MAX_KEPT = 500
LOOPBACK = "127.0.0.1"


@dataclass
class Mail:
    """One e-mail the catcher received."""

    id: int
    received_at: str
    sender: str  # the From header as a mail client shows it (name and address), else the envelope sender
    to: list[str]
    cc: list[str]
    subject: str
    body: str
    envelope_to: list[str] = field(default_factory=list)


def _addresses(message: EmailMessage, header: str) -> list[str]:
    return [address for _, address in getaddresses([str(v) for v in message.get_all(header, [])]) if address]


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content() if isinstance(part, EmailMessage) else ""
    return content if isinstance(content, str) else ""


def parse_mail(mail_id: int, received_at: datetime, mail_from: str, rcpt_tos: list[str], raw: bytes) -> Mail:
    """Return a received message as the Mail view shows it."""
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return Mail(
        id=mail_id, received_at=received_at.isoformat(), sender=str(message.get("From", "")) or mail_from,
        to=_addresses(message, "To") or list(rcpt_tos), cc=_addresses(message, "Cc"),
        subject=str(message.get("Subject", "")), body=_body(message), envelope_to=list(rcpt_tos),
    )


class Mailbox:
    """Every e-mail received, newest last; `on_mail` is told of each one."""

    def __init__(self, now: Callable[[], datetime], on_mail: Callable[[Mail], None] | None = None) -> None:
        self.now = now
        self.on_mail = on_mail
        self.mails: list[Mail] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._next_id = 1

    @property
    def url(self) -> str:
        """Return the SIGNOFF_SMTP_URL that reaches this catcher."""
        return f"smtp://{LOOPBACK}:{self.port}?from=signoff%40sandbox.example"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """Keep one message."""
        raw = envelope.original_content or envelope.content
        mail = parse_mail(self._next_id, self.now(), str(envelope.mail_from), list(envelope.rcpt_tos), raw)
        self._next_id += 1
        self.mails = [*self.mails, mail][-MAX_KEPT:]
        if self.on_mail is not None:
            self.on_mail(mail)
        return "250 OK"

    def as_json(self) -> list[dict[str, Any]]:
        """Return the mails, newest first."""
        return [asdict(mail) for mail in reversed(self.mails)]

    def restore(self, saved: list[dict[str, Any]]) -> None:
        """Keep mails saved by an earlier run (newest first, as `as_json` gives them)."""
        self.mails = [Mail(**item) for item in reversed(saved)][-MAX_KEPT:]
        self._next_id = max((m.id for m in self.mails), default=0) + 1

    async def start(self) -> None:
        """Listen on a free loopback port, in this event loop."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((LOOPBACK, 0))
        self.port = sock.getsockname()[1]
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: SMTP(self, hostname="sandbox.local"), sock=sock)

    async def close(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
