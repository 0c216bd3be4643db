"""Pre-fill rules and groups: publishing, the record-save and contact-save hooks, choices, e-mail."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from bot.core.deps import Deps
from bot.core.notices import enqueue_notices
from bot.errors import Conflict, NotFound, Unprocessable
from bot.senders.email import Email
from engine.approvals import Decision, check_may_decide
from engine.conditions import EvalContext
from engine.errors import InvalidDefinitionError, PrefillChoiceError, VoteRefusedError
from engine.groups import (
    Group,
    GroupDefinition,
    GroupKind,
    Membership,
    auto_members,
    is_auto_member_after_change,
    member_problems,
    needs_recompute,
    parse_group,
)
from engine.notify import refresh_notice
from engine.records import Contact, Record
from engine.rules import (
    ABSENT,
    AppliedPrefill,
    ChangeInputs,
    ChangePreview,
    PrefillPlan,
    Rule,
    RuleChange,
    RuleDefinition,
    RuleStatus,
    choose_prefill,
    is_open_to_prefill,
    parse_rule,
    plan_prefills,
    plan_rule_change,
    prefill_choices,
    preview_of,
    read_field,
    rule_change,
    rules_after,
    selected_option,
)
from messages.errors import TemplateInvalidError
from storage.models import AuditLine, RecordKey
from storage.ports import Repository

UTC_ZONE = ZoneInfo("UTC")
MAX_SUBJECT = 300
MAX_MESSAGE = 20000
MAX_RECIPIENTS = 1000


def _new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:16]}"


def _absent_as_none(value: Any) -> Any:
    return None if value is ABSENT else value


def _text(value: Any) -> str | None:
    return None if value is ABSENT or value is None else str(value)


def _unprocessable(exc: InvalidDefinitionError) -> Unprocessable:
    return Unprocessable(str(exc), exc.details)


# shared by the hooks and the service


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
class _Step:
    """Who did what, and when, for a batch of pre-fill changes."""

    now: datetime
    actor: str | None
    action: str
    rule_id: str | None = None


async def _store_plans(repo: Repository, plans: Sequence[tuple[RecordKey, PrefillPlan]], step: _Step) -> None:
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
    repo: Repository, change: RuleChange, tz: ZoneInfo, step: _Step
) -> list[tuple[RecordKey, PrefillPlan]]:
    """Re-run the published rules on every not-yet-approved record a rule change concerns."""
    rules = await repo.list_rules(RuleStatus.PUBLISHED.value)
    plans = await plan_for_rule(repo, change, rules, step.now, tz)
    await _store_plans(repo, plans, step)
    return plans


async def apply_prefills(repo: Repository, record: Record, now: datetime, tz: ZoneInfo = UTC_ZONE) -> Record:
    """Apply the published rules to a record being saved; a person's value stays and the rule's is suggested."""
    if not is_open_to_prefill(record):
        return record
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


async def group_users(repo: Repository, name: str) -> list[dict[str, str]]:
    """Return, as error details, every workflow and rule that uses a group."""
    found = [{"path": f"workflows.{w.id}", "message": f"used by workflow {w.name!r}"}
             for w in await repo.list_workflows() if name in w.group_refs()]
    found += [{"path": f"rules.{r.id}", "message": f"used by rule {r.name!r}"}
              for r in await repo.list_rules() if name in r.group_refs()]
    return found


# the service


@dataclass(frozen=True)
class RuleResult:
    """A rule after a change, and how many documents' values changed with it."""

    rule: Rule | None
    records_changed: int


def _definition_changes(old: Rule | None, definition: RuleDefinition, now: datetime) -> dict[str, Any]:
    data = definition.model_dump()
    if old is None:
        return {**data, "id": _new_id("rule_"), "created_at": now, "updated_at": now}
    return {**data, "id": old.id, "created_at": old.created_at, "updated_at": now}


