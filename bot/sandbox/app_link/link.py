"""The path from the workspace back to the app: delivering signed requests and applying the acks."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.sandbox.app_link.factory import RequestFactory
from bot.sandbox.app_link.signing import SlackRequest
from bot.sandbox.errors import AckTimeoutError, AppRequestError, UnknownViewError
from bot.sandbox.workspace import Workspace

SLACK_ACK_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class AppReply:
    """How the app answered one request from Slack."""

    status: int
    body: bytes
    content_type: str
    elapsed_s: float

    def text(self) -> str:
        """Return the body as text."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """Return the JSON body, or None when the body is empty or not JSON."""
        if not self.body.strip():
            return None
        with contextlib.suppress(ValueError):
            return json.loads(self.body)
        return None

    def ack_body(self) -> Any:
        """Return the acknowledgement as Slack reads it: JSON, else plain text."""
        parsed = self.json()
        return parsed if parsed is not None else self.text()


async def deliver(
    app_url: str, request: SlackRequest, *, timeout_s: float = SLACK_ACK_TIMEOUT_S
) -> AppReply:
    """POST a signed request to the app, failing like Slack when it is not acked in time."""
    body, headers = request
    started_s = time.monotonic()
    timeout = aiohttp.ClientTimeout(total=timeout_s)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(app_url, data=body, headers=headers) as response,
        ):
            content = await response.read()
            content_type = response.content_type
    except TimeoutError:
        raise AckTimeoutError(f"{app_url} did not answer within {timeout_s} s") from None
    return AppReply(response.status, content, content_type, time.monotonic() - started_s)


class AppLink:
    """Plays people's clicks, submissions, commands and tab opens against the app."""

    def __init__(
        self,
        workspace: Workspace,
        app_url: str,
        signing_secret: str,
        *,
        timeout_s: float = SLACK_ACK_TIMEOUT_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.workspace = workspace
        self.app_url = app_url
        self.timeout_s = timeout_s
        self.requests = RequestFactory(workspace, signing_secret, clock=clock)

    async def send(self, request: SlackRequest) -> AppReply:
        """Deliver a signed request and require a 2xx answer within the time limit."""
        reply = await deliver(self.app_url, request, timeout_s=self.timeout_s)
        if not 200 <= reply.status < 300:
            raise AppRequestError(f"the app answered {reply.status}: {reply.text()[:500]}")
        return reply

    async def click(
        self, user_id: str, channel: str, message_ts: str, action_id: str, *, value: Any = None,
        block_id: str | None = None, state: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> AppReply:
        """Click an element of a message, as ``user_id`` (``block_id`` picks among equal action_ids)."""
        return await self.send(
            self.requests.block_actions(
                user_id, channel, message_ts, action_id, value=value, block_id=block_id, state=state
            )
        )

    async def click_in_view(
        self, user_id: str, action_id: str, *, view_id: str | None = None, value: Any = None,
        block_id: str | None = None, state: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> AppReply:
        """Click an element of the user's Home tab, or of the modal ``view_id``."""
        return await self.send(
            self.requests.view_actions(
                user_id, action_id, view_id=view_id, value=value, block_id=block_id, state=state
            )
        )

    async def submit(
        self,
        user_id: str,
        values: Mapping[str, Any] | None = None,
        *,
        view_id: str | None = None,
        state: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> AppReply:
        """Submit the user's top modal (or ``view_id``) and apply the app's answer."""
        view_id = view_id or self._top_modal_id(user_id)
        reply = await self.send(self.requests.view_submission(user_id, values, view_id=view_id, state=state))
        self.workspace.apply_view_submission_ack(view_id, reply.json())
        return reply

    async def close_modal(self, user_id: str, *, view_id: str | None = None) -> AppReply | None:
        """Close the user's top modal, telling the app when the view asks for it."""
        view_id = view_id or self._top_modal_id(user_id)
        reply = None
        if self.workspace.view(view_id).get("notify_on_close"):
            reply = await self.send(self.requests.view_closed(user_id, view_id=view_id))
        self.workspace.close_modal(user_id, view_id)
        return reply

    async def command(
        self, user_id: str, command: str, text: str = "", *, channel: str | None = None
    ) -> AppReply:
        """Run a slash command and show its acknowledgement as Slack does."""
        channel_id = channel or self.workspace.dm_channel_id(user_id)
        request = self.requests.slash_command(user_id, command, text, channel=channel_id)
        reply = await self.send(request)
        self.workspace.apply_command_ack(user_id, channel_id, reply.ack_body())
        return reply

    async def open_home(self, user_id: str) -> AppReply:
        """Open the app's Home tab, as ``user_id``."""
        return await self.send(self.requests.app_home_opened(user_id))

    async def event(self, event: Mapping[str, Any]) -> AppReply:
        """Deliver any Events API event."""
        return await self.send(self.requests.event(event))

    def _top_modal_id(self, user_id: str) -> str:
        modals = self.workspace.open_modals(user_id)
        if not modals:
            raise UnknownViewError(f"{user_id} has no open modal")
        return str(modals[-1]["id"])
