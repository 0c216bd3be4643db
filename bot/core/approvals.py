"""Approval requests: start and cancel them, count votes (forced ones too), apply outcomes, queue what they tell."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.core.asking import email_of
from bot.core.automation import Automation
from bot.core.deps import Deps
from bot.core.history import record_history
from bot.core.notices import enqueue_notices
from bot.core.retry import retrying
from engine.approvals import (
    ApprovalRequest,
    Decision,
    ForceKind,
    Outcome,
    RequestStatus,
    asked_again,
    close,
    decide,
    force_approve,
    force_kind,
    forced_label,
    is_still_governed,
    listed_on_step,
    plan_approval,
)
from engine.conditions import EvalContext, evaluate
from engine.delegation import acting_for
from engine.errors import NoApproverError, VoteRefusedError
from engine.facts import facts_of
from engine.history import cancelled_or_decided, passed_over, started
from engine.lifecycle import Plan, SaveDecision, approval_workflows_for, decide_on_reroute, is_approval_candidate
from engine.limits import is_email, is_person_ref
from engine.notify import (
    asked_slack_users,
    identity_expiry,
    is_slack_user,
    needs_workflow,
    notices_of,
    refresh_notice,
)
from engine.records import ApprovalStatus, Contact, Record
from engine.workflows import Workflow
from storage.models import SlackIdentity
from storage.ports import Repository, VoteReads

CLOSED_STATUS = {
    RequestStatus.APPROVED: ApprovalStatus.APPROVED,
    RequestStatus.REJECTED: ApprovalStatus.REJECTED,
    RequestStatus.EXPIRED: ApprovalStatus.EXPIRED,
    RequestStatus.CANCELLED: ApprovalStatus.NONE,
}


@dataclass(frozen=True)
class DecisionResult:
    """The answer to one Approve/Reject click; `forced` tells why an approval was left to be confirmed first."""

    request: ApprovalRequest
    is_counted: bool
    forced: ForceKind | None = None


def new_id(prefix: str) -> str:
    """Return a fresh random identifier with a readable prefix."""
    return f"{prefix}{uuid.uuid4().hex[:16]}"


class Approvals:
    """Every change of an approval request, each in the caller's or its own unit of work."""

    def __init__(self, deps: Deps, automation: Automation) -> None:
        self.deps = deps
        self.automation = automation

    async def request(self, request_id: str) -> ApprovalRequest | None:
        """Return one approval request, or None."""
        async with self.deps.db.read() as repo:
            return await repo.get_request(request_id)

    async def latest_request(self, record_type: str, record_id: str) -> ApprovalRequest | None:
        """Return a document's newest approval request, or None."""
        async with self.deps.db.read() as repo:
            requests = await repo.requests_for_record(record_type, record_id)
        return requests[-1] if requests else None

    async def governing(
        self, repo: Repository, record: Record, contacts: dict[str, Contact] | None = None,
    ) -> Workflow | None:
        """Return the approval workflow a record matches now, or None (`contacts`: the record's, when read)."""
        matching = await self.matching(repo, record, await repo.list_workflows(record.type.value), contacts)
        return matching[0] if matching else None

    async def matching(
        self, repo: Repository, record: Record, workflows: list[Workflow], contacts: dict[str, Contact] | None = None,
    ) -> list[Workflow]:
        """Return the approval workflows among `workflows` a record matches now, the governing one first."""
        facts = facts_of(record, contacts if contacts is not None else await repo.contacts_of(record))
        groups = await repo.contact_group_members({name for w in workflows for name in w.condition_group_refs()})
        ctx = EvalContext.at(self.deps.clock.now(), self.deps.settings.tz, groups)
        return approval_workflows_for(record, workflows, lambda w: evaluate(w.conditions, facts, ctx))

    async def also_matching(self, repo: Repository, record: Record, chosen: Workflow) -> list[Workflow]:
        """Return the other live approval workflows a record matches, which its approval under `chosen` passes over."""
        others = [w for w in await repo.list_workflows(record.type.value)
                  if w.id != chosen.id and is_approval_candidate(w, record)]
        return await self.matching(repo, record, others) if others else []

    async def is_matching(
        self, repo: Repository, request: ApprovalRequest, record: Record | None,
        contacts: dict[str, Contact] | None = None,
    ) -> bool:
        """Tell whether a record is still governed by the workflow its approval follows."""
        if record is None:
            return False
        governing = await self.governing(repo, record, contacts)
        return is_still_governed(request, governing.id if governing is not None else None)

    async def start(
        self, repo: Repository, record: Record, workflow: Workflow, actor: str | None = None, *, cause: str = "created",
        stated_by: str | None = None,
    ) -> Record:
        """Open a record's approval request under a workflow and queue its first asks; return the pending record
        (`stated_by`: who an API caller says submitted it, kept in the audit as said)."""
        now = self.deps.clock.now()
        groups = await repo.people_groups()
        outcome = plan_approval(new_id("AR-"), record, workflow, now, groups=groups,
                                fallback=tuple(sorted(self.deps.settings.admins)))
        await repo.insert_request(outcome.request)
        pending = record.model_copy(update={"approval_status": ApprovalStatus.PENDING, "updated_at": now})
        await repo.save_record(pending)
        others = [w.id for w in await self.also_matching(repo, record, workflow)]
        await repo.audit(now, actor or record.created_by, "submitted", record.key(),
                         record.approval_status.value, "pending",
                         {"workflow_id": workflow.id, "request_id": outcome.request.id}
                         | ({"passed_over": others} if others else {})
                         | ({"stated_by": stated_by} if stated_by else {}))
        person = stated_by or (actor if actor and is_person_ref(actor) else None) or record.created_by
        listed = listed_on_step(workflow, 0, groups)
        action = workflow.approval()
        asked = action.steps[0].min_approvers if action is not None else None
        await record_history(repo, [started(outcome.request, cause, person, listed, asked),
                                    *(passed_over(outcome.request, other, workflow.name, cause, person)
                                      for other in others)], now)
        await self._enqueue(repo, outcome)
        return pending

    async def start_or_hold(self, repo: Repository, record: Record, workflow: Workflow, *, cause: str) -> Record:
        """Start the approval a save calls for; when a step would have nobody to decide it, keep the record
        `approval_required` instead (submitted once the workflow has approvers), with why in its audit trail."""
        try:
            return await self.start(repo, record, workflow, cause=cause)
        except NoApproverError as exc:
            held = record.model_copy(update={"approval_status": ApprovalStatus.APPROVAL_REQUIRED})
            await repo.save_record(held)
            await repo.audit(self.deps.clock.now(), None, "not_submitted", record.key(), None,
                             held.approval_status.value, {"workflow_id": workflow.id, "reason": str(exc)})
            return held

    async def withdraw(self, repo: Repository, request: ApprovalRequest) -> None:
        """Cancel a request Slack showed, once asked, that nobody but its requester can decide (an approver who is
        the requester under another name, and nobody to stand in): the document goes back to `approval_required`,
        as a save would have left it, with why in its audit trail; the requester is told."""
        step = request.step()
        reason = str(NoApproverError(step.index, step.name))
        record = await repo.get_record(request.record_type, request.record_id)
        if record is None:
            return
        held = record.model_copy(update={"approval_status": ApprovalStatus.APPROVAL_REQUIRED,
                                         "updated_at": self.deps.clock.now()})
        await repo.save_record(held)
        await self.cancel_open(repo, held, reason, held.approval_status.value)
        await repo.audit(self.deps.clock.now(), None, "not_submitted", record.key(), record.approval_status.value,
                         held.approval_status.value, {"workflow_id": request.workflow_id, "reason": reason})

    async def asked_under(self, repo: Repository, record: Record | None) -> str | None:
        """Return the workflow a pending record's open request follows (None when it has none)."""
        if record is None or record.approval_status is not ApprovalStatus.PENDING:
            return None
        request = await repo.open_request_for(record.type.value, record.id)
        return request.workflow_id if request else None

    async def carry_out(self, repo: Repository, record: Record, decision: SaveDecision, *, cause: str) -> Record:
        """Start, cancel or restart a saved record's approval as the decision says; return the record."""
        if decision.plan is Plan.START and decision.workflow is not None:
            return await self.start_or_hold(repo, record, decision.workflow, cause=cause)
        if decision.plan in (Plan.CANCEL, Plan.RESTART):
            await self.cancel_open(repo, record, decision.reason or "")
        if decision.plan is Plan.RESTART and decision.workflow is not None:
            return await self.start_or_hold(repo, record, decision.workflow, cause="updated")
        if decision.plan is Plan.REFRESH and (request := await repo.open_request_for(*record.key())) is not None:
            await enqueue_notices(repo, [refresh_notice(request.id)], self.deps.clock.now())
        return record

    async def reroute(self, repo: Repository, keys: Iterable[tuple[str, str]]) -> None:
        """After what workflows read changed without a save of the documents (a rule's pre-fill, a contact, a group),
        ask pending ones again under the workflow that governs them now, or cancel those none governs."""
        for key in keys:
            record = await repo.get_record(*key)
            if record is None or record.approval_status is not ApprovalStatus.PENDING:
                continue
            asked_under = await self.asked_under(repo, record)
            if asked_under is None:
                continue
            decision = decide_on_reroute(await self.governing(repo, record), asked_under)
            if decision.plan is Plan.NOTHING:
                continue
            if decision.approval_status is not record.approval_status:
                record = record.model_copy(update={"approval_status": decision.approval_status})
                await repo.save_record(record)
            await self.carry_out(repo, record, decision, cause="updated")

    async def cancel_open(self, repo: Repository, record: Record, reason: str, to_status: str = "none") -> None:
        """Cancel the open approval request of a record, if any (`to_status`: the approval status it goes to)."""
        request = await repo.open_request_for(record.type.value, record.id)
        if request is None:
            return
        now = self.deps.clock.now()
        outcome = close(request, RequestStatus.CANCELLED, now, reason)
        await repo.update_request(outcome.request)
        await repo.audit(now, None, "cancelled", record.key(), "pending", to_status, {"reason": reason})
        await record_history(repo, cancelled_or_decided(request, outcome, None), now)
        await self._enqueue(repo, outcome)

    async def decide(
        self, request_id: str, actor: str, decision: Decision, reason: str | None = None,
        on_behalf_of: str | None = None, *, unless_forced: bool = False,
    ) -> DecisionResult:
        """Count one approver's decision (or a delegate's for them); raise VoteRefusedError when refused.

        With `unless_forced`, an approval that would be forced is not counted: the result says why, so it can be
        confirmed first. A unit of work that lost a race (the request changed since it was read) is run again:
        it reads the new state and decides anew (a second vote of the same approver is then not counted).
        """
        try:
            try:
                return await retrying(lambda: self._decide_once(request_id, actor, decision, reason, on_behalf_of,
                                                                unless_forced))
            except _VoterEmailUnknownError:
                await self.learn_email(actor)
                return await retrying(lambda: self._decide_once(request_id, actor, decision, reason, on_behalf_of,
                                                                unless_forced, may_learn=False))
        except VoteRefusedError as exc:
            if exc.code == "request_closed":
                exc.params["again"] = await self._asked_again(request_id)
            raise

    async def _asked_again(self, request_id: str) -> str | None:
        """Return how a closed request's document stands when it went for approval again since, else None."""
        async with self.deps.db.read() as repo:
            request = await repo.get_request(request_id)
            requests = await repo.requests_for_record(request.record_type, request.record_id) if request else []
        return asked_again(request, requests[-1]) if request and requests else None

    async def learn_email(self, user_id: str) -> None:
        """Remember the e-mail of a Slack user's profile (as a lookup of it would), so that a document they
        requested by that e-mail is known as theirs."""
        email = await email_of(self.deps.slack, user_id)
        if email is None:
            return
        now = self.deps.clock.now()
        async with self.deps.unit_of_work() as repo:
            await repo.save_slack_identity(SlackIdentity(email, user_id, now, identity_expiry(user_id, now)))

    async def _decide_once(
        self, request_id: str, actor: str, decision: Decision, reason: str | None,
        on_behalf_of: str | None, unless_forced: bool, *, may_learn: bool = True,
    ) -> DecisionResult:
        """Count one approver's decision in one unit of work (raise _VoterEmailUnknownError, once, when the
        document was requested by an e-mail and Slack was never asked the voter's)."""
        async with self.deps.unit_of_work() as repo:
            now = self.deps.clock.now()
            reads = await repo.read_vote(request_id, actor, now)
            request = _existing(reads)
            if may_learn and is_requested_by_email(request) and is_slack_user(actor) and not reads.voter_emails:
                raise _VoterEmailUnknownError(actor)
            approver = acting_for(request, actor, reads.principals, on_behalf_of, reads.voter_emails)
            if unless_forced and decision is Decision.APPROVE:
                kind = await self._force_kind(repo, reads, approver, actor)
                if kind is not None:
                    return DecisionResult(request, False, kind)
            outcome = decide(request, approver, decision, now, reason, actor if approver != actor else None)
            if outcome.is_counted:
                await self.apply_outcome(repo, request, outcome, actor)
        return DecisionResult(outcome.request, outcome.is_counted)

    async def _force_kind(self, repo: Repository, reads: VoteReads, approver: str, actor: str) -> ForceKind | None:
        """Tell whether the approver's approval of the request read would be forced, and why."""
        request = _existing(reads)
        return force_kind(request, approver, is_admin=self.deps.is_admin(actor),
                          is_matching=await self.is_matching(repo, request, reads.record, reads.contacts))

    async def force_needed(self, request_id: str, actor: str, seat: str | None) -> ForceKind | None:
        """Tell whether an actor's approval of a request would be forced (so must be confirmed first)."""
        async with self.deps.db.read() as repo:
            reads = await repo.read_vote(request_id, actor, self.deps.clock.now())
            if reads.request is None:
                return None
            try:
                approver = acting_for(reads.request, actor, reads.principals, seat, reads.voter_emails)
            except VoteRefusedError:
                return None
            return await self._force_kind(repo, reads, approver, actor)

    async def force(self, request_id: str, actor: str, reason: str, seat: str | None) -> DecisionResult:
        """Approve despite the workflow after confirmation; audit it; raise VoteRefusedError when not allowed.

        Run again, like a vote, when the request changed since it was read.
        """
        return await retrying(lambda: self._force_once(request_id, actor, reason, seat))

    async def _force_once(self, request_id: str, actor: str, reason: str, seat: str | None) -> DecisionResult:
        """Approve despite the workflow in one unit of work."""
        async with self.deps.unit_of_work() as repo:
            now, is_admin = self.deps.clock.now(), self.deps.is_admin(actor)
            reads = await repo.read_vote(request_id, actor, now)
            request = _existing(reads)
            approver = acting_for(request, actor, reads.principals, seat, reads.voter_emails)
            matching = await self.is_matching(repo, request, reads.record, reads.contacts)
            kind = force_kind(request, approver, is_admin=is_admin, is_matching=matching)
            outcome = force_approve(request, approver, now, reason, is_admin=is_admin,
                                    is_matching=matching, acted_by=actor if approver != actor else None)
            if outcome.is_counted:
                await self._persist(repo, request, outcome, actor, forced=forced_label(kind))
                await repo.audit(now, actor, "forced_approval", ("request", request.id), None, None,
                                 {"kind": kind.value if kind else None, "step": request.current_step,
                                  "approver": approver, "reason": reason})
                await self._enqueue(repo, outcome)
        return DecisionResult(outcome.request, outcome.is_counted)

    async def apply_outcome(
        self, repo: Repository, before: ApprovalRequest, outcome: Outcome, actor: str | None
    ) -> None:
        """Persist an outcome (a vote, or one the scheduler decided) and queue its messages, in the caller's unit."""
        await self._persist(repo, before, outcome, actor)
        await self._enqueue(repo, outcome)

    async def _persist(
        self, repo: Repository, before: ApprovalRequest, outcome: Outcome, actor: str | None,
        forced: str | None = None,
    ) -> None:
        now, after = self.deps.clock.now(), outcome.request
        await repo.update_request(after)
        await record_history(repo, cancelled_or_decided(before, outcome, actor, forced=forced), now)
        subject = ("request", after.id)
        vote = after.votes[-1] if len(after.votes) > len(before.votes) else None
        if vote is not None:
            await repo.audit(now, actor, f"vote_{vote.decision.value}", subject, None, None,
                             {"step": vote.step_index, "reason": vote.reason, "approver": vote.approver,
                              "acted_by": vote.acted_by})
        if after.current_step != before.current_step:
            await repo.audit(now, actor, "step_advanced", subject, str(before.current_step), str(after.current_step))
        if not after.is_open():
            await self._close_record(repo, after, actor, now)

    async def _close_record(
        self, repo: Repository, request: ApprovalRequest, actor: str | None, now: datetime
    ) -> None:
        record = await repo.get_record(request.record_type, request.record_id)
        if record is None:
            return
        status = CLOSED_STATUS[request.status]
        await repo.save_record(record.model_copy(update={"approval_status": status, "updated_at": now}))
        await repo.audit(now, actor, request.status.value, record.key(), record.approval_status.value,
                         status.value, {"request_id": request.id, "reason": request.reason})

    async def _enqueue(self, repo: Repository, outcome: Outcome) -> None:
        """Queue, in the deciding unit of work, every message the outcome calls for (as the engine says)."""
        now = self.deps.clock.now()
        await self.automation.on_outcome(repo, outcome, now)
        if not needs_workflow(outcome):
            await enqueue_notices(repo, notices_of(outcome, None), now)
            return
        workflow = await repo.get_workflow(outcome.request.workflow_id)
        delegations = await repo.delegations_of(asked_slack_users(outcome), now)
        await enqueue_notices(repo, notices_of(outcome, workflow, delegations), now)


class _VoterEmailUnknownError(Exception):
    """The voter's e-mail is needed (the document was requested by an e-mail) and was never asked of Slack."""


def is_requested_by_email(request: ApprovalRequest) -> bool:
    """Tell whether a request's requester is named by an e-mail address."""
    return request.requester is not None and is_email(request.requester)


def _existing(reads: VoteReads) -> ApprovalRequest:
    """Return the request a vote read; refuse the vote when it no longer exists."""
    if reads.request is None:
        raise VoteRefusedError("This request no longer exists.", "not_found")
    return reads.request