class RulesService:
    """Rules and groups, for the REST API, Slack and the CLI."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.db = deps.db

    def _now(self) -> datetime:
        return self.deps.clock.now()

    @property
    def tz(self) -> ZoneInfo:
        """Return the company time zone."""
        return self.deps.settings.tz

    # rules
    async def list_rules(self) -> list[Rule]:
        """Return every rule, oldest first."""
        async with self.db.read() as repo:
            return await repo.list_rules()

    async def get_rule(self, rule_id: str) -> Rule:
        """Return a rule or raise NotFound."""
        async with self.db.read() as repo:
            return await self._rule(repo, rule_id)

    async def _rule(self, repo: Repository, rule_id: str) -> Rule:
        rule = await repo.get_rule(rule_id)
        if rule is None:
            raise NotFound(f"no rule {rule_id!r}")
        return rule

    def parse(self, data: Any) -> RuleDefinition:
        """Validate a rule definition or raise Unprocessable naming the field paths."""
        try:
            return parse_rule(data)
        except InvalidDefinitionError as exc:
            raise _unprocessable(exc) from exc

    async def create_rule(self, data: Any, actor: str | None = None) -> RuleResult:
        """Store a new rule; a published one pre-fills matching documents at once."""
        definition = self.parse(data)
        async with self.deps.unit_of_work() as repo:
            result = await self._put(repo, None, definition, actor)
        return result

    async def update_rule(self, rule_id: str, data: Any, actor: str | None = None) -> RuleResult:
        """Replace a rule's definition; documents follow when it is (or was) published."""
        definition = self.parse(data)
        async with self.deps.unit_of_work() as repo:
            result = await self._put(repo, await self._rule(repo, rule_id), definition, actor)
        return result

    async def set_status(self, rule_id: str, status: RuleStatus, actor: str | None = None) -> RuleResult:
        """Publish (pre-fill matching documents) or unpublish (undo exactly its pre-fills)."""
        async with self.deps.unit_of_work() as repo:
            old = await self._rule(repo, rule_id)
            result = await self._put(repo, old, old.definition().model_copy(update={"status": status}), actor)
        return result

    async def delete_rule(self, rule_id: str, actor: str | None = None) -> RuleResult:
        """Delete a rule, first undoing its pre-fills on not-yet-approved documents."""
        async with self.deps.unit_of_work() as repo:
            old = await self._rule(repo, rule_id)
            await repo.delete_rule(rule_id)
            await repo.audit(self._now(), actor, "rule_deleted", ("rule", rule_id), old.status.value, None)
            changed = await self._follow(repo, old, None, actor)
        return RuleResult(None, changed)

    async def _put(
        self, repo: Repository, old: Rule | None, definition: RuleDefinition, actor: str | None
    ) -> RuleResult:
        await self._check_name_free(repo, definition.name, old.id if old else None)
        rule = Rule.model_validate(_definition_changes(old, definition, self._now()))
        await repo.save_rule(rule)
        action = "rule_created" if old is None else _status_action(old, rule)
        await repo.audit(self._now(), actor, action, ("rule", rule.id), old.status.value if old else None,
                         rule.status.value)
        return RuleResult(rule, await self._follow(repo, old, rule, actor))

    async def _check_name_free(self, repo: Repository, name: str, own_id: str | None) -> None:
        clash = next((r for r in await repo.list_rules() if r.name == name and r.id != own_id), None)
        if clash is not None:
            raise Conflict(f"a rule named {name!r} already exists ({clash.id})")

    async def _follow(self, repo: Repository, old: Rule | None, new: Rule | None, actor: str | None) -> int:
        change = rule_change(old, new)
        action = "prefilled" if change.new_rule else "prefill_removed"
        subject = new or old
        step = _Step(self._now(), actor, action, subject.id if subject else None)
        plans = await recompute_for_rule(repo, change, self.tz, step)
        return preview_of(plans).count

    async def preview_status(self, rule_id: str, status: RuleStatus) -> tuple[Rule, ChangePreview]:
        """Return the rule and the documents publishing (or unpublishing) it would change, changing nothing."""
        async with self.db.read() as repo:
            old = await self._rule(repo, rule_id)
            new = old.model_copy(update={"status": status})
            rules = rules_after(await repo.list_rules(RuleStatus.PUBLISHED.value), old, new)
            plans = await plan_for_rule(repo, rule_change(old, new), rules, self._now(), self.tz)
        return old, preview_of(plans)

    async def prefills(self, record_type: str, record_id: str) -> dict[str, AppliedPrefill]:
        """Return the pre-fills of a record."""
        async with self.db.read() as repo:
            return await repo.prefills_of(record_type, record_id)

    # an approver picks another value
    async def choose(self, request_id: str, field: str, option: str, actor: str) -> bool:
        """Set a pre-filled field to an offered value before approving; tell whether anything changed."""
        now = self._now()
        async with self.deps.unit_of_work() as repo:
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

    # groups
    async def list_groups(self) -> list[tuple[Group, Membership]]:
        """Return every group with its membership."""
        async with self.db.read() as repo:
            return [(g, await repo.membership(g.id)) for g in await repo.list_groups()]

    async def get_group(self, ref: str) -> tuple[Group, Membership]:
        """Return a group (by id or name) with its membership, or raise NotFound."""
        async with self.db.read() as repo:
            group = await self._group(repo, ref)
            return group, await repo.membership(group.id)

    async def _group(self, repo: Repository, ref: str) -> Group:
        group = await repo.get_group(ref) or await repo.group_named(ref)
        if group is None:
            raise NotFound(f"no group {ref!r}")
        return group

    def _parse_group(self, data: Any) -> GroupDefinition:
        try:
            return parse_group(data)
        except InvalidDefinitionError as exc:
            raise _unprocessable(exc) from exc

    async def create_group(self, data: Any, actor: str | None = None) -> tuple[Group, Membership]:
        """Store a new group; `members` in the body are manual additions."""
        body = dict(data) if isinstance(data, Mapping) else data
        members = body.pop("members", []) if isinstance(body, dict) else []
        definition = self._parse_group(body)
        _raise_members(member_problems(definition.kind, members, "members"))
        now = self._now()
        async with self.deps.unit_of_work() as repo:
            await self._check_group_name_free(repo, definition.name, None)
            await self._check_contacts_exist(repo, definition.kind, members, "members")
            group = Group(**definition.model_dump(), id=_new_id("grp_"), created_at=now, updated_at=now)
            await repo.save_group(group)
            membership = Membership(await self._matches(repo, group)).with_added(members)
            await repo.save_membership(group.id, Membership(), membership)
            await repo.audit(now, actor, "group_created", ("group", group.id), None, group.kind.value)
        return group, membership

    async def update_group(self, ref: str, data: Any, actor: str | None = None) -> tuple[Group, Membership]:
        """Replace a group's definition; filters that change (or turning automatic on) recompute it."""
        definition = self._parse_group(data)
        now = self._now()
        async with self.deps.unit_of_work() as repo:
            old = await self._group(repo, ref)
            await self._check_group_change(repo, old, definition)
            group = Group(**definition.model_dump(), id=old.id, created_at=old.created_at, updated_at=now)
            await repo.save_group(group)
            before = await repo.membership(group.id)
            after = before
            if needs_recompute(old, group):
                after = Membership(await self._matches(repo, group), before.added, before.removed)
                await repo.save_membership(group.id, before, after)
            await repo.audit(now, actor, "group_updated", ("group", group.id))
        return group, after

    async def _check_group_change(self, repo: Repository, old: Group, new: GroupDefinition) -> None:
        if new.kind is not old.kind:
            raise Unprocessable("a group's kind cannot change", [{"path": "kind", "message": "cannot change"}])
        await self._check_group_name_free(repo, new.name, old.id)
        users = await group_users(repo, old.name) if new.name != old.name else []
        if users:
            raise Conflict(f"group {old.name!r} cannot be renamed: it is {users[0]['message']}", users)

    async def _check_group_name_free(self, repo: Repository, name: str, own_id: str | None) -> None:
        clash = await repo.group_named(name)
        if clash is not None and clash.id != own_id:
            raise Conflict(f"a group named {name!r} already exists ({clash.id})")

    async def _check_contacts_exist(self, repo: Repository, kind: GroupKind, ids: Sequence[str], path: str) -> None:
        if kind is GroupKind.PEOPLE:
            return
        problems = [{"path": f"{path}[{i}]", "message": f"no {kind.value} {member!r}"}
                    for i, member in enumerate(ids) if await repo.get_contact(kind.value, member) is None]
        _raise_members(problems)

    async def _matches(self, repo: Repository, group: Group) -> frozenset[str]:
        if not group.is_contact_group() or not group.filters:
            return frozenset()
        ctx = EvalContext.at(self._now(), self.tz)
        return auto_members(group, await repo.all_contacts(group.kind.value), ctx)

    async def delete_group(self, ref: str, actor: str | None) -> None:
        """Delete a group, never while a workflow or rule uses it (the API lets only admin tokens call this)."""
        async with self.deps.unit_of_work() as repo:
            group = await self._group(repo, ref)
            users = await group_users(repo, group.name)
            if users:
                raise Conflict(f"group {group.name!r} cannot be deleted: it is {users[0]['message']}", users)
            await repo.delete_group(group.id)
            await repo.audit(self._now(), actor, "group_deleted", ("group", group.id), group.kind.value, None)

    async def change_members(
        self, ref: str, add: Any, remove: Any, actor: str | None = None
    ) -> tuple[Group, Membership]:
        """Add and remove members by hand; a manual removal survives automatic updates."""
        async with self.deps.unit_of_work() as repo:
            group = await self._group(repo, ref)
            add, remove = add or [], remove or []
            _raise_members(member_problems(group.kind, add, "add") + member_problems(group.kind, remove, "remove"))
            _raise_members([{"path": "remove", "message": f"{m!r} is both added and removed"}
                            for m in sorted(set(add) & set(remove))])
            await self._check_contacts_exist(repo, group.kind, add, "add")
            before = await repo.membership(group.id)
            after = before.with_added(add).with_removed(remove)
            await repo.save_membership(group.id, before, after)
            await repo.audit(self._now(), actor, "group_members_changed", ("group", group.id), None, None,
                             {"added": sorted(add), "removed": sorted(remove)})
        return group, after

    async def email_group(
        self, ref: str, subject: Any, message: Any, actor: str | None = None, to: Any = None,
    ) -> dict[str, Any]:
        """Queue an e-mail to the members of a customer or vendor group that have an address (all, or those in `to`)."""
        _check_email_texts(subject, message)
        _check_recipients(to)
        if not self.deps.settings.smtp_url:
            raise Conflict("e-mail is off: set SIGNOFF_SMTP_URL")
        async with self.deps.unit_of_work() as repo:
            group = await self._group(repo, ref)
            if not group.is_contact_group():
                raise Unprocessable("only customer and vendor groups can be e-mailed",
                                    [{"path": "(group)", "message": "a people group has no e-mail addresses"}])
            members = chosen_members(sorted((await repo.membership(group.id)).members()), to)
            contacts = [await repo.get_contact(group.kind.value, m) for m in members]
            emails, skipped = self._emails(group, [c for c in contacts if c is not None], subject, message)
            for email in emails:
                await repo.enqueue("email", email.to[0], email.to_json(), self._now())
            await repo.audit(self._now(), actor, "group_emailed", ("group", group.id), None, None,
                             {"subject": subject, "sent": len(emails), "skipped": skipped,
                              "recipients": members if to is not None else "all"})
        return {"queued": len(emails), "skipped": skipped, "recipients": members}

    def _emails(
        self, group: Group, contacts: Sequence[Contact], subject: str, message: str
    ) -> tuple[list[Email], list[str]]:
        emails, skipped = [], []
        for contact in contacts:
            if not contact.email:
                skipped.append(contact.id)
                continue
            context = {"contact": contact.model_dump(mode="json"), "group": {"name": group.name}}
            emails.append(Email(to=[contact.email], subject=self._render(subject, "subject", context).strip(),
                                body=self._render(message, "message", context)))
        return emails, skipped

    def _render(self, source: str, path: str, context: dict[str, Any]) -> str:
        try:
            return self.deps.renderer.user_text(source, **context)
        except TemplateInvalidError as exc:
            raise Unprocessable(f"{path}: {exc}", [{"path": path, "message": str(exc)}]) from exc

    # YAML
    async def apply_yaml(self, text: str, actor: str | None = None) -> list[RuleResult]:
        """Create or update (by name) every rule of a YAML document, all or nothing."""
        definitions = _definitions_from_yaml(text)
        results = []
        async with self.deps.unit_of_work() as repo:
            by_name = {r.name: r for r in await repo.list_rules()}
            for definition in definitions:
                results.append(await self._put(repo, by_name.get(definition.name), definition, actor))
        return results


