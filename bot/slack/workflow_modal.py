"""Admins build and edit workflows in a Slack modal: typed condition pickers, steps, timings, previewed messages."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError

from bot.errors import Refused
from bot.slack import workflow_checks as checks
from bot.slack import workflow_draft as drafts
from bot.slack import workflow_inputs as inputs
from bot.slack.payload import first_action, mapping, private_metadata, state_values, text, trigger_id, user_id
from bot.slack.workflow_words import preview, sample_context, schedule_view, workflow_view
from engine.actions import contact_kind_for
from engine.catalog import CatalogTemplate, find_template
from engine.groups import GroupKind
from engine.notify import is_slack_user
from engine.records import RecordType
from engine.workflows import Trigger, Workflow, WorkflowDefinition
from messages.catalog_text import localized

if TYPE_CHECKING:
    from bot.core.service import Signoff

log = logging.getLogger(__name__)

CALLBACK = "workflow_builder"
MAX_OPTIONS = 100
PREVIEW_CHARS = 1200  # a preview in the modal (its sections' limits)
TIME_DAYS = ("daily", "weekdays", "mon", "tue", "wed", "thu", "fri", "sat", "sun", "month_1", "month_15")


@dataclass
class Choices:
    """What the pickers offer: people groups, customer and vendor groups, contacts."""

    people_groups: list[str] = field(default_factory=list)
    contact_groups: dict[str, list[str]] = field(default_factory=dict)
    contacts: dict[str, list[dict[str, str]]] = field(default_factory=dict)


async def choices(service: Signoff) -> Choices:
    """Load the groups and contacts the pickers list."""
    found = Choices()
    for group, _members in await service.groups.list_groups():
        if group.kind is GroupKind.PEOPLE:
            found.people_groups.append(group.name)
        else:
            found.contact_groups.setdefault(group.kind.value, []).append(group.name)
    async with service.db.read() as repo:
        contacts = await repo.all_contacts()
    for contact in contacts:
        label = contact.name or contact.id
        found.contacts.setdefault(contact.kind.value, []).append({"value": contact.id, "label": label})
    return found


# rendering


def _condition_view(index: int, condition: dict[str, Any], ctx: Choices, contact_kind: str) -> dict[str, Any]:
    kind = drafts.value_kind(condition["field"], condition["op"])
    view = {"index": index, "field": condition["field"], "op": condition["op"], "kind": kind,
            "ops": drafts.ops_for(condition["field"]), "value": condition.get("value"), "options": []}
    if kind in ("enum", "enums"):
        view["options"] = [{"value": v, "label": v} for v in drafts.ENUM_VALUES.get(condition["field"], [])]
    elif kind == "contact":
        view["options"] = ctx.contacts.get(condition["field"], [])[:MAX_OPTIONS]
    elif kind == "group":
        view["options"] = [{"value": g, "label": g} for g in ctx.contact_groups.get(contact_kind, [])][:MAX_OPTIONS]
    elif kind == "bool":
        view["options"] = [{"value": "true", "label": "yes"}, {"value": "false", "label": "no"}]
    view["initial"] = _initial(kind, condition.get("value"), view["options"])
    return view


def _initial(kind: str, value: Any, options: list[dict[str, str]]) -> Any:
    if kind in ("enums",):
        chosen = value if isinstance(value, list) else []
        return [o for o in options if o["value"] in chosen]
    if kind in ("enum", "contact", "group", "bool"):
        wanted = str(value).lower() if isinstance(value, bool) else value
        return next((o for o in options if o["value"] == wanted), None)
    if kind == "list":
        return ", ".join(str(v) for v in value) if isinstance(value, list) else None
    if kind == "range":
        pair = value if isinstance(value, list) and len(value) == 2 else [None, None]
        return [None if v is None else str(v) for v in pair]
    return None if value is None else str(value)


def _step_view(index: int, step: dict[str, Any], ctx: Choices) -> dict[str, Any]:
    approvers = step.get("approvers", [])
    groups = [a.removeprefix("group:") for a in approvers if a.startswith("group:")]
    return {"index": index, "name": step.get("name"), "min": step.get("min_approvers", 1),
            "people": [a for a in approvers if is_slack_user(a)], "groups": groups,
            "group_options": sorted(set(ctx.people_groups) | set(groups)),
            "others": [a for a in approvers if not is_slack_user(a) and not a.startswith("group:")]}


def _duration_view(iso: str | None) -> dict[str, Any]:
    number, unit = inputs.duration_parts(iso)
    return {"n": number, "unit": unit}


def _action_view(index: int, action: dict[str, Any], ctx: Choices, previews: dict[str, Any]) -> dict[str, Any]:
    view = {**action, "index": index}
    if action.get("type") == "approval":
        view["steps_view"] = [_step_view(i, s, ctx) for i, s in enumerate(action.get("steps", []))]
        view["durations"] = {name: _duration_view(action.get(key)) for name, key in
                             (("remind", "remind_every"), ("escalate", "escalate_after"), ("expire", "expire_after"))}
        escalate_to = action.get("escalate_to", [])
        view["escalate_people"] = [a for a in escalate_to if is_slack_user(a)]
        view["escalate_groups"] = [a.removeprefix("group:") for a in escalate_to if a.startswith("group:")]
        view["escalate_others"] = [a for a in escalate_to if not is_slack_user(a) and not a.startswith("group:")]
        view["group_options"] = sorted(set(ctx.people_groups) | set(view["escalate_groups"]))
    if action.get("type") in ("reminder", "notification"):
        to = action.get("to", [])
        view["people"] = [t for t in to if is_slack_user(t)]
        view["channels"] = [t for t in to if not is_slack_user(t)]
    view["preview"] = {key: previews[f"{index}.{key}"] for key in ("message", "subject", "body")
                       if f"{index}.{key}" in previews}
    return view


def _previews(draft: dict[str, Any], renderer: Any, now: datetime) -> dict[str, dict[str, Any]]:
    record_type = RecordType(draft.get("record_type", "invoice"))
    shell = WorkflowDefinition.model_construct(name=draft.get("name") or "-", record_type=record_type,
                                               description=None, actions=[])
    context = sample_context(shell, renderer, now)
    shown: dict[str, dict[str, Any]] = {}
    for index, action in enumerate(draft["actions"]):
        for key in ("message", "subject", "body"):
            if isinstance(action.get(key), str):
                shown[f"{index}.{key}"] = preview(action[key], context, renderer, PREVIEW_CHARS)
    return shown


def _schedule_choice(draft: dict[str, Any], timezone: str) -> dict[str, Any]:
    words = schedule_view(draft.get("schedule"), timezone) if draft.get("schedule") else None
    current = inputs.schedule_cron(None, None, draft.get("schedule")) if draft.get("schedule") else None
    choice, custom = None, None
    for option in TIME_DAYS:
        if current and inputs.schedule_cron(option, None, current) == current:
            choice = option
            break
    if current and choice is None:
        custom = current
    hour, minute = inputs.schedule_clock(None, current)
    return {"choice": choice or ("cron:" + custom if custom else None), "custom": custom, "words": words,
            "time": f"{hour:02d}:{minute:02d}", "options": list(TIME_DAYS)}


def render_modal(
    service: Signoff, draft: dict[str, Any], ctx: Choices, now: datetime | None = None
) -> dict[str, Any]:
    """Render the workflow modal of a draft (new or edited), with its previews on a sample document."""
    now = now or service.clock.now()
    found = find_template(str(draft.get("template"))) if draft.get("template") else None
    template = localized(found, service.renderer.locale) if found else None
    contact_kind = contact_kind_for(RecordType(draft.get("record_type", "invoice"))).value
    fields = [*drafts.CONDITION_FIELDS, *(f"{contact_kind}.{f}" for f in drafts.CONTACT_FIELDS)]
    previews = _previews(draft, service.renderer, now)
    metadata = drafts.dump_draft(draft)
    view: dict[str, Any] = service.renderer.json(
        "commands_new_modal.json.j2", draft=draft, template=template.summary() if template else None,
        metadata=metadata or "", too_big=metadata is None,
        record_types=[t.value for t in RecordType], triggers=[t.value for t in Trigger],
        fields=[f for f in fields if f not in ("customer", "vendor") or f == contact_kind],
        conditions=[_condition_view(i, c, ctx, contact_kind) for i, c in enumerate(draft["conditions"])],
        actions=[_action_view(i, a, ctx, previews) for i, a in enumerate(draft["actions"])],
        schedule=_schedule_choice(draft, service.renderer.timezone), kinds=list(drafts.ACTION_KINDS),
        has_approval=any(a.get("type") == "approval" for a in draft["actions"]),
        writable=list(drafts.WRITABLE_FIELDS), limits={"conditions": drafts.MAX_CONDITIONS,
                                                        "actions": drafts.MAX_ACTIONS, "steps": drafts.MAX_STEPS})
    return view


def new_modal(service: Signoff, template: CatalogTemplate | None, ctx: Choices,
              now: datetime | None = None) -> dict[str, Any]:
    """Render the modal that creates a workflow from a catalog template (in the installation's language), or blank."""
    draft = drafts.template_draft(localized(template, service.renderer.locale)) if template else drafts.blank_draft()
    return render_modal(service, draft, ctx, now)


def edit_modal(service: Signoff, workflow: Workflow, ctx: Choices) -> dict[str, Any]:
    """Render the modal that edits a stored workflow, pre-filled."""
    return render_modal(service, drafts.workflow_draft(workflow), ctx)


# listeners


def _error_texts(service: Signoff, found: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {block: service.renderer.text("workflow_form_error.txt.j2", **problem) for block, problem in found.items()}


class WorkflowModalListeners:
    """Bolt listeners of the workflow modal: its buttons and pickers, and its submission."""

    def __init__(self, service: Signoff) -> None:
        self.service = service

    async def on_action(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """A button or picker in the modal: apply it to the draft and redraw the modal (admins only)."""
        await ack()
        action = first_action(body)
        change = drafts.action_target(str(action.get("action_id", "")))
        view = mapping(body.get("view"))
        if change is None or view.get("callback_id") != CALLBACK or not self.service.is_admin(user_id(body)):
            return
        try:
            draft = inputs.absorb(drafts.load_draft(private_metadata(view)), inputs.flatten(state_values(view), action))
        except drafts.DraftError:
            return
        value = text(action.get("value")) or text(mapping(action.get("selected_option")).get("value"))
        drafts.CHANGES.get(change, drafts.keep)(draft, value)
        await self._redraw(view, draft)

    async def _redraw(self, view: dict[str, Any], draft: dict[str, Any]) -> None:
        updated = render_modal(self.service, draft, await choices(self.service))
        try:
            await self.service.slack.client.views_update(view_id=view.get("id"), view=updated)
        except SlackApiError as exc:
            log.warning("could not redraw the workflow modal: %s", exc.response.get("error"))

    async def on_submit(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        """Save the workflow (create or update), or show what is wrong on the right input."""
        user = user_id(body)
        try:
            draft = inputs.absorb(drafts.load_draft(private_metadata(view)), inputs.flatten(state_values(view)))
        except drafts.DraftError:
            await ack(response_action="errors", errors=_error_texts(self.service, {"name": {"code": "stale"}}))
            return
        if not self.service.is_admin(user):
            await ack(response_action="errors", errors=_error_texts(self.service, {"name": {"code": "admin_only"}}))
            return
        found = checks.problems(draft)
        if found:
            await ack(response_action="errors", errors=_error_texts(self.service, found))
            return
        await self._save(ack, user or "", draft)

    async def _save(self, ack: AsyncAck, user: str, draft: dict[str, Any]) -> None:
        if await self._is_changed_meanwhile(draft):
            changed = {checks.block_for("name", draft): {"code": "changed_meanwhile"}}
            await ack(response_action="errors", errors=_error_texts(self.service, changed))
            return
        try:
            workflow, code = await self._store(draft)
        except Refused as exc:
            details = exc.details or [{"path": "name", "message": exc.message}]
            found: dict[str, dict[str, Any]] = {}
            for detail in details:
                found.setdefault(checks.block_for(detail.get("path", ""), draft),
                                 {"code": "invalid", "message": detail.get("message", ""), "path": detail.get("path"),
                                  "problem": detail.get("code"), "params": detail.get("params") or {}})
            await ack(response_action="errors", errors=_error_texts(self.service, found))
            return
        await ack()
        warnings = await self.service.workflows.warnings(workflow)
        missing = list(dict.fromkeys(w["group"] for w in warnings if "group" in w))
        note = self.service.renderer.json("workflow_note.json.j2", code=code, workflow=workflow_view(workflow),
                                          missing_groups=missing, overlaps=[w for w in warnings if "workflow_id" in w],
                                          unreachable=[w for w in warnings if "user" in w],
                                          channels=[w for w in warnings if "channel" in w],
                                          short=[w for w in warnings if "quorum" in w],
                                          rules=[w for w in warnings if "rule" in w],
                                          late=[w["delay"] for w in warnings if "delay" in w],
                                          same_names=[w for w in warnings if "named_like" in w])
        await self.service.slack.dm(user, note)

    async def _is_changed_meanwhile(self, draft: dict[str, Any]) -> bool:
        """Tell whether the workflow an edit started from was changed since (saving would undo that change)."""
        if not draft.get("id"):
            return False
        async with self.service.db.read() as repo:
            current = await repo.get_workflow(str(draft["id"]))
        return current is not None and drafts.version_of(current) != draft.get("version")

    async def _store(self, draft: dict[str, Any]) -> tuple[Workflow, str]:
        if draft.get("id"):
            previous = await self.service.workflows.get(str(draft["id"]))
            data = drafts.definition_of(draft, previous)
            return await self.service.workflows.update(previous.id, data), "workflow_updated"
        return await self.service.workflows.create(drafts.definition_of(draft)), "workflow_created"


async def open_new(service: Signoff, trigger: str, template: CatalogTemplate | None) -> None:
    """Open the new-workflow modal (from a template, or blank) for a trigger."""
    await service.slack.open_view(trigger, new_modal(service, template, await choices(service)))


def register(app: AsyncApp, service: Signoff) -> None:
    """Wire the workflow modal's actions and submission into the Bolt app."""
    import re

    listeners = WorkflowModalListeners(service)
    app.action(re.compile(r"^(wf_[a-z_]+|c\d+_(field|op))$"))(listeners.on_action)
    app.view(CALLBACK)(listeners.on_submit)


__all__ = ["CALLBACK", "Choices", "choices", "edit_modal", "new_modal", "open_new", "register", "trigger_id"]
