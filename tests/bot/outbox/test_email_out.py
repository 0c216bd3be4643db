"""E-mail goes to a real SMTP server (aiosmtpd) on loopback, through the outbox."""

from __future__ import annotations

import asyncio
import re
from email import message_from_bytes
from pathlib import Path

import pytest

from bot.errors import SettingsError
from bot.senders.email import Email, build_message, send_email
from bot.settings import SmtpConfig
from tests.support.harness import running_signoff
from tests.support.smtp import Inbox


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://127.0.0.1:2525", SmtpConfig("127.0.0.1", 2525)),
        ("smtp://u%40x:p%3Aw@mail.example.com:587?from=ap@example.com",
         SmtpConfig("mail.example.com", 587, "u@x", "p:w", False, "ap@example.com")),
        ("smtps://mail.example.com", SmtpConfig("mail.example.com", 465, use_tls=True)),
    ],
)
def test_smtp_url_parsing(url: str, expected: SmtpConfig) -> None:
    assert SmtpConfig.from_url(url) == expected


@pytest.mark.parametrize("url", ["http://mail.example.com", "smtp://", "mail.example.com"])
def test_bad_smtp_url_names_the_setting(url: str) -> None:
    with pytest.raises(SettingsError, match="SIGNOFF_SMTP_URL"):
        SmtpConfig.from_url(url)


async def test_send_email_reaches_the_smtp_server(smtp: Inbox) -> None:
    inbox, port = smtp, smtp.port
    email = Email(to=["ap@acme.example"], subject="Invoice INV-1 is due", body="Bonjour, 12 500,00 €", cc=["me@x.io"])
    await send_email(email, SmtpConfig("127.0.0.1", port, sender="billing@signoff.example"))
    mail_from, rcpts, content = inbox.messages[0]
    parsed = message_from_bytes(content)
    assert mail_from == "billing@signoff.example" and rcpts == ["ap@acme.example", "me@x.io"]
    assert parsed["Subject"] == "Invoice INV-1 is due" and "12 500,00 €" in parsed.get_payload(decode=True).decode()


async def test_outbox_email_is_delivered_once(tmp_path: Path, smtp: Inbox) -> None:
    inbox, port = smtp, smtp.port
    async with running_signoff(tmp_path / "m.db", smtp_url=f"smtp://127.0.0.1:{port}") as signoff:
        async with signoff.db.unit_of_work() as repo:
            email = Email(to=["ap@acme.example"], subject="Hello", body="Body")
            now = signoff.runtime.service.clock.now()
            assert await repo.enqueue("email", "ap@acme.example", email.to_json(), now, key="mail-1")
            assert not await repo.enqueue("email", "ap@acme.example", email.to_json(), now, key="mail-1")
        signoff.runtime.deliverer.kick()
        for _ in range(100):
            if inbox.messages:
                break
            await asyncio.sleep(0.05)
        await signoff.runtime.deliverer.drain()
        assert len(inbox.messages) == 1
        assert re.fullmatch(r"<signoff\.\d+\.\d{16}@[^>]+>", message_from_bytes(inbox.messages[0][2])["Message-ID"])


def test_an_e_mail_sent_again_after_a_crash_keeps_its_message_id() -> None:
    email, config = Email(to=["ap@acme.example"], subject="Hello", body="Body"), SmtpConfig("h", 25, sender="b@x.io")
    ref = "7.1795745558092461"
    first, again = build_message(email, config, ref), build_message(email, config, ref)
    assert first["Message-ID"] == again["Message-ID"] == "<signoff.7.1795745558092461@x.io>"
    assert build_message(email, config)["Message-ID"] != build_message(email, config)["Message-ID"]


@pytest.mark.parametrize(
    "changes",
    [
        {"subject": "Invoice INV-1\r\nBcc: evil@x.example"},
        {"subject": "Invoice INV-1\nBcc: evil@x.example"},
        {"subject": "Invoice INV-1\rBcc: evil@x.example"},
        {"subject": "Invoice INV-1\u2028Bcc: evil@x.example"},
        {"sender_name": "ACME\r\nBcc: evil@x.example"},
        {"reply_to": "ap@acme.example\r\nBcc: evil@x.example"},
        {"cc": ["me@x.io\r\nBcc: evil@x.example"]},
        {"to": ["ap@acme.example\nBcc: evil@x.example"]},
    ],
)
def test_header_values_never_gain_a_line(changes: dict[str, object]) -> None:
    email = Email(**{"to": ["ap@acme.example"], "subject": "Invoice INV-1", "body": "Line 1\r\nLine 2", **changes})
    message = build_message(email, SmtpConfig("127.0.0.1", 25, sender="billing@signoff.example"))
    parsed = message_from_bytes(message.as_bytes())
    assert parsed["Bcc"] is None
    head = message.as_string().split("\n\n", 1)[0]
    assert not [line for line in head.splitlines() if line.startswith("Bcc")]
    assert Email.from_json(email.to_json()) == email
    assert "Line 1" in parsed.get_payload(decode=True).decode() and email.body == "Line 1\r\nLine 2"
