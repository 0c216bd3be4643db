"""In-memory state of one Slack workspace, answering Web API calls as Slack does."""

from __future__ import annotations

import asyncio
import base64
import copy
import itertools
import json
import math
import secrets
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal, NamedTuple, TypeVar
from zoneinfo import ZoneInfo

from bot.sandbox.errors import (
    DuplicateIdError,
    InvalidAckError,
    ResponseUrlError,
    SlackCallError,
    UnknownConversationError,
    UnknownMessageError,
    UnknownUserError,
    UnknownViewError,
)
from bot.sandbox.validation import (
    MAX_MESSAGE_TEXT_CHARS,
    validate_message,
    validate_view,
)

TEAM_ID = "T0SANDBOX"
TEAM_DOMAIN = "signoff-sandbox"
BOT_USER_ID = "U0SIGNOFF"
BOT_ID = "B0SIGNOFF"
APP_ID = "A0SIGNOFF"
DEFAULT_TOKEN = "xoxb-sandbox"
TRIGGER_TTL_S = 3.0
RESPONSE_URL_USES = 5
RESPONSE_URL_TTL_S = 30 * 60.0
MAX_MODAL_STACK = 3
DEFAULT_PAGE_SIZE = 100

T = TypeVar("T")
ConversationKind = Literal["channel", "private", "im"]

_NON_INTERACTIVE = frozenset({"image", "mrkdwn", "plain_text"})
_UNAUTHENTICATED = frozenset({"api.test"})


@dataclass
class User:
    """A person (or the bot) in the workspace."""

    id: str
    name: str
    real_name: str = ""
    email: str | None = None
    tz: str = "UTC"
    is_admin: bool = False
    is_bot: bool = False
    deleted: bool = False

    def as_slack(self, now_s: float) -> dict[str, Any]:
        """Return the user object as users.info shows it."""
        zone = ZoneInfo(self.tz)
        local = datetime.fromtimestamp(now_s, zone)
        offset = local.utcoffset()
        profile = {
            "real_name": self.real_name,
            "display_name": self.name,
            "email": self.email,
            "team": TEAM_ID,
        }
        return {
            "id": self.id,
            "team_id": TEAM_ID,
            "name": self.name,
            "deleted": self.deleted,
            "real_name": self.real_name,
            "tz": self.tz,
            "tz_label": local.tzname(),
            "tz_offset": int(offset.total_seconds()) if offset else 0,
            "is_admin": self.is_admin,
            "is_owner": False,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "profile": {k: v for k, v in profile.items() if v is not None},
        }


@dataclass
class Conversation:
    """A public or private channel, or the bot's DM with one user."""

    id: str
    kind: ConversationKind
    created: int
    name: str | None = None
    members: list[str] = field(default_factory=list)
    user: str | None = None
    topic: str = ""
    purpose: str = ""
    is_archived: bool = False

    def as_slack(self) -> dict[str, Any]:
        """Return the conversation object as conversations.info shows it."""
        if self.kind == "im":
            return {
                "id": self.id,
                "created": self.created,
                "is_im": True,
                "is_org_shared": False,
                "user": self.user,
                "is_user_deleted": False,
                "priority": 0,
            }
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": self.kind == "channel",
            "is_group": self.kind == "private",
            "is_im": False,
            "is_private": self.kind == "private",
            "is_archived": self.is_archived,
            "is_general": self.name == "general",
            "is_member": BOT_USER_ID in self.members,
            "created": self.created,
            "creator": BOT_USER_ID,
            "num_members": len(self.members),
            "topic": {"value": self.topic, "creator": "", "last_set": 0},
            "purpose": {"value": self.purpose, "creator": "", "last_set": 0},
        }


@dataclass
class Message:
    """A message in a conversation; ``visible_to`` is set for ephemeral messages."""

    channel: str
    ts: str
    text: str
    user: str
    blocks: list[dict[str, Any]] | None = None
    bot_id: str | None = None
    thread_ts: str | None = None
    edited: bool = False
    metadata: dict[str, Any] | None = None
    attachments: list[dict[str, Any]] | None = None
    visible_to: str | None = None

    def as_slack(self) -> dict[str, Any]:
        """Return the message object as Slack shows it in API answers and payloads."""
        shown: dict[str, Any] = {"type": "message", "user": self.user, "text": self.text}
        shown["ts"] = self.ts
        shown["team"] = TEAM_ID
        optional = {
            "bot_id": self.bot_id,
            "app_id": APP_ID if self.bot_id else None,
            "blocks": self.blocks,
            "thread_ts": self.thread_ts,
            "metadata": self.metadata,
            "attachments": self.attachments,
            "edited": {"user": self.user, "ts": self.ts} if self.edited else None,
        }
        shown.update({k: v for k, v in optional.items() if v is not None})
        return shown

    def action_ids(self) -> list[str]:
        """Return the action_id of every interactive element in the blocks."""
        return [element["action_id"] for _, element in interactive_elements(self.blocks)]

    def all_text(self) -> str:
        """Return the fallback text and every text in the blocks, one per line."""
        return "\n".join([self.text, *block_texts(self.blocks)])


@dataclass(frozen=True)
class Call:
    """One recorded Web API call and how it was answered."""

    method: str
    params: dict[str, Any]
    time: float
    status: int
    error: str | None
    token: str | None = None


@dataclass(frozen=True)
class Change:
    """A notification that the workspace state changed."""

    version: int
    kind: str
    channel: str | None = None
    user: str | None = None
    ts: str | None = None
    view_id: str | None = None


class ApiResponse(NamedTuple):
    """HTTP status, JSON body (or, as a proxy in front of Slack answers, plain text) and headers of one answer."""

    status: int
    body: dict[str, Any] | str
    headers: dict[str, str]


@dataclass
class _Trigger:
    user_id: str
    issued_at_s: float
    used: bool = False


@dataclass
class _ResponseTarget:
    user_id: str
    channel: str
    message_ts: str | None
    is_ephemeral: bool
    issued_at_s: float
    uses_left: int = RESPONSE_URL_USES


@dataclass
class _Bucket:
    tokens: float
    updated_at_s: float


@dataclass
class _RateLimit:
    per_channel_per_s: float
    burst: int
    buckets: dict[str, _Bucket] = field(default_factory=dict)


