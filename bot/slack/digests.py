"""A person's reminder digest: one DM per reminder run listing the documents still to act on, paged.

A scheduled reminder workflow gives each person one task per matching document (engine.actions decides
who is reminded); the digest shows a page of that person's open tasks of the workflow, each with its key
facts and a Done button, and the buttons to turn the page. Done dismisses the reminder until the
document stops matching the workflow and matches again.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.core.service import Signoff
from bot.slack.payload import action_value, first_action, mapping, text, user_id
from messages.cards import record_view
from storage.ports import Repository

log = logging.getLogger(__name__)

DIGEST_PAGE = 20
DONE_ACTION = "digest_done"
PAGE_ACTIONS = ("digest_previous", "digest_next")


def page_value(workflow_id: str, offset: int) -> str:
    """Encode a page of a digest in a button value."""
    return f"{workflow_id}|{offset}"


def parse_page_value(value: str | None) -> tuple[str, int] | None:
    """Decode a digest button value `WORKFLOW|OFFSET` (a Done button: `TASK|WORKFLOW|OFFSET`), or None."""
    parts = (value or "").split("|")
    if len(parts) < 2 or not parts[-1].isdigit() or not parts[-2]:
        return None
    return parts[-2], int(parts[-1])


async def digest_message(
    service: Signoff, repo: Repository, person: str, workflow_id: str, offset: int = 0,
) -> dict[str, Any] | None:
    """Render one page of a person's digest of a workflow's reminders (None: nothing left to remind of)."""
    tasks, total = await repo.open_reminders(person, DIGEST_PAGE, offset, workflow_id)
    if total and not tasks:
        offset = max(0, (total - 1) // DIGEST_PAGE * DIGEST_PAGE)
        tasks, total = await repo.open_reminders(person, DIGEST_PAGE, offset, workflow_id)
    if not tasks:
        return None
    workflow = await repo.get_workflow(workflow_id)
    items = [await _item(repo, task.id, task.record_type, task.record_id, task.text) for task in tasks]
    digest = {"workflow_id": workflow_id, "workflow": workflow.name if workflow else workflow_id,
              "count": total, "offset": offset, "page_size": DIGEST_PAGE, "documents": items,
              "previous": max(0, offset - DIGEST_PAGE) if offset else None,
              "next": offset + DIGEST_PAGE if offset + DIGEST_PAGE < total else None}
    message: dict[str, Any] = service.renderer.json("reminder_digest.json.j2", digest=digest)
    return message


async def _item(repo: Repository, task_id: int, record_type: str, record_id: str, line: str) -> dict[str, Any]:
    record = await repo.get_record(record_type, record_id)
    contacts = await repo.contacts_of(record) if record else {}
    view = record_view(record, next(iter(contacts.values()), None)) if record else {
        "type": record_type, "id": record_id, "amount": None, "currency": "USD", "contact_name": "—",
        "due_date": None}
    return {"task_id": task_id, "text": line, "record": view}


class DigestListeners:
    """Done and page buttons of reminder digests."""

    def __init__(self, service: Signoff, on_done: Any = None) -> None:
        self.service = service
        self.on_done = on_done

    async def on_done_click(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Dismiss one document's reminder (only the clicker's own), then show the page again."""
        await ack()
        user, value = user_id(body), action_value(body)
        task_id = (value or "").partition("|")[0]
        if user is None or not task_id.isdigit():
            return
        async with self.service.db.transaction() as repo:
            task = await repo.reminder_task(int(task_id))
            if task is not None and task.assignee == user:
                await repo.complete_reminder(task.id, self.service.clock.now())
        await self.show(body, user, parse_page_value(value))
        if self.on_done is not None:
            await self.on_done([user])

    async def on_page_click(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Show another page of the digest in place."""
        await ack()
        user = user_id(body)
        if user is not None:
            await self.show(body, user, parse_page_value(action_value(body)))

    async def show(self, body: dict[str, Any], user: str, page: tuple[str, int] | None) -> None:
        """Replace the clicked digest message with the page asked for (or with a note that all is done)."""
        container = mapping(mapping(body).get("container"))
        channel, ts = text(container.get("channel_id"), 64), text(container.get("message_ts"), 64)
        if page is None or channel is None or ts is None:
            return
        async with self.service.db.read() as repo:
            message = await digest_message(self.service, repo, user, page[0], page[1])
        if message is None:
            message = self.service.renderer.json("reminder_digest.json.j2", digest=None)
        try:
            await self.service.slack.update(channel, ts, message)
        except Exception:
            log.exception("could not update the reminder digest %s of %s", first_action(body).get("value"), user)


def register(app: AsyncApp, service: Signoff, on_done: Any = None) -> DigestListeners:
    """Register the digest buttons on the Bolt app."""
    listeners = DigestListeners(service, on_done)
    app.action(DONE_ACTION)(listeners.on_done_click)
    for action_id in PAGE_ACTIONS:
        app.action(action_id)(listeners.on_page_click)
    return listeners
