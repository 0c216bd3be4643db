"""The approval page of an e-mailed link: `GET /approve/{token}` shows, `POST /approve/{token}` decides.

The token in the path is the capability: 256 random bits, stored hashed, bound to one seat (request, step,
approver) and one decision, expiring, used once. A POST is the same decision as a Slack click (`Signoff.decide`);
the link is used in the transaction that counts the vote (`Database.carrying`), so a refused vote uses nothing.
Cross-site POSTs are refused by their `Sec-Fetch-Site` or `Origin` header when the browser sends one.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from bot.api.deps import service_of
from bot.core.asking import display_name, with_names
from bot.core.service import Signoff
from bot.errors import UndeliverableError
from engine.approvals import MAX_REASON_CHARS, Decision, closed_params, valid_reason
from engine.errors import VoteRefusedError
from engine.notify import LinkProblem, link_problem
from messages.pages import render_page
from storage.models import ApprovalLink, hash_link_token
from storage.ports import Repository

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")
MAX_FORM_BYTES = 16_384
SAME_SITE = frozenset({"same-origin", "none"})
# the one place a page's state becomes an HTTP status
MAX_USER_AGENT_CHARS = 300
STATUS = {"form": 200, "done": 200, "invalid": 422, "refused": 409, "forbidden": 403, "too_large": 413,
          LinkProblem.NOT_FOUND.value: 404, LinkProblem.USED.value: 410, LinkProblem.EXPIRED.value: 410}
HEADERS = {
    "Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
}


class LinkUnusableError(Exception):
    """The link was used or expired meanwhile: the vote it carried is rolled back."""

    def __init__(self, problem: LinkProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


@dataclass(frozen=True)
class Page:
    """What the approval page shows."""

    state: str
    decision: str = "approve"
    card: dict[str, Any] | None = None
    step_index: int = 0
    requester_name: str = ""
    error: str | None = None
    message: str | None = None
    reason: str = ""
    forced: str | None = None  # why approving is a forced approval (`stale`), which takes a reason

    def status(self) -> int:
        """Return the HTTP status of the page."""
        return STATUS["invalid"] if self.state == "form" and self.error else STATUS[self.state]




def _html(service: Signoff, page: Page) -> HTMLResponse:
    settings = service.settings
    body = render_page("approval_page.html.j2", settings.locale, settings.timezone,
                       page={**page.__dict__, "lang": settings.locale})
    return HTMLResponse(body, status_code=page.status(), headers=HEADERS)


async def _link(service: Signoff, token: str) -> ApprovalLink | None:
    if not TOKEN.match(token):
        return None
    async with service.db.read() as repo:
        return await repo.approval_link(hash_link_token(token))


async def _described(service: Signoff, link: ApprovalLink, state: str) -> Page:
    try:
        card = await service.messages.card_for(link.request_id)
    except UndeliverableError:
        return Page(LinkProblem.NOT_FOUND.value)
    request = await service.approvals.request(link.request_id)
    name = await display_name(service.slack, request.requester if request else None)
    return Page(state, link.decision, await with_names(service.slack, card), link.step_index, name)


def _refusal(service: Signoff, code: str, detail: str = "", params: dict[str, Any] | None = None) -> str:
    return service.renderer.text("refusal.txt.j2", code=code, detail=detail, params=params or {})


async def _named(service: Signoff, params: dict[str, Any]) -> dict[str, Any]:
    """Return a refusal's params with the people who decided named as a page names them (not as Slack ids)."""
    return params | {"by": [await display_name(service.slack, who) for who in params.get("by") or []]}


async def _page_of(service: Signoff, link: ApprovalLink | None, typed: str | None = None) -> Page:
    """Return the page a link shows before any decision: the form, or why it cannot be used (`typed`: the reason a
    refused rejection carried, given back)."""
    if link is None:
        return Page(LinkProblem.NOT_FOUND.value)
    problem = link_problem(link.used_at, link.expires_at, service.clock.now())
    page = await _described(service, link, problem.value if problem else "form")
    request = await service.approvals.request(link.request_id)
    if page.state != "form" or request is None:
        return page
    if not request.is_open():
        latest = await service.approvals.latest_request(request.record_type, request.record_id)
        params = await _named(service, closed_params(request, Decision(link.decision), typed, latest))
        return replace(page, state="refused", message=_refusal(service, "request_closed", params=params))
    if request.current_step > link.step_index:
        params = await _named(service, {"by": list(request.approvals_on(link.step_index))})
        return replace(page, state="refused", message=_refusal(service, "step_moved_on", params=params))
    if request.current_step != link.step_index or link.approver not in request.step().approvers:
        return replace(page, state="refused", message=_refusal(service, "not_an_approver"))
    if link.decision == Decision.APPROVE.value:
        kind = await service.approvals.force_needed(link.request_id, link.approver, None)
        return replace(page, forced=kind.value if kind is not None else None)
    return page


