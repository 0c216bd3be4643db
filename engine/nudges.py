"""Who hears of a reminder or an escalation that fell due, and how: a Slack DM (to a delegate while away) or e-mail."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from engine.approvals import ApprovalRequest
from engine.delegation import Delegation, Recipient, recipient_for, recipients_on_step
from engine.limits import is_email
from engine.notify import Notice, NoticeKind, behalf_of, is_slack_user, nudge_lookup
from engine.planning import DueAction
from engine.workflows import DEFAULT_NOTIFY

DIGEST_FROM = 4  # reminders (or escalations) of this many documents to one person at once make one message
DIGESTS = {NoticeKind.REMIND: NoticeKind.REMIND_DIGEST, NoticeKind.ESCALATE: NoticeKind.ESCALATE_DIGEST}


def waited_s(action: DueAction, now: datetime, tz: ZoneInfo | None = None) -> float:
    """Return how long the step has waited, in seconds, when the action is carried out (late after an outage); with
    `tz`, on the company's clocks, so that a day across a change of daylight saving time is a day, not 23 hours."""
    since, at = datetime.fromisoformat(action.data["since"]), max(now, action.due_at)
    if tz is None:
        return (at - since).total_seconds()
    return (at.astimezone(tz).replace(tzinfo=None) - since.astimezone(tz).replace(tzinfo=None)).total_seconds()


def routes_for(
    request: ApprovalRequest | None, people: Sequence[str], delegations: Sequence[Delegation], now: datetime,
) -> dict[str, Recipient]:
    """Return who is told about each approver's decision: the approver, or their delegate while away."""
    if request is None:
        return {p: recipient_for(p, delegations, now) for p in people}
    return recipients_on_step(request, people, delegations, now)


def reminded_people(actions: Iterable[DueAction]) -> set[str]:
    """Return everyone the reminders are for (whose delegations matter)."""
    return {p for action in actions for p in action.data["to"]}


def notify_of(data: Mapping[str, Any]) -> list[str]:
    """Return how the approvers of a reminder's or an escalation's step are asked (`notify`; the default before
    actions carried it)."""
    return list(data.get("notify", DEFAULT_NOTIFY))


def is_mailed(recipient: Recipient, notify: Sequence[str]) -> bool:
    """Tell whether a Slack user's nudge goes through a lookup of their e-mail (`notify` lists email), not straight to
    a DM; a delegate standing in is always sent a DM."""
    return "email" in notify and recipient.on_behalf_of is None


def reminder_notices(
    action: DueAction, request: ApprovalRequest | None, delegations: Sequence[Delegation], now: datetime,
    tz: ZoneInfo | None = None,
) -> list[Notice]:
    """Return a due reminder's messages, by the channels of the step's asks: a DM to each Slack approver (or
    delegate) the step DMs, a lookup for each e-mail and for each Slack approver who is e-mailed too (which only
    e-mails when the DM is queued here: so the DMs of many reminders at once can be grouped)."""
    data, notify = action.data, notify_of(action.data)
    payload = {"request_id": data["request_id"], "step_index": data["step_index"], "n": data["n"],
               "waited_s": waited_s(action, now, tz)}
    nudge = {**payload, "kind": NoticeKind.REMIND.value, "notify": notify}
    routes = routes_for(request, [p for p in data["to"] if is_slack_user(p)], delegations, now)
    direct = [p for p, r in routes.items() if not is_mailed(r, notify) or "dm" in notify]
    notices = [Notice(NoticeKind.REMIND, routes[p].person, {**payload, **behalf_of(routes[p])}, f"{action.key}:{p}")
               for p in direct]
    mailed = [p for p, r in routes.items() if is_mailed(r, notify)]
    return notices + [nudge_lookup(p, {**nudge, "is_dm_queued": p in direct},
                                   f"{action.key}:{p}:mail" if p in direct else f"{action.key}:{p}")
                      for p in [*mailed, *(p for p in data["to"] if is_email(p))]]


def escalation_targets(data: Mapping[str, Any]) -> list[str]:
    """Return the Slack users an escalation is for: they become approvers of the step."""
    return [p for p in data["to"] if is_slack_user(p)]


def escalation_told(data: Mapping[str, Any]) -> list[str]:
    """Return the Slack approvers told that their step was escalated past them (not its targets)."""
    return [p for p in data["waiting_on"] if is_slack_user(p) and p not in data["to"]]


def escalation_people(data: Mapping[str, Any]) -> list[str]:
    """Return every Slack user who hears of an escalation (whose delegations matter)."""
    return [*escalation_targets(data), *escalation_told(data)]


def escalation_notices(
    action: DueAction, request: ApprovalRequest | None, delegations: Sequence[Delegation], now: datetime,
    tz: ZoneInfo | None = None,
) -> list[Notice]:
    """Return an escalation's messages (`request` as escalated), by the channels of the step's asks as a reminder's:
    buttons to its targets, notices to who did not act (a DM queued here, so that the DMs of many escalations at
    once can be grouped; an e-mail through a lookup)."""
    data = action.data
    payload = {"request_id": data["request_id"], "step_index": data["step_index"], "level": data["level"],
               "to": list(data["to"]), "waiting_on": list(data["waiting_on"]), "waited_s": waited_s(action, now, tz)}
    nudge = {**payload, "kind": NoticeKind.ESCALATE.value, "notify": notify_of(data)}
    told = [p for p in data["waiting_on"] if p not in data["to"]]
    return [*_escalated(action, request, delegations, now, nudge, "target", list(data["to"])),
            *_escalated(action, request, delegations, now, nudge, "notice", told)]


