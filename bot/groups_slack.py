"""Groups in Slack: the list with member counts, members, filters, e-mail and delete (changes are for admins)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.service import Signoff


def register(app: AsyncApp, service: Signoff) -> None:
    """Wire the group buttons and modals into the Bolt app."""
