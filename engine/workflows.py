"""Workflow definitions: record type, trigger, conditions and the five kinds of action."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from engine.conditions import MAX_CONDITIONS, Condition, validate_condition
from engine.cron import CronSpec
from engine.durations import parse_duration
from engine.errors import DurationTooLongError, InvalidDefinitionError, InvalidDurationError
from engine.facts import field_type
from engine.limits import MAX_FIELD_KEY_CHARS, SLACK_ID, check_storable, is_email
from engine.records import RecordInput, RecordType

MAX_APPROVERS_PER_STEP = 5
GROUP = re.compile(r"^group:[A-Za-z0-9_.-]{1,64}$")
# A workflow's reminders, escalations and expiries are at least a minute apart: the scheduler sweeps once a minute.
MIN_DURATION = timedelta(minutes=1)
CHANNEL = re.compile(r"^(#[a-z0-9_-]{1,80}|C[A-Z0-9]{2,20})$")


class Trigger(StrEnum):
    """When a workflow is evaluated."""

    CREATED = "created"
    UPDATED = "updated"
    CREATED_OR_UPDATED = "created_or_updated"
    SCHEDULED = "scheduled"


class WorkflowStatus(StrEnum):
    """Whether a workflow is being drafted or is live."""

    DRAFT = "draft"
    PUBLISHED = "published"


def is_approver_ref(ref: str) -> bool:
    """Tell whether a string names an approver: a Slack user id, an e-mail or `group:NAME`."""
    return bool(SLACK_ID.match(ref) or is_email(ref) or GROUP.match(ref))


# The validation context of a workflow read back from storage: it was checked when saved, under the rules of then
# (a later, stricter bound must not make it unreadable).
STORED: dict[str, bool] = {"stored": True}


def _same_value(value: Any) -> Any:
    """Return a condition's value as compared for sameness: 500 and 500.00 are one amount."""
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, list | tuple):
        return tuple(_same_value(v) for v in value)
    return value


def is_stored(info: ValidationInfo) -> bool:
    """Tell whether a model is being read back from storage (validated with the STORED context)."""
    return isinstance(info.context, dict) and info.context.get("stored") is True


