"""One local Slack workspace, answering Web API calls as Slack does."""

from __future__ import annotations

import copy
import itertools
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any

from bot.sandbox.errors import (
    SlackCallError,
    UnknownConversationError,
    UnknownMessageError,
    UnknownUserError,
    UnknownViewError,
)
from bot.sandbox.methods import auth, chat, conversations, users, views
from bot.sandbox.params import Params
from bot.sandbox.state.core import TRIGGER_TTL_S
from bot.sandbox.state.faults import Faults
from bot.sandbox.state.interactions import Interactions
from bot.sandbox.state.model import (
    BOT_USER_ID,
    DEFAULT_TOKEN,
    TEAM_DOMAIN,
    ApiResponse,
    Call,
    Conversation,
    Message,
    User,
)

_METHODS: dict[str, Callable[[Workspace, Params], dict[str, Any]]] = {
    **auth.METHODS,
    **chat.METHODS,
    **users.METHODS,
    **conversations.METHODS,
    **views.METHODS,
}


class Workspace(Interactions, Faults):
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
        super().__init__(
            token=token, team_name=team_name, clock=clock, wall_clock=wall_clock, trigger_ttl_s=trigger_ttl_s,
            web_url=web_url,
        )
        self._calls: list[Call] = []

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

    def calls(self, method: str | None = None) -> list[Call]:
        """Return the recorded calls, optionally only those to one method."""
        return [call for call in self._calls if method is None or call.method == method]

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
        handler = _METHODS.get(method)
        if handler is None:
            raise SlackCallError("unknown_method", req_method=method)
        if method not in auth.UNAUTHENTICATED:
            self._check_token(token)
        params = Params(arguments)
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
