"""Workflow actions on save: plan with the engine, render, queue in the outbox, record the run."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.core.deps import Deps
from bot.core.webhooks import Webhooks
from bot.senders.email import Email, SmtpConfig
from engine.actions import (
    Company,
    Planned,
    PostMessage,
    RemindPeople,
    SendEmail,
    SetField,
    Skipped,
    apply_fields,
    has_side_actions,
    plan_actions,
    sample_contact,
    sample_record,
    template_context,
    template_sources,
)
from engine.approvals import Outcome
from engine.conditions import EvalContext, compile_conditions
from engine.errors import InvalidDefinitionError
from engine.facts import facts_of
from engine.lifecycle import changed_fields, is_triggered
from engine.records import Contact, Record
from engine.workflows import ReminderAction, Workflow, WorkflowDefinition
from messages.errors import TemplateInvalidError
from messages.render import Renderer, check_user_template
from storage.models import ReminderTask, WorkflowRun
from storage.ports import Repository

SLACK_TARGET = re.compile(r"^([UW][A-Z0-9]{2,20}|#[a-z0-9_-]{1,80}|C[A-Z0-9]{2,20})$")
SLACK_PERSON = re.compile(r"^[UW][A-Z0-9]{2,20}$")
SAMPLE_COMPANY = "Sample Company"
SAVE_CAUSES = frozenset({"created", "updated"})


def template_problem(source: str, context: dict[str, Any], renderer: Renderer) -> str | None:
    """Return why an admin template does not compile, render or keep to its budget on the context (with its line)."""
    return check_user_template(source, context, renderer)


def check_templates(definition: WorkflowDefinition, renderer: Renderer, now: datetime) -> None:
    """Raise InvalidDefinitionError naming each message, subject or body that fails on sample data."""
    tz = renderer.fmt.tz
    context = template_context(sample_record(definition.record_type, now, tz), sample_contact(definition.record_type),
                               definition, Company(SAMPLE_COMPANY, renderer.timezone), now)
    problems = []
    for path, source in template_sources(definition):
        problem = template_problem(source, context, renderer)
        if problem is not None:
            problems.append({"path": path, "message": problem})
    if problems:
        first = problems[0]
        raise InvalidDefinitionError(f"invalid workflow: {first['path']}: {first['message']}", problems)


def run_outcome(entries: Sequence[dict[str, Any]]) -> str:
    """Summarise a run: `ok`, the reason everything was skipped or failed, or `partial: …`."""
    problems = list(dict.fromkeys(f"{e['result']}: {e['reason']}" for e in entries if "reason" in e))
    if not problems:
        return "ok"
    if all("reason" in e for e in entries):
        return "; ".join(problems)
    return "partial: " + "; ".join(problems)


@dataclass
class _Run:
    """What one run performs, in order, inside the caller's transaction."""

    automation: Automation
    repo: Repository
    run_id: str
    workflow: Workflow
    record: Record
    now: datetime
    company: Company
    digest: set[str] | None = None
    entries: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[ReminderTask] = field(default_factory=list)
    fields: list[SetField] = field(default_factory=list)
    failed_actions: set[int] = field(default_factory=set)
    queued: int = 0

    def kind_of(self, index: int) -> str:
        """Return the type of the workflow's action at an index."""
        return str(self.workflow.actions[index].type)

    def entry(self, index: int, result: str, **detail: Any) -> None:
        """Record what happened to one planned item."""
        self.entries.append({"index": index, "type": self.kind_of(index), "result": result, **detail})

    async def enqueue(self, kind: str, target: str, payload: dict[str, Any]) -> None:
        """Queue one outbox item with the run's next idempotency key."""
        await self.repo.enqueue(kind, target, payload, self.now, key=f"run:{self.run_id}:{self.queued}")
        self.queued += 1

    async def perform(self, item: Planned) -> None:
        """Perform one planned item, recording a failure instead of raising."""
        try:
            await self._perform(item)
        except TemplateInvalidError as exc:
            self.failed_actions.add(item.action_index)
            self.entry(item.action_index, "failed", reason=str(exc))

    async def _perform(self, item: Planned) -> None:
        if isinstance(item, PostMessage):
            await self.message(item.action_index, item.target, _Text(self.automation, item.template, item.context),
                               "notification")
        elif isinstance(item, RemindPeople):
            await self.remind(item)
        elif isinstance(item, SendEmail):
            await self.email(item)
        elif isinstance(item, SetField):
            self.set_field(item)
        elif isinstance(item, Skipped):
            self.entry(item.action_index, "skipped", reason=item.reason)

    async def message(self, index: int, target: str, text: _Text, kind: str) -> None:
        """Queue one rendered message to a Slack user, a channel or an e-mail address."""
        if SLACK_TARGET.match(target):
            message = self.automation.block_kit(kind, text.for_slack(), self)
            await self.enqueue("message", target, {"message": message})
        elif self.automation.is_email_on:
            subject = self.automation.subject(kind, self)
            await self.enqueue("email", target, Email(to=[target], subject=subject, body=text.plain()).to_json())
        else:
            self.entry(index, "skipped", target=target, reason="e-mail is off")
            return
        self.entry(index, "queued", target=target)

    async def remind(self, item: RemindPeople) -> None:
        """Remind each target (people in a scheduled run: in their digest) and give new ones a reminder task."""
        text = _Text(self.automation, item.template, item.context)
        text.for_slack()  # both renderings before anything is queued: a failing template queues nothing
        text.plain()
        for target in item.dismissed:
            self.entry(item.action_index, "dismissed", target=target)
        for target in item.targets:
            if self.digest is not None and SLACK_PERSON.match(target):
                self.digest.add(target)
                self.entry(item.action_index, "queued", target=target, digest=True)
            else:
                await self.message(item.action_index, target, text, "reminder")
        self.tasks += [ReminderTask(0, self.run_id, target, self.workflow.id, self.record.type.value,
                                    self.record.id, text.plain(), self.now) for target in item.new_tasks]
        still_open = [t for t in item.targets if t not in item.new_tasks]
        if still_open:
            await self.repo.retext_reminders(self.workflow.id, self.record.key(), still_open, text.plain())

    async def email(self, item: SendEmail) -> None:
        """Queue the document's e-mail to its contact."""
        subject = self.automation.render_text(item.subject_template, item.context, slack=False)
        body = self.automation.render_text(item.body_template, item.context, slack=False)
        sender = self.company.name or "Signoff"
        email = Email(to=[item.to], subject=" ".join(subject.split()), body=body, cc=list(item.cc), sender_name=sender)
        await self.enqueue("email", item.to, email.to_json())
        self.entry(item.action_index, "queued", to=item.to, cc=list(item.cc), subject=email.subject)

    def set_field(self, item: SetField) -> None:
        """Remember a field to set once every item is performed (not when its action failed)."""
        if item.action_index in self.failed_actions:
            return
        self.fields.append(item)
        if self.kind_of(item.action_index) == "update":
            self.entry(item.action_index, "set", field=item.field, value=_json_scalar(item.value),
                       previous=_json_scalar(item.previous))


