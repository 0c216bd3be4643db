"""Delegation while away: parsing UNTIL, validity, who acts for whom, and whose seat a click takes."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from engine.approvals import ApprovalRequest, Decision, RequestStatus, Step, Vote, decide
from engine.delegation import (
    CopyStanding,
    Delegation,
    DelegationProblem,
    Recipient,
    acted_by_steps,
    acting_for,
    delegation_problem,
    example_return_day,
    is_seatless,
    left_with_principal,
    parse_until,
    plan_delegation,
    principals_of,
    recipient_for,
    recipients_on_step,
    seat_for,
    stood_in_for,
)
from engine.errors import VoteRefusedError

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PARIS = ZoneInfo("Europe/Paris")


def request(
    steps: tuple[tuple[str, ...], ...] = (("UA", "UB"), ("UD",)), votes: tuple[Vote, ...] = (),
    status: RequestStatus = RequestStatus.PENDING, requester: str = "UREQ",
) -> ApprovalRequest:
    return ApprovalRequest(
        id="AR-1", record_type="invoice", record_id="INV-1", workflow_id="wf", requester=requester,
        steps=tuple(Step(i, people, 1) for i, people in enumerate(steps)), created_at=NOW, step_started_at=NOW,
        status=status, votes=votes,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-24", datetime(2026, 12, 23, 23, 0, tzinfo=UTC)),
        ("2026-07-14", datetime(2026, 7, 13, 22, 0, tzinfo=UTC)),
        ("2026-12-24T14:30", datetime(2026, 12, 24, 13, 30, tzinfo=UTC)),
        ("2026-12-24 14:30", datetime(2026, 12, 24, 13, 30, tzinfo=UTC)),
        ("2026-12-24T14:30:00+00:00", datetime(2026, 12, 24, 14, 30, tzinfo=UTC)),
        ("2027-03-28T02:30", datetime(2027, 3, 28, 1, 30, tzinfo=UTC)),
        ("  2026-12-24  ", datetime(2026, 12, 23, 23, 0, tzinfo=UTC)),
        ("tomorrow", None),
        ("2026-13-01", None),
        ("", None),
    ],
)
def test_until_is_a_date_or_a_datetime_in_the_company_zone(text: str, expected: datetime | None) -> None:
    assert parse_until(text, PARIS) == expected


@pytest.mark.parametrize(
    ("principal", "delegate", "until", "problem"),
    [
        ("U01A", "U01B", NOW + timedelta(days=3), None),
        ("U01A", "U01B", NOW + timedelta(days=366), None),
        ("U01A", "U01B", NOW + timedelta(days=367), DelegationProblem.TOO_LONG),
        ("U01A", "U01A", NOW + timedelta(days=3), DelegationProblem.SELF),
        ("U01A", "bob", NOW + timedelta(days=3), DelegationProblem.BAD_DELEGATE),
        ("U01A", "#finance", NOW + timedelta(days=3), DelegationProblem.BAD_DELEGATE),
        ("U01A", "U01B", None, DelegationProblem.BAD_UNTIL),
        ("U01A", "U01B", NOW, DelegationProblem.IN_PAST),
        ("U01A", "U01B", NOW - timedelta(seconds=1), DelegationProblem.IN_PAST),
    ],
)
def test_delegation_problems(principal: str, delegate: str, until: datetime | None, problem: object) -> None:
    assert delegation_problem(principal, delegate, until, NOW) == problem


@pytest.mark.parametrize(
    ("until", "problem"),
    [(NOW + timedelta(days=3), DelegationProblem.DELEGATE_AWAY), (NOW, DelegationProblem.IN_PAST)],
)
def test_a_delegate_who_is_away_is_refused(until: datetime, problem: DelegationProblem) -> None:
    assert delegation_problem("U01A", "U01B", until, NOW, is_delegate_away=True) == problem


def test_plan_refuses_what_the_problem_check_refuses() -> None:
    until = NOW + timedelta(days=1)
    assert plan_delegation("U01A", "U01B", until, NOW) == Delegation("U01A", "U01B", NOW, until)
    with pytest.raises(ValueError, match="self"):
        plan_delegation("U01A", "U01A", until, NOW)


@pytest.mark.parametrize(
    ("at", "ended_at", "is_active"),
    [
        (NOW - timedelta(seconds=1), None, False),
        (NOW, None, True),
        (NOW + timedelta(days=2, hours=23), None, True),
        (NOW + timedelta(days=3), None, False),
        (NOW + timedelta(hours=2), NOW + timedelta(hours=1), False),
        (NOW + timedelta(minutes=30), NOW + timedelta(hours=1), True),
    ],
)
def test_a_delegation_is_active_from_its_start_until_its_end(at: datetime, ended_at: datetime | None,
                                                              is_active: bool) -> None:
    delegation = Delegation("UA", "UB", NOW, NOW + timedelta(days=3), ended_at)
    assert delegation.is_active(at) is is_active


def test_principals_are_the_active_delegations_in_start_order() -> None:
    delegations = [
        Delegation("UC", "UB", NOW + timedelta(hours=1), NOW + timedelta(days=1)),
        Delegation("UA", "UB", NOW, NOW + timedelta(days=1)),
        Delegation("UD", "UB", NOW, NOW + timedelta(hours=1)),
        Delegation("UE", "UX", NOW, NOW + timedelta(days=1)),
    ]
    assert principals_of(delegations, "UB", NOW + timedelta(hours=2)) == ("UA", "UC")
    assert principals_of(delegations, "UB", NOW + timedelta(days=2)) == ()


# step 1 decided by UX standing in for UA; UD decides step 2
AT_SECOND_STEP = replace(request(), current_step=1,
                         votes=(Vote(0, "UA", Decision.APPROVE, NOW, acted_by="UX"),))


@pytest.mark.parametrize(
    ("req", "actor", "principals", "seat"),
    [
        (request(), "UA", (), "UA"),
        (request(), "UB", ("UA",), "UB"),
        (request(), "UX", ("UA",), "UA"),
        (request(), "UX", ("UZ", "UB"), "UB"),
        (request(), "UX", (), None),
        (request(), "UD", ("UA",), None),
        (request(votes=(Vote(0, "UA", Decision.APPROVE, NOW),)), "UX", ("UA", "UB"), "UB"),
        (request(votes=(Vote(0, "UA", Decision.APPROVE, NOW),)), "UA", (), None),
        (request(requester="UX"), "UX", ("UA",), None),
        (request(status=RequestStatus.APPROVED), "UA", (), None),
        (AT_SECOND_STEP, "UX", ("UD",), None),
        (AT_SECOND_STEP, "UY", ("UD",), "UD"),
    ],
)
def test_seat_for(req: ApprovalRequest, actor: str, principals: tuple[str, ...], seat: str | None) -> None:
    assert seat_for(req, actor, principals) == seat


@pytest.mark.parametrize(
    ("req", "actor", "principals", "wanted", "approver"),
    [
        (request(), "UA", (), None, "UA"),
        (request(), "UX", ("UA",), None, "UA"),
        (request(), "UX", ("UA",), "UA", "UA"),
        (request(), "UX", ("UD", "UB"), None, "UB"),
        (request(), "UX", (), None, "UX"),
        (request(), "UD", ("UA",), None, "UD"),
        (request(status=RequestStatus.REJECTED), "UX", ("UA",), None, "UX"),
    ],
)
def test_acting_for(req: ApprovalRequest, actor: str, principals: tuple[str, ...], wanted: str | None,
                    approver: str) -> None:
    assert acting_for(req, actor, principals, wanted) == approver


@pytest.mark.parametrize(
    ("req", "actor", "principals", "wanted", "code"),
    [
        (request(requester="UX"), "UX", ("UA",), None, "own_record"),
        (request(), "UX", (), "UA", "not_a_delegate"),
        (request(), "UB", ("UA",), "UA", "double_seat"),
        (request(), "UD", ("UA",), "UA", "other_step"),
        (AT_SECOND_STEP, "UX", ("UD",), "UD", "other_step"),
    ],
)
def test_acting_for_refusals(req: ApprovalRequest, actor: str, principals: tuple[str, ...], wanted: str | None,
                             code: str) -> None:
    with pytest.raises(VoteRefusedError) as caught:
        acting_for(req, actor, principals, wanted)
    assert caught.value.code == code


@pytest.mark.parametrize(
    ("req", "wanted", "expected"),
    [
        (request(steps=(("UA", "ud@x.example"),)), "UA", "double_seat"),
        (request(votes=(Vote(0, "ud@x.example", Decision.APPROVE, NOW),)), "UA", "other_step"),
        (request(steps=(("UA", "ud@x.example"),)), "ud@x.example", "ud@x.example"),
        (request(steps=(("UA", "UB"), ("ud@x.example",))), "UA", "other_step"),
        (request(steps=(("UA", "UB"),)), "UA", "UA"),
    ],
    ids=["own-e-mail-on-the-step", "voted-by-e-mail-link", "own-e-mail-seat", "own-e-mail-on-a-later-step",
         "e-mail-nowhere"],
)
def test_a_delegate_known_by_an_e_mail_never_also_sits_for_someone_on_that_request(
    req: ApprovalRequest, wanted: str, expected: str,
) -> None:
    principals, emails = ("ud@x.example", "UA"), ("ud@x.example",)
    try:
        assert acting_for(req, "UD", principals, wanted, emails) == expected
    except VoteRefusedError as exc:
        assert exc.code == expected



def test_a_delegate_vote_counts_for_the_principal_and_names_the_delegate() -> None:
    voted = decide(request(), "UA", Decision.APPROVE, NOW, acted_by="UX").request
    assert voted.votes[0].approver == "UA" and voted.votes[0].acted_by == "UX"
    assert voted.current_step == 1
    assert acted_by_steps(voted) == {0: {"UA": "UX"}}
    assert acted_by_steps(decide(request(), "UA", Decision.APPROVE, NOW).request) == {}


AWAY = Delegation("UA", "UB", NOW - timedelta(days=1), NOW + timedelta(days=2))
UNTIL = NOW + timedelta(days=2)


@pytest.mark.parametrize(
    ("approver", "delegations", "now", "cannot_sit", "expected"),
    [
        ("UA", [], NOW, (), Recipient("UA")),
        ("UA", [AWAY], NOW, (), Recipient("UB", "UA", UNTIL)),
        ("UC", [AWAY], NOW, (), Recipient("UC")),
        ("UA", [AWAY], NOW - timedelta(days=2), (), Recipient("UA")),
        ("UA", [AWAY], UNTIL, (), Recipient("UA")),
        ("UA", [AWAY], UNTIL - timedelta(seconds=1), (), Recipient("UB", "UA", UNTIL)),
        ("UA", [replace(AWAY, ended_at=NOW - timedelta(hours=1))], NOW, (), Recipient("UA")),
        ("UA", [replace(AWAY, ended_at=NOW + timedelta(hours=1))], NOW, (),
         Recipient("UB", "UA", NOW + timedelta(hours=1))),
        ("UA", [AWAY, Delegation("UA", "UC", NOW - timedelta(hours=1), NOW + timedelta(days=5))], NOW, (),
         Recipient("UC", "UA", NOW + timedelta(days=5))),
        ("UA", [AWAY, Delegation("UB", "UC", NOW - timedelta(hours=1), NOW + timedelta(days=5))], NOW, (),
         Recipient("UB", "UA", UNTIL)),
        ("UA", [AWAY], NOW, ("UA", "UB"), Recipient("UA")),
        ("UA", [AWAY], NOW, ("UREQ",), Recipient("UB", "UA", UNTIL)),
    ],
    ids=["not-away", "away", "someone-else-away", "not-yet", "back-at-until", "last-second", "ended-by-hand",
         "ended-early-later", "latest-delegate", "no-chain", "delegate-sits-on-step", "other-cannot-sit"],
)
def test_who_receives_an_approvers_reminders_escalations_and_tasks(
    approver: str, delegations: list[Delegation], now: datetime, cannot_sit: tuple[str, ...], expected: Recipient,
) -> None:
    assert recipient_for(approver, delegations, now, cannot_sit) == expected
    assert expected.seat() == approver


@pytest.mark.parametrize(
    ("steps", "requester", "approvers", "expected"),
    [
        ((("UA", "UC"),), "UREQ", ["UA", "UC"], {"UA": Recipient("UB", "UA", UNTIL), "UC": Recipient("UC")}),
        ((("UA", "UB"),), "UREQ", ["UA"], {"UA": Recipient("UA")}),
        ((("UA",),), "UB", ["UA"], {"UA": Recipient("UA")}),
        ((("UA",),), "UB", ["UA", "UA"], {"UA": Recipient("UA")}),
        ((("UA",), ("UB",)), "UREQ", ["UA"], {"UA": Recipient("UA")}),
    ],
    ids=["delegate-off-step", "delegate-on-step", "delegate-is-requester", "duplicates", "delegate-on-later-step"],
)
def test_recipients_on_a_step_never_seat_a_delegate_twice_or_on_their_own_request(
    steps: tuple[tuple[str, ...], ...], requester: str, approvers: list[str], expected: dict[str, Recipient],
) -> None:
    assert recipients_on_step(request(steps, requester=requester), approvers, [AWAY], NOW) == expected


@pytest.mark.parametrize(
    ("now", "zone", "example"),
    [(datetime(2026, 11, 26, 12, 0, tzinfo=UTC), "Europe/Paris", "2026-12-03"),
     (datetime(2026, 12, 31, 23, 30, tzinfo=UTC), "Europe/Paris", "2027-01-08"),
     (datetime(2026, 12, 31, 23, 30, tzinfo=UTC), "America/New_York", "2027-01-07")],
)
def test_the_usage_example_names_a_day_a_week_ahead_in_company_time(now: datetime, zone: str, example: str) -> None:
    assert example_return_day(now, ZoneInfo(zone)).isoformat() == example


def test_the_approvals_a_delegate_may_not_take_stay_with_the_principal() -> None:
    own = ApprovalRequest("AR-1", "invoice", "INV-1", "wf", "UREQ", (Step(0, ("UBOB",), 1),), NOW, NOW)
    other_step = ApprovalRequest("AR-2", "invoice", "INV-2", "wf", "UREQ",
                                 (Step(0, ("UBOB",), 1), Step(1, ("UCARA",), 1)), NOW, NOW)
    requested = ApprovalRequest("AR-3", "invoice", "INV-3", "wf", "UCARA", (Step(0, ("UBOB",), 1),), NOW, NOW)
    assert left_with_principal([own, other_step, requested], "UBOB", "UCARA") == 2
    assert left_with_principal([own], "UBOB", "UDAN") == 0


ENDED = replace(AWAY, ended_at=NOW - timedelta(hours=1))


@pytest.mark.parametrize(
    ("req", "readers", "latest", "expected"),
    [
        (request(), {"UB", "UX"}, [AWAY], {}),
        (request(steps=(("UA", "UC"),)), {"UB", "UX"}, [AWAY], {"UB": CopyStanding.ACTING}),
        (request(steps=(("UA", "UC"),)), {"UX"}, [AWAY], {}),
        (request(steps=(("UA", "UC"),), votes=(Vote(0, "UA", Decision.APPROVE, NOW),)), {"UB"}, [AWAY],
         {"UB": CopyStanding.DECIDED}),
        (request(steps=(("UA", "UC"),)), {"UB"}, [ENDED], {"UB": CopyStanding.BACK}),
        (request(steps=(("UA", "UC"),), status=RequestStatus.APPROVED), {"UB"}, [AWAY], {}),
        (request(steps=(("UC",), ("UA",))), {"UB"}, [AWAY], {}),
        (request(steps=(("UA", "UC"),), requester="UB"), {"UB"}, [AWAY], {}),
        (request(steps=(("UA", "UC"),)), {"UB"}, [replace(AWAY, starts_at=NOW + timedelta(hours=1))], {}),
        (request(steps=(("UA", "UC"),)), {"UB"}, [AWAY, Delegation("UC", "UB", NOW, UNTIL)],
         {"UB": CopyStanding.ACTING}),
        (request(steps=(("UA", "ub@example.com"),)), {"UB"}, [AWAY], {}),
        (request(steps=(("UA",), ("ub@example.com",))), {"UB"}, [AWAY], {}),
        (request(steps=(("UA", "uz@example.com"),)), {"UB"}, [AWAY], {"UB": CopyStanding.ACTING}),
    ],
    ids=["delegate-on-step", "stands-in", "not-a-reader", "approver-decided", "approver-back", "closed",
         "approver-on-later-step", "delegate-requested-it", "not-yet-away", "first-approver-counts",
         "delegate-on-step-by-e-mail", "delegate-on-later-step-by-e-mail", "someone-else-by-e-mail"],
)
def test_where_the_copy_of_a_delegate_who_stood_in_for_an_approver_stands(
    req: ApprovalRequest, readers: set[str], latest: list[Delegation], expected: dict[str, CopyStanding],
) -> None:
    found = stood_in_for(req, readers, latest, NOW, {"UB": ("ub@example.com",)})
    assert {reader: stood.standing for reader, stood in found.items()} == expected
    assert all(stood.recipient.seat() == "UA" and stood.recipient.person == reader for reader, stood in found.items())


@pytest.mark.parametrize(("req", "reader", "emails", "expected"), [
    (request(), "UA", (), False),  # seated by their Slack id
    (request(), "UZ", (), True),  # never or no longer on the step
    (request(steps=(("ua@example.com", "UB"),)), "UA", ("ua@example.com",), False),  # seated under their e-mail
    (request(steps=(("ua@example.com", "UB"),)), "UA", (), True),  # an e-mail Slack does not say is theirs
    (request(steps=(("UB",), ("UA",))), "UA", (), True),  # on a later step only
    (request(steps=(("UB",),), votes=(Vote(0, "UA", Decision.APPROVE, NOW, None, None),)), "UA", (), False),
    (request(steps=(("UB",),), votes=(Vote(0, "UC", Decision.APPROVE, NOW, None, "UA"),)), "UA", (), False),
    (request(status=RequestStatus.APPROVED), "UZ", (), False),  # a closed request's copies decide nothing anyway
])
def test_whose_copy_of_the_current_step_no_longer_decides_anything(
    req: ApprovalRequest, reader: str, emails: tuple[str, ...], expected: bool,
) -> None:
    assert is_seatless(req, reader, emails) is expected
