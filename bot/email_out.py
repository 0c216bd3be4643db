"""E-mail through SMTP (aiosmtplib), configured by SIGNOFF_SMTP_URL."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib

from bot.errors import SettingsError

DEFAULT_SENDER = "signoff@localhost"


@dataclass(frozen=True)
class SmtpConfig:
    """Where and how to send e-mail."""

    host: str
    port: int
    username: str | None = None
    password: str | None = None
    use_tls: bool = False
    sender: str = DEFAULT_SENDER

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        """Parse `smtp://user:pass@host:port?from=a@b` (or `smtps://` for implicit TLS)."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise SettingsError("SIGNOFF_SMTP_URL is invalid: expected smtp://user:pass@host:port")
        query = dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p)
        return cls(
            host=parts.hostname, port=parts.port or (465 if parts.scheme == "smtps" else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=parts.scheme == "smtps", sender=unquote(query.get("from", DEFAULT_SENDER)),
        )


@dataclass(frozen=True)
class Email:
    """One e-mail to send, as data (it travels through the outbox as JSON)."""

    to: list[str]
    subject: str
    body: str
    cc: list[str] = field(default_factory=list)
    reply_to: str | None = None
    sender_name: str = "Signoff"

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form stored in the outbox."""
        return {"to": self.to, "subject": self.subject, "body": self.body, "cc": self.cc,
                "reply_to": self.reply_to, "sender_name": self.sender_name}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Email:
        """Rebuild an e-mail from its outbox JSON."""
        return cls(**data)


def build_message(email: Email, config: SmtpConfig) -> EmailMessage:
    """Build the MIME message."""
    message = EmailMessage()
    message["From"] = formataddr((email.sender_name, config.sender))
    message["To"] = ", ".join(email.to)
    if email.cc:
        message["Cc"] = ", ".join(email.cc)
    if email.reply_to:
        message["Reply-To"] = email.reply_to
    message["Subject"] = email.subject
    message["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2] or "localhost")
    message.set_content(email.body)
    return message


async def send_email(email: Email, config: SmtpConfig) -> str:
    """Send one e-mail; return its Message-ID."""
    message = build_message(email, config)
    await aiosmtplib.send(
        message, hostname=config.host, port=config.port, username=config.username,
        password=config.password, use_tls=config.use_tls, timeout=30,
    )
    return str(message["Message-ID"])
