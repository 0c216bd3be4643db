"""The sandbox's web client: a Slack-like page at /sandbox and the JSON endpoints behind it.

The browser never signs anything: every click, submission, command and tab open goes
through `AppLink`, which sends the app the signed request Slack itself would send.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import aiohttp
from fastapi import APIRouter, Body, Query
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from bot.clock import SystemClock
from bot.errors import ApiError
from bot.sandbox.errors import (
    AckTimeoutError,
    ActionNotFoundError,
    AppRequestError,
    InputNotFoundError,
    InvalidAckError,
    NotVisibleError,
    SandboxError,
    UnknownConversationError,
    UnknownMessageError,
    UnknownOptionError,
    UnknownUserError,
    UnknownViewError,
)
from bot.sandbox.mailbox import Mailbox
from bot.sandbox.webapi import AppLink, AppReply
from bot.sandbox.workspace import BOT_USER_ID, Change, Conversation, Message, User, Workspace
from bot.settings import Settings

STATIC_DIR = Path(__file__).parent / "static"
STATIC_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*\.(css|js|svg|html)$")
KEEPALIVE_S = 15.0
CLOCK_TIMEOUT_S = 60.0
KNOWN_COMMANDS = frozenset({"/signoff"})
CLOSING = "closing"
APP_CONVERSATION = "app"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
ERROR_STATUS: list[tuple[type[Exception], int, str]] = [
    (NotVisibleError, 403, "forbidden"),
    (AckTimeoutError, 504, "app_timeout"),
    (AppRequestError, 502, "app_error"),
    (InvalidAckError, 502, "invalid_ack"),
    (UnknownOptionError, 422, "invalid"),
    (InputNotFoundError, 422, "invalid"),
    (ActionNotFoundError, 404, "not_found"),
    (UnknownViewError, 404, "not_found"),
    (UnknownMessageError, 404, "not_found"),
    (UnknownConversationError, 404, "not_found"),
    (UnknownUserError, 404, "not_found"),
]


class ViewerBody(BaseModel):
    """Who the page is viewed as."""

    model_config = ConfigDict(extra="forbid")

    viewer: str = Field(min_length=1, max_length=64)


class ClickBody(ViewerBody):
    """A click on an element of a message (channel + ts) or of a view (view_id)."""

    action_id: str = Field(min_length=1, max_length=255)
    block_id: str | None = Field(default=None, max_length=255)
    channel: str | None = None
    ts: str | None = None
    view_id: str | None = None
    value: str | list[str] | None = None
    state: dict[str, dict[str, str | list[str] | None]] = Field(default_factory=dict)


class SubmitBody(ViewerBody):
    """A modal submission: input values keyed by block_id."""

    view_id: str = Field(min_length=1)
    values: dict[str, str | list[str] | None] = Field(default_factory=dict)
    state: dict[str, dict[str, str | list[str] | None]] = Field(default_factory=dict)


class CloseBody(ViewerBody):
    """The user closes a modal."""

    view_id: str = Field(min_length=1)


class CommandBody(ViewerBody):
    """A slash command typed in a conversation (`app` is the DM with Signoff)."""

    text: str = Field(min_length=1, max_length=4000)
    channel: str = APP_CONVERSATION


DOCUMENT_TYPES = ("invoice", "bill", "purchase_order", "estimate", "expense", "sales_receipt", "payment",
                  "bill_payment", "deposit", "credit_memo", "vendor_credit")
VENDOR_TYPES = frozenset({"bill", "purchase_order", "expense", "bill_payment", "vendor_credit"})
ID_PREFIXES = {"invoice": "INV", "bill": "BILL", "purchase_order": "PO", "estimate": "EST", "expense": "EXP",
               "sales_receipt": "SR", "payment": "PAY", "bill_payment": "BP", "deposit": "DEP",
               "credit_memo": "CM", "vendor_credit": "VC"}
FIRST_NEW_NUMBER = 3001
MAX_ID_TRIES = 200


class DocumentBody(BaseModel):
    """The New document form: what an integration would PUT to /api/v1/records/{type}/{id}."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(default="invoice", pattern="^(" + "|".join(DOCUMENT_TYPES) + ")$")
    id: str | None = Field(default=None, max_length=64)
    amount: str = Field(min_length=1, max_length=40)
    currency: str = Field(default="USD", min_length=3, max_length=3)
    contact: str | None = Field(default=None, max_length=64)
    department: str | None = Field(default=None, max_length=200)
    memo: str | None = Field(default=None, max_length=4000)
    source: str = Field(default="app", max_length=40)
    due_date: str | None = Field(default=None, max_length=20)
    created_by: str | None = Field(default=None, max_length=64)
    submit: bool = False

    def record(self) -> dict[str, Any]:
        """Return the record body the REST API takes."""
        party = "vendor" if self.type in VENDOR_TYPES else "customer"
        data = {"amount": self.amount, "currency": self.currency.upper(), party: self.contact,
                "department": self.department, "memo": self.memo, "source": self.source,
                "due_date": self.due_date, "created_by": self.created_by}
        return {key: value for key, value in data.items() if value not in (None, "")}


