"""The application services of one process, built together on shared dependencies: the adapters' entry point."""

from __future__ import annotations

from collections.abc import Callable

from bot.clock import SystemClock
from bot.core.approvals import Approvals
from bot.core.approver_reminders import ApproverReminders
from bot.core.automation import Automation
from bot.core.deps import Deps
from bot.core.groups import GroupsService
from bot.core.records import Records
from bot.core.request_messages import RequestMessages
from bot.core.rules import RulesService
from bot.core.workflows import Workflows
from bot.senders.slack import SlackOut
from bot.settings import Settings
from storage.ports import Store


class Signoff:
    """Holds the services (records, approvals, workflows, request messages, automation) and their dependencies."""

    def __init__(self, db: Store, settings: Settings, slack: SlackOut, clock: SystemClock) -> None:
        self.deps = Deps.of(db, settings, slack, clock)
        self.db, self.settings, self.slack, self.clock = db, settings, slack, clock
        self.renderer = self.deps.renderer
        self.automation = Automation(self.deps)
        self.approvals = Approvals(self.deps, self.automation)
        self.records = Records(self.deps, self.automation, self.approvals)
        self.rules = RulesService(self.deps, self.approvals)
        self.groups = GroupsService(self.deps, self.approvals)
        self.workflows = Workflows(self.deps, self.approvals)
        self.approver_reminders = ApproverReminders(self.deps)
        self.messages = RequestMessages(self.deps)

    @property
    def on_queued(self) -> Callable[[], None] | None:
        """Return what wakes the outbox worker after a commit that queued messages."""
        return self.deps.on_queued

    @on_queued.setter
    def on_queued(self, wake: Callable[[], None] | None) -> None:
        self.deps.on_queued = wake

    def is_admin(self, user: str | None) -> bool:
        """Tell whether a Slack user is an admin."""
        return self.deps.is_admin(user)

    def wake_delivery(self) -> None:
        """Tell the outbox worker that committed work is waiting."""
        self.deps.wake_delivery()
