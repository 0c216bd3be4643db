"""Asking approvers as their workflow says: Slack DMs, Home tasks, and e-mails with single-use approval links.

The engine decides who is asked how (`engine.notify`); this module queues what it decided and, in the outbox
worker, finds the Slack user of an approver's e-mail (`users.lookupByEmail`, remembered for a while) or the
e-mail of a Slack user, then mints the links and sends the e-mail. Reminders and escalations of an approver
named by e-mail take the same way: a DM when Slack knows them, else an e-mail with fresh links.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.core.cards import request_card
from bot.core.deps import Deps
from bot.errors import UndeliverableError
from bot.senders.email import Email, SmtpConfig, send_email
from bot.senders.slack import SlackOut
from engine.approvals import ApprovalRequest
from engine.durations import wait_parts
from engine.events import ApprovalRequested
from engine.notify import (
    LINK_DECISIONS,
    Ask,
    Reach,
    identity_expiry,
    is_email,
    is_slack_user,
    link_expiry,
    needs_lookup,
    plan_ask,
    plan_nudge,
    reach_without_lookup,
)
from engine.workflows import DEFAULT_NOTIFY
from storage.models import ApprovalLink, NewMessage, OutboxItem, SlackIdentity, hash_link_token
from storage.ports import Repository

log = logging.getLogger(__name__)

LOOKUP_KIND = "approver_lookup"
EMAIL_KIND = "approval_email"
NOT_IN_SLACK = frozenset({"users_not_found", "user_not_found"})


def new_link_token() -> str:
    """Return a fresh approval-link token: 256 random bits, URL-safe (43 characters)."""
    return secrets.token_urlsafe(32)


async def notify_of(repo: Repository, request: ApprovalRequest | None) -> list[str]:
    """Return how the request's workflow asks its approvers (`notify`), the default when it is gone."""
    workflow = await repo.get_workflow(request.workflow_id) if request else None
    action = workflow.approval() if workflow else None
    return list(action.notify if action else DEFAULT_NOTIFY)


async def enqueue_asks(repo: Repository, event: ApprovalRequested, request: ApprovalRequest | None,
                       now: datetime) -> None:
    """Queue the asks of a step that starts: at once when the approver's name says enough, else after a lookup."""
    notify = await notify_of(repo, request)
    requester = request.requester if request else None
    for approver in event.approvers:
        if needs_lookup(approver, notify):
            payload = {"request_id": event.request_id, "step_index": event.step_index, "approver": approver}
            key = f"lookup:{event.request_id}:{event.step_index}:{approver}"
            await repo.enqueue(LOOKUP_KIND, approver, payload, now, key=key)
        else:
            await enqueue_ask(repo, plan_ask(reach_without_lookup(approver), notify, requester),
                              event.request_id, event.step_index, now)


async def enqueue_ask(repo: Repository, ask: Ask | None, request_id: str, step_index: int, now: datetime) -> None:
    """Queue what one ask needs: the DM with the buttons, the e-mail with the links (a Home task needs nothing)."""
    if ask is None:
        return
    payload = {"request_id": request_id, "step_index": step_index}
    if ask.dm_to:
        await repo.enqueue("ask", ask.dm_to, payload, now, key=f"ask:{request_id}:{step_index}:{ask.dm_to}")
    if ask.email_to:
        await repo.enqueue(EMAIL_KIND, ask.email_to, {**payload, "approver": ask.approver}, now,
                           key=f"mail:{request_id}:{step_index}:{ask.approver}")


def nudge_by_lookup(approver: str, nudge: dict[str, Any], key: str) -> NewMessage:
    """Return the lookup that reminds an approver named by e-mail, or tells them of an escalation (`nudge`)."""
    payload = {"request_id": nudge["request_id"], "step_index": nudge["step_index"], "approver": approver,
               "nudge": nudge}
    return NewMessage(LOOKUP_KIND, approver, payload, key)


async def enqueue_nudge(repo: Repository, ask: Ask | None, nudge: dict[str, Any], key: str, now: datetime) -> None:
    """Queue a reminder or an escalation as planned: the Slack DM of its kind, or the e-mail with fresh links."""
    if ask is None:
        return
    if ask.dm_to:
        payload = {k: v for k, v in nudge.items() if k != "kind"}
        await repo.enqueue(nudge["kind"], ask.dm_to, {**payload, "approver": ask.approver}, now, key=f"{key}:dm")
    if ask.email_to:
        payload = {"request_id": nudge["request_id"], "step_index": nudge["step_index"], "approver": ask.approver,
                   "nudge": nudge}
        await repo.enqueue(EMAIL_KIND, ask.email_to, payload, now, key=f"{key}:mail")