def _status_action(old: Rule, new: Rule) -> str:
    if old.status is new.status:
        return "rule_updated"
    return "rule_published" if new.is_published() else "rule_unpublished"


def _raise_members(problems: list[dict[str, str]]) -> None:
    if problems:
        raise Unprocessable(f"invalid members: {problems[0]['path']}: {problems[0]['message']}", problems)


def _check_recipients(to: Any) -> None:
    if to is None:
        return
    if not isinstance(to, list) or not to or not all(isinstance(m, str) and m for m in to):
        raise Unprocessable("to must list the members to e-mail",
                            [{"path": "to", "message": "a non-empty list of member ids"}])
    if len(to) > MAX_RECIPIENTS:
        raise Unprocessable("too many recipients", [{"path": "to", "message": f"at most {MAX_RECIPIENTS}"}])


def chosen_members(members: Sequence[str], to: Sequence[str] | None) -> list[str]:
    """Return the members to e-mail: all of them, or those chosen (each must be a member); raise Unprocessable."""
    if to is None:
        return list(members)
    known = set(members)
    problems = [{"path": f"to[{i}]", "message": f"{m!r} is not a member of the group"}
                for i, m in enumerate(to) if m not in known]
    _raise_members(problems)
    return list(dict.fromkeys(to))


def _check_email_texts(subject: Any, message: Any) -> None:
    problems = []
    for path, value, limit in (("subject", subject, MAX_SUBJECT), ("message", message, MAX_MESSAGE)):
        if not isinstance(value, str) or not value.strip():
            problems.append({"path": path, "message": "required: a non-empty text"})
        elif len(value) > limit:
            problems.append({"path": path, "message": f"at most {limit} characters"})
    if problems:
        raise Unprocessable(f"invalid e-mail: {problems[0]['path']}: {problems[0]['message']}", problems)