class ClockBody(BaseModel):
    """How far to move the test clock (an ISO 8601 duration)."""

    model_config = ConfigDict(extra="forbid")

    advance: str = Field(min_length=2, max_length=40)


MENTION_WORD = re.compile(r"(?<![<\w@])@([A-Za-z0-9][A-Za-z0-9._-]*)")


def escape_mentions(text: str, users: list[User]) -> str:
    """Turn `@name` into `<@U…|name>` as Slack does for a command with escaping on (name, first name or id)."""
    known: dict[str, User] = {}
    for user in users:
        if user.deleted:
            continue
        first = (user.real_name or "").split(" ")[0]
        for alias in (user.id, user.name, first, (user.real_name or "").replace(" ", "")):
            if alias:
                known.setdefault(alias.casefold(), user)

    def replace(match: re.Match[str]) -> str:
        user = known.get(match.group(1).casefold())
        return f"<@{user.id}|{user.name}>" if user else match.group(0)

    return MENTION_WORD.sub(replace, text)


def user_json(user: User) -> dict[str, Any]:
    """Return what the page needs to show a person."""
    return {"id": user.id, "name": user.name, "real_name": user.real_name, "tz": user.tz,
            "is_admin": user.is_admin, "is_bot": user.is_bot}


def message_json(message: Message, state: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return a message as the page renders it, with what people picked in its elements."""
    return {"state": state or {}, "ts": message.ts, "user": message.user, "text": message.text,
            "blocks": message.blocks, "attachments": message.attachments, "edited": message.edited,
            "ephemeral": message.visible_to is not None, "thread_ts": message.thread_ts}


def _top_level(messages: list[Message]) -> list[Message]:
    return [m for m in messages if m.thread_ts in (None, m.ts)]


@contextmanager
def translated_errors() -> Iterator[None]:
    """Turn the workspace's errors into API errors with the JSON envelope."""
    try:
        yield
    except SandboxError as exc:
        status, code = next(((s, c) for kind, s, c in ERROR_STATUS if isinstance(exc, kind)), (400, "bad_request"))
        message = f"Signoff could not handle it: {exc}" if status >= 500 else str(exc)
        raise ApiError(status, code, message) from exc


class SandboxUI:
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
        shown = _top_level(self.workspace.messages_in(conversation.id))
        shown += self.workspace.ephemerals(viewer.id, conversation.id)
        ordered = sorted(shown, key=lambda m: float(m.ts))
        return [message_json(m, self.workspace.message_state(m.channel, m.ts)) for m in ordered]

    def sidebar(self, viewer: User) -> dict[str, Any]:
        """Return the viewer's channels and their DM with the app, with message counts."""
        channels = [
            {"id": c.id, "name": c.name, "is_private": c.kind == "private",
             "count": len(_top_level(self.workspace.messages_in(c.id)))}
            for c in self.workspace.conversations()
            if c.kind != "im" and viewer.id in c.members and not c.is_archived
        ]
        channels.sort(key=lambda c: str(c["name"]))
        dm = self.app_dm(viewer)
        count = len(_top_level(self.workspace.messages_in(dm.id))) if dm else 0
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
        return _reply_json(reply)

    async def submit(self, body: SubmitBody) -> dict[str, Any]:
        """Send the signed view_submission of a modal and apply the app's answer."""
        viewer = self.viewer(body.viewer)
        values = {key: value for key, value in body.values.items() if value not in (None, "", [])}
        reply = await self.link.submit(viewer.id, values, view_id=body.view_id, state=body.state)
        errors = self.workspace.view_errors(body.view_id) if self._is_open(viewer, body.view_id) else {}
        return {**_reply_json(reply), "errors": errors}

    async def close_modal(self, body: CloseBody) -> dict[str, Any]:
        """Close a modal, telling the app when the view asked for it."""
        viewer = self.viewer(body.viewer)
        reply = await self.link.close_modal(viewer.id, view_id=body.view_id)
        return _reply_json(reply) if reply else {"ok": True}

    async def command(self, body: CommandBody) -> dict[str, Any]:
        """Send a signed slash command from a conversation."""
        viewer = self.viewer(body.viewer)
        name, _, text = body.text.strip().partition(" ")
        if name not in KNOWN_COMMANDS:
            raise ApiError(404, "unknown_command", f"{name} is not a valid command. Try /signoff help.")
        conversation = self.resolve(viewer, body.channel)
        channel = conversation.id if conversation else self.workspace.dm_channel_id(viewer.id)
        typed = escape_mentions(text.strip(), self.workspace.users())
        return _reply_json(await self.link.command(viewer.id, name, typed, channel=channel))

    async def open_home(self, viewer_id: str) -> dict[str, Any]:
        """Send app_home_opened, as Slack does each time a person opens the Home tab."""
        viewer = self.viewer(viewer_id)
        try:
            reply = await self.link.open_home(viewer.id)
        except AppRequestError as exc:
            return {"ok": False, "error": str(exc)}
        return _reply_json(reply)

    async def advance_clock(self, advance: str) -> dict[str, Any]:
        """Move the test clock through the REST API, then run one scheduler sweep."""
        moved = await self._api_post("/api/v1/clock", {"advance": advance})
        tick = await self._api_post("/api/v1/scheduler/tick", None)
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
        record_id = body.id or await self._free_id(body.type)
        path = f"/api/v1/records/{body.type}/{record_id}"
        record = await self._api("PUT", path, body.record())
        if body.submit and record.get("approval_status") == "approval_required":
            record = await self._api("POST", f"{path}/submit", {"actor": body.created_by} if body.created_by else None)
        return {"ok": True, "record": record}

    async def _free_id(self, record_type: str) -> str:
        for number in range(FIRST_NEW_NUMBER, FIRST_NEW_NUMBER + MAX_ID_TRIES):
            candidate = f"{ID_PREFIXES[record_type]}-{number}"
            if not await self._api_exists(f"/api/v1/records/{record_type}/{candidate}"):
                return candidate
        raise ApiError(409, "conflict", "no free document number; give one")

    async def _api_exists(self, path: str) -> bool:
        try:
            await self._api("GET", path, None)
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    async def _api_post(self, path: str, body: Any) -> dict[str, Any]:
        return await self._api("POST", path, body)

    async def _api(self, method: str, path: str, body: Any) -> dict[str, Any]:
        assert self.api_url is not None
        headers = {"Authorization": f"Bearer {self.settings.api_token}"}
        timeout = aiohttp.ClientTimeout(total=CLOCK_TIMEOUT_S)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(method, f"{self.api_url}{path}", json=body, headers=headers) as response,
        ):
            text, status = await response.text(), response.status
        answer = _json_object(text)
        if status == 404 and path == "/api/v1/clock":
            raise ApiError(501, "clock_unavailable", "the test clock API (POST /api/v1/clock) is not available")
        if status >= 400:
            found = answer.get("error")
            error: dict[str, Any] = found if isinstance(found, dict) else {}
            raise ApiError(status, str(error.get("code", "error")), str(error.get("message", f"{path}: {status}")),
                           list(error.get("details") or []))
        return answer

    def _is_open(self, viewer: User, view_id: str) -> bool:
        return any(v["id"] == view_id for v in self.workspace.open_modals(viewer.id))

    # live updates

    async def changes(self) -> AsyncIterator[str]:
        """Yield server-sent events: a hello, then one event per workspace change."""
        if self._is_closed:
            return
        queue = self.workspace.subscribe()
        self._streams.append(queue)
        try:
            yield _sse("hello", {"version": self.workspace.version})
            while True:
                try:
                    change = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                if change.kind == CLOSING:
                    return
                yield _sse("change", asdict(change))
        finally:
            self.workspace.unsubscribe(queue)
            self._streams.remove(queue)

    def router(self) -> APIRouter:
        """Return the routes of the page and its JSON endpoints, under /sandbox."""
        return build_router(self)


