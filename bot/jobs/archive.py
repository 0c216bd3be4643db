"""Archiving closed approvals: each sweep packs the history of documents decided longer ago than the setting."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.core.service import Signoff

BATCH = 100
MAX_PER_SWEEP = 2000


async def archive_closed(service: Signoff, now: datetime) -> int:
    """Archive documents last decided before `now` − SIGNOFF_ARCHIVE_AFTER, a batch per transaction; say how many."""
    decided_before = now - timedelta(seconds=service.settings.archive_after_s)
    archived = 0
    while archived < MAX_PER_SWEEP:
        async with service.db.unit_of_work() as repo:
            done = await repo.archive_closed(decided_before, now, BATCH)
        archived += done
        if done < BATCH:
            return archived
    return archived
