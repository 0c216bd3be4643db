"""Signed requests built from one workspace, as Slack sends them to the app."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from bot.sandbox.app_link.events import (
    app_home_opened_event,
    event_callback_body,
    slash_command_fields,
    url_verification_body,
)
from bot.sandbox.app_link.payloads import (
    block_actions_payload,
    view_actions_payload,
    view_closed_payload,
    view_submission_payload,
)
from bot.sandbox.app_link.signing import SlackRequest, form_request, interaction_request, json_request
from bot.sandbox.workspace import Workspace


class RequestFactory:
    """Builds signed requests from one workspace, as Slack sends them to the app."""

    def __init__(
        self,
        workspace: Workspace,
        signing_secret: str,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.workspace = workspace
        self.signing_secret = signing_secret
        self.clock = clock

    def timestamp(self) -> int:
        """Return the request timestamp to sign with."""
        return int(self.clock())

    def block_actions(
        self, user_id: str, channel: str, message_ts: str, action_id: str, *, value: Any = None,
        block_id: str | None = None, state: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> SlackRequest:
        """Return a signed click on a message element."""
        payload = block_actions_payload(
            self.workspace, user_id, channel, message_ts, action_id, value=value, block_id=block_id, state=state
        )
        return interaction_request(payload, self.signing_secret, self.timestamp())

    def view_actions(
        self, user_id: str, action_id: str, *, view_id: str | None = None, value: Any = None,
        block_id: str | None = None, state: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> SlackRequest:
        """Return a signed click in the user's Home tab or in a modal."""
        payload = view_actions_payload(
            self.workspace, user_id, action_id, view_id=view_id, value=value, block_id=block_id, state=state
        )
        return interaction_request(payload, self.signing_secret, self.timestamp())

    def view_submission(
        self,
        user_id: str,
        values: Mapping[str, Any] | None = None,
        *,
        view_id: str | None = None,
        state: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> SlackRequest:
        """Return a signed modal submission."""
        payload = view_submission_payload(self.workspace, user_id, values, view_id=view_id, state=state)
        return interaction_request(payload, self.signing_secret, self.timestamp())

    def view_closed(self, user_id: str, *, view_id: str | None = None) -> SlackRequest:
        """Return a signed ``view_closed`` notification."""
        payload = view_closed_payload(self.workspace, user_id, view_id=view_id)
        return interaction_request(payload, self.signing_secret, self.timestamp())

    def slash_command(
        self, user_id: str, command: str, text: str = "", *, channel: str | None = None
    ) -> SlackRequest:
        """Return a signed slash command."""
        fields = slash_command_fields(self.workspace, user_id, command, text, channel=channel)
        return form_request(fields, self.signing_secret, self.timestamp())

    def event(self, event: Mapping[str, Any]) -> SlackRequest:
        """Return a signed Events API ``event_callback``."""
        body = event_callback_body(self.workspace, event)
        return json_request(body, self.signing_secret, self.timestamp())

    def app_home_opened(self, user_id: str, tab: str = "home") -> SlackRequest:
        """Return a signed ``app_home_opened`` event."""
        return self.event(app_home_opened_event(self.workspace, user_id, tab))

    def url_verification(self, challenge: str) -> SlackRequest:
        """Return a signed ``url_verification`` request."""
        return json_request(url_verification_body(challenge), self.signing_secret, self.timestamp())