def _check_duration(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        delta = parse_duration(value)
    except DurationTooLongError as exc:
        raise problem("duration_too_long", str(exc), value=value) from exc
    except InvalidDurationError as exc:
        raise problem("duration_invalid", str(exc), value=value) from exc
    if delta <= timedelta(0):
        raise problem("duration_not_positive", "must be a positive duration", value=value)
    if delta < MIN_DURATION:
        raise problem("duration_too_short", "must be at least a minute", value=value)
    return value


def _check_refs(refs: list[str], info: ValidationInfo, allow_channels: bool = False) -> list[str]:
    """Refuse a ref that names no person, group (or channel); what was stored under older rules stays readable."""
    if is_stored(info):
        return refs
    for ref in refs:
        if not (is_approver_ref(ref) or (allow_channels and CHANNEL.match(ref))):
            kind = "a Slack user id, an e-mail, group:NAME" + (" or a channel" if allow_channels else "")
            code = "target_invalid" if allow_channels else "approver_invalid"
            raise problem(code, f"{ref!r} is not {kind}", value=ref)
    return refs


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApprovalStep(_Strict):
    """One step of an approval: who may approve and how many must."""

    name: str | None = None
    approvers: list[str] = Field(min_length=1, max_length=MAX_APPROVERS_PER_STEP)
    min_approvers: int = Field(default=1, ge=1, strict=True)

    @field_validator("approvers")
    @classmethod
    def _valid_refs(cls, value: list[str], info: ValidationInfo) -> list[str]:
        if len(set(value)) != len(value):
            raise problem("approver_twice", "lists an approver twice")
        return _check_refs(value, info)

    @model_validator(mode="after")
    def _quorum_fits(self) -> ApprovalStep:
        has_group = any(ref.startswith("group:") for ref in self.approvers)
        if not has_group and self.min_approvers > len(self.approvers):
            raise problem("quorum_above_approvers",
                          f"min_approvers is {self.min_approvers} but the step lists {len(self.approvers)}",
                          quorum=self.min_approvers, listed=len(self.approvers))
        return self


Notify = Literal["dm", "home", "email"]
DEFAULT_NOTIFY: tuple[Notify, ...] = ("dm", "home")


class ApprovalAction(_Strict):
    """Ordered approval steps with reminders, escalation and expiry."""

    type: Literal["approval"] = "approval"
    steps: list[ApprovalStep] = Field(min_length=1, max_length=10)
    notify: list[Notify] = Field(default_factory=lambda: list(DEFAULT_NOTIFY))
    channel: str | None = None
    remind_every: str | None = None
    escalate_after: str | None = None
    escalate_to: list[str] = Field(default_factory=list)
    expire_after: str = "P30D"

    @field_validator("remind_every", "escalate_after", "expire_after")
    @classmethod
    def _valid_duration(cls, value: str | None, info: ValidationInfo) -> str | None:
        return value if is_stored(info) else _check_duration(value)

    @field_validator("escalate_to")
    @classmethod
    def _valid_escalation(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return _check_refs(value, info)

    @model_validator(mode="after")
    def _escalation_has_target(self) -> ApprovalAction:
        if self.escalate_after and not self.escalate_to:
            raise problem("escalate_to_required", "escalate_after needs escalate_to")
        return self

    def remind_every_s(self) -> float | None:
        """Return the reminder period in seconds, if any."""
        return parse_duration(self.remind_every).total_seconds() if self.remind_every else None

    def escalate_after_s(self) -> float | None:
        """Return the escalation delay in seconds, if any."""
        return parse_duration(self.escalate_after).total_seconds() if self.escalate_after else None

    def expire_after_s(self) -> float:
        """Return the expiry delay in seconds."""
        return parse_duration(self.expire_after).total_seconds()


class ReminderAction(_Strict):
    """A task and message to team members or a channel."""

    type: Literal["reminder"] = "reminder"
    to: list[str] = Field(min_length=1)
    message: str = Field(min_length=1, max_length=3000)

    @field_validator("to")
    @classmethod
    def _valid_targets(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return _check_refs(value, info, allow_channels=True)


class NotificationAction(_Strict):
    """A message to people or channels when the conditions hold."""

    type: Literal["notification"] = "notification"
    channel: str | None = None
    to: list[str] = Field(default_factory=list)
    message: str = Field(min_length=1, max_length=3000)

    @field_validator("to")
    @classmethod
    def _valid_targets(cls, value: list[str], info: ValidationInfo) -> list[str]:
        return _check_refs(value, info, allow_channels=True)

    @field_validator("channel")
    @classmethod
    def _valid_channel(cls, value: str | None) -> str | None:
        if value is not None and not CHANNEL.match(value):
            raise problem("channel_invalid", f"{value!r} is not a channel such as #finance", value=value)
        return value

    @model_validator(mode="after")
    def _has_target(self) -> NotificationAction:
        if not self.channel and not self.to:
            raise problem("target_required", "needs a channel or people to notify")
        return self


class SendAction(_Strict):
    """E-mail the document to its customer or vendor."""

    type: Literal["send"] = "send"
    subject: str = Field(min_length=1, max_length=300)
    body: str = Field(min_length=1, max_length=20000)
    copy_sender: bool = Field(default=False, strict=True)


class UpdateAction(_Strict):
    """Set one field of the record."""

    type: Literal["update"] = "update"
    field: str
    value: Any

    @field_validator("field")
    @classmethod
    def _known_field(cls, value: str) -> str:
        writable = {"memo", "status", "email_status", "location", "department", "class", "category"}
        if value not in writable and not value.startswith("fields."):
            message = f"{value!r} cannot be set; use one of {sorted(writable)} or fields.NAME"
            raise problem("field_not_writable", message, value=value)
        return value

    @field_validator("value")
    @classmethod
    def _fits(cls, value: Any, info: ValidationInfo) -> Any:
        """Refuse a value the field cannot hold (a status that does not exist…), as a run would; a stored
        workflow still loads."""
        field = info.data.get("field")
        if field is None or is_stored(info):
            return value
        name = field.removeprefix("fields.")
        written = {"fields": {name: value}} if field.startswith("fields.") else {field: value}
        try:
            RecordInput.model_validate(written)
        except ValidationError as exc:
            shown = str(value)[:80]
            raise problem("value_not_fitting", f"{field} cannot be {shown!r}: {exc.errors()[0]['msg']}",
                          value=shown, field=field) from None
        return value


Action = Annotated[
    ApprovalAction | ReminderAction | NotificationAction | SendAction | UpdateAction,
    Field(discriminator="type"),
]


class WorkflowDefinition(_Strict):
    """What an admin writes: the workflow without its identity."""

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    record_type: RecordType
    trigger: Trigger = Trigger.CREATED
    trigger_fields: list[str] = Field(default_factory=list)
    schedule: str | None = None
    conditions: list[Condition] = Field(default_factory=list)
    actions: list[Action] = Field(min_length=1)
    enabled: bool = Field(default=True, strict=True)
    status: WorkflowStatus = WorkflowStatus.PUBLISHED

    @field_validator("schedule")
    @classmethod
    def _valid_schedule(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                CronSpec.parse(value)
            except InvalidDefinitionError as exc:
                raise problem("schedule_invalid", exc.details[0]["message"] if exc.details else str(exc),
                              value=value) from None
        return value

    @field_validator("conditions")
    @classmethod
    def _sensible_conditions(cls, value: list[Condition], info: ValidationInfo) -> list[Condition]:
        """Refuse more than MAX_CONDITIONS conditions, one given twice (it would count twice when workflows are
        ranked), and a custom field whose name no document can have."""
        if is_stored(info):
            return value
        if len(value) > MAX_CONDITIONS:
            raise problem("too_many_conditions", f"at most {MAX_CONDITIONS} conditions", max=MAX_CONDITIONS)
        seen: set[str] = set()
        for condition in value:
            key = repr((condition.field, condition.op, _same_value(condition.value)))
            if key in seen:
                raise problem("condition_twice", f"the condition {condition.field} {condition.op} is given twice",
                              value=condition.field)
            seen.add(key)
            if len(condition.field.rpartition("fields.")[2]) > MAX_FIELD_KEY_CHARS:
                shown = condition.field[:MAX_FIELD_KEY_CHARS + 7] + "…"
                raise problem("field_unknown", f"no document has a field named {shown!r}", value=shown)
        return value

    @field_validator("trigger_fields")
    @classmethod
    def _known_fields(cls, value: list[str]) -> list[str]:
        for name in value:
            if field_type(name) is None:
                raise problem("field_unknown", f"unknown field {name!r}", value=name)
        return value

    def approval(self) -> ApprovalAction | None:
        """Return the workflow's approval action, if it has one."""
        return next((a for a in self.actions if isinstance(a, ApprovalAction)), None)

    def is_live(self) -> bool:
        """Tell whether the workflow is enabled and published."""
        return self.enabled and self.status is WorkflowStatus.PUBLISHED

    def condition_group_refs(self) -> set[str]:
        """Return the group names the workflow's conditions test membership of."""
        return {c.value for c in self.conditions if c.op == "in_group" and isinstance(c.value, str)}

    def people_group_paths(self) -> list[tuple[str, str]]:
        """Return each `group:NAME` the actions name, as (path, NAME), in order (`actions[0].steps[1].approvers[0]`)."""
        return [(path, ref.removeprefix("group:")) for path, ref in self.people_paths() if ref.startswith("group:")]

    def channel_paths(self) -> list[tuple[str, str]]:
        """Return each channel the actions post to, as (path, channel): their `channel`, then channels in `to`."""
        found = [(f"actions[{i}].channel", str(getattr(a, "channel", ""))) for i, a in enumerate(self.actions)
                 if getattr(a, "channel", None)]
        return found + [(path, ref) for path, ref in self.people_paths() if CHANNEL.match(ref)]

    def people_paths(self) -> list[tuple[str, str]]:
        """Return each person or `group:NAME` the actions name, as (path, reference), in order."""
        found = []
        for i, action in enumerate(self.actions):
            lists = [(f"actions[{i}].{key}", list(getattr(action, key, []))) for key in ("to", "escalate_to")]
            steps = getattr(action, "steps", [])
            lists += [(f"actions[{i}].steps[{k}].approvers", step.approvers) for k, step in enumerate(steps)]
            found += [(f"{path}[{j}]", ref) for path, refs in lists for j, ref in enumerate(refs)]
        return found

    def group_refs(self) -> set[str]:
        """Return every group name the workflow uses."""
        names = self.condition_group_refs()
        for action in self.actions:
            refs = list(getattr(action, "to", [])) + list(getattr(action, "escalate_to", []))
            refs += [r for s in getattr(action, "steps", []) for r in s.approvers]
            names |= {r.removeprefix("group:") for r in refs if r.startswith("group:")}
        return names


# What GET adds to a workflow's definition: a body sent back as it was read repeats them.
ECHOED = ("id", "created_at", "updated_at", "warnings")


class Workflow(WorkflowDefinition):
    """A stored workflow."""

    id: str
    created_at: datetime
    updated_at: datetime

    def definition(self) -> WorkflowDefinition:
        """Return the definition part, as it is exported to YAML (read as stored: under the rules it was saved by)."""
        return WorkflowDefinition.model_validate(self.model_dump(exclude={"id", "created_at", "updated_at"}),
                                                 context=STORED)


def _loc_to_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in ("approval", "reminder", "notification", "send", "update", "function-after"):
            continue
        else:
            path += ("." if path else "") + str(part)
    return path


def problem(code: str, message: str, **params: Any) -> PydanticCustomError:
    """Return a validation problem with a stable code and its parameters; `message` is its English default."""
    return PydanticCustomError(code, "{default}", {**params, "default": message})


def _params(ctx: dict[str, Any] | None) -> dict[str, Any]:
    kept = {k: v for k, v in (ctx or {}).items() if k not in ("error", "default")}
    return {k: v if isinstance(v, int | float | str) else str(v) for k, v in kept.items()}


def details_from(exc: ValidationError) -> list[dict[str, Any]]:
    """Turn a pydantic ValidationError into `{path, message, code, params}` details; the code words the problem."""
    return [
        {"path": _loc_to_path(tuple(err["loc"])) or "(root)", "message": err["msg"].removeprefix("Value error, "),
         "code": err["type"], "params": _params(err.get("ctx"))}
        for err in exc.errors()
    ]


def _condition_problems(raw: Any) -> list[dict[str, str]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        return [{"path": "conditions", "message": "must be a list of {field, op, value} objects"}]
    return [p for i, item in enumerate(raw) for p in validate_condition(item, f"conditions[{i}]")]


def switched(enabled: bool) -> dict[str, Any]:
    """Return the changes that enable (make live: a draft is published) or disable a workflow."""
    return {"enabled": True, "status": WorkflowStatus.PUBLISHED} if enabled else {"enabled": False}


def one_meaning_of_enabled(data: dict[str, Any]) -> dict[str, Any]:
    """Settle enabled and status (enabled means live): an enabled draft is published, an unsaid one is disabled."""
    if data.get("status") != WorkflowStatus.DRAFT.value:
        return data
    if data.get("enabled") is True:
        return {**data, "status": WorkflowStatus.PUBLISHED.value}
    return data if "enabled" in data else {**data, "enabled": False}


def parse_definition(data: Any) -> WorkflowDefinition:
    """Validate a workflow definition; raise InvalidDefinitionError naming every bad field path."""
    if not isinstance(data, dict):
        details = [{"path": "(root)", "message": "expected an object"}]
        raise InvalidDefinitionError("a workflow must be an object", details)
    check_storable(data, "workflow")
    data = one_meaning_of_enabled(data)
    problems: list[dict[str, Any]] = [*_condition_problems(data.get("conditions"))]
    candidate = {**data, "conditions": []} if problems else data
    try:
        definition = WorkflowDefinition.model_validate(candidate)
    except ValidationError as exc:
        problems += details_from(exc)
    else:
        if definition.trigger is Trigger.SCHEDULED and not definition.schedule:
            problems.append({"path": "schedule", "message": "a scheduled workflow needs a schedule",
                             "code": "schedule_required", "params": {}})
    if problems:
        raise InvalidDefinitionError(f"invalid workflow: {problems[0]['path']}: {problems[0]['message']}", problems)
    return definition


UNREACHABLE = {"not_found": "is not a user of this Slack workspace", "deactivated": "is deactivated in Slack",
               "bot": "is a bot, not a person"}


def approval_rule_warnings(definition: WorkflowDefinition) -> list[dict[str, str]]:
    """Return what an approval workflow says that it does not do: a `scheduled` or `updated` trigger (it holds
    every document it matches whenever one is saved; the trigger only times its other actions), and an `update`
    of a field its conditions read (the document would stop matching it, so approving it would need forcing)."""
    if definition.approval() is None:
        return []
    found = []
    if definition.trigger in (Trigger.SCHEDULED, Trigger.UPDATED):
        found.append({"path": "trigger", "rule": "trigger", "message": f"an approval workflow holds every document "
                      f"it matches, at creation and after every change: trigger {definition.trigger.value} only "
                      "times its other actions"})
    read = {c.field for c in definition.conditions}
    found += [{"path": f"actions[{i}].field", "rule": "update_read", "field": a.field,
               "message": f"this update sets {a.field}, which the conditions read: the document may stop matching "
                          "the workflow, and approving it would then need forcing"}
              for i, a in enumerate(definition.actions) if isinstance(a, UpdateAction) and a.field in read]
    return found


def name_key(name: str) -> str:
    """Return a workflow name as people tell names apart: case, accents' composition and spacing left out."""
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def same_name_warnings(definition: WorkflowDefinition, workflows: Sequence[Workflow],
                       own: Workflow | None = None) -> list[dict[str, str]]:
    """Return a warning for each other workflow of the same name (case and spacing aside): lists, messages and the
    history would not tell them apart."""
    key = name_key(definition.name)
    return [{"path": "name", "named_like": other.id, "other_name": other.name,
             "message": f'another workflow, "{other.name}" ({other.id}), has this name: lists, messages and the '
                        "history will not tell them apart"}
            for other in workflows if (own is None or other.id != own.id) and name_key(other.name) == key]


def timing_warnings(definition: WorkflowDefinition) -> list[dict[str, str]]:
    """Return a warning for each reminder or escalation delay not shorter than the expiry: it would never happen."""
    found = []
    for index, action in enumerate(definition.actions):
        if not isinstance(action, ApprovalAction):
            continue
        for name, delay_s in (("remind_every", action.remind_every_s()), ("escalate_after", action.escalate_after_s())):
            if delay_s is not None and delay_s >= action.expire_after_s():
                found.append({"path": f"actions[{index}].{name}", "delay": name, "message": f"{name} "
                              f"{getattr(action, name)} is not shorter than expire_after {action.expire_after}: the "
                              "request expires first"})
    return found


def unreachable_people_warnings(
    definition: WorkflowDefinition, people_groups: Mapping[str, Sequence[str]], problems: Mapping[str, str],
) -> list[dict[str, str]]:
    """Return a warning for each Slack user the workflow names, directly or through a people group, whom Slack
    cannot reach (`problems`: user id → `not_found`, `deactivated` or `bot`): they are asked in vain."""
    found = []
    for path, ref in definition.people_paths():
        members = people_groups.get(ref.removeprefix("group:"), ()) if ref.startswith("group:") else (ref,)
        found += [{"path": path, "user": user, "problem": problems[user],
                   "message": f"{user} {UNREACHABLE.get(problems[user], 'is unknown')}"
                   + (f" (a member of {ref})" if ref != user else "") + ": Slack cannot ask them"}
                  for user in members if user in problems]
    return found


CHANNEL_PROBLEMS = {"not_found": "is no channel of this Slack workspace", "archived": "is archived",
                    "no_public": "names no public channel of this Slack workspace (only a private one Signoff is in "
                                 "would do)"}


def unreachable_channel_warnings(
    definition: WorkflowDefinition, problems: Mapping[str, str],
) -> list[dict[str, str]]:
    """Return a warning for each channel the workflow posts to where Slack would refuse the post (`problems`:
    channel → `not_found`, `archived` or `no_public`): each such post would be a dead letter."""
    return [{"path": path, "channel": channel, "problem": problems[channel],
             "message": f"{channel} {CHANNEL_PROBLEMS[problems[channel]]}: posts to it would fail"}
            for path, channel in definition.channel_paths() if channel in problems]


def unknown_group_warnings(
    definition: WorkflowDefinition, people_groups: Mapping[str, Sequence[str]],
) -> list[dict[str, str]]:
    """Return a warning for each `group:NAME` that names no people group with members: until it has some, an
    approval step goes to `escalate_to` or the admins, and a message to the admins."""
    return [{"path": path, "group": name,
             "message": f"no people group {name!r} with members: escalate_to or the admins stand in"}
            for path, name in definition.people_group_paths() if not people_groups.get(name)]
