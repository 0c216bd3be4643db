"""One run of a workflow's non-approval actions: render, queue in the outbox, set fields, and its history line."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.core.deps import Deps
from bot.senders.email import SENDER, Email
from bot.settings import SmtpConfig
from engine.actions import Company, Planned, PostMessage, RemindPeople, SendEmail, SetField, Skipped, apply_fields
from engine.planning import ActionKind, DueAction
from engine.records import Record
from engine.workflows import Workflow
from messages.errors import TemplateInvalidError
from messages.render import Renderer, non_blank
from storage.models import ReminderTask, WorkflowRun
from storage.ports import Repository

ALREADY_SENT = "already e-mailed for these values of the document"
SLACK_TARGET = re.compile(r"^([UW][A-Z0-9]{2,20}|#[a-z0-9_-]{1,80}|C[A-Z0-9]{2,20})$")
SLACK_PERSON = re.compile(r"^[UW][A-Z0-9]{2,20}$")


def run_outcome(entries: Sequence[dict[str, Any]]) -> str:
    """Summarise a run: `ok`, the reason everything was skipped or failed, or `partial: …`."""
    problems = list(dict.fromkeys(f"{e['result']}: {e['reason']}" for e in entries if "reason" in e))
    if not problems:
        return "ok"
    if all("reason" in e for e in entries):
        return "; ".join(problems)
    return "partial: " + "; ".join(problems)


class ActionTexts:
    """How workflow actions word what they send (admin templates, Slack messages, e-mail subjects) and where to."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

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

    def block_kit(self, kind: str, text: str, run: ActionRun) -> Any:
        """Return the Slack message of a notification or reminder."""
        return self.renderer.json("notification.json.j2", kind=kind, text=text, record_type=run.record.type.value,
                                  record_id=run.record.id, workflow_name=run.workflow.name)

    def subject(self, kind: str, run: ActionRun) -> str:
        """Return the subject of a notification or reminder sent by e-mail."""
        return self.renderer.text("notification_subject.txt.j2", kind=kind, record_type=run.record.type.value,
                                  record_id=run.record.id, workflow_name=run.workflow.name)


@dataclass
class ActionRun:
    """What one run performs, in order, inside the caller's transaction."""

    texts: ActionTexts
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
    skipped_actions: set[int] = field(default_factory=set)
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
            await self.message(item.action_index, item.target, _Text(self.texts, item.template, item.context),
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
            message = self.texts.block_kit(kind, text.for_slack(), self)
            await self.enqueue("message", target, {"message": message})
        elif self.texts.is_email_on:
            subject = self.texts.subject(kind, self)
            await self.enqueue("email", target, Email(to=[target], subject=subject, body=text.plain()).to_json())
        else:
            self.entry(index, "skipped", target=target, reason="e-mail is off")
            return
        self.entry(index, "queued", target=target)

    async def remind(self, item: RemindPeople) -> None:
        """Remind each target (people in a scheduled run: in their digest) and give new ones a reminder task."""
        text = _Text(self.texts, item.template, item.context)
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
        """Queue the document's e-mail to its contact (a scheduled workflow's: once for the values it reads)."""
        subject = non_blank(self.texts.render_text(item.subject_template, item.context, slack=False), "subject")
        body = non_blank(self.texts.render_text(item.body_template, item.context, slack=False), "body")
        if item.once_key is not None and not await self._is_first(item.once_key):
            self.skipped_actions.add(item.action_index)
            self.entry(item.action_index, "skipped", to=item.to, reason=ALREADY_SENT)
            return
        sender = self.company.name or SENDER
        email = Email(to=[item.to], subject=" ".join(subject.split()), body=body, cc=list(item.cc), sender_name=sender)
        await self.enqueue("email", item.to, email.to_json())
        self.entry(item.action_index, "queued", to=item.to, cc=list(item.cc), subject=email.subject)

    async def _is_first(self, key: str) -> bool:
        """Claim a scheduled e-mail's key; tell whether it was never claimed before."""
        marker = DueAction(ActionKind.FIRE_WORKFLOW, key, ("record", "{}:{}".format(*self.record.key())), self.now)
        return bool(await self.repo.claim_actions([marker], self.now))

    def set_field(self, item: SetField) -> None:
        """Remember a field to set once every item is performed (not when its action failed or was skipped)."""
        if item.action_index in self.failed_actions or item.action_index in self.skipped_actions:
            return
        self.fields.append(item)
        if self.kind_of(item.action_index) == "update":
            self.entry(item.action_index, "set", field=item.field, value=_json_scalar(item.value),
                       previous=_json_scalar(item.previous))


    async def apply_fields(self) -> Record | None:
        """Save the fields the run set, audited; return the changed record (None: unchanged)."""
        try:
            updated = apply_fields(self.record, self.fields, self.now)
        except ValueError as exc:
            self.entries.append({"index": self.fields[0].action_index, "type": "update", "result": "failed",
                                 "reason": str(exc)})
            return None
        if updated == self.record:
            return None
        await self.repo.save_record(updated)
        for item in self.fields:
            await self.repo.audit(self.now, None, "field_set", self.record.key(), _audit_text(item.previous),
                                  _audit_text(item.value), {"field": item.field, "workflow_id": self.workflow.id,
                                                            "run_id": self.run_id})
        return updated

    def history(self, cause: str) -> WorkflowRun:
        """Return the run as its history line: what caused it, its outcome and what each planned item did."""
        return WorkflowRun(self.run_id, self.workflow.id, self.workflow.name, self.record.type.value, self.record.id,
                           cause, run_outcome(self.entries), self.entries, self.now)


@dataclass
class _Text:
    """An admin template of one planned item, rendered when first needed: for Slack (data escaped) or plain."""

    wording: ActionTexts
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
            self.texts[slack] = self.wording.render_text(self.template, self.context, slack=slack)
        return self.texts[slack]


def _json_scalar(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _audit_text(value: Any) -> str | None:
    jsonable = _json_scalar(value)
    return None if jsonable is None else str(jsonable)