def _reply_json(reply: AppReply) -> dict[str, Any]:
    return {"ok": True, "status": reply.status, "ack": reply.ack_body() or None,
            "elapsed_ms": round(reply.elapsed_s * 1000, 1)}


def _json_object(text: str) -> dict[str, Any]:
    try:
        parsed = json.loads(text) if text.strip() else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


def _static(name: str) -> FileResponse:
    path = STATIC_DIR / name
    if not STATIC_NAME.match(name) or not path.is_file():
        raise ApiError(404, "not_found", f"no file {name!r}")
    return FileResponse(path, headers=SECURITY_HEADERS)


def build_router(ui: SandboxUI) -> APIRouter:
    """Return the APIRouter serving the page, its assets and its JSON endpoints."""
    router = APIRouter(prefix="/sandbox", include_in_schema=False)

    @router.get("")
    @router.get("/")
    async def page() -> FileResponse:
        return _static("index.html")

    @router.get("/static/{name}")
    async def asset(name: str) -> FileResponse:
        return _static(name)

    @router.get("/api/state")
    async def state(viewer: str = Query(""), conversation: str = Query(APP_CONVERSATION)) -> dict[str, Any]:
        with translated_errors():
            return ui.state(viewer, conversation)

    @router.get("/api/events")
    async def events() -> StreamingResponse:
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(ui.changes(), media_type="text/event-stream", headers=headers)

    _add_actions(router, ui)
    return router


