"""Asking approvers by e-mail, in the outbox worker: find how to reach them, then mint links and send the e-mail.

The lookup handler finds the Slack user of an approver's e-mail (`users.lookupByEmail`, remembered for a
while) or the e-mail of a Slack user, then queues what the engine decides for them (`engine.notify`). The
e-mail handler mints the single-use approve and reject links and sends them with the document. Reminders
and escalations of an approver named by e-mail take the same way: a DM when Slack knows them, else an
e-mail with fresh links.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.core.approvals import Approvals
from bot.core.asking import NOT_IN_SLACK, display_name, email_of, with_names
from bot.core.cards import request_card
from bot.core.deps import Deps
from bot.core.history import record_history
from bot.core.notices import enqueue_notices
from bot.outbox.errors import Permanent
from bot.senders.email import Email, send_email
from bot.settings import SmtpConfig
from engine.approvals import ApprovalRequest, is_requester, is_waiting_on, second_seat, stand_ins, unseat
from engine.durations import wait_parts
from engine.history import SeatRemoval, seat_removed
from engine.limits import is_email
from engine.notify import (
    LINK_DECISIONS,
    Notice,
    NoticeKind,
    Reach,
    ask_notices,
    identity_expiry,
    link_expiry,
    notify_options,
    nudge_notices,
    plan_ask,
    plan_nudge,
    redrawn_for,
)
from engine.nudges import notify_of, told_together
from storage.models import ApprovalLink, OutboxItem, SlackIdentity, hash_link_token
from storage.ports import Repository

LOOKUP_KIND = NoticeKind.LOOKUP.value
LOOKUP_DIGEST_KIND = NoticeKind.LOOKUP_DIGEST.value
EMAIL_KIND = NoticeKind.APPROVAL_EMAIL.value
EMAIL_DIGEST_KIND = NoticeKind.APPROVAL_EMAIL_DIGEST.value
CLOSED_EMAIL_KIND = NoticeKind.CLOSED_EMAIL.value


def new_link_token() -> str:
    """Return a fresh approval-link token: 256 random bits, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


