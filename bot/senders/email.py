"""E-mail through SMTP (aiosmtplib), configured by SIGNOFF_SMTP_URL."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from typing import Any

import aiosmtplib

from bot.settings import SmtpConfig

SENDER = "Signoff"  # the From name of an e-mail of no company (`PUT /api/v1/company` names it)
# every character that ends a line somewhere (CR, LF, and the others str.splitlines knows)
LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]+")


def header_text(value: str) -> str:
    """Return a header value on one line: line breaks become spaces, so data can never add a header."""
    return LINE_BREAKS.sub(" ", value).strip()


@dataclass(frozen=True)
class Email:
    """One e-mail to send, as data (it travels through the outbox as JSON)."""

    to: list[str]
    subject: str
    body: str
    cc: list[str] = field(default_factory=list)
    reply_to: str | None = None
    sender_name: str = SENDER

    def __post_init__(self) -> None:
        """Keep every header field on one line, whatever template or data it came from."""
        object.__setattr__(self, "to", [header_text(a) for a in self.to])
        object.__setattr__(self, "cc", [header_text(a) for a in self.cc])
        object.__setattr__(self, "subject", header_text(self.subject))
        object.__setattr__(self, "sender_name", header_text(self.sender_name))
        if self.reply_to is not None:
            object.__setattr__(self, "reply_to", header_text(self.reply_to))

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form stored in the outbox."""
        return {"to": self.to, "subject": self.subject, "body": self.body, "cc": self.cc,
                "reply_to": self.reply_to, "sender_name": self.sender_name}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Email:
        """Rebuild an e-mail from its outbox JSON."""
        return cls(**data)


def build_message(email: Email, config: SmtpConfig, ref: str | None = None) -> EmailMessage:
    """Build the MIME message; with `ref` (what identifies this e-mail for good: its outbox row) its Message-ID is
    the same at every attempt, so a copy sent again after a crash mid-send is known as the same message."""
    message = EmailMessage()
    message["From"] = formataddr((email.sender_name, config.sender))
    message["To"] = ", ".join(email.to)
    if email.cc:
        message["Cc"] = ", ".join(email.cc)
    if email.reply_to:
        message["Reply-To"] = email.reply_to
    message["Subject"] = email.subject
    message["Date"] = formatdate(usegmt=True)
    domain = config.sender.rpartition("@")[2] or "localhost"
    message["Message-ID"] = f"<signoff.{ref}@{domain}>" if ref else make_msgid(domain=domain)
    message.set_content(email.body)
    return message


async def send_email(email: Email, config: SmtpConfig, ref: str | None = None) -> str:
    """Send one e-mail (`ref`: see `build_message`); return its Message-ID."""
    message = build_message(email, config, ref)
    await aiosmtplib.send(
        message, hostname=config.host, port=config.port, username=config.username,
        password=config.password, use_tls=config.use_tls, timeout=30,
    )
    return str(message["Message-ID"])
