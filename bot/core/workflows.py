"""Workflows: create, read, change, enable, copy and delete them (deleting cancels their pending approvals)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from bot.core.approvals import Approvals, new_id
from bot.core.asking import person_problem
from bot.core.channels import channel_problems
from bot.core.deps import Deps
from bot.core.groups import check_condition_groups
from bot.core.retry import retrying
from bot.core.template_checks import check_templates
from bot.errors import NotFound, Unprocessable
from engine.approvals import ApprovalRequest, RequestStatus, close, short_step_warnings
from engine.echo import identity_problems, split_echo
from engine.errors import InvalidDefinitionError
from engine.notify import is_slack_user
from engine.overlaps import overlap_warnings
from engine.workflows import (
    ECHOED,
    STORED,
    Workflow,
    WorkflowDefinition,
    approval_rule_warnings,
    parse_definition,
    same_name_warnings,
    switched,
    timing_warnings,
    unknown_group_warnings,
    unreachable_channel_warnings,
    unreachable_people_warnings,
)
from storage.ports import Repository, Store

MAX_OPEN_REQUESTS = 1_000_000
MAX_LOOKUPS = 50


async def store_workflow(
    repo: Repository, workflow: Workflow, action: str, actor: str | None, now: datetime, to_state: str | None,
) -> None:
    """Save a workflow and audit it: the one write path of workflow definitions (422 when a condition names no
    group of its kind)."""
    await check_condition_groups(repo, workflow.conditions)
    await repo.save_workflow(workflow)
    await repo.audit(now, actor, action, ("workflow", workflow.id), None, to_state)


async def save_definitions(
    db: Store, items: Sequence[tuple[str | None, WorkflowDefinition]], now: datetime, actor: str | None,
    *, dry_run: bool = False,
) -> list[tuple[str, str, str]]:
    """Create or update checked definitions in one unit of work (a dry run saves nothing).

    Return (created | updated | unchanged, id, name) per item, in order; items are stamped a microsecond apart
    so that they list in the order given.
    """
    outcomes: list[tuple[str, str, str]] = []
    async with db.read() if dry_run else db.unit_of_work() as repo:
        for index, (workflow_id, definition) in enumerate(items):
            existing = await repo.get_workflow(workflow_id) if workflow_id else None
            if existing is not None and existing.definition() == definition:
                outcomes.append(("unchanged", existing.id, existing.name))
                continue
            stamp = now + timedelta(microseconds=index)
            workflow = Workflow(**definition.model_dump(), id=workflow_id or new_id("wf_"),
                                created_at=existing.created_at if existing else stamp, updated_at=stamp)
            verb = "updated" if existing else "created"
            outcomes.append((verb, workflow.id, definition.name))
            try:
                if dry_run:
                    await check_condition_groups(repo, workflow.conditions)
                else:
                    await store_workflow(repo, workflow, f"workflow_{verb}", actor, now, workflow.status.value)
            except Unprocessable as exc:
                raise Unprocessable(f"workflow {definition.name!r}: {exc.message}",
                                    [{**d, "where": f"workflow {definition.name!r}"} for d in exc.details]) from exc
    return outcomes


class Workflows:
    """Workflow definitions, each change in one unit of work, then `on_changed` (the scheduler follows them)."""

    def __init__(self, deps: Deps, approvals: Approvals) -> None:
        self.deps = deps
        self.approvals = approvals
        self.on_changed: Callable[[], Awaitable[None]] | None = None

    async def create(self, data: Any) -> Workflow:
        """Validate and store a new workflow."""
        definition = self._parse(data)
        now = self.deps.clock.now()
        workflow = Workflow(**definition.model_dump(), id=new_id("wf_"), created_at=now, updated_at=now)
        async with self.deps.unit_of_work() as repo:
            await store_workflow(repo, workflow, "workflow_created", None, now, workflow.status.value)
        await self._changed()
        return workflow

    def _parse(self, data: Any) -> WorkflowDefinition:
        try:
            definition = parse_definition(data)
            check_templates(definition, self.deps.renderer, self.deps.clock.now())
        except InvalidDefinitionError as exc:
            raise Unprocessable(str(exc), exc.details) from exc
        return definition

    async def get(self, workflow_id: str) -> Workflow:
        """Return a workflow or raise NotFound."""
        async with self.deps.db.read() as repo:
            workflow = await repo.get_workflow(workflow_id)
        if workflow is None:
            raise NotFound.no("workflow", workflow_id)
        return workflow

    async def warnings(self, workflow: WorkflowDefinition) -> list[dict[str, Any]]:
        """Return what in a workflow will not work as written today (a `group:NAME` with no members, a step whose
        groups name fewer people than its quorum, a person or a channel Slack cannot reach, a reminder or an
        escalation that would come after the expiry, another approval workflow a document could match as well, another
        workflow of the same name)."""
        async with self.deps.db.read() as repo:
            groups = await repo.people_groups()
            workflows = await repo.list_workflows()
        problems = await self._unreachable(workflow, groups)
        channels = await channel_problems(self.deps.slack, [channel for _, channel in workflow.channel_paths()])
        own = workflow if isinstance(workflow, Workflow) else None
        return (unknown_group_warnings(workflow, groups) + unreachable_people_warnings(workflow, groups, problems)
                + short_step_warnings(workflow, groups) + unreachable_channel_warnings(workflow, channels)
                + timing_warnings(workflow) + approval_rule_warnings(workflow)
                + overlap_warnings(workflow, workflows, own) + same_name_warnings(workflow, workflows, own))

    async def _unreachable(
        self, workflow: WorkflowDefinition, groups: Mapping[str, Sequence[str]],
    ) -> dict[str, str]:
        """Look up in Slack (at most MAX_LOOKUPS) the user ids a workflow names; return those it cannot reach."""
        refs = [ref for _, ref in workflow.people_paths()]
        people = [p for ref in refs
                  for p in (groups.get(ref.removeprefix("group:"), ()) if ref.startswith("group:") else (ref,))]
        ids = [p for p in dict.fromkeys(people) if is_slack_user(p)][:MAX_LOOKUPS]
        found = {user: await person_problem(self.deps.slack, user) for user in ids}
        return {user: problem for user, problem in found.items() if problem is not None}

    async def list_all(self) -> list[Workflow]:
        """Return every workflow."""
        async with self.deps.db.read() as repo:
            return await repo.list_workflows()

    async def update(self, workflow_id: str, data: Any) -> Workflow:
        """Replace a workflow's definition; a body as GET returned it may repeat its read-only keys (`ECHOED`), its
        `id` that of the workflow addressed (else Unprocessable), the others ignored."""
        body, echoed = split_echo(data, ECHOED)
        definition = self._parse(body)
        return await self._change(workflow_id, definition.model_dump(), "workflow_updated", echoed)

    async def set_enabled(self, workflow_id: str, enabled: bool) -> Workflow:
        """Enable a workflow, which makes it live (a draft is published), or disable it."""
        action = "workflow_enabled" if enabled else "workflow_disabled"
        return await self._change(workflow_id, switched(enabled), action)

    async def _change(
        self, workflow_id: str, changes: dict[str, Any], action: str, echoed: Mapping[str, Any] | None = None,
    ) -> Workflow:
        now = self.deps.clock.now()
        async with self.deps.unit_of_work() as repo:
            current = await repo.get_workflow(workflow_id)
            if current is None:
                raise NotFound.no("workflow", workflow_id)
            if problems := identity_problems(echoed or {}, {"id": current.id}):
                raise Unprocessable("read-only keys differ from the workflow's", problems)
            # the changes were checked on their own; what is kept was stored under the rules of then
            updated = Workflow.model_validate({**current.model_dump(), **changes, "updated_at": now}, context=STORED)
            await store_workflow(repo, updated, action, None, now, None)
        await self._changed()
        return updated

    async def pending_of(self, workflow_id: str) -> list[ApprovalRequest]:
        """Return the pending approval requests a workflow started."""
        async with self.deps.db.read() as repo:
            return [r for r in await repo.open_requests(MAX_OPEN_REQUESTS) if r.workflow_id == workflow_id]

    async def delete(self, workflow_id: str, actor: str | None = None) -> int:
        """Delete a workflow and cancel its pending requests (documents back to no approval); return how many."""
        cancelled = await retrying(lambda: self._delete_once(workflow_id, actor))
        await self._changed()
        return cancelled

    async def _delete_once(self, workflow_id: str, actor: str | None) -> int:
        async with self.deps.unit_of_work() as repo:
            workflow = await repo.get_workflow(workflow_id)
            if workflow is None:
                raise NotFound.no("workflow", workflow_id)
            pending = [r for r in await repo.open_requests(MAX_OPEN_REQUESTS) if r.workflow_id == workflow_id]
            reason, now = f"the workflow {workflow.name} was deleted", self.deps.clock.now()
            for request in pending:
                await self.approvals.apply_outcome(repo, request, close(request, RequestStatus.CANCELLED, now,
                                                                        reason), actor)
            await repo.delete_workflow(workflow_id)
            await repo.audit(now, actor, "workflow_deleted", ("workflow", workflow_id), None, None,
                             {"cancelled_requests": len(pending)})
        return len(pending)

    async def _changed(self) -> None:
        if self.on_changed is not None:
            await self.on_changed()

    async def copy(self, workflow_id: str) -> Workflow:
        """Copy a workflow as a disabled draft named "Copy of …"."""
        source = await self.get(workflow_id)
        data = source.definition().model_dump(mode="json")
        data.update(name=f"Copy of {source.name}"[:200], enabled=False, status="draft")
        return await self.create(data)
