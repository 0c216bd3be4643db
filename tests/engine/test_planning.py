"""The clock's plan: periods in company time, reminder numbers, escalation levels, expiry, runs, invoices."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.approvals import ApprovalRequest, Decision, RequestStatus, StandIns, Step, Vote, escalate, unseat
from engine.delegation import Delegation
from engine.errors import InvalidDurationError
from engine.invoice_reminders import InvoiceReminderSettings, ReminderSchedule
from engine.planning import (
    ActionKind,
    ApprovalPolicy,
    ApprovalState,
    InvoiceState,
    Period,
    SweepState,
    WorkflowState,
    escalated_to,
    manual_reminder,
    plan_away_end,
    plan_invoice,
    plan_request,
    plan_sweep,
    plan_workflow,
)
from engine.records import Record
from engine.workflows import Workflow

PARIS = ZoneInfo("Europe/Paris")
START = datetime(2026, 10, 20, 9, 0, tzinfo=PARIS)
DAY = timedelta(days=1)


def request(approvers: tuple[str, ...] = ("U1", "U2"), votes: tuple[Vote, ...] = (), step_started: datetime = START,
            status: RequestStatus = RequestStatus.PENDING) -> ApprovalRequest:
    steps = (Step(0, approvers, 2), Step(1, ("U9",), 1))
    return ApprovalRequest("AR-1", "invoice", "INV-1", "wf", "U0REQ", steps, START, step_started,
                           votes=votes, status=status)


def policy(**overrides: Any) -> ApprovalPolicy:
    values = {"remind_every": "P1D", "escalate_after": "P3D", "escalate_to": ("U7",), "expire_after": "P30D"}
    return ApprovalPolicy(**{**values, **overrides})


def at(days: float, hours: float = 0) -> datetime:
    """Return the moment `days` calendar days after START (same Paris wall time), plus hours."""
    whole = int(days)
    local = datetime.combine(START.date() + timedelta(days=whole), START.timetz().replace(tzinfo=None))
    return local.replace(tzinfo=PARIS) + timedelta(hours=hours + (days - whole) * 24)


@pytest.mark.parametrize(
    ("text", "days", "clock"),
    [("P1D", 1, timedelta(0)), ("PT4H", 0, timedelta(hours=4)), ("P1W", 7, timedelta(0)),
     ("P3DT2H", 3, timedelta(hours=2)), ("PT90M", 0, timedelta(minutes=90))],
)
def test_period_splits_calendar_days_from_clock_time(text: str, days: int, clock: timedelta) -> None:
    assert Period.parse(text) == Period(days, clock)


@pytest.mark.parametrize("text", ["P0D", "PT0S", "1D", "P", "soon"])
def test_period_refuses_what_is_not_a_positive_duration(text: str) -> None:
    with pytest.raises(InvalidDurationError):
        Period.parse(text)


@pytest.mark.parametrize(
    ("text", "start", "times", "expected"),
    [
        ("P1D", datetime(2026, 10, 24, 9, tzinfo=PARIS), 1, datetime(2026, 10, 25, 9, tzinfo=PARIS)),
        ("PT24H", datetime(2026, 10, 24, 9, tzinfo=PARIS), 1, datetime(2026, 10, 25, 8, tzinfo=PARIS)),
        ("P1D", datetime(2026, 3, 28, 9, tzinfo=PARIS), 1, datetime(2026, 3, 29, 9, tzinfo=PARIS)),
        ("P3D", START, 10, datetime(2026, 11, 19, 9, tzinfo=PARIS)),
        ("P1DT1H", START, 2, datetime(2026, 10, 22, 11, tzinfo=PARIS)),
    ],
)
def test_period_keeps_the_wall_time_across_dst(text: str, start: datetime, times: int, expected: datetime) -> None:
    assert Period.parse(text).after(start, times, PARIS) == expected


@pytest.mark.parametrize(
    ("text", "now", "expected"),
    [("P1D", START - DAY, 0), ("P1D", START, 0), ("P1D", at(1) - timedelta(seconds=1), 0), ("P1D", at(1), 1),
     ("P1D", at(5, 12), 5), ("P1D", at(29, 23), 29), ("P3D", at(8), 2), ("PT4H", START + timedelta(hours=9), 2)],
)
def test_period_counts_whole_periods_elapsed(text: str, now: datetime, expected: int) -> None:
    assert Period.parse(text).count(START, now, PARIS) == expected


@pytest.mark.parametrize(
    ("now", "overrides", "expected", "next_due"),
    [
        (at(0, 12), {}, [], at(1)),
        (at(1, 0.5), {}, [("remind", "remind:AR-1:0:1", ())], at(2)),
        (at(2), {}, [("remind", "remind:AR-1:0:2", ())], at(3)),
        (at(3, 0.5), {}, [("escalate", "escalate:AR-1:0:1", ("remind:AR-1:0:3",))], at(4)),
        (at(4, 3), {}, [("escalate", "escalate:AR-1:0:1", ()), ("remind", "remind:AR-1:0:4", ())], at(5)),
        (at(5, 2), {"escalate_after": None, "escalate_to": ()}, [("remind", "remind:AR-1:0:5", ())], at(6)),
        (at(6, 1), {"remind_every": None}, [("escalate", "escalate:AR-1:0:1", ())], at(30)),
        (at(29, 23), {"remind_every": None}, [("escalate", "escalate:AR-1:0:1", ())], at(30)),
        (at(2, 23), {"remind_every": None}, [], at(3)),
        (at(30), {}, [("expire", "expire:AR-1", ())], None),
        (at(40), {}, [("expire", "expire:AR-1", ())], None),
        (at(2, 1), {"expire_after": "P2D"}, [("expire", "expire:AR-1", ())], None),
        (at(1, 1), {"remind_every": None, "escalate_after": None, "escalate_to": ()}, [], at(30)),
        (at(3, 1), {"escalate_to": ("U0REQ",)}, [("remind", "remind:AR-1:0:3", ())], at(4)),
    ],
)
def test_plan_request(
    now: datetime, overrides: dict[str, Any], expected: list[tuple[str, str, tuple[str, ...]]],
    next_due: datetime | None,
) -> None:
    actions, nxt = plan_request(ApprovalState(request(), policy(**overrides)), now, PARIS)
    assert [(a.kind.value, a.key, a.covers) for a in actions] == expected
    assert nxt == next_due


@pytest.mark.parametrize(
    ("nudged_at", "now", "overrides", "expected", "next_due"),
    [
        # on time: the last reminder was sent at its slot, the next slot is owed as usual
        (at(1, 0.01), at(2), {}, ["remind:AR-1:0:2"], at(3)),
        # sent late (the 1st, at 08:59 the next day): the 2nd, owed at 09:00, waits for the next slot
        (at(1, 23.98), at(2, 0.02), {}, [], at(3)),
        (at(1, 23.98), at(3), {}, ["remind:AR-1:0:3"], at(4)),
        # every 12 hours: a catch-up at 21:59 skips the 21:00 slot... and the 09:00 one comes 11 hours later
        (at(0, 12.98), at(0, 13.02), {"remind_every": "PT12H"}, [], at(1)),
        # an escalation sent late counts too: the reminder half an hour later waits
        (at(3, 5.5), at(3, 6), {"remind_every": "PT6H", "escalate_after": "P3D"}, [], at(3, 12)),
        # a step never nudged follows the timetable
        (None, at(2, 0.02), {}, ["remind:AR-1:0:2"], at(3)),
    ],
)
def test_a_reminder_owed_soon_after_one_sent_late_waits_for_the_next_slot(
    nudged_at: datetime | None, now: datetime, overrides: dict[str, Any], expected: list[str],
    next_due: datetime | None,
) -> None:
    timing = {"escalate_after": None, "escalate_to": (), **overrides}
    actions, nxt = plan_request(ApprovalState(request(), policy(**timing), nudged_at), now, PARIS)
    assert [a.key for a in actions if a.kind is ActionKind.REMIND] == expected
    assert nxt == next_due


def test_reminders_go_to_approvers_who_have_not_decided() -> None:
    voted = (Vote(0, "U1", Decision.APPROVE, START),)
    actions, _ = plan_request(ApprovalState(request(votes=voted), policy()), at(1, 1), PARIS)
    assert actions[0].data["to"] == ("U2",)


def test_escalation_resolves_groups_and_names_who_did_not_act() -> None:
    state = ApprovalState(request(), policy(escalate_to=("group:leads", "U0REQ"), remind_every=None))
    actions, _ = plan_request(state, at(3, 1), PARIS, {"leads": ("U5", "U6")})
    assert actions[0].data["to"] == ("U5", "U6") and actions[0].data["waiting_on"] == ("U1", "U2")


@pytest.mark.parametrize(
    ("escalate_to", "admins", "expected"),
    [
        (("U0REQ",), ("U0ADMIN", "U0REQ", "U1"), ("U0ADMIN",)),  # only the requester: the admins stand in
        (("group:leads",), ("U0ADMIN",), ("U0ADMIN",)),  # a group of the requester alone
        (("U0REQ",), ("U0REQ", "U1"), None),  # no admin who is not the requester or on the step: no escalation
        (("U5",), ("U0ADMIN",), ("U5",)),
    ],
)
def test_an_escalation_the_requester_cannot_take_goes_to_the_admins(
    escalate_to: tuple[str, ...], admins: tuple[str, ...], expected: tuple[str, ...] | None,
) -> None:
    state = ApprovalState(request(), policy(escalate_to=escalate_to, remind_every=None))
    actions, _ = plan_request(state, at(3, 1), PARIS, {"leads": ("U0REQ",)}, admins)
    escalations = [a.data["to"] for a in actions if a.kind is ActionKind.ESCALATE]
    assert escalations == ([expected] if expected is not None else [])


def test_a_new_step_starts_its_own_reminders() -> None:
    moved = ApprovalRequest("AR-1", "invoice", "INV-1", "wf", "U0REQ", request().steps, START, at(2, 5),
                            current_step=1)
    actions, nxt = plan_request(ApprovalState(moved, policy()), at(3, 6), PARIS)
    assert [a.key for a in actions] == ["remind:AR-1:1:1"] and nxt == at(4, 5)


@pytest.mark.parametrize("status", [RequestStatus.APPROVED, RequestStatus.REJECTED, RequestStatus.EXPIRED])
def test_a_closed_request_plans_nothing(status: RequestStatus) -> None:
    assert plan_request(ApprovalState(request(status=status), policy()), at(40), PARIS) == ([], None)


def test_planning_again_before_the_next_due_time_gives_the_same_keys() -> None:
    state = SweepState(PARIS, approvals=[ApprovalState(request(), policy())])
    first, again = plan_sweep(state, at(1, 1)), plan_sweep(state, at(1, 20))
    assert [a.key for a in first.actions] == [a.key for a in again.actions] == ["remind:AR-1:0:1"]


def test_sweep_orders_actions_by_due_time_and_reports_each_subject() -> None:
    began = START - 2 * DAY - timedelta(hours=5)
    late = ApprovalRequest("AR-2", "bill", "B-1", "wf", None, request().steps, began, began)
    state = SweepState(PARIS, approvals=[ApprovalState(request(), policy()), ApprovalState(late, policy())])
    plan = plan_sweep(state, at(1, 1))
    assert [a.key for a in plan.actions] == ["escalate:AR-2:0:1", "remind:AR-1:0:1"]
    assert [subject for subject, _ in plan.next_due] == [("approval", "AR-1"), ("approval", "AR-2")]


def test_plan_sweep_refuses_a_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        plan_sweep(SweepState(PARIS), datetime(2026, 10, 20, 9))


@pytest.mark.parametrize(
    ("to", "approvers", "is_counted"),
    [
        (("U7",), ("U1", "U2", "U7"), True),
        (("U1",), ("U1", "U2"), False),
        (("U0REQ", "U7", "U7"), ("U1", "U2", "U7"), True),
        ((), ("U1", "U2"), False),
    ],
)
def test_escalate_adds_targets_to_the_current_step(to: tuple[str, ...], approvers: tuple[str, ...],
                                                   is_counted: bool) -> None:
    outcome = escalate(request(), to)
    assert outcome.request.steps[0].approvers == approvers and outcome.is_counted is is_counted
    assert outcome.request.steps[1].approvers == ("U9",) and outcome.events == ()


def workflow(**overrides: Any) -> Workflow:
    data = {"id": "wf_1", "name": "Digest", "record_type": "invoice", "trigger": "scheduled", "schedule": "0 9 * * 1-5",
            "actions": [{"type": "reminder", "to": ["#finance"], "message": "{{ count }} unsent"}],
            "created_at": START, "updated_at": START}
    return Workflow.model_validate({**data, **overrides})


@pytest.mark.parametrize(
    ("flow", "due_at", "now", "key", "next_due"),
    [
        (workflow(), at(1, 0), at(1, 0.1), "fire:wf_1:20261021T070000Z", at(2)),
        (workflow(), at(1, 0), at(0, 2), None, at(1)),
        (workflow(), at(1, 0), at(5, 1), "fire:wf_1:20261021T070000Z", at(6)),
        (workflow(), at(4, 0), at(4, 1), "fire:wf_1:20261024T070000Z", at(6)),
        # a run missed by half a day, caught up less than half a day before the next: that one reports instead
        (workflow(), at(1, 0), at(1, 23.98), None, at(2)),
        (workflow(), at(1, 0), at(1, 13), None, at(2)),
        (workflow(), at(1, 0), at(1, 11), "fire:wf_1:20261021T070000Z", at(2)),
        (workflow(schedule="*/5 * * * *"), at(1, 0), at(1, 0.02), "fire:wf_1:20261021T070000Z", at(1, 1 / 12)),
        (workflow(enabled=False), at(1, 0), at(1, 1), None, None),
        (workflow(trigger="created", schedule=None), at(1, 0), at(1, 1), None, None),
        (None, at(1, 0), at(1, 1), None, None),
    ],
)
def test_plan_workflow_runs_once_per_due_time(
    flow: Workflow | None, due_at: datetime, now: datetime, key: str | None, next_due: datetime | None,
) -> None:
    actions, nxt = plan_workflow(WorkflowState("wf_1", flow, due_at), now, PARIS)
    assert [a.key for a in actions] == ([key] if key else []) and nxt == next_due
    assert all(a.kind is ActionKind.FIRE_WORKFLOW for a in actions)


def invoice(**overrides: Any) -> Record:
    data = {"type": "invoice", "id": "INV-9", "amount": "100.00", "customer": "C1", "due_date": date(2026, 10, 27),
            "created_at": START, "updated_at": START}
    return Record.model_validate({**data, **overrides})


SETTINGS = InvoiceReminderSettings(enabled=True, schedules=[ReminderSchedule(offset_days=-3),
                                                            ReminderSchedule(offset_days=0),
                                                            ReminderSchedule(offset_days=7)])
DUE = date(2026, 10, 27)
# Saved before every reminder of INV-9 fell due; saved after them all (turned on late).
SAVED = SETTINGS.model_copy(update={"since": START})
SAVED_LATE = SETTINGS.model_copy(update={"since": datetime(2026, 11, 30, tzinfo=PARIS)})
NEXT_DAY = InvoiceReminderSettings(enabled=True, since=START, schedules=[ReminderSchedule(offset_days=0),
                                                                        ReminderSchedule(offset_days=1)])


def nine(day: date, hours: float = 0) -> datetime:
    return datetime(day.year, day.month, day.day, 9, tzinfo=PARIS) + timedelta(hours=hours)


@pytest.mark.parametrize(
    ("record", "email", "settings", "now", "key", "next_due"),
    [
        (invoice(), "ap@acme.test", SETTINGS, nine(DUE - 5 * DAY), None, nine(DUE - 3 * DAY)),
        (invoice(), "ap@acme.test", SETTINGS, nine(DUE - 3 * DAY, 1), "invoice-reminder:INV-9:2026-10-27:-3",
         nine(DUE)),
        (invoice(), "ap@acme.test", SETTINGS, nine(DUE, 0.5), "invoice-reminder:INV-9:2026-10-27:+0",
         nine(DUE + 7 * DAY)),
        (invoice(), "ap@acme.test", SETTINGS, nine(DUE + 7 * DAY), "invoice-reminder:INV-9:2026-10-27:+7", None),
        (invoice(), "ap@acme.test", SETTINGS, nine(DUE + 11 * DAY), None, None),
        (invoice(), "ap@acme.test", SETTINGS, nine(DUE + 4 * DAY), None, nine(DUE + 7 * DAY)),
        (invoice(), "ap@acme.test", SAVED, nine(DUE + 11 * DAY), "invoice-reminder:INV-9:2026-10-27:+7", None),
        (invoice(), "ap@acme.test", SAVED, nine(DUE + 4 * DAY), "invoice-reminder:INV-9:2026-10-27:+0",
         nine(DUE + 7 * DAY)),
        (invoice(), "ap@acme.test", SAVED, nine(DUE + 90 * DAY), "invoice-reminder:INV-9:2026-10-27:+7", None),
        (invoice(), "ap@acme.test", SAVED_LATE, nine(DUE + 90 * DAY), None, None),
        (invoice(), "ap@acme.test", SAVED_LATE, nine(DUE + 8 * DAY), "invoice-reminder:INV-9:2026-10-27:+7", None),
        (invoice(created_at=nine(DUE + 8 * DAY)), "ap@acme.test", SAVED, nine(DUE + 11 * DAY), None, None),
        (invoice(created_at=nine(DUE + 2 * DAY)), "ap@acme.test", SAVED, nine(DUE + 9 * DAY),
         "invoice-reminder:INV-9:2026-10-27:+7", None),
        (invoice(created_at=nine(DUE + 2 * DAY)), "ap@acme.test", SAVED, nine(DUE + 3 * DAY), None,
         nine(DUE + 7 * DAY)),
        (invoice(), None, SETTINGS, nine(DUE, 1), "invoice-reminder:INV-9:2026-10-27:+0:skipped", nine(DUE + 7 * DAY)),
        (invoice(customer=None), None, SETTINGS, nine(DUE, 1), "invoice-reminder:INV-9:2026-10-27:+0:skipped",
         nine(DUE + 7 * DAY)),
        (invoice(), "ap@acme.test", SAVED, nine(DUE, -1), "invoice-reminder:INV-9:2026-10-27:-3:skipped", nine(DUE)),
        (invoice(), "ap@acme.test", SAVED, nine(DUE - DAY), "invoice-reminder:INV-9:2026-10-27:-3", nine(DUE)),
        (invoice(), "ap@acme.test", NEXT_DAY, nine(DUE, 0.01), "invoice-reminder:INV-9:2026-10-27:+0",
         nine(DUE + DAY)),
        (invoice(), "ap@acme.test", NEXT_DAY, nine(DUE, 12.5), "invoice-reminder:INV-9:2026-10-27:+0:skipped",
         nine(DUE + DAY)),
        (invoice(status="paid"), "ap@acme.test", SETTINGS, nine(DUE, 1), None, None),
        (invoice(status="void"), "ap@acme.test", SETTINGS, nine(DUE, 1), None, None),
        (invoice(status="draft"), "ap@acme.test", SETTINGS, nine(DUE, 1), None, None),
        (invoice(approval_status="approved"), "ap@acme.test", SETTINGS, nine(DUE, 1),
         "invoice-reminder:INV-9:2026-10-27:+0", nine(DUE + 7 * DAY)),
        (invoice(approval_status="pending"), "ap@acme.test", SETTINGS, nine(DUE, 1),
         "invoice-reminder:INV-9:2026-10-27:+0:held:pending", nine(DUE + 7 * DAY)),
        (invoice(balance="0"), "ap@acme.test", SETTINGS, nine(DUE, 1), None, None),
        (invoice(due_date=None), "ap@acme.test", SETTINGS, nine(DUE, 1), None, None),
        (invoice(), "ap@acme.test", SETTINGS.model_copy(update={"enabled": False}), nine(DUE, 1), None, None),
    ],
)
def test_plan_invoice(
    record: Record, email: str | None, settings: InvoiceReminderSettings, now: datetime, key: str | None,
    next_due: datetime | None,
) -> None:
    actions, nxt = plan_invoice(InvoiceState(record, email), settings, now, PARIS)
    assert [a.key for a in actions] == ([key] if key else []) and nxt == next_due


def test_invoice_reminder_carries_what_the_bot_needs() -> None:
    actions, _ = plan_invoice(InvoiceState(invoice(balance=Decimal("40")), "ap@acme.test"), SETTINGS,
                              nine(DUE, 1), PARIS)
    assert dict(actions[0].data) == {"invoice_id": "INV-9", "schedule_index": 1, "offset_days": 0,
                                     "email": "ap@acme.test", "due_date": "2026-10-27"}
    assert actions[0].due_at == nine(DUE).astimezone(UTC)


@pytest.mark.parametrize("status", ["approval_required", "pending", "rejected", "expired"])
def test_a_reminder_of_an_unapproved_invoice_is_planned_as_skipped_with_why(status: str) -> None:
    actions, _ = plan_invoice(InvoiceState(invoice(approval_status=status), "ap@acme.test"), SETTINGS,
                              nine(DUE, 1), PARIS)
    assert len(actions) == 1 and actions[0].key.endswith(f":held:{status}")
    assert actions[0].data["skipped"].startswith("not approved: invoice INV-9 ")


def test_an_approved_invoice_gets_the_reminder_its_hold_did_not_send() -> None:
    held, _ = plan_invoice(InvoiceState(invoice(approval_status="pending"), "ap@acme.test"), SETTINGS,
                           nine(DUE, 1), PARIS)
    sent, _ = plan_invoice(InvoiceState(invoice(approval_status="approved"), "ap@acme.test"), SETTINGS,
                           nine(DUE, 2), PARIS)
    assert held[0].key != sent[0].key and "skipped" not in sent[0].data


def test_a_policy_stored_under_older_rules_still_plans_and_never_stops_a_sweep() -> None:
    stored = policy(remind_every="PT30S", escalate_after="P99999999999D", expire_after="P99999999D")
    actions, next_due = plan_request(ApprovalState(request(), stored), at(1), PARIS)
    assert [a.key for a in actions] == ["remind:AR-1:0:2880"] and next_due == at(1) + timedelta(seconds=30)


UNTIL = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("ended_at", "now", "kinds", "next_due"), [
    (None, UNTIL - timedelta(hours=1), [], UNTIL),
    (None, UNTIL, [ActionKind.AWAY_ENDED], None),
    (None, UNTIL + timedelta(days=3), [ActionKind.AWAY_ENDED], None),
    (UNTIL - timedelta(days=1), UNTIL, [], None),
    (UNTIL + timedelta(days=1), UNTIL, [ActionKind.AWAY_ENDED], None),
], ids=["running", "ran-out", "announced-late", "ended-by-hand", "ended-after-it-ran-out"])
def test_an_away_period_that_runs_out_is_announced_once(
    ended_at: datetime | None, now: datetime, kinds: list[ActionKind], next_due: datetime | None,
) -> None:
    away = Delegation("U0CARA", "U0BOB", UNTIL - timedelta(days=7), UNTIL, ended_at)
    actions, nxt = plan_away_end(away, now)
    assert ([a.kind for a in actions], nxt) == (kinds, next_due)
    if actions:
        assert actions[0].key == f"away_ended:U0CARA:{UNTIL.isoformat()}"
        assert actions[0].data == {"principal": "U0CARA", "delegate": "U0BOB", "until": UNTIL.isoformat()}
        plan = plan_sweep(SweepState(ZoneInfo("UTC"), delegations=[away]), now)
        assert [a.key for a in plan.actions] == [actions[0].key]
        assert plan.next_due == ((("delegation", "U0CARA"), None),)


@pytest.mark.parametrize(("asked", "to"), [
    (request(), ("U1", "U2")),
    (request(votes=(Vote(0, "U1", Decision.APPROVE, START),)), ("U2",)),
    (request(status=RequestStatus.APPROVED), None),
])
def test_a_reminder_asked_for_by_hand_goes_to_who_has_not_decided_under_a_key_of_its_own(
    asked: ApprovalRequest, to: tuple[str, ...] | None,
) -> None:
    found = manual_reminder(asked, policy(notify=("dm", "email")), at(2))
    if to is None:
        assert found is None
        return
    assert found is not None and found.data["to"] == to and found.data["notify"] == ["dm", "email"]
    assert found.key.startswith("remind:AR-1:0:by") and found.due_at == at(2)
    assert manual_reminder(asked, policy(), at(2, 0.0001)).key != found.key  # type: ignore[union-attr]


@pytest.mark.parametrize(("escalate_to", "admins", "targets"), [
    (("U7",), ("U0ADM",), ("U7",)),
    (("U1",), ("U0ADM",), ("U0ADM",)),  # U1 decided step 1: the admins take their place on step 2
    (("U1",), ("U1",), ()),  # nobody else: no escalation rather than one person deciding both steps
    (("U1", "U7"), ("U0ADM",), ("U7",)),
])
def test_escalation_never_makes_a_step_the_decision_of_who_decided_another(
    escalate_to: tuple[str, ...], admins: tuple[str, ...], targets: tuple[str, ...],
) -> None:
    voted = (Vote(0, "U1", Decision.APPROVE, START), Vote(0, "U2", Decision.APPROVE, START))
    on_step_two = replace(request(votes=voted), current_step=1)
    assert escalated_to(on_step_two, policy(escalate_to=escalate_to), {}, admins) == targets
    assert escalate(on_step_two, ["U1"]).is_counted is False


def test_a_person_a_workflow_lists_on_two_steps_is_still_escalated_to_on_the_second() -> None:
    voted = (Vote(0, "U1", Decision.APPROVE, START), Vote(0, "U2", Decision.APPROVE, START))
    both = replace(request(votes=voted), current_step=1,
                   steps=(Step(0, ("U1", "U2"), 2), Step(1, ("U1", "U9"), 1)))
    assert escalated_to(both, policy(escalate_to=("U1",)), {}, ("U0ADM",)) == ("U1",)


def test_a_stand_in_is_never_who_decided_another_step() -> None:
    voted = (Vote(0, "U1", Decision.APPROVE, START), Vote(0, "U2", Decision.APPROVE, START))
    on_step_two = replace(request(votes=voted), current_step=1)
    outcome = unseat(on_step_two, "U9", StandIns(("U1",), ("U0ADM",)), START)
    assert outcome.request.step().approvers == ("U0ADM",)