class _Params:
    """Typed access to one call's arguments, refusing them the way Slack does."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw

    def has(self, key: str) -> bool:
        """Tell whether the argument was given."""
        return self.raw.get(key) is not None

    def text(self, key: str, missing: str | None = None) -> str | None:
        """Return a string argument, or raise ``missing`` when it is absent."""
        value = self.raw.get(key)
        if value is None or value == "":
            if missing is not None:
                raise SlackCallError(missing)
            return None
        return str(value)

    def required(self, key: str, missing: str = "invalid_arguments") -> str:
        """Return a string argument that must be present."""
        value = self.text(key, missing)
        assert value is not None
        return value

    def flag(self, key: str) -> bool:
        """Return a boolean argument given as a bool, ``true`` or ``1``."""
        value = self.raw.get(key)
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("1", "true")

    def number(self, key: str, default: int) -> int:
        """Return an integer argument."""
        value = self.raw.get(key)
        if value in (None, ""):
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise SlackCallError("invalid_arguments") from None

    def decoded(self, key: str, invalid: str) -> Any:
        """Return a JSON argument, decoding it when it arrived as a string."""
        value = self.raw.get(key)
        if not isinstance(value, str):
            return value
        if value == "":
            return None
        try:
            return json.loads(value)
        except ValueError:
            raise SlackCallError(invalid) from None


def interactive_elements(
    blocks: list[dict[str, Any]] | None,
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Yield ``(block, element)`` for every interactive element in the blocks."""
    for block in blocks or []:
        for element in _block_elements(block):
            if element.get("type") not in _NON_INTERACTIVE and "action_id" in element:
                yield block, element


def block_texts(value: Any) -> list[str]:
    """Return every ``text`` string found anywhere in a block structure."""
    if isinstance(value, list):
        return [text for item in value for text in block_texts(item)]
    if not isinstance(value, dict):
        return []
    found = [value["text"]] if isinstance(value.get("text"), str) else []
    return found + [text for item in value.values() for text in block_texts(item)]


def _block_elements(block: dict[str, Any]) -> list[dict[str, Any]]:
    if block.get("type") not in ("actions", "section", "input", "context"):
        return []
    candidates = [block.get("accessory"), block.get("element")]
    elements = block.get("elements")
    if isinstance(elements, list):
        candidates.extend(elements)
    return [candidate for candidate in candidates if isinstance(candidate, dict)]


