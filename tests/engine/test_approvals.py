"""The approval state machine, table-driven."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from engine.approvals import (
    ApprovalRequest,
    Decision,
    RequestStatus,
    StandIns,
    Step,
    Vote,
    close,
    closed_params,
    decide,
    is_requester,
    is_same_person,
    plan_approval,
    resolve_step_approvers,
    second_seat,
    stood_in_seat,
    unseat,
)
from engine.delegation import acting_for
from engine.errors import NoApproverError, VoteRefusedError
from engine.events import (
    ApprovalRequested,
    RecordApproved,
    RecordRejected,
    SeatTakenOff,
    StepApproved,
    VoteRecorded,
)
from engine.records import Record, RecordType
from engine.workflows import Workflow

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
A, R = Decision.APPROVE, Decision.REJECT


def two_step(requester: str = "U0REQ") -> ApprovalRequest:
    return ApprovalRequest(
        id="AR-1", record_type="invoice", record_id="INV-1", workflow_id="wf", requester=requester,
        steps=(Step(0, ("UA", "UB", "UC"), 2), Step(1, ("UD",), 1)), created_at=NOW, step_started_at=NOW,
    )


def play(request: ApprovalRequest, clicks: list[tuple[str, Decision]]) -> ApprovalRequest:
    for i, (who, decision) in enumerate(clicks):
        reason = "wrong amount" if decision is R else None
        request = decide(request, who, decision, NOW + timedelta(minutes=i), reason).request
    return request


@pytest.mark.parametrize(
    ("clicks", "status", "step", "votes"),
    [
        ([], RequestStatus.PENDING, 0, 0),
        ([("UA", A)], RequestStatus.PENDING, 0, 1),
        ([("UA", A), ("UA", A)], RequestStatus.PENDING, 0, 1),
        ([("UA", A), ("UB", A)], RequestStatus.PENDING, 1, 2),
        ([("UA", A), ("UB", A), ("UD", A)], RequestStatus.APPROVED, 1, 3),
        ([("UA", A), ("UC", R)], RequestStatus.REJECTED, 0, 2),
        ([("UA", A), ("UB", A), ("UD", R)], RequestStatus.REJECTED, 1, 3),
        ([("UB", R)], RequestStatus.REJECTED, 0, 1),
    ],
)
def test_decisions_move_the_request(clicks, status, step, votes) -> None:
    request = play(two_step(), clicks)
    assert (request.status, request.current_step, len(request.votes)) == (status, step, votes)


@pytest.mark.parametrize(
    ("clicks", "who", "decision", "code"),
    [
        ([], "UX", A, "not_an_approver"),
        ([], "UD", A, "not_an_approver"),
        ([("UA", A), ("UB", A)], "UA", A, "already_voted"),
        ([("UA", A), ("UB", A)], "UC", A, "not_an_approver"),
        ([("UB", R)], "UA", A, "request_closed"),
        ([], "U0REQ", A, "own_record"),
    ],
)
def test_refusals_change_nothing(clicks, who, decision, code) -> None:
    before = play(two_step(), clicks)
    with pytest.raises(VoteRefusedError) as info:
        decide(before, who, decision, NOW)
    assert info.value.code == code


@pytest.mark.parametrize(
    ("clicks", "decision", "reason", "params"),
    [
        ([("UA", A), ("UB", A), ("UD", A)], R, "too late", {"status": "approved", "by": ["UA", "UB", "UD"],
                                                            "reason": "too late", "again": None}),
        ([("UA", A), ("UB", R)], A, None, {"status": "rejected", "by": ["UB"], "reason": None, "again": None}),
    ],
)
def test_a_refusal_on_a_closed_request_says_who_decided_and_keeps_the_reason(clicks, decision, reason,
                                                                             params) -> None:
    with pytest.raises(VoteRefusedError) as info:
        decide(play(two_step(), clicks), "UC", decision, NOW, reason)
    assert (info.value.code, info.value.params) == ("request_closed", params)


@pytest.mark.parametrize(("latest_status", "latest_id", "again"), [
    (RequestStatus.PENDING, "AR-2", "pending"), (RequestStatus.APPROVED, "AR-2", "approved"),
    (RequestStatus.REJECTED, "AR-1", None), (None, None, None),
])
def test_a_refusal_on_a_closed_request_says_how_a_newer_one_stands(latest_status, latest_id, again) -> None:
    closed = play(two_step(), [("UA", A), ("UB", R)])
    latest = None if latest_id is None else replace(closed, id=latest_id, status=latest_status)
    assert closed_params(closed, A, None, latest)["again"] == again


@pytest.mark.parametrize("reason", [None, "", "   ", "\u200b\u200b\u200b", " \u200d\u2060\ufeff ", "ok", "o\u200bk"])
def test_rejection_needs_a_reason(reason) -> None:
    with pytest.raises(VoteRefusedError) as info:
        decide(two_step(), "UA", R, NOW, reason)
    assert info.value.code == "reason_required"


def test_requester_on_a_step_cannot_approve_their_own_record() -> None:
    request = two_step(requester="UA")
    with pytest.raises(VoteRefusedError):
        decide(request, "UA", A, NOW)


@pytest.mark.parametrize(("ref", "other", "same"), [
    ("UA", "UA", True),
    ("UA", "ua", False),  # Slack ids are exact
    ("boss@corp.example", "Boss@Corp.Example", True),
    ("boss@corp.example", "boss@corp.example.org", False),
    ("UA", "ua@corp.example", False),
    ("", "", False),
    (None, "UA", False),
])
def test_a_person_is_one_slack_id_or_one_email_in_any_case(ref, other, same) -> None:
    assert is_same_person(ref, other) is same


@pytest.mark.parametrize(("requester", "actor", "emails", "is_theirs"), [
    ("Boss@Corp.Example", "boss@corp.example", (), True),
    ("uapp1@corp.example", "UAPP1", ("UAPP1@corp.example",), True),
    ("uapp1@corp.example", "UAPP1", ("other@corp.example",), False),
    ("UAPP9", "UAPP9", (), True),
    ("UAPP9", "UA", ("uapp9@corp.example",), False),
])
def test_the_requester_is_known_by_any_of_their_names(requester, actor, emails, is_theirs) -> None:
    assert is_requester(two_step(requester=requester), actor, emails) is is_theirs


def test_a_requester_named_by_email_in_another_case_is_not_asked_nor_may_approve() -> None:
    assert resolve_step_approvers(["boss@corp.example", "UA"], {}, "Boss@Corp.Example") == ("UA",)
    request = ApprovalRequest("AR-1", "expense", "X4", "wf", "Boss@Corp.Example",
                              (Step(0, ("boss@corp.example", "UA"), 1),), NOW, NOW)
    with pytest.raises(VoteRefusedError) as info:
        decide(request, "boss@corp.example", A, NOW)
    assert info.value.code == "own_record"


def test_a_slack_user_known_by_the_requesters_email_may_not_vote() -> None:
    request = two_step(requester="ua@corp.example")
    with pytest.raises(VoteRefusedError) as info:
        acting_for(request, "UA", (), None, ("UA@corp.example",))
    assert info.value.code == "own_record"
    assert acting_for(request, "UB", (), None, ("ub@corp.example",)) == "UB"


def test_second_click_of_same_approver_is_not_counted() -> None:
    once = decide(two_step(), "UA", A, NOW)
    twice = decide(once.request, "UA", A, NOW)
    assert once.is_counted and not twice.is_counted and twice.request == once.request


@pytest.mark.parametrize(
    ("clicks", "events"),
    [
        ([("UA", A)], [VoteRecorded]),
        ([("UA", A), ("UB", A)], [VoteRecorded, StepApproved, ApprovalRequested]),
        ([("UA", A), ("UB", A), ("UD", A)], [VoteRecorded, StepApproved, RecordApproved]),
        ([("UA", R)], [VoteRecorded, RecordRejected]),
    ],
)
def test_events_of_the_last_click(clicks, events) -> None:
    request = play(two_step(), clicks[:-1])
    who, decision = clicks[-1]
    outcome = decide(request, who, decision, NOW, "no budget" if decision is R else None)
    assert [type(e) for e in outcome.events] == events


def test_next_step_is_asked_to_its_approvers() -> None:
    outcome = decide(play(two_step(), [("UA", A)]), "UB", A, NOW)
    asked = [e for e in outcome.events if isinstance(e, ApprovalRequested)]
    assert asked[0].approvers == ("UD",) and asked[0].step_index == 1


@pytest.mark.parametrize(
    ("refs", "groups", "requester", "expected"),
    [
        (["UA", "UB"], {}, None, ("UA", "UB")),
        (["UA", "UB"], {}, "UA", ("UB",)),
        (["group:leads"], {"leads": ("UA", "UB")}, None, ("UA", "UB")),
        (["UA", "group:leads"], {"leads": ("UA", "UC")}, "UC", ("UA",)),
        (["group:none"], {}, None, ()),
    ],
)
def test_resolve_step_approvers(refs, groups, requester, expected) -> None:
    assert resolve_step_approvers(refs, groups, requester) == expected


def test_close_expires_an_open_request_once() -> None:
    expired = close(two_step(), RequestStatus.EXPIRED, NOW, "expired after 30 days")
    again = close(expired.request, RequestStatus.EXPIRED, NOW, "again")
    assert expired.request.status is RequestStatus.EXPIRED and not again.is_counted


def one_step(approvers: tuple[str, ...], quorum: int, votes: tuple[Vote, ...] = ()) -> ApprovalRequest:
    return ApprovalRequest("AR-1", "deposit", "DEP-1", "wf", "UAPP1", (Step(0, approvers, quorum), Step(1, ("UD",), 1)),
                           NOW, NOW, votes=votes)


@pytest.mark.parametrize(("request_", "stand_in", "step", "events", "current"), [
    # the only approver was the requester: the stand-ins take the step and are asked
    (one_step(("app1@example.com",), 1), StandIns((), ("U0ADMIN", "UAPP1")), (("U0ADMIN",), 1), [ApprovalRequested], 0),
    # too few are left for the quorum: a stand-in takes the seat and is asked, the quorum holds
    (one_step(("app1@example.com", "UB"), 2), StandIns((), ("U0ADMIN",)), (("UB", "U0ADMIN"), 2),
     [ApprovalRequested], 0),
    # the escalation targets are on the step already: the admins stand in
    (one_step(("app1@example.com", "UB"), 2), StandIns(("UB",), ("U0ADMIN",)), (("UB", "U0ADMIN"), 2),
     [ApprovalRequested], 0),
    # an escalation target enough for the quorum: the admins are not asked
    (one_step(("app1@example.com", "UB"), 2), StandIns(("UE",), ("U0ADMIN",)), (("UB", "UE"), 2),
     [ApprovalRequested], 0),
    # a stand-in already on the step, or the requester, takes no seat: the quorum shrinks to the seats there are
    (one_step(("app1@example.com", "UB"), 2), StandIns(("UB",), ("UAPP1",)), (("UB",), 1), [], 0),
    # enough are left for the quorum: nobody new is asked
    (one_step(("app1@example.com", "UB", "UC"), 2), StandIns((), ("U0ADMIN",)), (("UB", "UC"), 2), [], 0),
    # the votes already cast reach the quorum of the seats left: the step completes
    (one_step(("app1@example.com", "UB"), 2, (Vote(0, "UB", Decision.APPROVE, NOW),)), StandIns(("UB",), ()),
     (("UB",), 1), [StepApproved, ApprovalRequested], 1),
])
def test_a_seat_found_to_be_the_requesters_leaves_the_step(request_, stand_in, step, events, current) -> None:
    outcome = unseat(request_, "app1@example.com", stand_in, NOW)
    changed = outcome.request.steps[0]
    assert outcome.is_counted and (changed.approvers, changed.min_approvers) == step
    assert [type(e) for e in outcome.events] == [SeatTakenOff, *events] and outcome.request.current_step == current
    assert outcome.events[0] == SeatTakenOff("AR-1", 0, "app1@example.com", NOW)  # its copies are redrawn


def test_nothing_changes_when_nobody_could_take_the_seat_or_it_is_not_on_the_step() -> None:
    alone = one_step(("app1@example.com",), 1)
    assert not unseat(alone, "app1@example.com", StandIns((), ("UAPP1",)), NOW).is_counted
    assert not unseat(alone, "app1@example.com", StandIns(("app1@example.com",), ()), NOW).is_counted
    assert not unseat(alone, "UB", StandIns((), ("U0ADMIN",)), NOW).is_counted


def approval_workflow(steps: list[dict[str, object]], escalate_to: list[str] | None = None) -> Workflow:
    action: dict[str, object] = {"type": "approval", "steps": steps}
    if escalate_to is not None:
        action["escalate_to"] = escalate_to
    return Workflow.model_validate({"id": "wf", "name": "W", "record_type": "invoice", "trigger": "created",
                                    "actions": [action], "created_at": NOW, "updated_at": NOW})


INVOICE_BY_REQ = Record(type=RecordType.INVOICE, id="INV-1", amount=Decimal("10"), created_by="U0REQ",
                        created_at=NOW, updated_at=NOW)


@pytest.mark.parametrize(
    ("steps", "escalate_to", "admins", "groups", "empty_step"),
    [
        ([{"approvers": ["U0REQ"]}], None, (), {}, 0),
        ([{"approvers": ["U0REQ"]}], None, ("U0REQ",), {}, 0),
        ([{"approvers": ["U01AAA"]}, {"approvers": ["group:leads"], "name": "Leads"}], None, (), {"leads": ("U0REQ",)},
         1),
        ([{"approvers": ["group:nobody"]}], ["U0REQ"], ("U0REQ",), {}, 0),
        ([{"approvers": ["U0REQ"]}], None, ("U0ADMIN",), {}, None),
        ([{"approvers": ["U0REQ"]}], ["U01AAA"], (), {}, None),
        ([{"approvers": ["U0REQ", "U01AAA"], "min_approvers": 2}], None, (), {}, None),
    ],
)
def test_a_step_nobody_but_the_requester_could_decide_is_refused_before_anything_starts(
    steps: list[dict[str, object]], escalate_to: list[str] | None, admins: tuple[str, ...],
    groups: dict[str, tuple[str, ...]], empty_step: int | None,
) -> None:
    workflow = approval_workflow(steps, escalate_to)
    if empty_step is None:
        request = plan_approval("AR-1", INVOICE_BY_REQ, workflow, NOW, groups, admins).request
        assert all(step.approvers and "U0REQ" not in step.approvers for step in request.steps)
        return
    with pytest.raises(NoApproverError) as refused:
        plan_approval("AR-1", INVOICE_BY_REQ, workflow, NOW, groups, admins)
    assert refused.value.step_index == empty_step and f"step {empty_step + 1}" in str(refused.value)


@pytest.mark.parametrize(
    ("steps", "escalate_to", "admins", "groups", "seats"),
    [
        # the requester taken off a two-person step: an escalation target takes their seat, two must still approve
        ([{"approvers": ["U0REQ", "U01AAA"], "min_approvers": 2}], ["U01DDD"], ("U0ADMIN",), {},
         (("U01AAA", "U01DDD"), 2)),
        # without escalation targets, the admins
        ([{"approvers": ["group:pair"], "min_approvers": 2}], None, ("U0ADMIN",), {"pair": ("U0REQ", "U01AAA")},
         (("U01AAA", "U0ADMIN"), 2)),
        # the escalation target already sits on the step: the admins stand in
        ([{"approvers": ["U0REQ", "U01AAA"], "min_approvers": 2}], ["U01AAA"], ("U0ADMIN",), {},
         (("U01AAA", "U0ADMIN"), 2)),
        # nobody else could: the quorum is what there is
        ([{"approvers": ["U0REQ", "U01AAA"], "min_approvers": 2}], ["U01AAA"], ("U0REQ",), {}, (("U01AAA",), 1)),
        # the requester not on the step: as written
        ([{"approvers": ["U01AAA", "U01BBB"], "min_approvers": 2}], ["U01DDD"], (), {}, (("U01AAA", "U01BBB"), 2)),
    ],
)
def test_a_step_left_short_of_its_quorum_by_the_requester_gets_stand_ins(
    steps: list[dict[str, object]], escalate_to: list[str] | None, admins: tuple[str, ...],
    groups: dict[str, tuple[str, ...]], seats: tuple[tuple[str, ...], int],
) -> None:
    workflow = approval_workflow(steps, escalate_to)
    step = plan_approval("AR-1", INVOICE_BY_REQ, workflow, NOW, groups, admins).request.step()
    assert (step.approvers, step.min_approvers) == seats


TWINS = ApprovalRequest(id="AR-1", record_type="invoice", record_id="INV-1", workflow_id="wf", requester="U0REQ",
                        steps=(Step(0, ("cara@example.com", "U0CARA", "U0BOB"), 3),), created_at=NOW,
                        step_started_at=NOW)


@pytest.mark.parametrize(
    ("approver", "slack_user", "email", "expected"),
    [
        ("cara@example.com", "U0CARA", "cara@example.com", "cara@example.com"),  # the e-mail seat is Cara's Slack seat
        ("U0CARA", "U0CARA", "Cara@Example.com", "cara@example.com"),  # Cara's profile shows the e-mail seat
        ("U0BOB", "U0BOB", "bob@example.com", None),
        ("cara@example.com", None, "cara@example.com", None),  # Slack does not know the address
        ("U0BOB", "U0BOB", None, None),
    ],
)
def test_a_person_on_a_step_twice_is_found_by_their_e_mail_seat(
    approver: str, slack_user: str | None, email: str | None, expected: str | None,
) -> None:
    assert second_seat(TWINS, approver, slack_user, email) == expected


def test_taking_off_a_second_seat_with_nobody_to_stand_in_shrinks_the_quorum_to_the_people_left() -> None:
    voted = decide(decide(TWINS, "U0CARA", A, NOW).request, "U0BOB", A, NOW)
    assert voted.request.is_open()
    outcome = unseat(voted.request, "cara@example.com", StandIns((), ()), NOW)
    assert outcome.request.status is RequestStatus.APPROVED


def test_taking_off_a_second_seat_asks_a_stand_in_and_the_quorum_holds() -> None:
    voted = decide(decide(TWINS, "U0CARA", A, NOW).request, "U0BOB", A, NOW)
    outcome = unseat(voted.request, "cara@example.com", StandIns((), ("U0ADMIN",)), NOW)
    assert outcome.request.is_open() and outcome.request.step().approvers == ("U0CARA", "U0BOB", "U0ADMIN")


@pytest.mark.parametrize(("vote", "seat"), [
    (Vote(0, "UA", Decision.APPROVE, NOW), None),  # their own, cast by themselves
    (Vote(0, "UA", Decision.APPROVE, NOW, None, "UA"), None),
    (Vote(0, "UA", Decision.APPROVE, NOW, None, "UB"), "UA"),  # a delegate for an approver away
    (Vote(0, "ua@example.com", Decision.APPROVE, NOW, None, "UA"), None),  # an e-mail seat Slack says is theirs
    (Vote(0, "ua@example.com", Decision.REJECT, NOW, "no"), None),  # by the seat's link
])
def test_a_vote_names_the_seat_stood_in_for_only_when_a_delegate_cast_it(vote: Vote, seat: str | None) -> None:
    assert stood_in_seat(vote) == seat