@dataclass
class _Text:
    """An admin template of one planned item, rendered when first needed: for Slack (data escaped) or plain."""

    automation: Automation
    template: str
    context: Any
    texts: dict[bool, str] = field(default_factory=dict)

    def for_slack(self) -> str:
        """Return the text for Slack: record and contact data escaped for mrkdwn."""
        return self._render(slack=True)

    def plain(self) -> str:
        """Return the plain text (e-mail, reminder tasks)."""
        return self._render(slack=False)

    def _render(self, *, slack: bool) -> str:
        if slack not in self.texts:
            self.texts[slack] = self.automation.render_text(self.template, self.context, slack=slack)
        return self.texts[slack]


def _json_scalar(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


class Automation:
    """Runs workflows' non-approval actions when records are saved, and keeps the run history."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.webhooks = Webhooks(deps)

    @property
    def renderer(self) -> Renderer:
        """Return the renderer of messages."""
        return self.deps.renderer

    @property
    def is_email_on(self) -> bool:
        """Tell whether e-mail can be sent (SIGNOFF_SMTP_URL is set)."""
        return bool(self.deps.settings.smtp_url)

    def sender_address(self) -> str | None:
        """Return the address e-mail is sent from (copied when an action asks for it)."""
        url = self.deps.settings.smtp_url
        return SmtpConfig.from_url(url).sender if url else None

    def render_text(self, template: str, context: Any, *, slack: bool = True) -> str:
        """Render an admin template for Slack (or plain); raise TemplateInvalidError when it fails or renders empty."""
        render = self.renderer.slack_text if slack else self.renderer.user_text
        text = render(template, **context).strip()
        if not text:
            raise TemplateInvalidError("the template renders an empty text")
        return text

    def block_kit(self, kind: str, text: str, run: _Run) -> Any:
        """Return the Slack message of a notification or reminder."""
        return self.renderer.json("notification.json.j2", kind=kind, text=text, record_type=run.record.type.value,
                                  record_id=run.record.id, workflow_name=run.workflow.name)

    def subject(self, kind: str, run: _Run) -> str:
        """Return the subject of a notification or reminder sent by e-mail."""
        return self.renderer.text("notification_subject.txt.j2", kind=kind, record_type=run.record.type.value,
                                  record_id=run.record.id, workflow_name=run.workflow.name)

    async def on_record_saved(self, repo: Repository, before: Record | None, after: Record, now: datetime) -> None:
        """Run every live workflow whose trigger fires and conditions hold (approval is the lifecycle's)."""
        # every workflow sees the record as saved; the record webhook then carries the fields they set
        changed = changed_fields(before, after)
        candidates = [w for w in await repo.list_workflows(after.type.value)
                      if w.is_live() and has_side_actions(w) and is_triggered(w, before is None, changed)]
        cause = "created" if before is None else "updated"
        matching = await self.matching(repo, candidates, after, now) if candidates else []
        for workflow in matching:
            await self.run_workflow(repo, workflow, after, now, cause=cause)
        for workflow in (w for w in candidates if w not in matching and _reminds(w)):
            await repo.end_reminders(workflow.id, [after.key()], now)
        final = await repo.get_record(after.type.value, after.id) or after
        await self.webhooks.record_saved(repo, before, final, now)

    async def matching(
        self, repo: Repository, workflows: Sequence[Workflow], record: Record, now: datetime
    ) -> list[Workflow]:
        """Return the workflows whose conditions hold for the record at `now`."""
        facts = facts_of(record, await repo.contacts_of(record))
        groups = await repo.contact_group_members(_group_names(workflows))
        ctx = EvalContext.at(now, self.deps.settings.tz, groups)
        return [w for w in workflows if compile_conditions(w.conditions, tz=ctx.tz)(facts, ctx)]

    async def on_outcome(self, repo: Repository, outcome: Outcome, now: datetime) -> None:
        """Publish an approval outcome's events as webhooks."""
        await self.webhooks.on_outcome(repo, outcome, now)

    async def run_workflow(self, repo: Repository, workflow: Workflow, record: Record, now: datetime, *,
                           cause: str, digest: set[str] | None = None) -> str:
        """Perform a workflow's non-approval actions for one record in the caller's transaction; return the run id.

        With `digest`, people's reminders are not sent one by one: they are added to the set, to get one digest.
        """
        current = await repo.get_record(record.type.value, record.id) or record
        company = Company(await repo.company_name(), self.deps.settings.timezone)
        run = _Run(self, repo, f"run_{uuid.uuid4().hex[:16]}", workflow, current, now, company, digest)
        for item in await self._plan(repo, run):
            await run.perform(item)
        updated = await self._apply_fields(repo, run)
        if updated is not None and cause not in SAVE_CAUSES:
            await self.webhooks.record_saved(repo, current, updated, now)
        await repo.insert_run(WorkflowRun(run.run_id, workflow.id, workflow.name, current.type.value, current.id,
                                          cause, run_outcome(run.entries), run.entries, now))
        await repo.add_reminder_tasks(run.tasks)
        return run.run_id

    async def _plan(self, repo: Repository, run: _Run) -> list[Planned]:
        contact = _primary_contact(run.record, await repo.contacts_of(run.record))
        states = await repo.reminder_states(run.workflow.id, *run.record.key()) if _reminds(run.workflow) else {}
        return plan_actions(run.workflow, run.record, contact, run.now, run.company,
                            people_groups=await repo.people_groups(),
                            fallback=tuple(sorted(self.deps.settings.admins)), sender=self.sender_address(),
                            is_email_on=self.is_email_on, reminder_states=states)

    async def _apply_fields(self, repo: Repository, run: _Run) -> Record | None:
        """Save the fields the run set, audited; return the changed record (None: unchanged)."""
        try:
            updated = apply_fields(run.record, run.fields, run.now)
        except ValueError as exc:
            run.entries.append({"index": run.fields[0].action_index, "type": "update", "result": "failed",
                                "reason": str(exc)})
            return None
        if updated == run.record:
            return None
        await repo.save_record(updated)
        for item in run.fields:
            await repo.audit(run.now, None, "field_set", run.record.key(), _audit_text(item.previous),
                             _audit_text(item.value), {"field": item.field, "workflow_id": run.workflow.id,
                                                       "run_id": run.run_id})
        return updated


def _audit_text(value: Any) -> str | None:
    jsonable = _json_scalar(value)
    return None if jsonable is None else str(jsonable)


def _primary_contact(record: Record, contacts: dict[str, Contact]) -> Contact | None:
    if record.customer and f"customer:{record.customer}" in contacts:
        return contacts[f"customer:{record.customer}"]
    return contacts.get(f"vendor:{record.vendor}") if record.vendor else None


def _reminds(workflow: WorkflowDefinition) -> bool:
    return any(isinstance(action, ReminderAction) for action in workflow.actions)


def _group_names(workflows: Iterable[WorkflowDefinition]) -> set[str]:
    return {str(c.value) for w in workflows for c in w.conditions if c.op == "in_group"}

