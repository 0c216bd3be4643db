"""The template catalog: every template validates, renders valid Block Kit and fires on its sample."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.core.template_checks import check_templates
from bot.sandbox.blockkit.validation import validate_message
from engine.actions import Company, PostMessage, RemindPeople, SendEmail, SetField, Skipped, plan_actions
from engine.approvals import plan_approval
from engine.catalog import DEFAULT_SLUGS, CatalogTemplate, catalog, customize, find_template, sample_for
from engine.conditions import EvalContext, evaluate
from engine.cron import CronSpec
from engine.errors import InvalidDefinitionError
from engine.facts import facts_of
from engine.lifecycle import is_triggered
from engine.records import RecordType
from engine.scheduled import select_scheduled
from engine.workflows import (
    ApprovalAction,
    NotificationAction,
    ReminderAction,
    SendAction,
    Trigger,
    UpdateAction,
    Workflow,
    is_approver_ref,
    parse_definition,
)
from messages.i18n import translations
from messages.render import Renderer

TZ = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 3, 30, 7, 0, tzinfo=UTC)  # Monday 09:00 in Paris
TEMPLATES = catalog()
IDS = [t.slug for t in TEMPLATES]
REQUIRED = [
    "invoice-approval", "bill-approval", "purchase-order-approval", "estimate-approval", "expense-approval",
    "payment-due-reminder", "unsent-invoice-send", "unsent-invoice-reminder", "bill-payment-reminder",
    "bank-deposit-reminder", "payment-received-thanks", "overdue-memo-stamp", "estimate-follow-up",
    "credit-memo-approval", "vendor-credit-approval", "large-payment-notification", "new-vendor-bill-notification",
    "sales-receipt-thank-you", "overdue-invoice-escalation",
]


def as_workflow(template: CatalogTemplate) -> Workflow:
    return Workflow(**template.definition.model_dump(), id=template.slug, created_at=NOW, updated_at=NOW)


def test_catalog_is_large_and_unique() -> None:
    assert len(TEMPLATES) == 60
    assert {t.definition.record_type for t in TEMPLATES} == set(RecordType)
    assert len(set(IDS)) == len(IDS)
    assert set(REQUIRED) <= set(IDS) and set(DEFAULT_SLUGS) <= set(IDS)
    assert {t.category for t in TEMPLATES} == {"approval", "reminder", "customer-email", "notification", "bookkeeping"}


@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
def test_template_validates_and_round_trips(template: CatalogTemplate) -> None:
    data = template.definition.model_dump(mode="json")
    assert parse_definition(data) == template.definition
    assert template.definition.name == template.title and template.definition.is_live()
    check_templates(template.definition, Renderer("en", "Europe/Paris"), NOW)
    if template.definition.schedule:
        CronSpec.parse(template.definition.schedule)


@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
def test_approver_placeholders_are_valid_group_refs(template: CatalogTemplate) -> None:
    approval = template.definition.approval()
    refs = [r for s in approval.steps for r in s.approvers] + approval.escalate_to if approval else []
    assert all(is_approver_ref(r) and r.startswith("group:") for r in refs)


@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
def test_template_fires_on_its_sample(template: CatalogTemplate) -> None:
    workflow = as_workflow(template)
    record, contact = sample_for(template, NOW, TZ)
    facts = facts_of(record, {f"{contact.kind.value}:{contact.id}": contact})
    ctx = EvalContext.at(NOW, TZ)
    if workflow.trigger is Trigger.SCHEDULED:
        assert CronSpec.parse(workflow.schedule or "").is_due(NOW, TZ)
        assert select_scheduled(workflow, [(record.key(), facts)], ctx) == [record.key()]
    else:
        is_new = workflow.trigger is not Trigger.UPDATED
        assert is_triggered(workflow, is_new, frozenset(workflow.trigger_fields or ["amount"]))
        assert evaluate(workflow.conditions, facts, ctx)


@pytest.mark.parametrize("locale", ["en", "fr"])
@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
def test_template_renders_valid_messages(template: CatalogTemplate, locale: str) -> None:
    renderer = Renderer(locale, "Europe/Paris")
    record, contact = sample_for(template, NOW, TZ)
    planned = plan_actions(as_workflow(template), record, contact, NOW, Company("Acme", "Europe/Paris"),
                           fallback=("U0ADMIN",), sender="billing@example.com")
    assert not [p for p in planned if isinstance(p, Skipped)]
    for item in planned:
        if isinstance(item, PostMessage | RemindPeople):
            text = renderer.user_text(item.template, **item.context).strip()
            message = renderer.json("notification.json.j2", kind="reminder", text=text, record_type=record.type.value,
                                    record_id=record.id, workflow_name=template.title)
            assert text and validate_message(message["blocks"], message["text"]) == []
            assert record.id in text
        if isinstance(item, SendEmail):
            subject = renderer.user_text(item.subject_template, **item.context)
            body = renderer.user_text(item.body_template, **item.context)
            assert subject.strip() and "\n" not in subject.strip() and "Sample Company Ltd" in body


def test_customize_replaces_placeholders() -> None:
    template = find_template("large-invoice-two-step-approval")
    assert template is not None
    data = customize(template, {"name": "Big invoices", "approvers": [["U01AAA", "U01BBB"], ["U01DDD"]],
                                "escalate_to": ["U0ADMIN"], "channel": "#billing", "status": "draft",
                                "enabled": False})
    definition = parse_definition(data)
    approval = definition.approval()
    assert approval is not None and [s.approvers for s in approval.steps] == [["U01AAA", "U01BBB"], ["U01DDD"]]
    assert approval.escalate_to == ["U0ADMIN"] and definition.status.value == "draft"
    assert data["actions"][1]["channel"] == "#billing" and definition.name == "Big invoices"
    flat = parse_definition(customize(template, {"approvers": ["U01CCC"]})).approval()
    assert flat is not None and [s.approvers for s in flat.steps] == [["U01CCC"], ["U01CCC"]]
    reminder = customize(find_template("bill-payment-reminder"), {"to": ["#ap"]})  # type: ignore[arg-type]
    assert reminder["actions"][0]["to"] == ["#ap"]


def test_customize_refuses_unknown_overrides() -> None:
    template = find_template("bill-approval")
    assert template is not None
    with pytest.raises(InvalidDefinitionError) as caught:
        customize(template, {"colour": "red"})
    assert caught.value.details[0]["path"] == "colour"
    assert customize(template, None) == template.definition.model_dump(mode="json")


GROUPS = {"finance-approvers": ("U01AAA", "U01BBB"), "finance-leads": ("U01DDD",), "finance-team": ("U01CCC",)}
KINDS = {ApprovalAction: "approval", NotificationAction: "notification", ReminderAction: "reminder",
         SendAction: "send", UpdateAction: "update"}


def test_every_record_type_has_approvals_and_follow_ups() -> None:
    by_type: dict[RecordType, set[str]] = {}
    for template in TEMPLATES:
        kinds = {KINDS[type(a)] for a in template.definition.actions}
        by_type.setdefault(template.definition.record_type, set()).update(kinds)
    assert all(len(kinds) >= 3 for kinds in by_type.values()), by_type
    assert [t for t, kinds in by_type.items() if "approval" not in kinds] == [RecordType.PAYMENT]
    assert set().union(*by_type.values()) == set(KINDS.values())


def planned_kinds(template: CatalogTemplate) -> list[tuple[int, str]]:
    """Return what each action of a template plans on its sample, as (action index, kind)."""
    workflow = as_workflow(template)
    record, contact = sample_for(template, NOW, TZ)
    planned = plan_actions(workflow, record, contact, NOW, Company("Acme", "Europe/Paris"), people_groups=GROUPS,
                           sender="billing@example.com")
    found: list[tuple[int, str]] = []
    for item in planned:
        action = workflow.actions[item.action_index]
        if isinstance(item, PostMessage):
            targets = [action.channel] if isinstance(action, NotificationAction) and action.channel else []
            assert item.target in targets + list(getattr(action, "to", []))
            assert item.context["record"]["id"] == record.id
        elif isinstance(item, RemindPeople):
            assert item.targets == GROUPS["finance-team"] and item.new_tasks == item.targets
        elif isinstance(item, SendEmail):
            assert item.to == contact.email and isinstance(action, SendAction)
            assert item.cc == (("billing@example.com",) if action.copy_sender else ())
        elif isinstance(item, SetField) and isinstance(action, UpdateAction):
            assert (item.field, item.value) == (action.field, action.value) and item.previous != item.value
        found.append((item.action_index, type(item).__name__))
    return found


@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
def test_template_actions_plan_what_they_should_on_its_sample(template: CatalogTemplate) -> None:
    expected = {NotificationAction: ["PostMessage"], ReminderAction: ["RemindPeople"],
                SendAction: ["SendEmail", "SetField", "SetField"], UpdateAction: ["SetField"], ApprovalAction: []}
    wanted = [(i, kind) for i, a in enumerate(template.definition.actions) for kind in expected[type(a)]]
    assert planned_kinds(template) == wanted
    approval = template.definition.approval()
    if approval is not None:
        record, _ = sample_for(template, NOW, TZ)
        request = plan_approval("AR-1", record, as_workflow(template), NOW, GROUPS).request
        steps = [[m for ref in s.approvers for m in GROUPS[ref.removeprefix("group:")]] for s in approval.steps]
        assert [list(s.approvers) for s in request.steps] == steps and request.requester == record.created_by


@pytest.mark.parametrize("template", TEMPLATES, ids=IDS)
def test_template_title_and_description_are_in_french(template: CatalogTemplate) -> None:
    french = translations("fr")
    title, description = french.gettext(template.title), french.gettext(template.description)
    assert title != template.title and description != template.description
    assert "%" not in template.title + template.description
    for locale, wanted in (("en", template.title), ("fr", title)):
        renderer = Renderer(locale, "Europe/Paris")
        message = renderer.json("commands_templates.json.j2", templates=[{**template.summary(), "workflow": {}}],
                                pager={"total": 1, "page": 1, "pages": 1, "previous": None, "next": None},
                                categories=[template.category])
        assert validate_message(message["blocks"], message["text"]) == [] and wanted in str(message)