def _escalated(
    action: DueAction, request: ApprovalRequest | None, delegations: Sequence[Delegation], now: datetime,
    nudge: Mapping[str, Any], role: str, people: Sequence[str],
) -> list[Notice]:
    """Return one role's messages of an escalation: a DM to each Slack user the step DMs (or their delegate), a
    lookup for each e-mail and for each Slack user who is e-mailed too."""
    notify, prefix = nudge["notify"], f"{action.key}:" if role == "target" else f"{action.key}:notice:"
    payload = {k: v for k, v in nudge.items() if k not in ("kind", "notify")}
    routes = routes_for(request, [p for p in people if is_slack_user(p)], delegations, now)
    direct = [p for p, r in routes.items() if not is_mailed(r, notify) or "dm" in notify]
    notices = [Notice(NoticeKind.ESCALATE, routes[p].person, {**payload, "role": role, **behalf_of(routes[p])},
                      f"{prefix}{p}") for p in direct]
    mailed = [p for p, r in routes.items() if is_mailed(r, notify)]
    return notices + [nudge_lookup(p, {**nudge, "role": role, "is_dm_queued": p in direct},
                                   f"{prefix}{p}:mail" if p in direct else f"{prefix}{p}")
                      for p in [*mailed, *(p for p in people if is_email(p))]]


def reminded_seat(payload: Mapping[str, Any], target: str) -> str:
    """Return whose seat a queued reminder is about: the away approver's, the approver's, or its recipient's."""
    return str(payload.get("on_behalf_of") or payload.get("approver") or target)


def digested(notices: Sequence[Notice], digest_from: int = DIGEST_FROM) -> list[Notice]:
    """Return reminders and escalations as they are sent: a person told the same way (reminded, escalated to, told
    of an escalation past them) of `digest_from` or more documents at once gets one message listing them (keyed by
    the notices it stands for) instead of one message each. The lookups before e-mailed ones are grouped alike:
    their e-mails and DMs then come as one each (`told_together`)."""
    groups: dict[tuple[str, str, str], list[Notice]] = {}
    for notice in notices:
        group = _digest_group(notice)
        if group is not None:
            groups.setdefault(group, []).append(notice)
    many = {group: found for group, found in groups.items() if len(found) >= digest_from}
    covered = {id(n) for found in many.values() for n in found}
    return [n for n in notices if id(n) not in covered] + [_digest(*group, found) for group, found in many.items()]


def _digest_group(notice: Notice) -> tuple[str, str, str] | None:
    """Return what a reminder or an escalation is grouped by (its digest's kind, its person, their role), or None."""
    if notice.kind in DIGESTS:
        return DIGESTS[NoticeKind(notice.kind)].value, notice.target, str(notice.payload.get("role", ""))
    nudge = notice.payload.get("nudge") if notice.kind == NoticeKind.LOOKUP else None
    if not nudge:
        return None
    return f"{NoticeKind.LOOKUP_DIGEST.value}:{nudge['kind']}", notice.target, str(nudge.get("role", ""))


def _digest(kind: str, person: str, role: str, notices: Sequence[Notice]) -> Notice:
    digest = NoticeKind(kind.partition(":")[0])
    if digest is NoticeKind.LOOKUP_DIGEST:
        return _keyed(digest, person, notices, {"items": [{**n.payload, "key": n.key} for n in notices]})
    return _keyed(digest, person, notices, _listed(notices, role))


def _keyed(kind: NoticeKind, person: str, notices: Sequence[Notice], payload: dict[str, Any]) -> Notice:
    """Return the notice standing for several, keyed by theirs (so that queueing it again queues nothing)."""
    keys = sorted(str(n.key) for n in notices)
    return Notice(kind, person, payload, f"{kind.value}:" + hashlib.sha256("|".join(keys).encode()).hexdigest()[:32])


def _listed(notices: Sequence[Notice], role: str) -> dict[str, Any]:
    """Return the payload of a message listing the documents of these notices (and the keys it stands for)."""
    keys = sorted(str(n.key) for n in notices)
    payload: dict[str, Any] = {"items": [dict(n.payload) for n in notices], "covers": keys}
    return {**payload, "role": role} if role else payload


def told_together(notices: Sequence[Notice], key: str) -> list[Notice]:
    """Return what the lookup of a digest found to send, as sent: its e-mails as one listing the documents, its DMs
    as one; keyed by the digest's `key`, so that running it again, with fewer documents still waiting, adds nothing."""
    mails = [n for n in notices if n.kind == NoticeKind.APPROVAL_EMAIL and n.payload.get("nudge")]
    dms = [n for n in notices if n.kind in DIGESTS]
    told = [n for n in notices if n not in mails and n not in dms]
    if mails:
        nudge = mails[0].payload["nudge"]
        payload = {"items": [dict(n.payload) for n in mails], "kind": nudge["kind"], "role": nudge.get("role", "")}
        told.append(Notice(NoticeKind.APPROVAL_EMAIL_DIGEST, mails[0].target, payload, f"{key}:mail"))
    if dms:
        digest = DIGESTS[NoticeKind(dms[0].kind)]
        told.append(Notice(digest, dms[0].target, _listed(dms, str(dms[0].payload.get("role", ""))), f"{key}:dm"))
    return told
