"""Republishing the App Home tabs a change touches."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from bot.core.service import Signoff
from bot.slack.home_pages import HomePages
from bot.slack.home_render import home_view
from bot.slack.home_tasks import load_home
from engine.approvals import ApprovalRequest
from engine.notify import is_slack_user

log = logging.getLogger(__name__)


def _people(request: ApprovalRequest) -> set[str]:
    people = {p for step in request.steps for p in step.approvers}
    if request.requester:
        people.add(request.requester)
    return {p for p in people if is_slack_user(p)}


class HomeRefresher:
    """Republishes the Home tabs a change touches, for people who have a Home tab; bursts are coalesced.

    Who has a Home tab is stored (any process may publish it); `known` only caches those seen here. What a person's
    Home last showed from here (its pages, its notice) is kept too, so that a change elsewhere republishes it on the
    same pages and leaves the notice until the person acts on the Home again; one person's Homes are published one
    at a time, in order.
    """

    def __init__(self, service: Signoff) -> None:
        self.service = service
        self.known: set[str] = set()
        self.pages: dict[str, HomePages] = {}
        self.notices: dict[str, dict[str, Any]] = {}
        self._pending: set[str] = set()
        self._is_flushing = False
        self._publishing: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    async def on_request_changed(self, request_id: str, request: ApprovalRequest | None = None) -> None:
        """Refresh the Homes of everyone a request concerns (approvers, their delegates, the requester); the
        request is read unless given."""
        try:
            async with self.service.db.read() as repo:
                request = request or await repo.get_request(request_id)
                people = _people(request) if request else set()
                delegates = await repo.delegates_of(people, self.service.clock.now())
        except Exception:
            log.exception("could not find whose Home shows request %s", request_id)
            return
        await self.refresh(people | set(delegates.values()))

    async def refresh(self, users: Iterable[str]) -> None:
        """Republish these people's Home tabs (those already shown); a refresh under way takes them over."""
        self._pending |= await self._shown(set(users))
        if self._is_flushing:
            return
        self._is_flushing = True
        try:
            while self._pending:
                users, self._pending = self._pending, set()
                for user in sorted(users):
                    await self.publish(user, keep_notice=True)
        finally:
            self._is_flushing = False

    async def publish(
        self, user: str, notice: dict[str, Any] | None = None, pages: HomePages | None = None, *,
        keep_notice: bool = False,
    ) -> None:
        """Build and publish one person's Home tab now, with `notice` (or, with `keep_notice`, the one it shows), on
        `pages` (else those it last showed from here); failures are logged, never raised."""
        async with self._publishing[user]:
            notice = self.notices.get(user) if keep_notice else notice
            if not await self._publish(user, notice, pages or self.pages.get(user)):
                return
        if user not in self.known:
            await self._remember(user)
        self.known.add(user)

    async def _publish(self, user: str, notice: dict[str, Any] | None, pages: HomePages | None) -> bool:
        """Publish one person's Home tab and remember what it shows; tell whether it was published."""
        try:
            data = await load_home(self.service, user, notice, pages)
            await self.service.slack.publish_home(user, home_view(self.service, data))
        except Exception:
            log.exception("could not publish the Home tab of %s", user)
            return False
        self.pages[user] = data.pages
        self.notices.pop(user, None)
        if notice is not None:
            self.notices[user] = notice
        return True

    async def _shown(self, users: set[str]) -> set[str]:
        """Return those of these people whose Home tab was published, by this process or another."""
        unknown = users - self.known
        if unknown:
            try:
                async with self.service.db.read() as repo:
                    self.known |= await repo.home_users_among(unknown)
            except Exception:
                log.exception("could not read who has a Home tab")
        return users & self.known

    async def _remember(self, user: str) -> None:
        """Store that a person has a Home tab, for every process (failures are logged)."""
        try:
            with self.service.db.carrying_nothing():
                async with self.service.db.unit_of_work() as repo:
                    await repo.add_home_users([user], self.service.clock.now())
        except Exception:
            log.exception("could not remember the Home tab of %s", user)

