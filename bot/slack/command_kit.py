"""The `/signoff` command kit: a subcommand, the registry a Bolt app answers from, the caller's context, replies."""

from __future__ import annotations

import json
import math
import re
import shlex
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.service import Signoff
from bot.errors import NotFound, Refused
from bot.slack.home_refresh import HomeRefresher

Handler = Callable[["CommandContext", list[str]], Awaitable["Reply | None"]]

MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")


def parse_person(text: str) -> str:
    """Return the user id in `<@U123|name>` (how Slack sends an @mention), `<@U123>` or `U123` (anything else is
    returned as is)."""
    match = MENTION.match(text.strip())
    return match.group(1) if match else text.strip().lstrip("@")


@dataclass(frozen=True)
class Subcommand:
    """One `/signoff NAME` subcommand and who may use it."""

    name: str
    handler: Handler
    is_admin_only: bool
    help_key: str
    usage: str


def command(
    name: str, handler: Handler, *, admin: bool = False, help_key: str | None = None, usage: str | None = None
) -> Subcommand:
    """Describe `async def handler(ctx, args) -> Reply | None` as `/signoff NAME` (admin-only when `admin`)."""
    return Subcommand(name, handler, admin, help_key or name, usage or name)


class CommandRegistry:
    """The `/signoff` subcommands of one Bolt app, in the order `help` lists them."""

    def __init__(self, commands: Iterable[Subcommand] = ()) -> None:
        self._commands: dict[str, Subcommand] = {}
        for entry in commands:
            self.add(entry)

    def add(self, entry: Subcommand) -> None:
        """Add a subcommand; a second one of the same name is a programming error."""
        if entry.name in self._commands:
            raise ValueError(f"/signoff {entry.name} is defined twice")
        self._commands[entry.name] = entry

    def remove(self, name: str) -> None:
        """Remove a subcommand (absent is fine)."""
        self._commands.pop(name, None)

    def get(self, name: str) -> Subcommand | None:
        """Return the subcommand called `name`, or None."""
        return self._commands.get(name)

    def __iter__(self) -> Iterator[Subcommand]:
        return iter(list(self._commands.values()))


@dataclass(frozen=True)
class Reply:
    """A subcommand's answer: a message shown only to the caller unless `in_channel`."""

    message: dict[str, Any]
    in_channel: bool = False


@dataclass(frozen=True)
class Pager:
    """One page of a long list, with the button values that move between pages."""

    command: str
    args: str
    page: int
    pages: int
    per_page: int
    total: int

    def window(self, items: Sequence[Any]) -> list[Any]:
        """Return the items shown on this page."""
        start = self.page * self.per_page
        return list(items[start:start + self.per_page])

    def _value(self, page: int) -> str | None:
        if not 0 <= page < self.pages:
            return None
        return json.dumps({"c": self.command, "a": self.args[:1000], "p": page}, ensure_ascii=False)

    def view(self) -> dict[str, Any]:
        """Return what the pager macro renders."""
        return {"page": self.page + 1, "pages": self.pages, "total": self.total,
                "previous": self._value(self.page - 1), "next": self._value(self.page + 1)}


@dataclass
class CommandContext:
    """Who runs a subcommand, where, on which page, and what the bot can do for them."""

    service: Signoff
    commands: CommandRegistry
    user: str
    name: str
    args_text: str = ""
    channel: str | None = None
    trigger_id: str | None = None
    page: int = 0
    homes: HomeRefresher | None = None

    @property
    def is_admin(self) -> bool:
        """Tell whether the caller is an admin."""
        return self.service.is_admin(self.user)

    @property
    def now(self) -> datetime:
        """Return the service's current time."""
        return self.service.clock.now()

    def reply(self, template: str, *, in_channel: bool = False, **context: Any) -> Reply:
        """Render a message template as the answer."""
        return Reply(self.service.renderer.json(template, **context), in_channel)

    def note(self, code: str, **detail: Any) -> Reply:
        """Answer with one short notice (`commands_note.json.j2` knows every code)."""
        return self.reply("commands_note.json.j2", code=code, detail=detail)

    def unavailable(self) -> Reply:
        """Answer that this subcommand is not available yet."""
        return self.note("not_available", command=self.name)

    def pager(self, total: int, per_page: int) -> Pager:
        """Return the pager of a list of `total` items, clamping the page asked for."""
        pages = max(1, math.ceil(total / per_page))
        return Pager(self.name, self.args_text, min(max(0, self.page), pages - 1), pages, per_page, total)

    async def open_modal(self, view: dict[str, Any]) -> None:
        """Open a modal for the caller (needs the trigger of their command or click)."""
        await self.service.slack.open_view(self.trigger_id or "", view)

    async def refresh_homes(self, users: Iterable[str]) -> None:
        """Republish these people's Home tabs, when the command runs in an app that keeps them."""
        if self.homes is not None:
            await self.homes.refresh(users)


def is_well_quoted(text: str) -> bool:
    """Tell whether a command line's quotes are all closed (`split_args` falls back to spaces when they are not)."""
    try:
        shlex.split(text)
    except ValueError:
        return False
    return True


def split_args(text: str) -> list[str]:
    """Split a command line like a shell does, falling back to spaces on unbalanced quotes."""
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


async def run_command(
    service: Signoff, commands: CommandRegistry, user: str, text: str, *, channel: str | None = None,
    trigger_id: str | None = None, page: int = 0, homes: HomeRefresher | None = None,
) -> Reply | None:
    """Run `/signoff TEXT` for a user; refuse unknown and (for non-admins) admin-only subcommands."""
    name, _, rest = text.strip().partition(" ")
    name = name.lower() or "help"
    ctx = CommandContext(service, commands, user, name, rest.strip(), channel, trigger_id, page, homes)
    command = commands.get(name)
    if command is None:
        return ctx.note("unknown_command", command=name)
    if command.is_admin_only and not ctx.is_admin:
        return ctx.note("admin_only", command=name)
    try:
        return await command.handler(ctx, split_args(rest))
    except NotFound as exc:
        return ctx.note("not_found", kind=exc.kind, ref=exc.ref)
    except Refused as exc:
        return ctx.note("failed", **failed_detail(exc))


def failed_detail(refusal: Refused) -> dict[str, Any]:
    """Return what a "failed" note shows of a refusal: its message, its first problems, its wording's key."""
    return {"message": refusal.message, "details": refusal.details[:5], "why": refusal.why, "params": refusal.params}


async def dm_failed(service: Signoff, user: str, refusal: Refused) -> None:
    """DM an admin why what a modal asked for was refused."""
    await service.slack.dm(user, service.renderer.json("commands_note.json.j2", code="failed",
                                                       detail=failed_detail(refusal)))


def ack_body(reply: Reply | None) -> dict[str, Any]:
    """Return the slash-command acknowledgement that shows a reply."""
    if reply is None:
        return {}
    return {"response_type": "in_channel" if reply.in_channel else "ephemeral", **reply.message}
