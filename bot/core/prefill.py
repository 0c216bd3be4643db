"""Pre-fill hooks: the record-save and contact-save hooks, re-running rules that change, and an approver's choice."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.core.notices import enqueue_notices
from engine.approvals import Decision, check_may_decide
from engine.conditions import EvalContext
from engine.errors import PrefillChoiceError, VoteRefusedError
from engine.groups import is_auto_member_after_change
from engine.notify import refresh_notice
from engine.records import Contact, Record
from engine.rules import (
    ABSENT,
    AppliedPrefill,
    ChangeInputs,
    PrefillPlan,
    Rule,
    RuleChange,
    RuleStatus,
    choose_prefill,
    is_open_to_prefill,
    kept_prefills,
    plan_prefills,
    plan_rule_change,
    prefill_choices,
    read_field,
    selected_option,
)
from storage.models import AuditLine, RecordKey
from storage.ports import Repository

UTC_ZONE = ZoneInfo("UTC")


def _absent_as_none(value: Any) -> Any:
    return None if value is ABSENT else value


def _text(value: Any) -> str | None:
    return None if value is ABSENT or value is None else str(value)


async def _context(repo: Repository, rules: Sequence[Rule], now: datetime, tz: ZoneInfo) -> EvalContext:
    names = {name for rule in rules for name in rule.group_refs()}
    groups = await repo.contact_group_members(names) if names else {}
    return EvalContext.at(now, tz, groups)


def _reads_contacts(rules: Sequence[Rule]) -> bool:
    return any(c.field.startswith(("customer.", "vendor.")) for r in rules for c in r.conditions)


async def _contact_index(repo: Repository, rules: Sequence[Rule]) -> dict[str, Contact]:
    if not _reads_contacts(rules):
        return {}
    return {f"{c.kind.value}:{c.id}": c for c in await repo.all_contacts()}


def _audit_detail(plan: PrefillPlan, rule_id: str | None) -> dict[str, Any]:
    return {
        "rule_id": rule_id,
        "fields": {name: {"from": _absent_as_none(old), "to": _absent_as_none(new)}
                   for name, (old, new) in sorted(plan.changed_values.items())},
        "suggestions": {name: plan.applied[name].prefill.value
                        for name in sorted(plan.changed_rows)
                        if name in plan.applied and plan.applied[name].prefill.is_suggestion},
    }


@dataclass(frozen=True)
class PrefillStep:
    """Who did what, and when, for a batch of pre-fill changes."""

    now: datetime
    actor: str | None
    action: str
    rule_id: str | None = None


async def _store_plans(
    repo: Repository, plans: Sequence[tuple[RecordKey, PrefillPlan]], step: PrefillStep
) -> None:
    await repo.update_records((p.record for _, p in plans if p.changed_values), step.now)
    await repo.replace_prefills(((key, p.changed_rows, p.applied) for key, p in plans), step.now)
    await repo.audit_many(
        AuditLine(step.now, step.actor, step.action, key, detail=_audit_detail(p, step.rule_id)) for key, p in plans
    )
    await enqueue_notices(repo, map(refresh_notice, await repo.open_request_ids(key for key, _ in plans)), step.now)


async def _change_inputs(repo: Repository, change: RuleChange) -> ChangeInputs:
    involved = await repo.records_using_rule(change.old_id) if change.old_id else set()
    rules = [r for r in (change.new_rule,) if r is not None]
    contacts = await _contact_index(repo, [*await repo.list_rules(RuleStatus.PUBLISHED.value), *rules])
    return ChangeInputs(await repo.records_open_to_prefill(), await repo.all_prefills(), contacts, frozenset(involved))


async def plan_for_rule(
    repo: Repository, change: RuleChange, rules: Sequence[Rule], now: datetime, tz: ZoneInfo
) -> list[tuple[RecordKey, PrefillPlan]]:
    """Plan (without storing) what a rule change does; `rules` are the published rules after it."""
    if not change.scope:
        return []
    ctx = await _context(repo, rules, now, tz)
    return plan_rule_change(rules, change, await _change_inputs(repo, change), ctx)


async def recompute_for_rule(
    repo: Repository, change: RuleChange, tz: ZoneInfo, step: PrefillStep
) -> list[tuple[RecordKey, PrefillPlan]]:
    """Re-run the published rules on every not-yet-approved record a rule change concerns."""
    rules = await repo.list_rules(RuleStatus.PUBLISHED.value)
    plans = await plan_for_rule(repo, change, rules, step.now, tz)
    await _store_plans(repo, plans, step)
    return plans


def _reads_contacts_or_groups(rules: Sequence[Rule]) -> bool:
    return _reads_contacts(rules) or any(r.group_refs() for r in rules)


async def recompute_for_contacts(
    repo: Repository, kind: str, contact_ids: Iterable[str], tz: ZoneInfo, step: PrefillStep,
) -> list[tuple[RecordKey, PrefillPlan]]:
    """Re-run the published rules on the not-yet-approved records of these customers (or vendors): what rules
    reading a contact's fields or groups pre-fill follows a change of those."""
    ids = set(contact_ids)
    rules = await repo.list_rules(RuleStatus.PUBLISHED.value)
    if not ids or not _reads_contacts_or_groups(rules):
        return []
    ctx = await _context(repo, rules, step.now, tz)
    plans = []
    for record in await repo.records_open_to_prefill_of(kind, ids):
        applied = await repo.prefills_of(*record.key())
        plan = plan_prefills(record, applied, rules, await repo.contacts_of(record), ctx)
        if plan.is_change():
            plans.append((record.key(), plan))
    await _store_plans(repo, plans, step)
    return plans