def _add_actions(router: APIRouter, ui: SandboxUI) -> None:
    @router.post("/api/click")
    async def click(body: ClickBody = Body(...)) -> dict[str, Any]:
        with translated_errors():
            return await ui.click(body)

    @router.post("/api/submit")
    async def submit(body: SubmitBody = Body(...)) -> dict[str, Any]:
        with translated_errors():
            return await ui.submit(body)

    @router.post("/api/close")
    async def close(body: CloseBody = Body(...)) -> dict[str, Any]:
        with translated_errors():
            return await ui.close_modal(body)

    @router.post("/api/command")
    async def command(body: CommandBody = Body(...)) -> dict[str, Any]:
        with translated_errors():
            return await ui.command(body)

    @router.post("/api/home")
    async def home(body: ViewerBody = Body(...)) -> dict[str, Any]:
        with translated_errors():
            return await ui.open_home(body.viewer)

    @router.post("/api/clock")
    async def clock(body: ClockBody = Body(...)) -> dict[str, Any]:
        return await ui.advance_clock(body.advance)

    _add_tools(router, ui)


def _add_tools(router: APIRouter, ui: SandboxUI) -> None:
    @router.get("/api/mail")
    async def mail() -> dict[str, Any]:
        return ui.mail()

    @router.get("/api/settings")
    async def settings() -> dict[str, Any]:
        return ui.sandbox_settings()

    @router.get("/api/contacts")
    async def contacts() -> dict[str, Any]:
        return {"contacts": ui.contacts}

    @router.post("/api/documents")
    async def documents(body: DocumentBody = Body(...)) -> dict[str, Any]:
        return await ui.new_document(body)

