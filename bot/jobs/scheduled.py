"""Running a scheduled workflow: select its documents, post one digest per channel, run each document's actions.

A run also ends the reminders of documents it no longer selects, and DMs each person it reminded one digest
of the documents still to act on (not one per document).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.core.digests import digest_message
from bot.core.service import Signoff
from engine.actions import Company, lapsed_reminders, template_context
from engine.conditions import EvalContext
from engine.digests import channel_digest, channel_digests, digest_line, without_channels
from engine.facts import facts_of
from engine.planning import DueAction, schedule_of
from engine.records import Record
from engine.scheduled import select_scheduled
from engine.workflows import Workflow
from messages.errors import TemplateInvalidError
from storage.models import NewMessage, WorkflowRun
from storage.ports import Repository

log = logging.getLogger(__name__)

RECORD_PAGE = 1000


class ScheduledRuns:
    """Fires scheduled workflows, in the sweep's transaction."""

    def __init__(self, service: Signoff) -> None:
        self.service = service

    @property
    def tz(self) -> ZoneInfo:
        """Return the company time zone."""
        return self.service.settings.tz

    async def fire(self, repo: Repository, action: DueAction, now: datetime) -> None:
        """Run a scheduled workflow: one digest per channel, and each selected document's own actions."""
        workflow = await repo.get_workflow(action.data["workflow_id"])
        if workflow is None or schedule_of(workflow) is None:
            return
        selected = await self._select(repo, workflow, now)
        channels = await self._digests(repo, now, workflow, selected, action) if selected else []
        per_record, people = without_channels(workflow), set[str]()
        if per_record is not None:
            for record, _ in selected:
                await self.service.automation.run_workflow(repo, per_record, record, now, cause="scheduled",
                                                           digest=people)
        known = await repo.reminded_documents(workflow.id)
        await repo.end_reminders(workflow.id, lapsed_reminders(known, (r.key() for r, _ in selected)), now)
        if channels:
            await repo.insert_run(digest_run(workflow, channels, len(selected), now))
        digested = await self._person_digests(repo, now, workflow, sorted(people), action)
        await repo.audit(now, None, "workflow_fired", ("workflow", workflow.id), None, None,
                         {"run_at": action.data["run_at"], "count": len(selected), "channels": channels,
                          "digests": digested})

    async def _person_digests(
        self, repo: Repository, now: datetime, workflow: Workflow, people: Sequence[str], action: DueAction,
    ) -> list[str]:
        """DM each person reminded by this run one digest of the documents still to act on (not one per document)."""
        messages = []
        for person in people:
            message = await digest_message(self.service.renderer, repo, person, workflow.id)
            if message is not None:
                messages.append(NewMessage("message", person, {"message": message}, f"{action.key}:digest:{person}"))
        await repo.enqueue_many(messages, now)
        return [m.target for m in messages]

    async def _select(self, repo: Repository, workflow: Workflow, now: datetime) -> list[tuple[Record, Any]]:
        """Return the (record, contact) pairs a scheduled workflow selects now."""
        records = await _records(repo, workflow)
        contacts = await _contacts(repo, records)
        groups = await repo.contact_group_members(
            {str(c.value) for c in workflow.conditions if c.op == "in_group"})
        ctx = EvalContext.at(now, self.tz, groups)
        candidates = [((r.type.value, r.id), facts_of(r, contacts)) for r in records]
        chosen = set(select_scheduled(workflow, candidates, ctx))
        return [(r, contacts.get(f"customer:{r.customer}") or contacts.get(f"vendor:{r.vendor}"))
                for r in records if (r.type.value, r.id) in chosen]

    async def _digests(
        self, repo: Repository, now: datetime, workflow: Workflow, selected: list[tuple[Record, Any]],
        action: DueAction,
    ) -> list[str]:
        """Post one digest per channel a reminder or notification names: every selected document, one line each."""
        company = Company(await repo.company_name(), self.service.settings.timezone)
        posted: list[str] = []
        for step in channel_digests(workflow):
            lines = self._digest_lines(workflow, step.template, selected, company, now)
            digest = channel_digest(workflow, len(selected), lines, is_reminder=step.is_reminder)
            message = self.service.renderer.json("channel_digest.json.j2", digest=digest)
            await repo.enqueue_many([NewMessage("message", c, {"message": message},
                                                f"{action.key}:{step.index}:{c}") for c in step.channels], now)
            posted += step.channels
        return posted

    def _digest_lines(
        self, workflow: Workflow, template: str, selected: list[tuple[Record, Any]], company: Company, now: datetime,
    ) -> list[str]:
        lines = []
        for record, contact in selected:
            try:
                text = self.service.automation.texts.render_text(
                    template, template_context(record, contact, workflow, company, now))
            except TemplateInvalidError as exc:
                log.warning("digest line of %s %s in workflow %s failed: %s", record.type, record.id, workflow.id, exc)
                continue
            lines.append(digest_line(text))
        return lines


def digest_run(workflow: Workflow, channels: list[str], count: int, now: datetime) -> WorkflowRun:
    """Return the run-history line of a scheduled firing that posted digests to channels (and how many documents)."""
    actions = [{"type": "digest", "channels": channels, "count": count, "result": "queued"}]
    return WorkflowRun(f"run_{uuid.uuid4().hex[:16]}", workflow.id, workflow.name, workflow.record_type.value, "",
                       "scheduled", "done", actions, now, event="digest")


async def _records(repo: Repository, workflow: Workflow) -> list[Record]:
    """Return every record of the workflow's type, a page at a time."""
    records: list[Record] = []
    while page := await repo.list_records(workflow.record_type.value, None, RECORD_PAGE, len(records)):
        records += page
        if len(page) < RECORD_PAGE:
            break
    return records


async def _contacts(repo: Repository, records: Sequence[Record]) -> dict[str, Any]:
    """Return the customers and vendors of the records, by `customer:ID` and `vendor:ID`."""
    contacts = {f"customer:{c.id}": c for c in (await repo.contacts_by_id(
        "customer", sorted({r.customer for r in records if r.customer}))).values()}
    contacts |= {f"vendor:{c.id}": c for c in (await repo.contacts_by_id(
        "vendor", sorted({r.vendor for r in records if r.vendor}))).values()}
    return contacts
