"""What every application service is built with: the store, settings, clock, renderer, Slack, the outbox wake-up."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.clock import SystemClock
from bot.senders.slack import SlackOut
from bot.settings import Settings
from messages.render import Renderer
from storage.ports import Repository, Store


@dataclass
class Deps:
    """The explicit dependencies of the application services (one per process, built by the runtime)."""

    db: Store
    settings: Settings
    slack: SlackOut
    clock: SystemClock
    renderer: Renderer
    on_queued: Callable[[], None] | None = None

    @classmethod
    def of(cls, db: Store, settings: Settings, slack: SlackOut, clock: SystemClock) -> Deps:
        """Build the dependencies, with a renderer in the company's language and time zone."""
        return cls(db, settings, slack, clock, Renderer(settings.locale, settings.timezone, settings.currency))

    def is_admin(self, user: str | None) -> bool:
        """Tell whether a Slack user is an admin."""
        return user is not None and user in self.settings.admins

    def wake_delivery(self) -> None:
        """Tell the outbox worker that committed work is waiting."""
        if self.on_queued is not None:
            self.on_queued()

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[Repository]:
        """Run one unit of work of an application service; once it commits, the outbox worker is woken."""
        async with self.db.unit_of_work() as repo:
            self.db.on_commit(self.wake_delivery)
            yield repo
