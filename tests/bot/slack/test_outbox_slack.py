"""`/signoff outbox`: admins see the messages Signoff gave up on and retry them from Slack."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.sandbox.blockkit.validation import validate_message
from bot.slack.outbox import error_code
from storage.models import OutboxItem
from tests.support.harness import Harness

ADMIN, MEMBER = "U0ADMIN", "U01CCC"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


async def dead_letter(signoff: Harness) -> None:
    """Queue a post to a channel that does not exist yet, and let delivery give up on it."""
    async with signoff.db.unit_of_work() as repo:
        await repo.enqueue("message", "C0LATER", {"message": {"text": "quarter closed"}},
                           signoff.runtime.service.clock.now(), key="later:0")
    await signoff.runtime.deliverer.drain()


async def test_an_admin_sees_dead_letters_and_retries_one_from_slack(signoff: Harness) -> None:
    await dead_letter(signoff)
    assert (await signoff.link.command(ADMIN, "/signoff", "outbox")).status == 200
    listing = signoff.workspace.ephemerals(ADMIN)[-1]
    assert validate_message(listing.blocks, listing.text) == []
    assert "C0LATER" in listing.all_text() and "Slack knows no such channel" in listing.all_text()
    assert "SlackApiError" not in listing.all_text(), "told in words, not as the exception"
    assert "outbox_retry" in listing.action_ids()
    signoff.workspace.add_channel("later", channel_id="C0LATER")
    await signoff.link.click(ADMIN, listing.channel, listing.ts, "outbox_retry")
    await signoff.wait_for(lambda: signoff.workspace.messages_in("C0LATER"))
    assert [m.text for m in signoff.workspace.messages_in("C0LATER")] == ["quarter closed"]
    assert any("queued again" in m.all_text() for m in signoff.workspace.ephemerals(ADMIN))


async def test_outbox_is_for_admins_only(signoff: Harness) -> None:
    await dead_letter(signoff)
    await signoff.link.command(MEMBER, "/signoff", "outbox")
    answer = signoff.workspace.ephemerals(MEMBER)[-1].all_text()
    assert "Only Signoff admins" in answer and "C0LATER" not in answer


async def test_an_empty_outbox_says_everything_was_delivered(signoff: Harness) -> None:
    await signoff.link.command(ADMIN, "/signoff", "outbox")
    assert "Every message was delivered" in signoff.workspace.ephemerals(ADMIN)[-1].all_text()


def test_a_dead_letters_error_is_worded_when_it_can_be() -> None:
    raw = ("SlackApiError: The request to the Slack API failed. (url: http://127.0.0.1:1/api/chat.postMessage)\n"
           "The server responded with: {'ok': False, 'error': 'channel_not_found'}")
    cases = [("message", "C0NOPE", raw, "channel_not_found"), ("message", "U0GONE", raw, "user_not_found"),
             ("ask", "U0BOT", "Permanent: cannot_dm_bot", "cannot_dm_bot"),
             ("email", "a@x.example", "SMTPConnectError: Error connecting", "smtp"),
             ("payment_reminder", "a@x.example", "SMTPRecipientsRefused: {'a@x.example': (550, b'no')}",
              "recipient_refused"),
             ("email", "a@x.example", "Permanent: e-mail is off: SIGNOFF_SMTP_URL is not set", "email_off"),
             ("message", "C0X", "ValueError: boom", None), ("message", "C0X", None, None)]
    for kind, target, error, code in cases:
        item = OutboxItem(1, "k", kind, target, {}, "dead", 4, NOW, NOW, error)
        assert error_code(item) == code, (kind, error)
