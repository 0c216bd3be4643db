"""The App Home "Tasks" tab's listeners (opening, refreshing, batch and forced approvals) and `/signoff pending`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.core.admin import dismiss_reminder
from bot.core.service import Signoff
from bot.slack import digests
from bot.slack.command_kit import CommandContext, Reply, command
from bot.slack.home_batch import MAX_BATCH, approve_many, confirm_view, selected_values
from bot.slack.home_pages import HomePages
from bot.slack.home_refresh import HomeRefresher
from bot.slack.home_render import task_view
from bot.slack.home_tasks import described, open_tasks
from bot.slack.payload import (
    action_value,
    event_user,
    input_text,
    mapping,
    private_metadata,
    small_int,
    state_values,
    string_list,
    trigger_id,
    user_id,
)
from engine.approvals import valid_reason

PENDING_PER_PAGE = 8
PAGE_ACTIONS = re.compile(r"^home_(tasks|requests)_(previous|next)$")


def shown_pages(body: dict[str, Any]) -> HomePages | None:
    """Return the pages of the Home view a click came from (kept in its private metadata), or None."""
    return HomePages.decode(private_metadata(mapping(body).get("view")))


class HomeListeners:
    """Bolt listeners of the Home tab and of approvals that may need a forced confirmation."""

    def __init__(self, service: Signoff, refresher: HomeRefresher) -> None:
        self.service = service
        self.refresher = refresher

    async def on_home_opened(self, event: dict[str, Any]) -> None:
        """The user opened the Home tab: publish it fresh."""
        user = event_user(event)
        if user is not None and mapping(event).get("tab", "home") == "home":
            await self.refresher.publish(user)

    async def on_select(self, ack: AsyncAck) -> None:
        """A task checkbox was ticked: nothing to do until the batch button."""
        await ack()

    async def on_refresh(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """The Refresh button: republish the Home on the pages it shows."""
        await ack()
        user = user_id(body)
        if user is not None:
            await self.refresher.publish(user, pages=shown_pages(body))

    async def on_page(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """A Previous / Next button of the tasks or the requests: publish the Home on the pages its value names."""
        await ack()
        user, pages = user_id(body), HomePages.decode(action_value(body))
        if user is not None and pages is not None:
            await self.refresher.publish(user, pages=pages)

    async def on_reminder_done(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """A reminder's Done button: dismiss it if it is the clicker's (until its document matches anew), refresh."""
        await ack()
        user, task_id = user_id(body), small_int(action_value(body))
        if user is None or task_id is None:
            return
        await dismiss_reminder(self.service.deps, user, task_id)
        await self.refresher.publish(user, pages=shown_pages(body))

    async def on_batch(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Approve selected (ticked on the page shown): confirm first when a forced approval is involved, else approve
        at once; then tell on the Home what was approved and what was skipped, and why."""
        await ack()
        user, values = user_id(body), selected_values(mapping(body).get("view"))
        if user is None:
            return
        if not values:
            await self.refresher.publish(user, {"kind": "nothing_selected"}, shown_pages(body))
            return
        if await self.ask_confirmation(body, values):
            return
        result = await approve_many(self.service, user, values)
        await self.refresher.publish(user, result.notice(), shown_pages(body))

    async def ask_confirmation(self, body: dict[str, Any], values: Sequence[str]) -> bool:
        """Open the forced-approval confirmation when needed; tell whether it was needed (opened if it could be)."""
        user, trigger = user_id(body), trigger_id(body)
        view = await confirm_view(self.service, user, values) if user is not None else None
        if view is not None and trigger is not None:
            await self.service.slack.open_view(trigger, view)
        return view is not None

    async def on_confirm(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        """The confirmation was submitted: approve everything, forcing where needed."""
        values, user = state_values(view), user_id(body)
        tasks = string_list(private_metadata(view), MAX_BATCH)
        if values is None or user is None or tasks is None:
            await ack()
            return
        reason = valid_reason(input_text(values, "force_reason"))
        if reason is None:
            message = self.service.renderer.text("refusal.txt.j2", code="force_reason_required", detail="")
            await ack(response_action="errors", errors={"force_reason": message})
            return
        await ack()
        result = await approve_many(self.service, user, tasks, reason)
        await self.refresher.publish(user, result.notice())


def register(app: AsyncApp, service: Signoff, refresher: HomeRefresher) -> HomeListeners:
    """Wire the Home tab into the Bolt app and refresh Homes (with `refresher`) after every change."""
    listeners = HomeListeners(service, refresher)
    service.messages.after_refresh.append(listeners.refresher.on_request_changed)
    app.event("app_home_opened")(listeners.on_home_opened)
    app.action("task_select")(listeners.on_select)
    app.action("home_refresh")(listeners.on_refresh)
    app.action(PAGE_ACTIONS)(listeners.on_page)
    app.action("batch_approve")(listeners.on_batch)
    app.action("reminder_done")(listeners.on_reminder_done)
    digests.register(app, service, listeners.refresher.refresh)
    app.view("approve_confirm")(listeners.on_confirm)
    return listeners


# /signoff pending


async def pending_command(ctx: CommandContext, args: list[str]) -> Reply:
    """List the approvals waiting for me, oldest first, with Approve / Reject."""
    async with ctx.service.db.read() as repo:
        tasks = await open_tasks(repo, ctx.user, ctx.now)
        pager = ctx.pager(len(tasks), PENDING_PER_PAGE)
        shown = await described(ctx.service, repo, pager.window(tasks), ctx.user)
    views = [task_view(t, ctx.user, ctx.now) for t in shown]
    return ctx.reply("commands_pending.json.j2", tasks=views, pager=pager.view())


SUBCOMMANDS = (
    command("pending", pending_command, help_key="pending"),
)
