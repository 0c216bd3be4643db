"""The clock inside the bot: an APScheduler loop that wakes the sweep of due work (`bot.jobs.sweep`).

The database, not the scheduler's memory, holds what is due (`due_work`). The interval job and the
scheduled workflows' cron jobs only wake the sweep; a watch job reloads the scheduled workflows when any
process changed a workflow, and rebuilds their due times and cron jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.core.service import Signoff
from bot.errors import log_failure
from bot.jobs.archive import archive_closed
from bot.jobs.sweep import Sweep
from bot.outbox.worker import Deliverer
from engine.cron import CronSpec
from engine.planning import ActionKind, SubjectKind, first_run, schedule_of

log = logging.getLogger(__name__)

CRON_JOB_PREFIX = "workflow:"
CLOSE_WAIT_S = 5.0
WATCH_SECONDS = 1.0


class CronWake(BaseTrigger):
    """An APScheduler trigger firing at a workflow's cron times in the company time zone."""

    def __init__(self, spec: CronSpec, tz: ZoneInfo) -> None:
        self.spec = spec
        self.tz = tz

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        """Return the next cron time after the previous run (or after now)."""
        return self.spec.next_after(previous_fire_time or now, self.tz)

    def __str__(self) -> str:
        return f"cron[{self.spec.text}]"


class Scheduler:
    """Wakes the sweep of due work on a timer and at scheduled workflows' cron times, and follows workflow changes."""

    def __init__(self, service: Signoff, deliverer: Deliverer) -> None:
        self.service = service
        self.deliverer = deliverer
        self.due = Sweep(service)
        self.metrics: Any = None
        self._aps: AsyncIOScheduler | None = None
        self._sweep_lock = asyncio.Lock()
        self._workflows_seen: int | None = None

    @property
    def tz(self) -> ZoneInfo:
        """Return the company time zone."""
        return self.service.settings.tz

    def attach(self, app: Any) -> None:
        """Wire the scheduler into the HTTP app (the test clock's tick) and the service (workflow changes)."""
        app.state.sweep = self.sweep
        app.state.scheduler = self
        self.metrics = app.state.metrics
        self.deliverer.metrics = app.state.metrics
        self.service.workflows.on_changed = self._workflows_changed

    async def start(self) -> None:
        """Start the APScheduler loop: the interval sweep and one wake-up job per scheduled workflow."""
        await self.service.clock.sync(self.service.db)
        self._aps = AsyncIOScheduler(timezone=self.tz)
        trigger = IntervalTrigger(seconds=self.service.settings.tick_seconds, timezone=self.tz)
        self._aps.add_job(self._wake, trigger, id="sweep", coalesce=True, max_instances=1, misfire_grace_time=None)
        self._aps.add_job(self._watch, IntervalTrigger(seconds=min(WATCH_SECONDS, self.service.settings.tick_seconds),
                                                       timezone=self.tz),
                          id="workflows", coalesce=True, max_instances=1, misfire_grace_time=None)
        self._aps.start()
        await self.workflows_changed()

    async def close(self) -> None:
        """Stop the loop (a sweep in progress finishes its transaction or rolls back)."""
        if self._aps is not None and self._aps.running:
            self._aps.shutdown(wait=False)
        self._aps = None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._sweep_lock.acquire(), timeout=CLOSE_WAIT_S)
            self._sweep_lock.release()

    async def _wake(self) -> None:
        try:
            await self.sweep()
        except Exception:
            log_failure(log, "scheduler sweep failed")

    # workflows on a schedule
    async def _workflows_changed(self) -> None:
        try:
            await self.workflows_changed()
        except Exception:
            log.exception("could not rebuild the scheduled workflows (done again at the next start)")

    async def _watch(self) -> None:
        try:
            await self.follow_workflows()
        except Exception:
            log_failure(log, "could not check the workflows for changes (checked again at the next tick)")

    async def follow_workflows(self) -> bool:
        """Reload the scheduled workflows when any process changed a workflow since the last load; tell whether."""
        async with self.service.db.read() as repo:
            version = await repo.workflows_version()
        if version == self._workflows_seen:
            return False
        await self.workflows_changed()
        return True

    async def workflows_changed(self) -> None:
        """Rebuild scheduled workflows' due times and cron jobs from the database."""
        now, tz = self.service.clock.now(), self.tz
        async with self.service.db.unit_of_work() as repo:
            version = await repo.workflows_version()
            live = {w.id: w for w in await repo.list_workflows() if schedule_of(w) is not None}
            known = {row.subject_id: row for row in await repo.subjects_of(SubjectKind.WORKFLOW)}
            for gone in known.keys() - live.keys():
                await repo.forget_subject(SubjectKind.WORKFLOW, gone)
            for workflow in live.values():
                spec = f"{workflow.schedule}|{tz.key}"
                row = known.get(workflow.id)
                if row is None or row.spec != spec:
                    await repo.schedule_subject(SubjectKind.WORKFLOW, workflow.id, first_run(workflow, now, tz), spec)
        self._rebuild_jobs(live.values())
        self._workflows_seen = version

    def _rebuild_jobs(self, workflows: Any) -> None:
        if self._aps is None:
            return
        for job in self._aps.get_jobs():
            if job.id.startswith(CRON_JOB_PREFIX):
                job.remove()
        for workflow in workflows:
            spec = schedule_of(workflow)
            if spec is not None:
                self._aps.add_job(self._wake, CronWake(spec, self.tz), id=CRON_JOB_PREFIX + workflow.id,
                                  coalesce=True, max_instances=1, misfire_grace_time=None)

    def cron_jobs(self) -> list[str]:
        """Return the ids of the workflows that have a cron job."""
        jobs = self._aps.get_jobs() if self._aps else []
        return sorted(j.id.removeprefix(CRON_JOB_PREFIX) for j in jobs if j.id.startswith(CRON_JOB_PREFIX))

    # the sweep
    async def sweep(self) -> dict[str, int]:
        """Perform everything due now, a batch per transaction; return how many actions of each kind."""
        async with self._sweep_lock:
            await self.service.clock.sync(self.service.db)
            await self.follow_workflows()
            counts = await self.due.run(self.service.clock.now())
            counts["archived"] = await archive_closed(self.service, self.service.clock.now())
        self.deliverer.kick()
        if self.metrics is not None:
            for kind, count in counts.items():
                self.metrics.inc(f"signoff_scheduler_{kind}_total", count)
        return {**{kind.value: counts.get(kind.value, 0) for kind in ActionKind}, "archived": counts["archived"]}
