"""The adapter core: load state, ask the engine, persist in one transaction, then tell Slack."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.clock import SystemClock
from bot.core.automation import Automation, check_templates
from bot.core.cards import request_card
from bot.core.deps import Deps
from bot.core.history import record_history
from bot.core.notices import enqueue_notices
from bot.core.rules import apply_prefills
from bot.errors import Conflict, NotFound, Unprocessable
from bot.senders.slack import Posted, SlackOut
from bot.settings import Settings
from engine.approvals import (
    ApprovalRequest,
    Decision,
    Outcome,
    RequestStatus,
    close,
    decide,
    plan_approval,
)
from engine.conditions import EvalContext, evaluate
from engine.delegation import acting_for
from engine.errors import InvalidDefinitionError, VoteRefusedError
from engine.facts import facts_of
from engine.history import cancelled_or_decided, started
from engine.lifecycle import Plan, approval_workflow_for, decide_on_save
from engine.notify import is_slack_user, needs_workflow, notices_of
from engine.records import ApprovalStatus, Record, RecordInput, RecordType
from engine.workflows import Workflow, WorkflowDefinition, parse_definition, switched
from storage.models import SlackMessageRef
from storage.ports import Repository
from storage.ports import Store as Database

log = logging.getLogger(__name__)

CLOSED_STATUS = {
    RequestStatus.APPROVED: ApprovalStatus.APPROVED,
    RequestStatus.REJECTED: ApprovalStatus.REJECTED,
    RequestStatus.EXPIRED: ApprovalStatus.EXPIRED,
    RequestStatus.CANCELLED: ApprovalStatus.NONE,
}


CHANNEL_COPY = -1
MAX_OPEN_REQUESTS = 1_000_000


@dataclass(frozen=True)
class DecisionResult:
    """The answer to one Approve/Reject click."""

    request: ApprovalRequest
    is_counted: bool


def _same(before: Record, after: Record) -> bool:
    return before.model_dump(exclude={"updated_at"}) == after.model_dump(exclude={"updated_at"})


def new_id(prefix: str) -> str:
    """Return a fresh random identifier with a readable prefix."""
    return f"{prefix}{uuid.uuid4().hex[:16]}"


class Signoff:
    """Every operation of the product, shared by the Slack listeners, the API and the scheduler."""

    def __init__(self, db: Database, settings: Settings, slack: SlackOut, clock: SystemClock) -> None:
        self.deps = Deps.of(db, settings, slack, clock)
        self.db, self.settings, self.slack, self.clock = db, settings, slack, clock
        self.renderer = self.deps.renderer
        self.automation = Automation(self.deps)
        self.after_refresh: list[Callable[[str], Awaitable[None]]] = []
        self.on_workflows_changed: Callable[[], Awaitable[None]] | None = None

    @property
    def on_queued(self) -> Callable[[], None] | None:
        """Return what wakes the outbox worker after a commit that queued messages."""
        return self.deps.on_queued

    @on_queued.setter
    def on_queued(self, wake: Callable[[], None] | None) -> None:
        self.deps.on_queued = wake

    def is_admin(self, user: str | None) -> bool:
        """Tell whether a Slack user is an admin."""
        return self.deps.is_admin(user)

    # records
    async def put_record(self, record_type: RecordType, record_id: str, data: RecordInput) -> Record:
        """Create or update a record and start its approval when the lifecycle says so."""
        now = self.clock.now()
        async with self.db.transaction() as repo:
            before = await repo.get_record(record_type.value, record_id)
            created_at = before.created_at if before else now
            after = Record(**data.model_dump(), type=record_type, id=record_id,
                           approval_status=before.approval_status if before else ApprovalStatus.NONE,
                           created_at=created_at, updated_at=now,
                           sent_at=before.sent_at if before else None,
                           reminded_at=before.reminded_at if before else None,
                           reminder_count=before.reminder_count if before else 0)
            after = await apply_prefills(repo, after, now, self.settings.tz)
            if before is not None and _same(before, after):
                return before
            governing = await self._governing(repo, after)
            decision = decide_on_save(before, after, governing, self.is_admin(after.created_by))
            after = after.model_copy(update={"approval_status": decision.approval_status})
            await repo.save_record(after)
            await self.automation.on_record_saved(repo, before, after, now)
            after = await repo.get_record(*after.key()) or after
            await repo.audit(now, after.created_by, "created" if before is None else "updated",
                             after.key(), before.approval_status.value if before else None,
                             after.approval_status.value)
            if decision.plan is Plan.START and decision.workflow is not None:
                await self._start(repo, after, decision.workflow, cause="created" if before is None else "updated")
            elif decision.plan is Plan.CANCEL:
                await self._cancel_open(repo, after, "the document no longer matches its workflow")
        self._after_commit()
        return after

    async def get_record(self, record_type: str, record_id: str) -> Record:
        """Return a record or raise NotFound."""
        async with self.db.read() as repo:
            record = await repo.get_record(record_type, record_id)
        if record is None:
            raise NotFound(f"no {record_type} {record_id!r}")
        return record

    async def submit(self, record_type: RecordType, record_id: str, actor: str | None) -> Record:
        """Send an `approval_required` record for approval."""
        async with self.db.transaction() as repo:
            record = await repo.get_record(record_type.value, record_id)
            if record is None:
                raise NotFound(f"no {record_type.value} {record_id!r}")
            if record.approval_status is not ApprovalStatus.APPROVAL_REQUIRED:
                raise Conflict(f"{record_type.value} {record_id} is {record.approval_status.value}, "
                               "only approval_required documents can be submitted")
            governing = await self._governing(repo, record)
            if governing is None:
                raise Conflict(f"{record_type.value} {record_id} no longer matches an approval workflow")
            record = await self._start(repo, record, governing, actor, cause="submitted")
        self._after_commit()
        return record

    async def _governing(self, repo: Repository, record: Record) -> Workflow | None:
        workflows = await repo.list_workflows(record.type.value)
        facts = facts_of(record, await repo.contacts_of(record))
        groups = await repo.contact_group_members({name for w in workflows for name in w.group_refs()})
        ctx = EvalContext.at(self.clock.now(), self.settings.tz, groups)
        return approval_workflow_for(record, workflows, lambda w: evaluate(w.conditions, facts, ctx))

    async def _start(
        self, repo: Repository, record: Record, workflow: Workflow, actor: str | None = None, *, cause: str = "created",
    ) -> Record:
        now = self.clock.now()
        outcome = plan_approval(new_id("AR-"), record, workflow, now, groups=await repo.people_groups(),
                                fallback=tuple(sorted(self.settings.admins)))
        await repo.insert_request(outcome.request)
        pending = record.model_copy(update={"approval_status": ApprovalStatus.PENDING, "updated_at": now})
        await repo.save_record(pending)
        await repo.audit(now, actor or record.created_by, "submitted", record.key(),
                         record.approval_status.value, "pending",
                         {"workflow_id": workflow.id, "request_id": outcome.request.id})
        await record_history(repo, [started(outcome.request, cause, actor or record.created_by)], now)
        await self._enqueue(repo, outcome)
        return pending

    async def _cancel_open(self, repo: Repository, record: Record, reason: str) -> None:
        request = await repo.open_request_for(record.type.value, record.id)
        if request is None:
            return
        outcome = close(request, RequestStatus.CANCELLED, self.clock.now(), reason)
        await repo.update_request(outcome.request)
        await repo.audit(self.clock.now(), None, "cancelled", record.key(), "pending", "none", {"reason": reason})
        await record_history(repo, cancelled_or_decided(request, outcome, None), self.clock.now())
        await self._enqueue(repo, outcome)

    # decisions
    async def decide(
        self, request_id: str, actor: str, decision: Decision, reason: str | None = None,
        on_behalf_of: str | None = None,
    ) -> DecisionResult:
        """Count one approver's decision (or a delegate's for them); raise VoteRefusedError when refused."""
        async with self.db.transaction() as repo:
            request = await repo.get_request(request_id)
            if request is None:
                raise VoteRefusedError("This request no longer exists.", "not_found")
            principals = await repo.principals_of(actor, self.clock.now())
            approver = acting_for(request, actor, principals, on_behalf_of)
            acted_by = actor if approver != actor else None
            outcome = decide(request, approver, decision, self.clock.now(), reason, acted_by)
            if outcome.is_counted:
                await self._persist_outcome(repo, request, outcome, actor)
                await self._enqueue(repo, outcome)
        self._after_commit()
        return DecisionResult(outcome.request, outcome.is_counted)

    async def _persist_outcome(
        self, repo: Repository, before: ApprovalRequest, outcome: Outcome, actor: str | None,
        forced: str | None = None,
    ) -> None:
        now, after = self.clock.now(), outcome.request
        await repo.update_request(after)
        await record_history(repo, cancelled_or_decided(before, outcome, actor, forced=forced), now)
        subject = ("request", after.id)
        vote = after.votes[-1] if len(after.votes) > len(before.votes) else None
        if vote is not None:
            await repo.audit(now, actor, f"vote_{vote.decision.value}", subject, None, None,
                             {"step": vote.step_index, "reason": vote.reason})
        if after.current_step != before.current_step:
            await repo.audit(now, actor, "step_advanced", subject, str(before.current_step), str(after.current_step))
        if not after.is_open():
            await self._close_record(repo, after, actor, now)

    async def _close_record(self, repo: Repository, request: ApprovalRequest, actor: str | None, now: Any) -> None:
        record = await repo.get_record(request.record_type, request.record_id)
        if record is None:
            return
        status = CLOSED_STATUS[request.status]
        await repo.save_record(record.model_copy(update={"approval_status": status, "updated_at": now}))
        await repo.audit(now, actor, request.status.value, record.key(), record.approval_status.value,
                         status.value, {"request_id": request.id, "reason": request.reason})

    async def _enqueue(self, repo: Repository, outcome: Outcome) -> None:
        """Queue, in the deciding transaction, every Slack message the outcome calls for (as the engine says)."""
        now = self.clock.now()
        await self.automation.on_outcome(repo, outcome, now)
        workflow = await repo.get_workflow(outcome.request.workflow_id) if needs_workflow(outcome) else None
        await enqueue_notices(repo, notices_of(outcome, workflow), now)

    async def apply_outcome(
        self, repo: Repository, before: ApprovalRequest, outcome: Outcome, actor: str | None
    ) -> None:
        """Persist an outcome decided elsewhere (the scheduler) and queue its messages, in the caller's transaction."""
        await self._persist_outcome(repo, before, outcome, actor)
        await self._enqueue(repo, outcome)

    def _after_commit(self) -> None:
        self.wake_delivery()

    def wake_delivery(self) -> None:
        """Tell the outbox worker that committed work is waiting."""
        self.deps.wake_delivery()

    async def _card(self, request_id: str, step_index: int | None) -> tuple[ApprovalRequest, dict[str, Any]]:
        return await request_card(self.db, request_id, step_index)

    async def post_request_copy(
        self, request_id: str, step_index: int | None, user: str | None = None, channel: str | None = None
    ) -> Posted:
        """Post one copy of a request's message (a DM to an approver or a channel post) and remember it."""
        _, card = await self._card(request_id, step_index)
        message = self.renderer.json("approval_request.json.j2", card=card)
        posted = await (self.slack.post(channel, message) if channel else self.slack.dm(user or "", message))
        ref_step = CHANNEL_COPY if step_index is None else step_index
        async with self.db.transaction() as repo:
            await repo.add_message(SlackMessageRef(request_id, ref_step, user, posted.channel, posted.ts))
        return posted

    async def refresh_messages(self, request_id: str) -> None:
        """Re-render every copy of a request's message so it shows the current state."""
        async with self.db.read() as repo:
            refs = await repo.messages_for(request_id)
        rendered: dict[int | None, Any] = {}
        for ref in refs:
            step_index = None if ref.step_index == CHANNEL_COPY else ref.step_index
            if step_index not in rendered:
                _, card = await self._card(request_id, step_index)
                rendered[step_index] = self.renderer.json("approval_request.json.j2", card=card)
            await self.slack.update(ref.channel, ref.ts, rendered[step_index])
        for hook in self.after_refresh:
            await hook(request_id)

    async def tell_requester(self, request_id: str) -> Posted | None:
        """DM the requester the outcome of their request."""
        request, card = await self._card(request_id, None)
        if not is_slack_user(request.requester):
            return None
        return await self.slack.dm(request.requester or "", self.renderer.json("approval_outcome.json.j2", card=card))

    async def card_for(self, request_id: str) -> dict[str, Any]:
        """Return the render data of a request (for modals)."""
        return (await self._card(request_id, None))[1]

    async def request(self, request_id: str) -> ApprovalRequest | None:
        """Return one approval request, or None."""
        async with self.db.read() as repo:
            return await repo.get_request(request_id)

    # workflows
    async def create_workflow(self, data: Any) -> Workflow:
        """Validate and store a new workflow."""
        definition = self._parse(data)
        now = self.clock.now()
        workflow = Workflow(**definition.model_dump(), id=new_id("wf_"), created_at=now, updated_at=now)
        async with self.db.transaction() as repo:
            await repo.save_workflow(workflow)
            await repo.audit(now, None, "workflow_created", ("workflow", workflow.id), None, workflow.status.value)
        await self._workflows_changed()
        return workflow

    def _parse(self, data: Any) -> WorkflowDefinition:
        try:
            definition = parse_definition(data)
            check_templates(definition, self.renderer, self.clock.now())
        except InvalidDefinitionError as exc:
            raise Unprocessable(str(exc), exc.details) from exc
        return definition

    async def get_workflow(self, workflow_id: str) -> Workflow:
        """Return a workflow or raise NotFound."""
        async with self.db.read() as repo:
            workflow = await repo.get_workflow(workflow_id)
        if workflow is None:
            raise NotFound(f"no workflow {workflow_id!r}")
        return workflow

    async def list_workflows(self) -> list[Workflow]:
        """Return every workflow."""
        async with self.db.read() as repo:
            return await repo.list_workflows()

    async def update_workflow(self, workflow_id: str, data: Any) -> Workflow:
        """Replace a workflow's definition."""
        definition = self._parse(data)
        return await self._change_workflow(workflow_id, definition.model_dump(), "workflow_updated")

    async def set_enabled(self, workflow_id: str, enabled: bool) -> Workflow:
        """Enable a workflow, which makes it live (a draft is published), or disable it."""
        action = "workflow_enabled" if enabled else "workflow_disabled"
        return await self._change_workflow(workflow_id, switched(enabled), action)

    async def _change_workflow(self, workflow_id: str, changes: dict[str, Any], action: str) -> Workflow:
        now = self.clock.now()
        async with self.db.transaction() as repo:
            current = await repo.get_workflow(workflow_id)
            if current is None:
                raise NotFound(f"no workflow {workflow_id!r}")
            updated = Workflow.model_validate({**current.model_dump(), **changes, "updated_at": now})
            await repo.save_workflow(updated)
            await repo.audit(now, None, action, ("workflow", workflow_id), None, None)
        await self._workflows_changed()
        return updated

    async def pending_of_workflow(self, workflow_id: str) -> list[ApprovalRequest]:
        """Return the pending approval requests a workflow started."""
        async with self.db.read() as repo:
            return [r for r in await repo.open_requests(MAX_OPEN_REQUESTS) if r.workflow_id == workflow_id]

    async def delete_workflow(self, workflow_id: str, actor: str | None = None) -> int:
        """Delete a workflow and cancel its pending requests (documents back to no approval); return how many."""
        async with self.db.transaction() as repo:
            workflow = await repo.get_workflow(workflow_id)
            if workflow is None:
                raise NotFound(f"no workflow {workflow_id!r}")
            pending = [r for r in await repo.open_requests(MAX_OPEN_REQUESTS) if r.workflow_id == workflow_id]
            reason = f"the workflow {workflow.name} was deleted"
            for request in pending:
                await self.apply_outcome(repo, request, close(request, RequestStatus.CANCELLED, self.clock.now(),
                                                              reason), actor)
            await repo.delete_workflow(workflow_id)
            await repo.audit(self.clock.now(), actor, "workflow_deleted", ("workflow", workflow_id), None, None,
                             {"cancelled_requests": len(pending)})
        self._after_commit()
        await self._workflows_changed()
        return len(pending)

    async def _workflows_changed(self) -> None:
        if self.on_workflows_changed is not None:
            await self.on_workflows_changed()

    async def copy_workflow(self, workflow_id: str) -> Workflow:
        """Copy a workflow as a disabled draft named "Copy of …"."""
        source = await self.get_workflow(workflow_id)
        data = source.definition().model_dump(mode="json")
        data.update(name=f"Copy of {source.name}"[:200], enabled=False, status="draft")
        return await self.create_workflow(data)

    async def audit_of(self, record_type: str, record_id: str) -> list[dict[str, Any]]:
        """Return the audit trail of a record and of its approval requests, in order."""
        async with self.db.read() as repo:
            entries = await repo.audit_trail(record_type, record_id)
            for request in await repo.requests_for_record(record_type, record_id):
                entries += await repo.audit_trail("request", request.id)
        entries.sort(key=lambda e: e.seq)
        return [
            {"at": e.at.isoformat(), "actor": e.actor, "action": e.action,
             "subject": f"{e.subject_type}:{e.subject_id}", "from": e.from_state, "to": e.to_state,
             "detail": e.detail}
            for e in entries
        ]

    async def approval_summary(self, record: Record) -> dict[str, Any] | None:
        """Return the latest approval request of a record as API JSON."""
        async with self.db.read() as repo:
            requests = await repo.requests_for_record(record.type.value, record.id)
        if not requests:
            return None
        request = requests[-1]
        return {
            "request_id": request.id, "workflow_id": request.workflow_id, "status": request.status.value,
            "current_step": request.current_step, "reason": request.reason,
            "steps": [{"approvers": list(s.approvers), "min_approvers": s.min_approvers,
                       "approved_by": list(request.approvals_on(s.index))} for s in request.steps],
            "votes": [{"step": v.step_index, "approver": v.approver, "decision": v.decision.value,
                       "reason": v.reason, "at": v.at.isoformat()} for v in request.votes],
        }
