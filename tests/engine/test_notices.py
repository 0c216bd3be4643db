"""Who is told what about an approval outcome: refreshes, asks, lookups, the channel copy, the requester's outcome."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.approvals import ApprovalRequest, Decision, Outcome, RequestStatus, Step, Vote
from engine.delegation import Delegation
from engine.events import (
    ApprovalRequested,
    Event,
    RecordApproved,
    RecordRejected,
    SeatTakenOff,
    StepApproved,
    VoteRecorded,
)
from engine.lifecycle import CHANGED, VOIDED
from engine.notify import (
    Ask,
    EmailedSeat,
    Notice,
    NoticeKind,
    ask_notices,
    closed_email_notice,
    is_told_settled,
    needs_workflow,
    notices_of,
    notify_options,
    nudge_lookup,
    nudge_notices,
    redrawn_for,
    refresh_notice,
)
from engine.workflows import DEFAULT_NOTIFY, Workflow, parse_definition

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def workflow(channel: str | None = None, notify: list[str] | None = None) -> Workflow:
    approval: dict[str, Any] = {"type": "approval", "steps": [{"approvers": ["U01AAA"]}]}
    if channel:
        approval["channel"] = channel
    if notify is not None:
        approval["notify"] = notify
    definition = parse_definition({"name": "W", "record_type": "invoice", "actions": [approval]})
    return Workflow(**definition.model_dump(), id="wf", created_at=NOW, updated_at=NOW)


def outcome(events: tuple[Event, ...], requester: str | None = "U0REQ") -> Outcome:
    request = ApprovalRequest("AR-1", "invoice", "INV-1", "wf", requester, (Step(0, ("U01AAA",), 1),),
                              NOW, NOW, status=RequestStatus.PENDING)
    return Outcome(request, events)


def asked(step: int, *approvers: str) -> ApprovalRequested:
    return ApprovalRequested("AR-1", step, approvers, NOW)


REFRESH = Notice("refresh", "AR-1", {"request_id": "AR-1"}, None, is_coalesced=True)
STEP0 = {"request_id": "AR-1", "step_index": 0}
STEP1 = {"request_id": "AR-1", "step_index": 1}
ASK_A = Notice("ask", "U01AAA", {**STEP0, "approver": "U01AAA"}, "ask:AR-1:0:U01AAA")
COPY = Notice("channel_copy", "#finance", STEP0, "copy:AR-1")
OUTCOME = Notice("outcome", "U0REQ", {"request_id": "AR-1"}, "outcome:AR-1")
LOOKUP_EXT = Notice("approver_lookup", "ext@partner.example", {**STEP0, "approver": "ext@partner.example"},
                    "lookup:AR-1:0:ext@partner.example")


@pytest.mark.parametrize(
    ("events", "flow", "requester", "expected"),
    [
        ((), workflow(), "U0REQ", []),
        ((asked(0, "U01AAA"),), workflow(), "U0REQ", [REFRESH, ASK_A]),
        ((asked(0, "U01AAA"),), workflow("#finance"), "U0REQ", [REFRESH, ASK_A, COPY]),
        ((asked(0, "U01AAA"),), None, "U0REQ", [REFRESH, ASK_A]),
        ((asked(0, "U01AAA"),), workflow(notify=["home"]), "U0REQ", [REFRESH]),
        ((asked(0, "ext@partner.example"),), workflow(), "U0REQ", [REFRESH, LOOKUP_EXT]),
        ((asked(0, "U0REQ"),), workflow(), "U0REQ", [REFRESH]),
        ((asked(1, "U01AAA"),), workflow("#finance"), "U0REQ",
         [REFRESH, Notice("ask", "U01AAA", {**STEP1, "approver": "U01AAA"}, "ask:AR-1:1:U01AAA")]),
        ((VoteRecorded("AR-1", 0, "U01AAA", "approve", NOW),), workflow(), "U0REQ", [REFRESH]),
        ((StepApproved("AR-1", 0, ("U01AAA",), NOW), RecordApproved("AR-1", NOW)), workflow(), "U0REQ",
         [REFRESH, OUTCOME]),
        ((RecordRejected("AR-1", "U01AAA", "no", NOW),), workflow(), "U0REQ", [REFRESH, OUTCOME]),
        ((RecordApproved("AR-1", NOW),), workflow(), "api@example.com", [REFRESH]),
        ((RecordRejected("AR-1", None, "expired", NOW, "expired"),), workflow(), None, [REFRESH]),
    ],
)
def test_who_is_told_of_an_outcome(
    events: tuple[Event, ...], flow: Workflow | None, requester: str | None, expected: list[Notice],
) -> None:
    assert notices_of(outcome(events, requester), flow) == expected


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ((), False),
        ((RecordApproved("AR-1", NOW),), False),
        ((StepApproved("AR-1", 0, ("U01AAA",), NOW), asked(1, "U01AAA")), True),
    ],
)
def test_the_workflow_matters_only_when_a_step_starts(events: tuple[Event, ...], expected: bool) -> None:
    assert needs_workflow(outcome(events)) is expected


@pytest.mark.parametrize(
    ("flow", "expected"),
    [
        (None, list(DEFAULT_NOTIFY)),
        (workflow(notify=["email"]), ["email"]),
        (workflow(), list(DEFAULT_NOTIFY)),
    ],
)
def test_notify_options(flow: Workflow | None, expected: list[str]) -> None:
    assert notify_options(flow) == expected


@pytest.mark.parametrize(
    ("ask", "kinds"),
    [
        (None, []),
        (Ask("U01AAA", home=True), []),
        (Ask("U01AAA", dm_to="U01AAA"), [("ask", "U01AAA", "ask:AR-1:0:U01AAA")]),
        (Ask("a@x.example", email_to="a@x.example"), [("approval_email", "a@x.example", "mail:AR-1:0:a@x.example")]),
        (Ask("U01AAA", dm_to="U01AAA", email_to="a@x.example"),
         [("ask", "U01AAA", "ask:AR-1:0:U01AAA"), ("approval_email", "a@x.example", "mail:AR-1:0:U01AAA")]),
    ],
)
def test_what_an_ask_queues(ask: Ask | None, kinds: list[tuple[str, str, str]]) -> None:
    assert [(n.kind, n.target, n.key) for n in ask_notices(ask, "AR-1", 0)] == kinds


NUDGE = {"kind": "remind", "request_id": "AR-1", "step_index": 0, "n": 2}


@pytest.mark.parametrize(
    ("ask", "expected"),
    [
        (None, []),
        (Ask("a@x.example", dm_to="U01AAA"),
         [Notice("remind", "U01AAA", {"request_id": "AR-1", "step_index": 0, "n": 2, "approver": "a@x.example"},
                 "k:dm")]),
        (Ask("a@x.example", email_to="a@x.example"),
         [Notice("approval_email", "a@x.example",
                 {"request_id": "AR-1", "step_index": 0, "approver": "a@x.example", "nudge": NUDGE}, "k:mail")]),
    ],
)
def test_what_a_nudge_queues(ask: Ask | None, expected: list[Notice]) -> None:
    assert nudge_notices(ask, NUDGE, "k") == expected


def test_a_nudge_by_lookup_carries_the_nudge() -> None:
    notice = nudge_lookup("a@x.example", NUDGE, "k")
    assert (notice.kind, notice.target, notice.key) == (NoticeKind.LOOKUP, "a@x.example", "k")
    assert notice.payload == {"request_id": "AR-1", "step_index": 0, "approver": "a@x.example", "nudge": NUDGE}
    assert refresh_notice("AR-9") == Notice("refresh", "AR-9", {"request_id": "AR-9"}, is_coalesced=True)


def test_a_nudge_whose_dm_was_queued_already_only_e_mails() -> None:
    both = Ask("U01AAA", dm_to="U01AAA", email_to="a@x.example")
    queued = {**NUDGE, "is_dm_queued": True}
    assert [n.kind for n in nudge_notices(both, queued, "k")] == ["approval_email"]
    assert nudge_notices(Ask("U01AAA", dm_to="U01AAA"), queued, "k") == []


SEAT = EmailedSeat(0, "a@x.example", "a@x.example")


def two_steps(**changes: Any) -> ApprovalRequest:
    request = ApprovalRequest("AR-1", "invoice", "INV-1", "wf", "U0REQ",
                              (Step(0, ("a@x.example", "U01AAA"), 1), Step(1, ("U01BBB",), 1)), NOW, NOW)
    return ApprovalRequest(**{**request.__dict__, **changes})


def vote(step: int, approver: str, decision: Decision = Decision.APPROVE) -> Vote:
    return Vote(step, approver, decision, NOW, None, None)


@pytest.mark.parametrize(("request_", "is_told"), [
    (two_steps(), False),  # the step still waits
    (two_steps(current_step=1, votes=(vote(0, "U01AAA"),)), True),  # settled without the seat
    (two_steps(current_step=1, votes=(vote(0, "a@x.example"),)), False),  # the seat decided it (from Slack)
    (two_steps(status=RequestStatus.REJECTED, votes=(vote(0, "U01AAA", Decision.REJECT),)), True),
    (two_steps(status=RequestStatus.EXPIRED), True),
    (two_steps(status=RequestStatus.CANCELLED, reason=VOIDED), True),
    (two_steps(status=RequestStatus.CANCELLED, reason=CHANGED), False),  # asked again at once: the new ask says so
    (two_steps(current_step=1, status=RequestStatus.APPROVED, votes=(vote(0, "U01AAA"), vote(1, "U01BBB"))), True),
])
def test_an_emailed_seat_is_told_when_its_step_is_settled_without_it(request_: ApprovalRequest, is_told: bool) -> None:
    assert is_told_settled(request_, SEAT) is is_told


def test_the_settled_step_e_mail_is_keyed_by_seat_and_address() -> None:
    notice = closed_email_notice("AR-1", SEAT)
    assert (notice.kind, notice.target, notice.key) == (
        NoticeKind.CLOSED_EMAIL, "a@x.example", "mail-closed:AR-1:0:a@x.example:a@x.example")
    assert notice.payload == {"request_id": "AR-1", "step_index": 0, "approver": "a@x.example"}


UNTIL = NOW + timedelta(days=5)
AWAY = Delegation("U01AAA", "U01DEL", NOW - timedelta(days=1), UNTIL)
BEHALF = {"on_behalf_of": "U01AAA", "until": UNTIL.isoformat()}
STAND_IN = Notice("ask", "U01DEL", {**STEP0, "approver": "U01AAA", **BEHALF}, "ask:AR-1:0:U01DEL:for:U01AAA")


def two_approvers(requester: str = "U0REQ", later: tuple[str, ...] = ()) -> Outcome:
    steps = (Step(0, ("U01AAA", "U01BBB"), 2), *((Step(1, later, 1),) if later else ()))
    request = ApprovalRequest("AR-1", "invoice", "INV-1", "wf", requester, steps, NOW, NOW,
                              status=RequestStatus.PENDING)
    return Outcome(request, (asked(0, "U01AAA", "U01BBB"),))


ASK_B = Notice("ask", "U01BBB", {**STEP0, "approver": "U01BBB"}, "ask:AR-1:0:U01BBB")


@pytest.mark.parametrize(
    ("result", "flow", "delegations", "expected"),
    [
        (two_approvers(), workflow(), [], [REFRESH, ASK_A, ASK_B]),
        (two_approvers(), workflow(), [AWAY], [REFRESH, ASK_A, ASK_B, STAND_IN]),
        (two_approvers(), workflow(notify=["home"]), [AWAY], [REFRESH, STAND_IN]),
        (two_approvers(), workflow(notify=["email"]), [AWAY],
         [REFRESH, Notice("approver_lookup", "U01AAA", {**STEP0, "approver": "U01AAA"}, "lookup:AR-1:0:U01AAA"),
          Notice("approver_lookup", "U01BBB", {**STEP0, "approver": "U01BBB"}, "lookup:AR-1:0:U01BBB"), STAND_IN]),
        (two_approvers(), workflow(), [AWAY, Delegation("U01BBB", "U01DEL", NOW - timedelta(hours=1), UNTIL)],
         [REFRESH, ASK_A, ASK_B, STAND_IN]),
        (two_approvers(), workflow(), [Delegation("U01AAA", "U01DEL", NOW + timedelta(hours=1), UNTIL)],
         [REFRESH, ASK_A, ASK_B]),
        (two_approvers(), workflow(), [Delegation("U01AAA", "U01DEL", NOW - timedelta(days=2), NOW)],
         [REFRESH, ASK_A, ASK_B]),
        (two_approvers(requester="U01DEL"), workflow(), [AWAY], [REFRESH, ASK_A, ASK_B]),
        (two_approvers(requester="ap@corp.example"), workflow(), [AWAY],
         [REFRESH, Notice("approver_lookup", "U01AAA", {**STEP0, "approver": "U01AAA"}, "lookup:AR-1:0:U01AAA"),
          Notice("approver_lookup", "U01BBB", {**STEP0, "approver": "U01BBB"}, "lookup:AR-1:0:U01BBB")]),
        (two_approvers(requester="U01AAA"), workflow(), [AWAY], [REFRESH, ASK_B]),
        (two_approvers(later=("U01DEL",)), workflow(), [AWAY], [REFRESH, ASK_A, ASK_B]),
        (two_approvers(), workflow(), [Delegation("U01AAA", "U01BBB", NOW - timedelta(days=1), UNTIL)],
         [REFRESH, ASK_A, ASK_B]),
    ],
    ids=["nobody-away", "away", "home-only", "email-lookups", "one-delegate-for-two", "not-yet-away",
         "back-at-the-ask", "delegate-requested-it",
         "requested-by-an-e-mail", "away-approver-requested-it", "delegate-on-a-later-step",
         "delegate-on-the-step"],
)
def test_the_delegate_of_an_approver_away_is_asked_too_as_the_step_starts(
    result: Outcome, flow: Workflow, delegations: list[Delegation], expected: list[Notice],
) -> None:
    assert notices_of(result, flow, delegations) == expected


@pytest.mark.parametrize(("slack_user", "readers", "is_redrawn"), [
    ("U1", {"U1", "U2"}, True),  # a copy sent to them for someone away becomes one of their own seat
    ("U1", {"U2"}, False),  # nothing of theirs to redraw
    (None, {"U1"}, False),  # Slack does not know the e-mail
])
def test_a_lookup_redraws_the_copies_a_person_already_reads(
    slack_user: str | None, readers: set[str], is_redrawn: bool,
) -> None:
    assert redrawn_for("AR-1", slack_user, readers) == ([refresh_notice("AR-1")] if is_redrawn else [])


def test_a_seat_taken_off_the_step_redraws_the_copies_even_when_nobody_is_asked() -> None:
    request = ApprovalRequest("AR-1", "invoice", "INV-1", "wf", "UREQ", (Step(0, ("U1", "U2"), 1),), NOW, NOW)
    outcome = Outcome(request, (SeatTakenOff("AR-1", 0, "U3", NOW),))
    assert notices_of(outcome, None) == [refresh_notice("AR-1")] and not needs_workflow(outcome)
