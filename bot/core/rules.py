"""Pre-fill rules: publishing, previews, an approver's choice among pre-filled values, YAML apply and export."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml

from bot.core import yaml_text
from bot.core.approvals import Approvals
from bot.core.deps import Deps
from bot.core.groups import check_condition_groups
from bot.core.prefill import PrefillStep, choose_in, plan_for_rule, recompute_for_rule
from bot.errors import Conflict, NotFound, Unprocessable
from engine.echo import identity_problems, split_echo
from engine.errors import InvalidDefinitionError
from engine.rules import (
    ECHOED,
    AppliedPrefill,
    ChangePreview,
    Rule,
    RuleDefinition,
    RuleStatus,
    parse_rule,
    preview_of,
    rule_change,
    rules_after,
)
from storage.ports import Repository


def _new_id(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:16]}"


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
    """Pre-fill rules, for the REST API, Slack and the CLI."""

    def __init__(self, deps: Deps, approvals: Approvals) -> None:
        self.deps = deps
        self.db = deps.db
        self.approvals = approvals

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
            raise NotFound.no("rule", rule_id)
        return rule

    def parse(self, data: Any) -> RuleDefinition:
        """Validate a rule definition or raise Unprocessable naming the field paths."""
        try:
            return parse_rule(data)
        except InvalidDefinitionError as exc:
            raise Unprocessable(str(exc), exc.details) from exc

    async def create_rule(self, data: Any, actor: str | None = None) -> RuleResult:
        """Store a new rule; a published one pre-fills matching documents at once."""
        definition = self.parse(data)
        async with self.deps.unit_of_work() as repo:
            result = await self._put(repo, None, definition, actor)
        return result

    async def update_rule(self, rule_id: str, data: Any, actor: str | None = None) -> RuleResult:
        """Replace a rule's definition; documents follow when it is (or was) published. A body as GET returned it may
        repeat its read-only keys (`ECHOED`): its `id` that of the rule addressed (else Unprocessable), the others
        ignored."""
        body, echoed = split_echo(data, ECHOED)
        definition = self.parse(body)
        async with self.deps.unit_of_work() as repo:
            old = await self._rule(repo, rule_id)
            if problems := identity_problems(echoed, {"id": old.id}):
                raise Unprocessable("read-only keys differ from the rule's", problems)
            result = await self._put(repo, old, definition, actor)
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
            await repo.audit(self.deps.clock.now(), actor, "rule_deleted", ("rule", rule_id), old.status.value, None)
            changed = await self._follow(repo, old, None, actor)
        return RuleResult(None, changed)

    async def _put(
        self, repo: Repository, old: Rule | None, definition: RuleDefinition, actor: str | None
    ) -> RuleResult:
        await self._check_name_free(repo, definition.name, old.id if old else None)
        await check_condition_groups(repo, definition.conditions)
        rule = Rule.model_validate(_definition_changes(old, definition, self.deps.clock.now()))
        await repo.save_rule(rule)
        action = "rule_created" if old is None else _status_action(old, rule)
        await repo.audit(self.deps.clock.now(), actor, action, ("rule", rule.id), old.status.value if old else None,
                         rule.status.value)
        return RuleResult(rule, await self._follow(repo, old, rule, actor))

    async def _check_name_free(self, repo: Repository, name: str, own_id: str | None) -> None:
        clash = next((r for r in await repo.list_rules() if r.name == name and r.id != own_id), None)
        if clash is not None:
            raise Conflict(f"a rule named {name!r} already exists ({clash.id})", why="name_taken",
                           params={"kind": "rule", "name": name})

    async def _follow(self, repo: Repository, old: Rule | None, new: Rule | None, actor: str | None) -> int:
        change = rule_change(old, new)
        action = "prefilled" if change.new_rule else "prefill_removed"
        subject = new or old
        step = PrefillStep(self.deps.clock.now(), actor, action, subject.id if subject else None)
        plans = await recompute_for_rule(repo, change, self.deps.settings.tz, step)
        await self.approvals.reroute(repo, [key for key, plan in plans if plan.changed_values])
        return preview_of(plans).count

    async def preview_status(self, rule_id: str, status: RuleStatus) -> tuple[Rule, ChangePreview]:
        """Return the rule and the documents publishing (or unpublishing) it would change, changing nothing."""
        async with self.db.read() as repo:
            old = await self._rule(repo, rule_id)
            new = old.model_copy(update={"status": status})
            rules = rules_after(await repo.list_rules(RuleStatus.PUBLISHED.value), old, new)
            now, tz = self.deps.clock.now(), self.deps.settings.tz
            plans = await plan_for_rule(repo, rule_change(old, new), rules, now, tz)
        return old, preview_of(plans)

    async def prefills(self, record_type: str, record_id: str) -> dict[str, AppliedPrefill]:
        """Return the pre-fills of a record."""
        async with self.db.read() as repo:
            return await repo.prefills_of(record_type, record_id)

    async def choose(self, request_id: str, field: str, option: str, actor: str) -> bool:
        """Set a pre-filled field to an offered value before approving; tell whether anything changed."""
        now = self.deps.clock.now()
        async with self.deps.unit_of_work() as repo:
            changed = await choose_in(repo, request_id, field, option, actor, now)
        return changed

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


# YAML apply and export


def rules_to_yaml(rules: Iterable[Rule]) -> str:
    """Return rules as a YAML document (`rules:` list of definitions) that apply_rules_yaml reads back."""
    items = [r.definition().model_dump(mode="json", exclude_none=True) for r in rules]
    return yaml.safe_dump({"rules": items}, sort_keys=False, allow_unicode=True)


def _definitions_from_yaml(text: str) -> list[RuleDefinition]:
    try:
        data = yaml_text.load(text)
    except yaml.YAMLError as exc:
        problem = yaml_text.problem_of(exc)
        raise Unprocessable(f"not valid YAML: {problem}", [{"path": "(yaml)", "message": problem}]) from exc
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