class Asking:
    """The outbox handlers of approver lookups and approval e-mails."""

    def __init__(self, deps: Deps, approvals: Approvals) -> None:
        self.deps = deps
        self.approvals = approvals

    async def lookup(self, item: OutboxItem) -> dict[str, Any]:
        """Find how to reach an approver, then queue what the engine decides for them (an approver Slack shows to
        be the requester, or to sit on the step under another name, is taken off the step instead)."""
        reach = await self.reach(item.payload["approver"])
        async with self.deps.db.unit_of_work() as repo:
            notices, skipped = await self._looked_up(repo, item.payload, item.key or f"outbox:{item.id}", reach)
            await enqueue_notices(repo, notices, self.deps.clock.now())
        self.deps.wake_delivery()
        return skipped or {"slack_user": reach.slack_user, "email": reach.email is not None}

    async def lookup_digest(self, item: OutboxItem) -> dict[str, Any]:
        """Find how to reach an approver reminded (or told of escalations) of several documents at once, then queue
        what the engine decides for each: its e-mails as one, and its DMs as one when Slack knows the address."""
        reach = await self.reach(item.target)
        notices: list[Notice] = []
        skipped = 0
        async with self.deps.db.unit_of_work() as repo:
            for entry in item.payload["items"]:
                found, why = await self._looked_up(repo, entry, str(entry["key"]), reach)
                notices += found
                skipped += why is not None
            await enqueue_notices(repo, told_together(notices, item.key or f"outbox:{item.id}"), self.deps.clock.now())
        self.deps.wake_delivery()
        return {"slack_user": reach.slack_user, "email": reach.email is not None, "skipped": skipped}

    async def _looked_up(
        self, repo: Repository, payload: dict[str, Any], key: str, reach: Reach,
    ) -> tuple[list[Notice], dict[str, Any] | None]:
        """Return what to queue for an approver now reached about one seat (`key`: the lookup's), or why nothing."""
        request = await repo.get_request(payload["request_id"])
        if not is_waiting_on(request, payload["step_index"], payload["approver"]):
            return [], {"skipped": "step no longer waits for this approver"}
        assert request is not None
        if is_requester(request, reach.slack_user or payload["approver"], (reach.email,) if reach.email else ()):
            if not await self.take_off(repo, request, payload["approver"], SeatRemoval.REQUESTER,
                                       self.deps.clock.now()):
                await self.approvals.withdraw(repo, request)  # nobody else can decide: it waits for submission
            return [], {"skipped": "the approver is the requester", "slack_user": reach.slack_user}
        return await self._seat_or_ask(repo, payload, key, request, reach)

    async def _seat_or_ask(
        self, repo: Repository, payload: dict[str, Any], key: str, request: ApprovalRequest, reach: Reach,
    ) -> tuple[list[Notice], dict[str, Any] | None]:
        """Take off a second seat of the approver under another name, else return their ask; say why not asked."""
        approver = payload["approver"]
        twin = second_seat(request, approver, reach.slack_user, reach.email)
        if twin is not None:
            await self.take_off(repo, request, twin, SeatRemoval.SAME_PERSON, self.deps.clock.now())
        if twin == approver:
            return [], {"skipped": "the approver sits on the step under another name", "slack_user": reach.slack_user}
        readers = [] if payload.get("nudge") or not is_email(approver) else [
            ref.user_id for ref in await repo.messages_for(request.id) if ref.step_index == request.current_step]
        redrawn = redrawn_for(request.id, reach.slack_user, {r for r in readers if r})
        return [*await _notices(repo, payload, key, request, reach), *redrawn], None

    async def take_off(
        self, repo: Repository, request: ApprovalRequest, seat: str, why: SeatRemoval, now: datetime,
    ) -> bool:
        """Take a seat off the step (the requester's, a second one of a person, one Slack cannot reach), into the
        run history; a step left short of its quorum gets its escalation targets, else the admins. Return whether
        it was taken off (not when nobody else could decide)."""
        workflow = await repo.get_workflow(request.workflow_id)
        fillers = stand_ins(workflow.approval() if workflow else None, request.requester,
                            await repo.people_groups(), tuple(sorted(self.deps.settings.admins)))
        outcome = unseat(request, seat, fillers, now)
        if outcome.is_counted:
            await record_history(repo, [seat_removed(request, outcome.request, seat, why)], now)
            await self.approvals.apply_outcome(repo, request, outcome, None)
        return outcome.is_counted

    async def unreachable(self, item: OutboxItem, error: str) -> dict[str, Any]:
        """Take off the step the seat of an approver Slack refused to DM (`error`: by Slack id, or by the e-mail
        Slack knows them by), so the request does not wait in vain; Permanent when the step moved on or nobody else
        could decide."""
        request_id, step_index = item.payload["request_id"], item.payload["step_index"]
        person = str(item.payload.get("approver") or item.target)
        async with self.deps.db.unit_of_work() as repo:
            request = await repo.get_request(request_id)
            if not is_waiting_on(request, step_index, person):
                raise Permanent(error)
            assert request is not None
            if not await self.take_off(repo, request, person, SeatRemoval.UNREACHABLE, self.deps.clock.now()):
                raise Permanent(error)
        self.deps.wake_delivery()
        return {"skipped": f"Slack cannot reach the approver ({error}): taken off the step"}

    async def reach(self, approver: str) -> Reach:
        """Return an approver's Slack user and e-mail, asking Slack what the name does not say."""
        if is_email(approver):
            return Reach(approver, slack_user=await self.slack_user_of(approver), email=approver)
        return Reach(approver, slack_user=approver, email=await self.email_of(approver))

    async def slack_user_of(self, email: str) -> str | None:
        """Return the Slack user of an e-mail (None: nobody), from the remembered answer while it holds."""
        now = self.deps.clock.now()
        async with self.deps.db.read() as repo:
            known = await repo.slack_identity(email)
        if known is not None and now < known.expires_at:
            return known.user_id
        try:
            found = await self.deps.slack.client.users_lookupByEmail(email=email)
            user_id: str | None = str(found["user"]["id"])
        except SlackApiError as exc:
            if (exc.response.get("error") if exc.response else None) not in NOT_IN_SLACK:
                raise
            user_id = None
        async with self.deps.db.unit_of_work() as repo:
            await repo.save_slack_identity(SlackIdentity(email, user_id, now, identity_expiry(user_id, now)))
        return user_id

    async def email_of(self, user_id: str) -> str | None:
        """Return the e-mail of a Slack user's profile, if Slack shows it."""
        return await email_of(self.deps.slack, user_id)

    async def send(self, item: OutboxItem) -> dict[str, Any]:
        """Mint an approver's approve and reject links and e-mail them with the document."""
        smtp_url = self.deps.settings.smtp_url
        if not smtp_url:
            raise Permanent("e-mail is off: SIGNOFF_SMTP_URL is not set")
        tokens = await self.mint(item)
        if tokens is None:
            return {"skipped": "step no longer waits for this approver"}
        email = await self.compose(item, tokens)
        message_id = await send_email(email, SmtpConfig.from_url(smtp_url), item.lasting_ref())
        return {"message_id": message_id}

    async def send_closed(self, item: OutboxItem) -> dict[str, Any]:
        """E-mail a seat that the step it was asked for was settled without it (how, by whom): its links are void."""
        smtp_url = self.deps.settings.smtp_url
        if not smtp_url:
            raise Permanent("e-mail is off: SIGNOFF_SMTP_URL is not set")
        email = await self.compose_closed(item)
        return {"message_id": await send_email(email, SmtpConfig.from_url(smtp_url), item.lasting_ref())}

    async def compose_closed(self, item: OutboxItem) -> Email:
        """Render the e-mail of a settled step: who approved that step, or who rejected the request and why."""
        step_index = item.payload["step_index"]
        _, card = await request_card(self.deps.db, item.payload["request_id"], step_index)
        outcome = card["outcome"]
        actors = outcome["actors"] if outcome["status"] == "rejected" else card["steps"][step_index]["approvals"]
        context = {"card": card, "deciders": [await display_name(self.deps.slack, who) for who in actors]}
        render = self.deps.renderer.text
        return Email(to=[item.target], subject=render("approval_closed_email_subject.txt.j2", **context),
                     body=render("approval_closed_email.txt.j2", **context))

    async def mint(self, item: OutboxItem) -> dict[str, str] | None:
        """Store new links for the item's seat (hashed) and return their tokens; None when the step moved on."""
        async with self.deps.db.unit_of_work() as repo:
            return await self._minted(repo, item.payload, item.target)

    async def _minted(self, repo: Repository, payload: dict[str, Any], email: str) -> dict[str, str] | None:
        """Store, in the caller's unit of work, new links for a seat e-mailed to `email`; return their tokens and
        when they expire, or None when the step no longer waits for the seat."""
        request_id, step_index, approver = payload["request_id"], payload["step_index"], payload["approver"]
        request = await repo.get_request(request_id)
        if not is_waiting_on(request, step_index, approver):
            return None
        assert request is not None
        now = self.deps.clock.now()
        workflow = await repo.get_workflow(request.workflow_id)
        action = workflow.approval() if workflow else None
        expires = link_expiry(request.created_at, action.expire_after_s() if action else 0.0, now)
        tokens = {decision: new_link_token() for decision in LINK_DECISIONS}
        for decision, token in tokens.items():
            link = ApprovalLink(request_id, step_index, approver, decision, email, now, expires)
            await repo.add_approval_link(hash_link_token(token), link)
        return {**tokens, "expires_at": expires.isoformat()}

    async def send_digest(self, item: OutboxItem) -> dict[str, Any]:
        """Mint fresh links for each document of a reminder (or escalation) e-mail listing several, those whose
        step still waits for their seat, and send it."""
        smtp_url = self.deps.settings.smtp_url
        if not smtp_url:
            raise Permanent("e-mail is off: SIGNOFF_SMTP_URL is not set")
        async with self.deps.db.unit_of_work() as repo:
            minted = [(entry, await self._minted(repo, entry, item.target)) for entry in item.payload["items"]]
        waiting = [(entry, tokens) for entry, tokens in minted if tokens is not None]
        if not waiting:
            return {"skipped": "no step waits for this approver any more"}
        email = await self.compose_digest(item, waiting)
        message_id = await send_email(email, SmtpConfig.from_url(smtp_url), item.lasting_ref())
        return {"message_id": message_id, "documents": len(waiting)}

    async def compose_digest(self, item: OutboxItem, waiting: list[tuple[dict[str, Any], dict[str, str]]]) -> Email:
        """Render the e-mail listing several documents, each with its approve and reject links."""
        base, documents = self.deps.settings.public_url, []
        for entry, tokens in waiting:
            _, card = await request_card(self.deps.db, entry["request_id"], None)
            documents.append({"record": card["record"], "waited": wait_parts(entry["nudge"].get("waited_s", 0)),
                              "requester_name": await display_name(self.deps.slack, card.get("requester")),
                              "approve_url": f"{base}/approve/{tokens['approve']}",
                              "reject_url": f"{base}/approve/{tokens['reject']}",
                              "expires_at": datetime.fromisoformat(tokens["expires_at"])})
        context = {"documents": documents, "kind": item.payload["kind"], "role": item.payload["role"]}
        render = self.deps.renderer.text
        return Email(to=[item.target], subject=render("approval_nudge_digest_email_subject.txt.j2", **context),
                     body=render("approval_nudge_digest_email.txt.j2", **context))

    async def compose(self, item: OutboxItem, tokens: dict[str, str]) -> Email:
        """Render the approval e-mail: the document, who asked, the step, and the two links."""
        service = self.deps
        _, card = await request_card(service.db, item.payload["request_id"], None)
        card = await with_names(service.slack, card)
        base = service.settings.public_url
        context = {"card": card, "step_index": item.payload["step_index"],
                   "requester_name": await display_name(service.slack, card.get("requester")),
                   "approve_url": f"{base}/approve/{tokens['approve']}",
                   "reject_url": f"{base}/approve/{tokens['reject']}",
                   "expires_at": datetime.fromisoformat(tokens["expires_at"])}
        nudge = item.payload.get("nudge")
        if nudge:
            context["nudge"] = {**nudge, "waited": wait_parts(nudge.get("waited_s", 0))}
        prefix = "approval_nudge_email" if nudge else "approval_email"
        subject = service.renderer.text(f"{prefix}_subject.txt.j2", **context)
        body = service.renderer.text(f"{prefix}.txt.j2", **context)
        return Email(to=[item.target], subject=subject, body=body)


async def _notices(
    repo: Repository, payload: dict[str, Any], key: str, request: ApprovalRequest, reach: Reach,
) -> list[Notice]:
    """Return what the engine decides to send an approver it can now reach: a nudge, or the ask of their step."""
    nudge = payload.get("nudge")
    if nudge:
        return nudge_notices(plan_nudge(reach, notify_of(nudge)), nudge, key)
    workflow = await repo.get_workflow(request.workflow_id)
    ask = plan_ask(reach, notify_options(workflow), request.requester)
    return ask_notices(ask, payload["request_id"], payload["step_index"])
