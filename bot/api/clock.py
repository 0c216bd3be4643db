"""The test clock of SPEC §6: move time and run a sweep on demand (404 unless enabled)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Body, Depends, Request

from bot.api.deps import ExactNumbersRoute, refuse_unstorable_text, require_token
from bot.clock import TestClock
from bot.errors import NotFound, Unprocessable
from engine.durations import add_duration
from engine.errors import InvalidDurationError

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_token), Depends(refuse_unstorable_text)],
                   route_class=ExactNumbersRoute)


def _test_clock(request: Request) -> TestClock:
    clock = request.app.state.service.clock
    if not isinstance(clock, TestClock):
        raise NotFound("the test clock is off (set SIGNOFF_TEST_CLOCK=1)")
    return clock


def _parse_now(value: Any) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise Unprocessable(str(exc), [{"path": "now", "message": "an ISO 8601 date-time with offset"}]) from exc
    if moment.tzinfo is None:
        raise Unprocessable("now needs a UTC offset", [{"path": "now", "message": "include a UTC offset"}])
    return moment


def _advance(clock: TestClock, value: Any) -> datetime:
    try:
        now = clock.now()
        return clock.advance(add_duration(now, value) - now)
    except (InvalidDurationError, ValueError) as exc:
        raise Unprocessable(str(exc), [{"path": "advance", "message": str(exc)}]) from exc


def _set(clock: TestClock, value: Any) -> datetime:
    try:
        return clock.set(_parse_now(value))
    except ValueError as exc:
        raise Unprocessable(str(exc), [{"path": "now", "message": str(exc)}]) from exc


@router.post("/clock")
async def move_clock(request: Request, body: dict[str, Any] = Body(...)) -> dict[str, Any]:
    """Advance the test clock by an ISO 8601 duration, or set it to an aware date-time."""
    clock = _test_clock(request)
    if set(body) not in ({"advance"}, {"now"}):
        raise Unprocessable("give exactly one of advance or now", [{"path": "(body)", "message": "advance | now"}])
    await clock.sync(request.app.state.service.db)  # another process may have moved it: advance from there
    moved = _advance(clock, body["advance"]) if "advance" in body else _set(clock, body["now"])
    await clock.flush()
    return {"now": (moved if "now" in body else clock.now()).isoformat()}


@router.post("/scheduler/tick")
async def tick(request: Request, drain: bool = True) -> dict[str, Any]:
    """Run one full sweep and drain the outbox before answering: what waits for a retry after a failure is tried
    now (what Slack asked to wait for, with Retry-After, still waits). With `drain=false`, answer after the sweep
    and leave the messages to the outbox worker, at its pace."""
    clock = _test_clock(request)
    await clock.sync(request.app.state.service.db)  # the time another process set is the time of this sweep
    summary: dict[str, Any] = {"now": clock.now().isoformat()}
    sweep = getattr(request.app.state, "sweep", None)
    if sweep is not None:
        summary.update(await sweep())
    await request.app.state.deliverer.retry_now()
    if drain:
        summary["delivered"] = await request.app.state.deliverer.drain()
    return summary