def _is_waiting(request: ApprovalRequest | None, step_index: int, approver: str) -> bool:
    return (request is not None and request.is_open() and request.current_step == step_index
            and approver in request.step().approvers and not request.has_voted(approver))


async def display_name(slack: SlackOut, ref: str | None) -> str:
    """Return how a person is named in an e-mail or on a page: their Slack name, or the e-mail given."""
    if not ref or not is_slack_user(ref):
        return ref or "—"
    try:
        info = await slack.client.users_info(user=ref)
    except Exception:  # a name is a nicety: the page and the e-mail never fail for want of one
        log.info("could not read the name of %s; showing the id", ref, exc_info=True)
        return ref
    user = info.get("user") or {}
    return str(user.get("real_name") or user.get("name") or ref)


class Asking:
    """The outbox handlers of approver lookups and approval e-mails."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps

    async def lookup(self, item: OutboxItem) -> dict[str, Any]:
        """Find how to reach an approver, then queue what the engine decides for them."""
        request_id, step_index, approver = (item.payload["request_id"], item.payload["step_index"],
                                            item.payload["approver"])
        reach = await self.reach(approver)
        now = self.deps.clock.now()
        async with self.deps.db.transaction() as repo:
            request = await repo.get_request(request_id)
            if not _is_waiting(request, step_index, approver):
                return {"skipped": "step no longer waits for this approver"}
            assert request is not None
            nudge = item.payload.get("nudge")
            if nudge:
                await enqueue_nudge(repo, plan_nudge(reach), nudge, item.key or f"outbox:{item.id}", now)
            else:
                ask = plan_ask(reach, await notify_of(repo, request), request.requester)
                await enqueue_ask(repo, ask, request_id, step_index, now)
        self.deps.wake_delivery()
        return {"slack_user": reach.slack_user, "email": reach.email is not None}

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
        async with self.deps.db.transaction() as repo:
            await repo.save_slack_identity(SlackIdentity(email, user_id, now, identity_expiry(user_id, now)))
        return user_id

    async def email_of(self, user_id: str) -> str | None:
        """Return the e-mail of a Slack user's profile, if Slack shows it."""
        try:
            info = await self.deps.slack.client.users_info(user=user_id)
        except SlackApiError as exc:
            if (exc.response.get("error") if exc.response else None) not in NOT_IN_SLACK:
                raise
            return None
        email = ((info.get("user") or {}).get("profile") or {}).get("email")
        return str(email) if email else None

    async def send(self, item: OutboxItem) -> dict[str, Any]:
        """Mint an approver's approve and reject links and e-mail them with the document."""
        smtp_url = self.deps.settings.smtp_url
        if not smtp_url:
            raise UndeliverableError("e-mail is off: SIGNOFF_SMTP_URL is not set")
        tokens = await self.mint(item)
        if tokens is None:
            return {"skipped": "step no longer waits for this approver"}
        email = await self.compose(item, tokens)
        message_id = await send_email(email, SmtpConfig.from_url(smtp_url))
        return {"message_id": message_id}

    async def mint(self, item: OutboxItem) -> dict[str, str] | None:
        """Store new links for the item's seat (hashed) and return their tokens; None when the step moved on."""
        request_id, step_index, approver = (item.payload["request_id"], item.payload["step_index"],
                                            item.payload["approver"])
        now = self.deps.clock.now()
        async with self.deps.db.transaction() as repo:
            request = await repo.get_request(request_id)
            if not _is_waiting(request, step_index, approver):
                return None
            assert request is not None
            workflow = await repo.get_workflow(request.workflow_id)
            action = workflow.approval() if workflow else None
            expires = link_expiry(request.created_at, action.expire_after_s() if action else 0.0, now)
            tokens = {decision: new_link_token() for decision in LINK_DECISIONS}
            for decision, token in tokens.items():
                link = ApprovalLink(request_id, step_index, approver, decision, item.target, now, expires)
                await repo.add_approval_link(hash_link_token(token), link)
        return {**tokens, "expires_at": expires.isoformat()}

    async def compose(self, item: OutboxItem, tokens: dict[str, str]) -> Email:
        """Render the approval e-mail: the document, who asked, the step, and the two links."""
        service = self.deps
        _, card = await request_card(service.db, item.payload["request_id"], None)
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


def register(handlers: dict[str, Any], deps: Deps) -> None:
    """Add the handlers of approver lookups and approval e-mails to the outbox worker's."""
    asking = Asking(deps)
    handlers[LOOKUP_KIND] = asking.lookup
    handlers[EMAIL_KIND] = asking.send