def kept_input_state(current: Mapping[str, Any], blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """Return what the user entered that Slack keeps across an update: input blocks whose block_id,
    action_id and element type did not change."""
    values = mapping_of(mapping_of(current.get("state")).get("values"))
    kept: dict[str, Any] = {}
    for block in blocks:
        element = mapping_of(block.get("element"))
        entry = mapping_of(values.get(block.get("block_id"))).get(element.get("action_id"))
        if block.get("type") == "input" and isinstance(entry, dict) and entry.get("type") == element.get("type") \
                and _offers(element, entry):
            kept[block["block_id"]] = {element["action_id"]: copy.deepcopy(entry)}
    return kept


def _offers(element: Mapping[str, Any], entry: Mapping[str, Any]) -> bool:
    """Tell whether an element still offers every option a state entry picked."""
    picked = [entry["selected_option"]] if entry.get("selected_option") else entry.get("selected_options") or []
    if not picked or not ("options" in element or "option_groups" in element):
        return True
    groups = element.get("option_groups") or [{"options": element.get("options") or []}]
    offered = {o.get("value") for g in groups for o in g.get("options") or []}
    return all(mapping_of(o).get("value") in offered for o in picked)


def mapping_of(value: Any) -> Mapping[str, Any]:
    """Return the value when it is a mapping, else an empty one."""
    return value if isinstance(value, Mapping) else {}


class Workspace:
    """One Slack workspace: people, channels, messages, views and the calls made to it."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        team_name: str = "Signoff Sandbox",
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        trigger_ttl_s: float | None = TRIGGER_TTL_S,
        web_url: str = f"https://{TEAM_DOMAIN}.slack.com/",
    ) -> None:
        self.token = token
        self.team_name = team_name
        self.clock = clock
        self.wall_clock = wall_clock
        self.trigger_ttl_s = trigger_ttl_s
        self.web_url = web_url
        self.base_url: str | None = None
        self.version = 0
        self.bot = User(BOT_USER_ID, "signoff", "Signoff", is_bot=True)
        self._users: dict[str, User] = {BOT_USER_ID: self.bot}
        self._conversations: dict[str, Conversation] = {}
        self._dms: dict[str, str] = {}
        self._messages: dict[str, list[Message]] = defaultdict(list)
        self._ephemerals: list[Message] = []
        self._views: dict[str, dict[str, Any]] = {}
        self._view_owner: dict[str, str] = {}
        self._view_errors: dict[str, dict[str, str]] = {}
        self._modal_stacks: dict[str, list[str]] = defaultdict(list)
        self._homes: dict[str, str] = {}
        self._message_states: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
        self._triggers: dict[str, _Trigger] = {}
        self._response_targets: dict[str, _ResponseTarget] = {}
        self._calls: list[Call] = []
        self._subscribers: list[asyncio.Queue[Change]] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._throttles: dict[str, deque[float]] = defaultdict(deque)
        self._failures: dict[str, deque[tuple[int, str | None]]] = defaultdict(deque)
        self._refusals: dict[str, deque[str]] = defaultdict(deque)
        self._rate_limit: _RateLimit | None = None
        self._ratelimited: Counter[str] = Counter()
        self._sequence = itertools.count(1)
        self._last_ts_us = 0

    @classmethod
    def demo(cls, **options: Any) -> Workspace:
        """Return a workspace seeded with a small finance team and two channels."""
        workspace = cls(**options)
        people = [
            ("U0ADA", "ada", "Ada Lovelace", "Europe/London", True),
            ("U0BOB", "bob", "Bob Martin", "America/New_York", False),
            ("U0CARA", "cara", "Cara Dupont", "Europe/Paris", False),
            ("U0DAN", "dan", "Dan Okafor", "UTC", False),
        ]
        for user_id, name, real_name, tz, is_admin in people:
            email = f"{name}@example.com"
            workspace.add_user(
                name, real_name, email=email, tz=tz, is_admin=is_admin, user_id=user_id
            )
        workspace.add_channel("general", channel_id="C0GENERAL")
        workspace.add_channel("finance", channel_id="C0FINANCE")
        return workspace

    # People and conversations

    def add_user(
        self,
        name: str,
        real_name: str = "",
        *,
        email: str | None = None,
        tz: str = "UTC",
        is_admin: bool = False,
        user_id: str | None = None,
    ) -> User:
        """Add a person; they join every existing public channel."""
        user_id = user_id or self._new_id("U")
        if user_id in self._users or self._find_user_by_name(name) is not None:
            raise DuplicateIdError(f"user {user_id} / {name} already exists")
        ZoneInfo(tz)  # refuses an unknown IANA zone now rather than at users.info
        user = User(user_id, name, real_name or name, email, tz, is_admin)
        self._users[user_id] = user
        for conversation in self._conversations.values():
            if conversation.kind == "channel":
                conversation.members.append(user_id)
        self._notify("user_added", user=user_id)
        return user

    def add_channel(
        self,
        name: str,
        *,
        members: list[str] | None = None,
        is_private: bool = False,
        bot_is_member: bool = True,
        channel_id: str | None = None,
    ) -> Conversation:
        """Add a channel; by default every person and the bot are members."""
        channel_id = channel_id or self._new_id("G" if is_private else "C")
        name = name.lstrip("#")
        if channel_id in self._conversations or self._find_channel_by_name(name) is not None:
            raise DuplicateIdError(f"channel {channel_id} / #{name} already exists")
        people = members if members is not None else [u for u in self._users if u != BOT_USER_ID]
        for user_id in people:
            self.user(user_id)
        everyone = [*people, BOT_USER_ID] if bot_is_member else list(people)
        kind: ConversationKind = "private" if is_private else "channel"
        conversation = Conversation(channel_id, kind, int(self.wall_clock()), name, everyone)
        self._conversations[channel_id] = conversation
        self._notify("channel_added", channel=channel_id)
        return conversation

    def user(self, ref: str) -> User:
        """Return a user by id, ``@name`` or name."""
        user = self._users.get(ref) or self._find_user_by_name(ref.lstrip("@"))
        if user is None:
            raise UnknownUserError(ref)
        return user

    def users(self) -> list[User]:
        """Return every user, the bot included."""
        return list(self._users.values())

    def user_by_email(self, email: str) -> User:
        """Return the user with this e-mail address."""
        for user in self._users.values():
            if user.email and user.email.lower() == email.lower():
                return user
        raise UnknownUserError(email)

    def conversation(self, ref: str) -> Conversation:
        """Return a channel or DM by id, ``#name`` or name."""
        conversation = self._conversations.get(ref) or self._find_channel_by_name(ref.lstrip("#"))
        if conversation is None:
            raise UnknownConversationError(ref)
        return conversation

    def conversations(self) -> list[Conversation]:
        """Return every channel and DM."""
        return list(self._conversations.values())

    def dm_channel_id(self, user_id: str) -> str:
        """Return the id of the bot's DM with a user, opening it on first use."""
        user = self.user(user_id)
        if user.id not in self._dms:
            dm = Conversation(self._new_id("D"), "im", int(self.wall_clock()), user=user.id)
            dm.members = [user.id, BOT_USER_ID]
            self._conversations[dm.id] = dm
            self._dms[user.id] = dm.id
            self._notify("dm_opened", channel=dm.id, user=user.id)
        return self._dms[user.id]

    # Inspection helpers

    def calls(self, method: str | None = None) -> list[Call]:
        """Return the recorded calls, optionally only those to one method."""
        return [call for call in self._calls if method is None or call.method == method]

    def messages_in(self, channel: str) -> list[Message]:
        """Return the messages of a conversation (id or name), oldest first."""
        return list(self._messages[self.conversation(channel).id])

    def dm_messages(self, user_id: str) -> list[Message]:
        """Return the messages in the bot's DM with a user, oldest first."""
        dm_id = self._dms.get(self.user(user_id).id)
        return list(self._messages[dm_id]) if dm_id else []

    def message(self, channel: str, ts: str) -> Message:
        """Return one message, ephemeral or not, by conversation and timestamp."""
        channel_id = self.conversation(channel).id
        for message in [*self._messages[channel_id], *self._ephemerals]:
            if message.channel == channel_id and message.ts == ts:
                return message
        raise UnknownMessageError(f"{channel_id} {ts}")

    def ephemerals(self, user_id: str, channel: str | None = None) -> list[Message]:
        """Return the ephemeral messages shown to a user, oldest first."""
        channel_id = self.conversation(channel).id if channel else None
        return [
            message
            for message in self._ephemerals
            if message.visible_to == user_id and channel_id in (None, message.channel)
        ]

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """Return the Home view last published for a user."""
        view_id = self._homes.get(user_id)
        return self._views[view_id] if view_id else None

    def open_modals(self, user_id: str) -> list[dict[str, Any]]:
        """Return the user's open modal stack, root first."""
        return [self._views[view_id] for view_id in self._modal_stacks.get(user_id, [])]

    def view(self, view_id: str) -> dict[str, Any]:
        """Return an open modal or Home view by id."""
        if view_id not in self._views:
            raise UnknownViewError(view_id)
        return self._views[view_id]

    def view_owner(self, view_id: str) -> str:
        """Return the id of the user a view is shown to."""
        self.view(view_id)
        return self._view_owner[view_id]

    def view_errors(self, view_id: str) -> dict[str, str]:
        """Return the input errors the app answered a modal submission with."""
        return dict(self._view_errors.get(view_id, {}))

    def ratelimited_count(self, channel: str | None = None) -> int:
        """Return how many 429 answers were given, for one conversation or in total."""
        if channel is None:
            return sum(self._ratelimited.values())
        return self._ratelimited[self._post_target(channel).id]

    # Change notification

    def subscribe(self) -> asyncio.Queue[Change]:
        """Return a queue that receives every later change."""
        queue: asyncio.Queue[Change] = asyncio.Queue()
        self._subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Change]) -> None:
        """Stop sending changes to a queue from ``subscribe``."""
        if queue in self._subscribers:
            self._subscribers.remove(queue)

    async def wait_for(self, predicate: Callable[[], T], timeout_s: float = 5.0) -> T:
        """Wait until ``predicate()`` is truthy after some change, and return its value."""
        async with asyncio.timeout(timeout_s):
            while not (result := predicate()):
                waiter = asyncio.get_running_loop().create_future()
                self._waiters.append(waiter)
                try:
                    await waiter
                finally:
                    if waiter in self._waiters:
                        self._waiters.remove(waiter)
        return result

    def _notify(self, kind: str, **ids: str | None) -> None:
        self.version += 1
        change = Change(self.version, kind, **ids)
        for queue in self._subscribers:
            queue.put_nowait(change)
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # Persistence

    def snapshot(self) -> dict[str, Any]:
        """Return the lasting state (people, conversations, messages, Home views) as JSON data."""
        position = next(self._sequence)
        self._sequence = itertools.count(position)
        return {
            "users": [asdict(u) for u in self._users.values() if u.id != BOT_USER_ID],
            "conversations": [asdict(c) for c in self._conversations.values()],
            "messages": [asdict(m) for pool in self._messages.values() for m in pool],
            "homes": {user_id: copy.deepcopy(self._views[v]) for user_id, v in self._homes.items()},
            "sequence": position,
            "last_ts_us": self._last_ts_us,
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Replace people, conversations, messages and Home views with a ``snapshot()``."""
        self._users = {BOT_USER_ID: self.bot, **{u["id"]: User(**u) for u in state["users"]}}
        self._conversations = {c["id"]: Conversation(**c) for c in state["conversations"]}
        self._dms = {c.user: c.id for c in self._conversations.values() if c.kind == "im" and c.user}
        self._messages = defaultdict(list)
        for raw in state["messages"]:
            self._messages[raw["channel"]].append(Message(**raw))
        for user_id, view in state["homes"].items():
            self._views[view["id"]], self._view_owner[view["id"]] = copy.deepcopy(view), user_id
            self._homes[user_id] = view["id"]
        self._sequence = itertools.count(max(int(state["sequence"]), next(self._sequence)))
        self._last_ts_us = max(int(state["last_ts_us"]), self._last_ts_us)
        self._notify("restored")

    # Fault injection and rate limits

    def throttle_channel(self, channel: str, retry_after_s: float, times: int = 1) -> None:
        """Answer the next ``times`` chat.postMessage calls to a channel with HTTP 429."""
        channel_id = self._post_target(channel).id
        self._throttles[channel_id].extend([retry_after_s] * times)

    def enforce_post_rate(self, per_channel_per_s: float = 1.0, burst: int = 2) -> None:
        """Answer 429 when a conversation is posted to faster than Slack allows."""
        self._rate_limit = _RateLimit(per_channel_per_s, burst)

    def relax_post_rate(self) -> None:
        """Stop enforcing the per-channel posting rate."""
        self._rate_limit = None

    def fail_next(self, method: str, status: int = 500, times: int = 1, text: str | None = None) -> None:
        """Answer the next ``times`` calls to a method with an HTTP error status (and a plain `text` body)."""
        self._failures[method].extend([(status, text)] * times)

    def refuse_next(self, method: str, error: str, times: int = 1) -> None:
        """Answer the next ``times`` calls to a method with ``{"ok": false, "error": error}`` (HTTP 200)."""
        self._refusals[method].extend([error] * times)

    def _check_faults(self, method: str, params: _Params) -> None:
        refusals = self._refusals.get(method)
        if refusals:
            raise SlackCallError(refusals.popleft())
        failures = self._failures.get(method)
        if failures:
            status, text = failures.popleft()
            headers = {"Retry-After": "1"} if status == 429 else {}
            raise SlackCallError(_failure_code(status), status=status, headers=headers, plain_text=text)
        if method != "chat.postMessage":
            return
        channel_id = self._try_post_target(params.text("channel"))
        if channel_id is not None:
            self._check_post_rate(channel_id)

    def _check_post_rate(self, channel_id: str) -> None:
        throttled = self._throttles.get(channel_id)
        if throttled:
            self._refuse_rate(channel_id, throttled.popleft())
        if self._rate_limit is not None:
            wait_s = self._take_token(self._rate_limit, channel_id)
            if wait_s > 0:
                self._refuse_rate(channel_id, wait_s)

    def _take_token(self, limit: _RateLimit, channel_id: str) -> float:
        now_s = self.clock()
        bucket = limit.buckets.setdefault(channel_id, _Bucket(float(limit.burst), now_s))
        refill = (now_s - bucket.updated_at_s) * limit.per_channel_per_s
        bucket.tokens = min(float(limit.burst), bucket.tokens + refill)
        bucket.updated_at_s = now_s
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / limit.per_channel_per_s

    def _refuse_rate(self, channel_id: str, retry_after_s: float) -> None:
        self._ratelimited[channel_id] += 1
        headers = {"Retry-After": str(max(1, math.ceil(retry_after_s)))}
        raise SlackCallError("ratelimited", status=429, headers=headers)

    # Interaction support

    def issue_trigger_id(self, user_id: str) -> str:
        """Issue a trigger id for a user's interaction, valid for a short while."""
        self.user(user_id)
        trigger_id = f"{next(self._sequence)}.{int(self.wall_clock())}.{secrets.token_hex(10)}"
        self._triggers[trigger_id] = _Trigger(user_id, self.clock())
        return trigger_id

    def issue_response_url(
        self,
        user_id: str,
        channel: str,
        message_ts: str | None = None,
        is_ephemeral: bool = False,
    ) -> str:
        """Issue a response_url for an interaction in a conversation."""
        channel_id = self.conversation(channel).id
        target = _ResponseTarget(user_id, channel_id, message_ts, is_ephemeral, self.clock())
        key = f"{TEAM_ID}-{next(self._sequence)}-{int(self.wall_clock())}"
        self._response_targets[key] = target
        base = self.base_url or "https://hooks.slack.com/"
        return f"{base}respond/{key}"

    def respond(self, key: str, payload: Mapping[str, Any]) -> None:
        """Apply a POST to a response_url the way Slack does."""
        target = self._response_target(key)
        if payload.get("delete_original"):
            self._delete_original(target)
            return
        try:
            text, blocks = self._content(_Params(payload))
        except SlackCallError as error:
            raise InvalidAckError(str(error.body())) from error
        if payload.get("replace_original") and target.message_ts:
            self._replace_original(target, text, blocks)
        elif payload.get("response_type") == "in_channel":
            self._store(Message(target.channel, self._next_ts(), text, BOT_USER_ID, blocks, BOT_ID))
        else:
            self._store_ephemeral(target.channel, target.user_id, text, blocks)

    def apply_command_ack(self, user_id: str, channel: str, ack: Any) -> None:
        """Show a slash command's acknowledgement body the way Slack does."""
        if isinstance(ack, str) and ack.strip():
            ack = {"text": ack}
        if not isinstance(ack, dict) or not (ack.get("text") or ack.get("blocks")):
            return
        try:
            text, blocks = self._content(_Params(ack))
        except SlackCallError as error:
            raise InvalidAckError(str(error.body())) from error
        channel_id = self.conversation(channel).id
        if ack.get("response_type") == "in_channel":
            self._store(Message(channel_id, self._next_ts(), text, BOT_USER_ID, blocks, BOT_ID))
        else:
            self._store_ephemeral(channel_id, user_id, text, blocks)

    def apply_view_submission_ack(self, view_id: str, ack: Any) -> None:
        """Close, update, push or annotate a submitted modal as the app's ack asks."""
        user_id = self.view_owner(view_id)
        action = ack.get("response_action") if isinstance(ack, dict) else None
        if action == "errors":
            self._view_errors[view_id] = dict(ack.get("errors") or {})
            self._notify("view_errors", user=user_id, view_id=view_id)
        elif action == "update":
            self._replace_view(view_id, self._checked_ack_view(ack))
        elif action == "push":
            self._push_modal(user_id, self._checked_ack_view(ack))
        elif action == "clear":
            self.clear_modals(user_id)
        else:
            self.close_modal(user_id, view_id)

    def close_modal(self, user_id: str, view_id: str | None = None) -> None:
        """Close the user's top modal (or the given one and every modal above it)."""
        stack = self._modal_stacks.get(user_id) or []
        if not stack:
            return
        position = stack.index(view_id) if view_id in stack else len(stack) - 1
        closed = stack[position:]
        del stack[position:]
        for closed_id in closed:
            self._forget_view(closed_id)
        self._notify("view_closed", user=user_id, view_id=closed[0])

    def clear_modals(self, user_id: str) -> None:
        """Close every modal the user has open."""
        stack = self._modal_stacks.get(user_id) or []
        if stack:
            self.close_modal(user_id, stack[0])

    def set_view_state(self, view_id: str, values: dict[str, dict[str, Any]]) -> None:
        """Store what the user typed or picked in a view, as ``state.values``."""
        self.view(view_id)["state"] = {"values": copy.deepcopy(values)}

    def merge_view_state(self, view_id: str, values: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """Add what the user typed or picked to a view's ``state.values``; return the whole state."""
        view = self.view(view_id)
        stored = view.setdefault("state", {}).setdefault("values", {})
        for block_id, entries in values.items():
            stored.setdefault(block_id, {}).update(copy.deepcopy(dict(entries)))
        return copy.deepcopy(view["state"])

    def message_state(self, channel: str, ts: str) -> dict[str, dict[str, Any]]:
        """Return what people picked in a message's elements, as ``state.values``."""
        return copy.deepcopy(self._message_states.get((channel, ts), {}))

    def merge_message_state(self, channel: str, ts: str, values: Mapping[str, Mapping[str, Any]]) -> None:
        """Add what someone picked in a message's elements (checkboxes, menus, pickers) to its state."""
        stored = self._message_states.setdefault((channel, ts), {})
        for block_id, entries in values.items():
            stored.setdefault(block_id, {}).update(copy.deepcopy(dict(entries)))

    def notify(self, kind: str) -> None:
        """Tell live subscribers that something outside Slack's own state changed (a mail arrived…)."""
        self._notify(kind)

    # The Web API

    async def call(
        self, method: str, params: Mapping[str, Any], token: str | None = None
    ) -> ApiResponse:
        """Answer one Web API call: HTTP status, JSON body and headers."""
        arguments = copy.deepcopy(dict(params))
        try:
            body = {"ok": True, **self._dispatch(method, arguments, token)}
            answer = ApiResponse(200, body, {})
        except SlackCallError as error:
            plain_text = error.extra.get("plain_text")
            answer = ApiResponse(error.status, plain_text if isinstance(plain_text, str) else error.body(),
                                 error.headers)
        self._record(method, arguments, token, answer)
        return answer

    def _dispatch(
        self, method: str, arguments: dict[str, Any], token: str | None
    ) -> dict[str, Any]:
        handler = _HANDLERS.get(method)
        if handler is None:
            raise SlackCallError("unknown_method", req_method=method)
        if method not in _UNAUTHENTICATED:
            self._check_token(token)
        params = _Params(arguments)
        self._check_faults(method, params)
        try:
            return handler(self, params)
        except UnknownUserError:
            raise SlackCallError("user_not_found") from None
        except UnknownConversationError:
            raise SlackCallError("channel_not_found") from None
        except UnknownMessageError:
            raise SlackCallError("message_not_found") from None
        except UnknownViewError:
            raise SlackCallError("view_not_found") from None

    def _check_token(self, token: str | None) -> None:
        if not token:
            raise SlackCallError("not_authed")
        if token != self.token:
            raise SlackCallError("invalid_auth")

    def _record(
        self, method: str, arguments: dict[str, Any], token: str | None, answer: ApiResponse
    ) -> None:
        body = answer.body if isinstance(answer.body, dict) else {"error": f"http_{answer.status}"}
        error = None if body.get("ok") else body.get("error")
        call = Call(method, arguments, self.wall_clock(), answer.status, error, token)
        self._calls.append(call)

    # Handlers: auth and api

    def _api_test(self, params: _Params) -> dict[str, Any]:
        error = params.text("error")
        if error:
            raise SlackCallError(error, args=dict(params.raw))
        return {"args": dict(params.raw)}

    def _auth_test(self, params: _Params) -> dict[str, Any]:
        return {
            "url": self.web_url,
            "team": self.team_name,
            "user": self.bot.name,
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    # Handlers: chat

    def _chat_post_message(self, params: _Params) -> dict[str, Any]:
        conversation = self._post_target(params.required("channel", "channel_not_found"))
        text, blocks = self._content(params)
        self._check_can_post(conversation)
        message = Message(conversation.id, self._next_ts(), text, BOT_USER_ID, blocks, BOT_ID)
        message.thread_ts = params.text("thread_ts")
        message.metadata = params.decoded("metadata", "invalid_metadata_format")
        message.attachments = params.decoded("attachments", "invalid_attachments")
        self._store(message)
        return {"channel": conversation.id, "ts": message.ts, "message": message.as_slack()}

    def _chat_update(self, params: _Params) -> dict[str, Any]:
        channel_id = self.conversation(params.required("channel", "channel_not_found")).id
        message = self._own_message(channel_id, params, "cant_update_message")
        new = _Params({"text": message.text, "blocks": message.blocks, **_present(params)})
        text, blocks = self._content(new)
        message.text, message.blocks, message.edited = text, blocks, True
        self._notify("message_changed", channel=channel_id, ts=message.ts)
        shown = message.as_slack()
        return {"channel": channel_id, "ts": message.ts, "text": text, "message": shown}

    def _chat_delete(self, params: _Params) -> dict[str, Any]:
        channel_id = self.conversation(params.required("channel", "channel_not_found")).id
        message = self._own_message(channel_id, params, "cant_delete_message")
        self._messages[channel_id].remove(message)
        self._notify("message_deleted", channel=channel_id, ts=message.ts)
        return {"channel": channel_id, "ts": message.ts}

    def _chat_post_ephemeral(self, params: _Params) -> dict[str, Any]:
        conversation = self._post_target(params.required("channel", "channel_not_found"))
        user = self.user(params.required("user", "user_not_found"))
        text, blocks = self._content(params)
        if user.id not in conversation.members:
            raise SlackCallError("user_not_in_channel")
        self._check_can_post(conversation)
        message = self._store_ephemeral(conversation.id, user.id, text, blocks)
        return {"message_ts": message.ts}

    def _chat_get_permalink(self, params: _Params) -> dict[str, Any]:
        channel_id = self.conversation(params.required("channel", "channel_not_found")).id
        ts = params.required("message_ts", "message_not_found")
        self.message(channel_id, ts)
        link = f"{self.web_url}archives/{channel_id}/p{ts.replace('.', '')}"
        return {"channel": channel_id, "permalink": link}

    def _own_message(self, channel_id: str, params: _Params, refusal: str) -> Message:
        ts = params.required("ts", "message_not_found")
        found = [m for m in self._messages[channel_id] if m.ts == ts]
        if not found:
            raise SlackCallError("message_not_found")
        if found[0].user != BOT_USER_ID:
            raise SlackCallError(refusal)
        return found[0]

    def _content(self, params: _Params) -> tuple[str, list[dict[str, Any]] | None]:
        text = params.text("text") or ""
        blocks = params.decoded("blocks", "invalid_blocks_format")
        if not text and not blocks and not params.has("attachments"):
            raise SlackCallError("no_text")
        if len(text) > MAX_MESSAGE_TEXT_CHARS:
            raise SlackCallError("msg_too_long")
        problems = validate_message(blocks, text or None) if blocks else []
        if problems:
            raise SlackCallError(
                "invalid_blocks", errors=problems, response_metadata={"messages": problems}
            )
        return text, self._with_ids(blocks) if blocks else None

    def _check_can_post(self, conversation: Conversation) -> None:
        if conversation.is_archived:
            raise SlackCallError("is_archived")
        if BOT_USER_ID not in conversation.members:
            raise SlackCallError("not_in_channel")

    def _post_target(self, ref: str) -> Conversation:
        if ref in self._users:
            return self._conversations[self.dm_channel_id(ref)]
        return self.conversation(ref)

    def _try_post_target(self, ref: str | None) -> str | None:
        if ref is None:
            return None
        try:
            return self._post_target(ref).id
        except (UnknownConversationError, UnknownUserError):
            return None

    def _store(self, message: Message) -> Message:
        self._messages[message.channel].append(message)
        self._notify("message", channel=message.channel, ts=message.ts, user=message.user)
        return message

    def _store_ephemeral(
        self, channel_id: str, user_id: str, text: str, blocks: list[dict[str, Any]] | None
    ) -> Message:
        message = Message(channel_id, self._next_ts(), text, BOT_USER_ID, blocks, BOT_ID)
        message.visible_to = user_id
        self._ephemerals.append(message)
        self._notify("ephemeral", channel=channel_id, ts=message.ts, user=user_id)
        return message

    # Handlers: users

    def _users_info(self, params: _Params) -> dict[str, Any]:
        user = self.user(params.required("user", "user_not_found"))
        return {"user": user.as_slack(self.wall_clock())}

    def _users_list(self, params: _Params) -> dict[str, Any]:
        now_s = self.wall_clock()
        page, cursor = _page([u.as_slack(now_s) for u in self._users.values()], params)
        return {"members": page, "cache_ts": int(now_s), "response_metadata": cursor}

    def _users_lookup_by_email(self, params: _Params) -> dict[str, Any]:
        try:
            user = self.user_by_email(params.required("email", "users_not_found"))
        except UnknownUserError:
            raise SlackCallError("users_not_found") from None
        return {"user": user.as_slack(self.wall_clock())}

    # Handlers: conversations

    def _conversations_open(self, params: _Params) -> dict[str, Any]:
        if params.has("channel"):
            conversation = self.conversation(params.required("channel"))
            return {"channel": conversation.as_slack()}
        listed = params.required("users", "users_list_not_supplied")
        user_ids = [user_id.strip() for user_id in listed.split(",")]
        if len(user_ids) != 1:
            raise SlackCallError("invalid_arguments", detail="group DMs are not supported")
        already_open = self.user(user_ids[0]).id in self._dms
        conversation = self._conversations[self.dm_channel_id(user_ids[0])]
        shown = conversation.as_slack() if params.flag("return_im") else {"id": conversation.id}
        extra = {"no_op": True, "already_open": True} if already_open else {}
        return {"channel": shown, **extra}

    def _conversations_info(self, params: _Params) -> dict[str, Any]:
        conversation = self.conversation(params.required("channel", "channel_not_found"))
        return {"channel": conversation.as_slack()}

    def _conversations_list(self, params: _Params) -> dict[str, Any]:
        types = (params.text("types") or "public_channel").split(",")
        kinds = {_TYPE_KINDS.get(kind.strip()) for kind in types}
        shown = [
            c.as_slack()
            for c in self._conversations.values()
            if c.kind in kinds and not (c.is_archived and params.flag("exclude_archived"))
        ]
        page, cursor = _page(shown, params)
        return {"channels": page, "response_metadata": cursor}

    def _conversations_history(self, params: _Params) -> dict[str, Any]:
        channel_id = self.conversation(params.required("channel", "channel_not_found")).id
        oldest = float(params.text("oldest") or 0)
        latest = float(params.text("latest") or math.inf)
        inclusive = params.flag("inclusive")
        shown = [
            m.as_slack()
            for m in reversed(self._messages[channel_id])
            if m.thread_ts in (None, m.ts) and _in_range(float(m.ts), oldest, latest, inclusive)
        ]
        page, cursor = _page(shown, params)
        has_more = bool(cursor["next_cursor"])
        return {"messages": page, "has_more": has_more, "pin_count": 0, "response_metadata": cursor}

    def _conversations_replies(self, params: _Params) -> dict[str, Any]:
        channel_id = self.conversation(params.required("channel", "channel_not_found")).id
        parent = self.message(channel_id, params.required("ts", "thread_not_found"))
        thread = [m.as_slack() for m in self._messages[channel_id] if m.thread_ts == parent.ts]
        page, cursor = _page([parent.as_slack(), *thread], params)
        has_more = bool(cursor["next_cursor"])
        return {"messages": page, "has_more": has_more, "response_metadata": cursor}

    def _conversations_members(self, params: _Params) -> dict[str, Any]:
        conversation = self.conversation(params.required("channel", "channel_not_found"))
        page, cursor = _page(list(conversation.members), params)
        return {"members": page, "response_metadata": cursor}

    # Handlers: views

    def _views_open(self, params: _Params) -> dict[str, Any]:
        user_id = self._use_trigger(params)
        spec = self._view_spec(params, "modal")
        for view_id in self._modal_stacks.get(user_id, []):
            self._forget_view(view_id)
        self._modal_stacks[user_id] = []
        return {"view": self._push_modal(user_id, spec)}

    def _views_push(self, params: _Params) -> dict[str, Any]:
        user_id = self._use_trigger(params)
        spec = self._view_spec(params, "modal")
        if not self._modal_stacks.get(user_id):
            raise SlackCallError("view_not_found")
        return {"view": self._push_modal(user_id, spec)}

    def _views_update(self, params: _Params) -> dict[str, Any]:
        view_id = self._view_id_for(params)
        current = self._views[view_id]
        spec = self._view_spec(params, current["type"])
        expected_hash = params.text("hash")
        if expected_hash is not None and expected_hash != current["hash"]:
            raise SlackCallError("hash_conflict")
        return {"view": self._replace_view(view_id, spec)}

    def _views_publish(self, params: _Params) -> dict[str, Any]:
        user = self.user(params.required("user_id", "user_not_found"))
        spec = self._view_spec(params, "home")
        view_id = self._homes.get(user.id)
        if view_id is None:
            view = self._new_view(user.id, spec, root_view_id=None, previous_view_id=None)
            self._homes[user.id] = view["id"]
            self._notify("home_published", user=user.id, view_id=view["id"])
            return {"view": view}
        expected_hash = params.text("hash")
        if expected_hash is not None and expected_hash != self._views[view_id]["hash"]:
            raise SlackCallError("hash_conflict")
        return {"view": self._replace_view(view_id, spec)}

    def _use_trigger(self, params: _Params) -> str:
        trigger_id = params.text("trigger_id") or params.required("interactivity_pointer")
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            raise SlackCallError("invalid_trigger_id")
        if trigger.used:
            raise SlackCallError("exchanged_trigger_id")
        age_s = self.clock() - trigger.issued_at_s
        if self.trigger_ttl_s is not None and age_s > self.trigger_ttl_s:
            raise SlackCallError("expired_trigger_id")
        trigger.used = True
        return trigger.user_id

    def _view_spec(self, params: _Params, kind: str) -> dict[str, Any]:
        spec = params.decoded("view", "invalid_arguments")
        if not isinstance(spec, dict):
            raise SlackCallError("invalid_arguments", detail="view is required")
        problems = validate_view(spec)
        if spec.get("type") != kind:
            problems.append(f"[ERROR] must be '{kind}' here [json-pointer:/view/type]")
        if problems:
            raise SlackCallError(
                "invalid_arguments", errors=problems, response_metadata={"messages": problems}
            )
        return spec

    def _view_id_for(self, params: _Params) -> str:
        view_id = params.text("view_id")
        if view_id is not None:
            self.view(view_id)
            return view_id
        external_id = params.required("external_id", "invalid_arguments")
        for candidate, view in self._views.items():
            if view.get("external_id") == external_id:
                return candidate
        raise SlackCallError("view_not_found")

    def _checked_ack_view(self, ack: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._view_spec(_Params({"view": ack.get("view")}), "modal")
        except SlackCallError as error:
            raise InvalidAckError(str(error.body())) from error

    def _push_modal(self, user_id: str, spec: dict[str, Any]) -> dict[str, Any]:
        stack = self._modal_stacks[user_id]
        if len(stack) >= MAX_MODAL_STACK:
            raise SlackCallError("push_limit_reached")
        self._check_external_id_free(spec)
        root_view_id = stack[0] if stack else None
        previous_view_id = stack[-1] if stack else None
        view = self._new_view(user_id, spec, root_view_id, previous_view_id)
        stack.append(view["id"])
        self._notify("view_opened", user=user_id, view_id=view["id"])
        return view

    def _check_external_id_free(self, spec: dict[str, Any]) -> None:
        external_id = spec.get("external_id")
        if external_id and any(v.get("external_id") == external_id for v in self._views.values()):
            raise SlackCallError("duplicate_external_id")

    def _new_view(
        self,
        user_id: str,
        spec: dict[str, Any],
        root_view_id: str | None,
        previous_view_id: str | None,
    ) -> dict[str, Any]:
        view_id = self._new_id("V")
        view = self._shape_view(view_id, spec)
        view["root_view_id"] = root_view_id or view_id
        view["previous_view_id"] = previous_view_id
        self._views[view_id] = view
        self._view_owner[view_id] = user_id
        return view

    def _replace_view(self, view_id: str, spec: dict[str, Any]) -> dict[str, Any]:
        current = self._views[view_id]
        view = self._shape_view(view_id, spec)
        view["root_view_id"] = current["root_view_id"]
        view["previous_view_id"] = current["previous_view_id"]
        view["state"] = {"values": kept_input_state(current, view["blocks"])}
        self._views[view_id] = view
        self._view_errors.pop(view_id, None)
        self._notify("view_updated", user=self._view_owner[view_id], view_id=view_id)
        return view

    def _shape_view(self, view_id: str, spec: dict[str, Any]) -> dict[str, Any]:
        view = {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": spec["type"],
            "blocks": self._with_ids(spec.get("blocks") or []),
            "private_metadata": spec.get("private_metadata", ""),
            "callback_id": spec.get("callback_id", ""),
            "external_id": spec.get("external_id", ""),
            "state": {"values": {}},
            "hash": f"{int(self.wall_clock())}.{next(self._sequence):08x}",
            "clear_on_close": bool(spec.get("clear_on_close", False)),
            "notify_on_close": bool(spec.get("notify_on_close", False)),
            "app_id": APP_ID,
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }
        for key in ("title", "submit", "close"):
            if key in spec:
                view[key] = copy.deepcopy(spec[key])
        return view

    def _forget_view(self, view_id: str) -> None:
        self._views.pop(view_id, None)
        self._view_owner.pop(view_id, None)
        self._view_errors.pop(view_id, None)

    # Response URLs

    def _response_target(self, key: str) -> _ResponseTarget:
        target = self._response_targets.get(key)
        if target is None:
            raise ResponseUrlError(f"unknown response_url {key}")
        if target.uses_left <= 0 or self.clock() - target.issued_at_s > RESPONSE_URL_TTL_S:
            raise ResponseUrlError(f"response_url {key} is used up or expired")
        target.uses_left -= 1
        return target

    def _delete_original(self, target: _ResponseTarget) -> None:
        original = self._original(target)
        if original is None:
            return
        pool = self._ephemerals if target.is_ephemeral else self._messages[target.channel]
        pool.remove(original)
        self._notify("message_deleted", channel=target.channel, ts=original.ts)

    def _replace_original(
        self, target: _ResponseTarget, text: str, blocks: list[dict[str, Any]] | None
    ) -> None:
        original = self._original(target)
        if original is None:
            raise ResponseUrlError("the original message no longer exists")
        original.text, original.blocks = text, blocks
        original.edited = not target.is_ephemeral
        self._notify("message_changed", channel=target.channel, ts=original.ts)

    def _original(self, target: _ResponseTarget) -> Message | None:
        pool = self._ephemerals if target.is_ephemeral else self._messages[target.channel]
        matches = [m for m in pool if m.channel == target.channel and m.ts == target.message_ts]
        return matches[0] if matches else None

    # Identifiers

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._sequence):08X}"

    def _next_ts(self) -> str:
        now_us = max(int(self.wall_clock() * 1_000_000), self._last_ts_us + 1)
        self._last_ts_us = now_us
        return f"{now_us // 1_000_000}.{now_us % 1_000_000:06d}"

    def _with_ids(self, blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        filled = copy.deepcopy(blocks)
        for block in filled:
            block.setdefault("block_id", self._short_id())
            for element in _block_elements(block):
                if element.get("type") not in _NON_INTERACTIVE and block.get("type") != "context":
                    element.setdefault("action_id", self._short_id())
        return filled

    def _short_id(self) -> str:
        raw = next(self._sequence).to_bytes(4, "big")
        return base64.b32encode(raw).decode().rstrip("=")[-5:]

    def _find_user_by_name(self, name: str) -> User | None:
        return next((u for u in self._users.values() if u.name == name), None)

    def _find_channel_by_name(self, name: str) -> Conversation | None:
        return next((c for c in self._conversations.values() if c.name == name), None)


_TYPE_KINDS: dict[str, ConversationKind] = {
    "public_channel": "channel",
    "private_channel": "private",
    "im": "im",
}


def _failure_code(status: int) -> str:
    codes = {429: "ratelimited", 500: "internal_error", 503: "service_unavailable"}
    return codes.get(status, "fatal_error")


def _present(params: _Params) -> dict[str, Any]:
    return {key: params.raw[key] for key in ("text", "blocks") if params.has(key)}


def _in_range(ts: float, oldest: float, latest: float, inclusive: bool) -> bool:
    if inclusive:
        return oldest <= ts <= latest
    return oldest < ts < latest


def _page(items: list[T], params: _Params) -> tuple[list[T], dict[str, str]]:
    limit = params.number("limit", DEFAULT_PAGE_SIZE) or DEFAULT_PAGE_SIZE
    start = _decode_cursor(params.text("cursor"))
    page = items[start : start + limit]
    more = start + limit < len(items)
    next_cursor = base64.b64encode(f"offset:{start + limit}".encode()).decode() if more else ""
    return page, {"next_cursor": next_cursor}


def _decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        return int(base64.b64decode(cursor).decode().removeprefix("offset:"))
    except ValueError:
        raise SlackCallError("invalid_cursor") from None


_HANDLERS: dict[str, Callable[[Workspace, _Params], dict[str, Any]]] = {
    "api.test": Workspace._api_test,
    "auth.test": Workspace._auth_test,
    "chat.postMessage": Workspace._chat_post_message,
    "chat.update": Workspace._chat_update,
    "chat.delete": Workspace._chat_delete,
    "chat.postEphemeral": Workspace._chat_post_ephemeral,
    "chat.getPermalink": Workspace._chat_get_permalink,
    "users.info": Workspace._users_info,
    "users.list": Workspace._users_list,
    "users.lookupByEmail": Workspace._users_lookup_by_email,
    "conversations.open": Workspace._conversations_open,
    "conversations.info": Workspace._conversations_info,
    "conversations.list": Workspace._conversations_list,
    "conversations.history": Workspace._conversations_history,
    "conversations.replies": Workspace._conversations_replies,
    "conversations.members": Workspace._conversations_members,
    "views.open": Workspace._views_open,
    "views.push": Workspace._views_push,
    "views.update": Workspace._views_update,
    "views.publish": Workspace._views_publish,
}
