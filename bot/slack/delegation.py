"""`/signoff away @delegate UNTIL`: someone approves for me while I am away; `away off` ends it."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.core.asking import person_problem
from bot.core.delegations import end_away, start_away
from bot.core.service import Signoff
from bot.slack.command_kit import CommandContext, Reply, command, parse_person
from engine.approvals import ApprovalRequest
from engine.delegation import (
    DelegationProblem,
    acting_for,
    delegation_problem,
    example_return_day,
    left_with_principal,
    parse_until,
    plan_delegation,
)

log = logging.getLogger(__name__)

OFF_WORDS = frozenset({"off", "back", "end", "stop"})
USAGE = "away @delegate UNTIL | away off"
MAX_UNTIL_CHARS = 64


async def is_person(service: Signoff, user_id: str) -> bool:
    """Tell whether Slack knows this user as a person (not a bot, not deactivated)."""
    return await person_problem(service.slack, user_id) is None


def read_until(text: str, tz: ZoneInfo) -> datetime | None:
    """Read UNTIL in the company zone; None when it is no date, or one at the very edge of the calendar."""
    try:
        return parse_until(text[:MAX_UNTIL_CHARS], tz)
    except OverflowError:
        return None


async def _problem(ctx: CommandContext, delegate: str, until_text: str) -> tuple[DelegationProblem | None, Any]:
    until = read_until(until_text, ctx.service.settings.tz)
    async with ctx.service.db.read() as repo:
        away = await repo.delegations_active_at(ctx.now, principal=delegate)
    problem = delegation_problem(ctx.user, delegate, until, ctx.now, is_delegate_away=bool(away))
    if problem is None and not await is_person(ctx.service, delegate):
        problem = DelegationProblem.BAD_DELEGATE
    return problem, away[-1].end() if away else until


async def away_command(ctx: CommandContext, args: list[str]) -> Reply:
    """Hand my approvals to a delegate until a date, or end that (`away off`); no argument shows the state."""
    if not args:
        async with ctx.service.db.read() as repo:
            active = await repo.delegations_active_at(ctx.now, principal=ctx.user)
        if not active:
            return ctx.note("away_none")
        return ctx.note("away_set", delegate=active[-1].delegate, until=active[-1].end())
    if len(args) == 1 and args[0].lower() in OFF_WORDS:
        ended = await end_away(ctx.service.deps, ctx.user)
        await ctx.refresh_homes([ctx.user, *(d.delegate for d in ended)])
        return ctx.note("away_ended", delegate=ended[-1].delegate) if ended else ctx.note("away_none")
    if len(args) != 2:
        return ctx.note("usage", usage=USAGE)
    delegate = parse_person(args[0])
    problem, until = await _problem(ctx, delegate, args[1])
    if problem is not None:
        return ctx.note("away_problem", problem=problem.value, delegate=delegate, until=until,
                        example=example_return_day(ctx.now, ctx.service.settings.tz).isoformat())
    delegation = plan_delegation(ctx.user, delegate, until, ctx.now)
    ended = await start_away(ctx.service.deps, ctx.user, delegation)
    await ctx.refresh_homes([ctx.user, delegate, *(d.delegate for d in ended)])
    async with ctx.service.db.read() as repo:
        kept = left_with_principal(await repo.open_requests_awaiting([ctx.user]), ctx.user, delegate)
    return ctx.note("away_set", delegate=delegate, until=delegation.end(), kept=kept)


async def acting_as(service: Signoff, request: ApprovalRequest, actor: str, seat: str | None) -> str:
    """Return whose seat an actor's click takes on a request; raise VoteRefusedError when none."""
    async with service.db.read() as repo:
        principals = await repo.principals_of(actor, service.clock.now())
    return acting_for(request, actor, principals, seat)


SUBCOMMANDS = (
    command("away", away_command, help_key="away", usage=USAGE),
)
