"""Queue what the engine decided to tell (`engine.notify.Notice`): one outbox row per notice."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from engine.notify import Notice
from storage.models import NewMessage
from storage.ports import Repository


def as_message(notice: Notice) -> NewMessage:
    """Return a notice as the outbox row that carries it."""
    return NewMessage(str(notice.kind), notice.target, notice.payload, notice.key)


async def enqueue_notices(repo: Repository, notices: Iterable[Notice], now: datetime) -> None:
    """Queue notices in order, in the caller's transaction (a coalesced one unless the same is already due)."""
    for notice in notices:
        if notice.is_coalesced:
            await repo.enqueue_coalesced(str(notice.kind), notice.target, notice.payload, now)
        else:
            await repo.enqueue_many([as_message(notice)], now)
