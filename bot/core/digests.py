"""A person's reminder digest: one DM per reminder run listing the documents still to act on, paged.

A scheduled reminder workflow gives each person one task per matching document (engine.actions decides
who is reminded); the digest shows a page of that person's open tasks of the workflow, each with its key
facts and a Done button, and the buttons to turn the page. Done dismisses the reminder until the
document stops matching the workflow and matches again.
"""

from __future__ import annotations

from typing import Any

from engine.digests import DIGEST_PAGE, last_page_offset, page_around
from messages.cards import record_view
from messages.render import Renderer
from storage.ports import Repository


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
    renderer: Renderer, repo: Repository, person: str, workflow_id: str, offset: int = 0,
) -> dict[str, Any] | None:
    """Render one page of a person's digest of a workflow's reminders (None: nothing left to remind of)."""
    tasks, total = await repo.open_reminders(person, DIGEST_PAGE, offset, workflow_id)
    if total and not tasks:
        offset = last_page_offset(total)
        tasks, total = await repo.open_reminders(person, DIGEST_PAGE, offset, workflow_id)
    if not tasks:
        return None
    workflow = await repo.get_workflow(workflow_id)
    items = [await _item(repo, task.id, task.record_type, task.record_id, task.text) for task in tasks]
    previous, following = page_around(offset, total)
    digest = {"workflow_id": workflow_id, "workflow": workflow.name if workflow else workflow_id,
              "count": total, "offset": offset, "page_size": DIGEST_PAGE, "documents": items,
              "previous": previous, "next": following}
    message: dict[str, Any] = renderer.json("reminder_digest.json.j2", digest=digest)
    return message


async def _item(repo: Repository, task_id: int, record_type: str, record_id: str, line: str) -> dict[str, Any]:
    record = await repo.get_record(record_type, record_id)
    contacts = await repo.contacts_of(record) if record else {}
    view = record_view(record, next(iter(contacts.values()), None)) if record else {
        "type": record_type, "id": record_id, "amount": None, "currency": "USD", "contact_name": "—",
        "due_date": None}
    return {"task_id": task_id, "text": line, "record": view}