@router.get("/approve/{token:path}")
async def show(token: str, request: Request) -> HTMLResponse:
    """Show the document and the confirmation form of an approval link; change nothing."""
    service = service_of(request)
    return _html(service, await _page_of(service, await _link(service, token)))


def is_cross_site(headers: Any, public_url: str, own_origin: str) -> bool:
    """Tell whether a POST comes from another site, by `Sec-Fetch-Site`, else `Origin` (absent: not known)."""
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site.lower() not in SAME_SITE
    origin = headers.get("origin")
    if origin is None:
        return False
    public = urlsplit(public_url)
    return origin.rstrip("/").lower() not in {f"{public.scheme}://{public.netloc}".lower(), own_origin.lower()}


async def _form(request: Request) -> dict[str, str] | None:
    """Return the posted form fields (first value of each), or None when the body is too large to be ours."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    try:
        fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=20)
    except ValueError:  # more fields than any form of this page has
        return None
    return {name: values[0] for name, values in fields.items() if values}


def _reason(form: dict[str, str]) -> str | None:
    """Return the typed reason, or None when it is too short, too long or holds control characters."""
    return valid_reason(form.get("reason", ""))


@router.post("/approve/{token:path}")
async def submit(token: str, request: Request) -> HTMLResponse:
    """Decide with an approval link: the same decision as a Slack click, and the link used in its transaction."""
    service = service_of(request)
    if not TOKEN.match(token):
        return _html(service, Page(LinkProblem.NOT_FOUND.value))
    own_origin = f"{request.url.scheme}://{request.headers.get('host', '')}"
    if is_cross_site(request.headers, service.settings.public_url, own_origin):
        return _html(service, Page("forbidden"))
    form = await _form(request)
    if form is None:
        return _html(service, Page("too_large"))
    page = await _page_of(service, await _link(service, token), form.get("reason"))
    if page.state == "refused" and (used := await _problem_now(service, token)) is not None:
        page = replace(page, state=used.value, message=None)  # another link of the seat decided meanwhile
    if page.state != "form":
        return _html(service, page)
    return _html(service, await _decide(service, token, page, form, _clicked_from(request)))


def _clicked_from(request: Request) -> dict[str, str]:
    """Return what the audit keeps of where a link was used: the client's address and its browser."""
    return {"client": request.client.host if request.client else "", "user_agent":
            request.headers.get("user-agent", "")[:MAX_USER_AGENT_CHARS]}


async def _decide(service: Signoff, token: str, page: Page, form: dict[str, str], clicked: dict[str, str]) -> Page:
    """Count the link's decision; a rejection and a forced approval (`page.forced`) take a reason."""
    needs_reason = page.decision == "reject" or page.forced is not None
    reason = _reason(form) if needs_reason else None
    if needs_reason and reason is None:
        typed = form.get("reason", "")[:MAX_REASON_CHARS]
        return replace(page, error=_refusal(service, "reason_required"), reason=typed)
    async with service.db.read() as repo:
        link = await repo.approval_link(hash_link_token(token))
    assert link is not None
    approvals = service.approvals
    try:
        with service.db.carrying(lambda repo: _use(service, repo, token, link, clicked)):
            if page.forced is not None:
                result = await approvals.force(link.request_id, link.approver, reason or "", None)
            else:
                result = await approvals.decide(link.request_id, link.approver, Decision(link.decision), reason,
                                                unless_forced=True)
    except LinkUnusableError as exc:
        return replace(page, state=exc.problem.value)
    except VoteRefusedError as exc:
        # A refusal because another link of this seat decided first is that link's use: say the link is used.
        used = await _problem_now(service, token)
        if used is not None:
            return replace(page, state=used.value)
        return replace(page, state="refused",
                       message=_refusal(service, exc.code, str(exc), await _named(service, exc.params)))
    message = None if result.is_counted else _refusal(service, "already_voted")
    return replace(page, state="done", message=message)


async def _problem_now(service: Signoff, token: str) -> LinkProblem | None:
    """Return why a link cannot be used now (used, expired, gone), or None."""
    async with service.db.read() as repo:
        current = await repo.approval_link(hash_link_token(token))
    if current is None:
        return LinkProblem.NOT_FOUND
    return link_problem(current.used_at, current.expires_at, service.clock.now())


async def _use(service: Signoff, repo: Repository, token: str, link: ApprovalLink, clicked: dict[str, str]) -> None:
    """Use the link (compare-and-set) and audit it, in the vote's transaction; raise to roll the vote back."""
    now = service.clock.now()
    if not await repo.use_approval_link(hash_link_token(token), now):
        current = await repo.approval_link(hash_link_token(token))
        problem = link_problem(current.used_at, current.expires_at, now) if current else LinkProblem.NOT_FOUND
        raise LinkUnusableError(problem or LinkProblem.USED)
    if not await repo.has_vote(link.request_id, link.step_index, link.approver):
        raise VoteRefusedError("You are not an approver of the current step.", "not_an_approver")
    await repo.audit(now, link.approver, "approval_link_used", ("request", link.request_id), None, None,
                     {"step": link.step_index, "decision": link.decision, **clicked})