async def apply_prefills(repo: Repository, record: Record, now: datetime, tz: ZoneInfo = UTC_ZONE) -> Record:
    """Apply the published rules to a record being saved; a person's value stays and the rule's is suggested (once
    approved, what rules filled stays where the save leaves it blank)."""
    if not is_open_to_prefill(record):
        return kept_prefills(record, await repo.prefills_of(*record.key()))
    rules = await repo.list_rules(RuleStatus.PUBLISHED.value)
    applied = await repo.prefills_of(*record.key())
    if not rules and not applied:
        return record
    ctx = await _context(repo, rules, now, tz)
    plan = plan_prefills(record, applied, rules, await repo.contacts_of(record), ctx)
    if plan.is_change():
        await repo.replace_prefills([(record.key(), plan.changed_rows, plan.applied)], now)
        await repo.audit_many([AuditLine(now, None, "prefilled", record.key(), detail=_audit_detail(plan, None))])
    return plan.record


async def on_contact_saved(repo: Repository, contact: Contact, now: datetime, tz: ZoneInfo = UTC_ZONE) -> None:
    """Update the automatic groups of a contact that was created or changed."""
    ctx = EvalContext.at(now, tz)
    for group in await repo.automatic_groups(contact.kind.value):
        is_member = is_auto_member_after_change(group, contact, ctx)
        if is_member is not None:
            await repo.set_auto_member(group.id, contact.id, is_member)


async def choose_in(repo: Repository, request_id: str, field: str, option: str, actor: str, now: datetime) -> bool:
    """Set a pre-filled field to an offered value before approving, in `repo`; tell whether anything changed."""
    request = await repo.get_request(request_id)
    if request is None:
        raise VoteRefusedError("This request no longer exists.", "not_found")
    check_may_decide(request, actor, Decision.APPROVE)
    record = await repo.get_record(request.record_type, request.record_id)
    applied = (await repo.prefills_of(request.record_type, request.record_id)).get(field)
    if record is None or applied is None:
        raise PrefillChoiceError("This field has no pre-filled value to choose from.")
    if option == selected_option(applied):
        return False
    after, chosen = choose_prefill(record, applied, option, actor)
    await repo.save_record(after.model_copy(update={"updated_at": now}))
    await repo.replace_prefills([(record.key(), [field], {field: chosen})], now)
    await repo.audit(now, actor, "prefill_chosen", record.key(), _text(read_field(record, field)),
                     _text(read_field(after, field)),
                     {"field": field, "option": option, "request_id": request_id,
                      "offered": [_absent_as_none(v) for _, v in prefill_choices(applied)]})
    await enqueue_notices(repo, [refresh_notice(request_id)], now)
    return True


def prefill_json(applied: Mapping[str, AppliedPrefill]) -> list[dict[str, Any]]:
    """Return a record's pre-fills as API JSON."""
    return [
        {"field": a.field, "value": a.prefill.value, "rule_id": a.prefill.rule_id,
         "is_suggestion": a.prefill.is_suggestion, "previous": _absent_as_none(a.previous), "chosen_by": a.chosen_by,
         "competing": [{"value": v, "rule_id": r} for v, r in a.prefill.competing]}
        for a in sorted(applied.values(), key=lambda a: a.field)
    ]
