"""What the web client reads and does: one person's view of the workspace, and their actions sent to the app.

The browser never signs anything: every click, submission, command and tab open goes
through `AppLink`, which sends the app the signed request Slack itself would send.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import asdict
from typing import Any

from bot.clock import SystemClock
from bot.errors import ApiError
from bot.sandbox.app_link.link import AppLink
from bot.sandbox.errors import AppRequestError, NotVisibleError
from bot.sandbox.mailbox import Mailbox
from bot.sandbox.state.model import BOT_USER_ID, Change, Conversation, User
from bot.sandbox.ui.bodies import (
    APP_CONVERSATION,
    ID_PREFIXES,
    ClickBody,
    CloseBody,
    CommandBody,
    DocumentBody,
    SubmitBody,
)
from bot.sandbox.ui.page_data import escape_mentions, message_json, reply_json, sse, top_level, user_json
from bot.sandbox.ui.rest import RestApi
from bot.sandbox.workspace import Workspace
from bot.settings import Settings

KEEPALIVE_S = 15.0
KNOWN_COMMANDS = frozenset({"/signoff"})
CLOSING = "closing"


class SandboxClient:
    """The web client of one workspace, talking to the app through an AppLink."""

    def __init__(
        self, workspace: Workspace, link: AppLink, clock: SystemClock, settings: Settings,
        default_viewer: str | None = None,
    ) -> None:
        self.workspace = workspace
        self.link = link
        self.clock = clock
        self.settings = settings
        self.default_viewer = default_viewer
        self.api_url: str | None = None
        self.mailbox: Mailbox | None = None
        self.contacts: list[dict[str, str]] = []
        self._streams: list[asyncio.Queue[Change]] = []
        self._is_closed = False

    def close(self) -> None:
        """End every live-update stream, and refuse new ones, so the server can stop at once."""
        self._is_closed = True
        for queue in self._streams:
            queue.put_nowait(Change(-1, CLOSING))

    # reading

    def viewer(self, viewer_id: str) -> User:
        """Return the person the page is viewed as (never the bot); empty means the default person."""
        if not viewer_id:
            people = [u.id for u in self.workspace.users() if not u.is_bot and not u.deleted]
            viewer_id = self.default_viewer or (people[0] if people else BOT_USER_ID)
        user = self.workspace.user(viewer_id)
        if user.is_bot or user.deleted:
            raise NotVisibleError(f"cannot view the workspace as {viewer_id}")
        return user

    def app_dm(self, viewer: User) -> Conversation | None:
        """Return the viewer's DM with Signoff, if it was opened."""
        return next((c for c in self.workspace.conversations() if c.kind == "im" and c.user == viewer.id), None)

    def resolve(self, viewer: User, ref: str) -> Conversation | None:
        """Return the conversation a page id names, checking the viewer is in it."""
        if ref == APP_CONVERSATION:
            return self.app_dm(viewer)
        conversation = self.workspace.conversation(ref)
        if viewer.id not in conversation.members:
            raise NotVisibleError(f"{viewer.id} is not in {ref}")
        return conversation

    def visible_messages(self, viewer: User, conversation: Conversation | None) -> list[dict[str, Any]]:
        """Return a conversation's messages and the viewer's ephemerals in it, oldest first."""
        if conversation is None:
            return []
        shown = top_level(self.workspace.messages_in(conversation.id))
        shown += self.workspace.ephemerals(viewer.id, conversation.id)
        ordered = sorted(shown, key=lambda m: float(m.ts))
        return [message_json(m, self.workspace.message_state(m.channel, m.ts)) for m in ordered]

    def sidebar(self, viewer: User) -> dict[str, Any]:
        """Return the viewer's channels and their DM with the app, with message counts."""
        channels = [
            {"id": c.id, "name": c.name, "is_private": c.kind == "private",
             "count": len(top_level(self.workspace.messages_in(c.id)))}
            for c in self.workspace.conversations()
            if c.kind != "im" and viewer.id in c.members and not c.is_archived
        ]
        channels.sort(key=lambda c: str(c["name"]))
        dm = self.app_dm(viewer)
        count = len(top_level(self.workspace.messages_in(dm.id))) if dm else 0
        app = {"id": APP_CONVERSATION, "channel": dm.id if dm else None, "name": self.workspace.bot.real_name,
               "user": BOT_USER_ID, "count": count}
        return {"channels": channels, "app": app}

    def modal(self, viewer: User) -> dict[str, Any] | None:
        """Return the viewer's top modal with the input errors the app answered."""
        modals = self.workspace.open_modals(viewer.id)
        if not modals:
            return None
        top = modals[-1]
        return {"view": top, "errors": self.workspace.view_errors(top["id"]), "depth": len(modals)}

    def state(self, viewer_id: str, conversation_ref: str) -> dict[str, Any]:
        """Return everything the page shows for one person and one conversation."""
        viewer = self.viewer(viewer_id)
        conversation = self.resolve(viewer, conversation_ref)
        people = [user_json(u) for u in self.workspace.users() if not u.deleted]
        return {
            "version": self.workspace.version, "team": {"name": self.workspace.team_name},
            "now": self.clock.now().isoformat(), "timezone": self.settings.timezone,
            "is_test_clock": bool(self.clock.is_test), "viewer": user_json(viewer), "people": people,
            **self.sidebar(viewer),
            "conversation": {
                "ref": conversation_ref, "id": conversation.id if conversation else None,
                "name": conversation.name if conversation else None,
                "kind": conversation.kind if conversation else "im",
                "topic": conversation.topic if conversation else "",
                "messages": self.visible_messages(viewer, conversation),
            },
            "home": self.workspace.home_view(viewer.id),
            "mail_count": len(self.mailbox.mails) if self.mailbox else 0,
            "modal": self.modal(viewer),
        }

    # acting

    async def click(self, body: ClickBody) -> dict[str, Any]:
        """Send the signed block_actions payload of a click."""
        viewer = self.viewer(body.viewer)
        if body.view_id:
            reply = await self.link.click_in_view(viewer.id, body.action_id, view_id=body.view_id,
                                                  value=body.value, block_id=body.block_id, state=body.state)
        elif body.channel and body.ts:
            conversation = self.resolve(viewer, body.channel)
            if conversation is None:
                raise ApiError(404, "not_found", "no such conversation")
            reply = await self.link.click(viewer.id, conversation.id, body.ts, body.action_id,
                                          value=body.value, block_id=body.block_id, state=body.state)
        else:
            raise ApiError(422, "invalid", "a click needs channel and ts, or view_id")
        return reply_json(reply)

    async def submit(self, body: SubmitBody) -> dict[str, Any]:
        """Send the signed view_submission of a modal and apply the app's answer."""
        viewer = self.viewer(body.viewer)
        values = {key: value for key, value in body.values.items() if value not in (None, "", [])}
        reply = await self.link.submit(viewer.id, values, view_id=body.view_id, state=body.state)
        errors = self.workspace.view_errors(body.view_id) if self._is_open(viewer, body.view_id) else {}
        return {**reply_json(reply), "errors": errors}

    async def close_modal(self, body: CloseBody) -> dict[str, Any]:
        """Close a modal, telling the app when the view asked for it."""
        viewer = self.viewer(body.viewer)
        reply = await self.link.close_modal(viewer.id, view_id=body.view_id)
        return reply_json(reply) if reply else {"ok": True}

    async def command(self, body: CommandBody) -> dict[str, Any]:
        """Send a signed slash command from a conversation."""
        viewer = self.viewer(body.viewer)
        name, _, text = body.text.strip().partition(" ")
        if name not in KNOWN_COMMANDS:
            raise ApiError(404, "unknown_command", f"{name} is not a valid command. Try /signoff help.")
        conversation = self.resolve(viewer, body.channel)
        channel = conversation.id if conversation else self.workspace.dm_channel_id(viewer.id)
        typed = escape_mentions(text.strip(), self.workspace.users())
        return reply_json(await self.link.command(viewer.id, name, typed, channel=channel))

    async def open_home(self, viewer_id: str) -> dict[str, Any]:
        """Send app_home_opened, as Slack does each time a person opens the Home tab."""
        viewer = self.viewer(viewer_id)
        try:
            reply = await self.link.open_home(viewer.id)
        except AppRequestError as exc:
            return {"ok": False, "error": str(exc)}
        return reply_json(reply)

    def _is_open(self, viewer: User, view_id: str) -> bool:
        return any(v["id"] == view_id for v in self.workspace.open_modals(viewer.id))

    # tools

    async def advance_clock(self, advance: str) -> dict[str, Any]:
        """Move the test clock through the REST API, then run one scheduler sweep; its messages arrive as the outbox
        sends them (paced as Slack wants), not before the answer."""
        rest = self._rest()
        moved = await rest.call("POST", "/api/v1/clock", {"advance": advance})
        tick = await rest.call("POST", "/api/v1/scheduler/tick?drain=false", None)
        return {"ok": True, "now": moved.get("now", self.clock.now().isoformat()), "tick": tick}

    def sandbox_settings(self) -> dict[str, Any]:
        """Return what the settings panel shows: the REST API's address and token, where e-mail goes."""
        return {"api_url": f"{self.api_url}/api/v1" if self.api_url else None, "api_token": self.settings.api_token,
                "openapi_url": f"{self.api_url}/api/v1/openapi.json" if self.api_url else None,
                "smtp_url": self.settings.smtp_url, "admins": sorted(self.settings.admins),
                "timezone": self.settings.timezone, "locale": self.settings.locale,
                "database": self.settings.database}

    def mail(self) -> dict[str, Any]:
        """Return the e-mails the sandbox's SMTP catcher received, newest first."""
        return {"mails": self.mailbox.as_json() if self.mailbox else [], "is_on": self.mailbox is not None}

    async def new_document(self, body: DocumentBody) -> dict[str, Any]:
        """Create a document through the REST API, as an integration would; submit it when asked."""
        rest = self._rest()
        record_id = body.id or await rest.free_id(body.type, ID_PREFIXES[body.type])
        path = f"/api/v1/records/{body.type}/{record_id}"
        record = await rest.call("PUT", path, body.record())
        if body.submit and record.get("approval_status") == "approval_required":
            record = await rest.call("POST", f"{path}/submit", {"actor": body.created_by} if body.created_by else None)
        return {"ok": True, "record": record}

    def _rest(self) -> RestApi:
        assert self.api_url is not None
        return RestApi(self.api_url, self.settings.api_token)

    # live updates

    async def changes(self) -> AsyncIterator[str]:
        """Yield server-sent events: a hello, then one event per workspace change."""
        if self._is_closed:
            return
        queue = self.workspace.subscribe()
        self._streams.append(queue)
        try:
            yield sse("hello", {"version": self.workspace.version})
            while True:
                try:
                    change = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if change.kind == CLOSING:
                    return
                yield sse("change", asdict(change))
        finally:
            self.workspace.unsubscribe(queue)
            self._streams.remove(queue)