# YAML apply and export


def rules_to_yaml(rules: Iterable[Rule]) -> str:
    """Return rules as a YAML document (`rules:` list of definitions) that apply_rules_yaml reads back."""
    items = [r.definition().model_dump(mode="json", exclude_none=True) for r in rules]
    return yaml.safe_dump({"rules": items}, sort_keys=False, allow_unicode=True)


def _definitions_from_yaml(text: str) -> list[RuleDefinition]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise Unprocessable(f"not valid YAML: {exc}", [{"path": "(yaml)", "message": str(exc)}]) from exc
    items = data.get("rules") if isinstance(data, dict) and "rules" in data else data
    items = [items] if isinstance(items, dict) else items
    if not isinstance(items, list):
        raise Unprocessable("expected a list of rules", [{"path": "rules", "message": "expected a list of rules"}])
    return _parse_all(items)


def _parse_all(items: list[Any]) -> list[RuleDefinition]:
    definitions, problems = [], []
    for index, item in enumerate(items):
        try:
            definitions.append(parse_rule(item))
        except InvalidDefinitionError as exc:
            problems += [{"path": f"rules[{index}].{d['path']}", "message": d["message"]} for d in exc.details]
    names = [d.name for d in definitions]
    twice = sorted(n for n in set(names) if names.count(n) > 1)
    problems += [{"path": "rules", "message": f"rule {n!r} appears twice"} for n in twice]
    if problems:
        raise Unprocessable(f"invalid rules: {problems[0]['path']}: {problems[0]['message']}", problems)
    return definitions


async def apply_rules_yaml(service: RulesService, text: str, actor: str | None = None) -> list[RuleResult]:
    """Create or update the rules of a YAML document (by name), all or nothing."""
    return await service.apply_yaml(text, actor)


def membership_json(membership: Membership) -> dict[str, list[str]]:
    """Return a membership as API JSON."""
    return {"members": sorted(membership.members()), "auto": sorted(membership.auto),
            "added": sorted(membership.added), "removed": sorted(membership.removed)}


def prefill_json(applied: Mapping[str, AppliedPrefill]) -> list[dict[str, Any]]:
    """Return a record's pre-fills as API JSON."""
    return [
        {"field": a.field, "value": a.prefill.value, "rule_id": a.prefill.rule_id,
         "is_suggestion": a.prefill.is_suggestion, "previous": _absent_as_none(a.previous), "chosen_by": a.chosen_by,
         "competing": [{"value": v, "rule_id": r} for v, r in a.prefill.competing]}
        for a in sorted(applied.values(), key=lambda a: a.field)
    ]
