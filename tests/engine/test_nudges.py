"""Who hears of a due reminder or escalation: Slack approvers (their delegate while away) by DM, e-mails by lookup."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.approvals import ApprovalRequest, Step
from engine.delegation import Delegation, Recipient
from engine.notify import Notice, NoticeKind, behalf_of, nudge_lookup
from engine.nudges import (
    digested,
    escalation_notices,
    escalation_people,
    reminded_people,
    reminded_seat,
    reminder_notices,
    routes_for,
    told_together,
    waited_s,
)
from engine.planning import ActionKind, DueAction, SubjectKind

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SINCE = NOW - timedelta(days=2)
UNTIL = NOW + timedelta(days=3)
REQUEST = ApprovalRequest("AR-1", "invoice", "INV-1", "wf", "U0REQ", (Step(0, ("U01AAA", "U01BBB", "a@x.example"), 1),),
                          SINCE, SINCE)
AWAY = Delegation("U01AAA", "U01DEL", NOW - timedelta(days=1), UNTIL)
WAITED = 2 * 86400.0


def remind(to: tuple[str, ...]) -> DueAction:
    data = {"request_id": "AR-1", "step_index": 0, "n": 1, "to": to, "since": SINCE.isoformat()}
    return DueAction(ActionKind.REMIND, "remind:AR-1:0:1", (SubjectKind.APPROVAL, "AR-1"), NOW, data)


def escalate(to: tuple[str, ...], waiting_on: tuple[str, ...]) -> DueAction:
    data = {"request_id": "AR-1", "step_index": 0, "level": 1, "to": to, "waiting_on": waiting_on,
            "since": SINCE.isoformat()}
    return DueAction(ActionKind.ESCALATE, "esc", (SubjectKind.APPROVAL, "AR-1"), NOW, data)


@pytest.mark.parametrize(
    ("to", "delegations", "expected"),
    [
        ((), [], []),
        (("U01AAA",), [], [("remind", "U01AAA", "remind:AR-1:0:1:U01AAA", {})]),
        (("U01AAA", "U01BBB"), [AWAY], [("remind", "U01DEL", "remind:AR-1:0:1:U01AAA",
                                 {"on_behalf_of": "U01AAA", "until": UNTIL.isoformat()}),
                                ("remind", "U01BBB", "remind:AR-1:0:1:U01BBB", {})]),
        (("a@x.example",), [], [("approver_lookup", "a@x.example", "remind:AR-1:0:1:a@x.example", None)]),
        (("nobody",), [], []),
    ],
)
def test_who_is_reminded(
    to: tuple[str, ...], delegations: list[Delegation], expected: list[tuple[str, str, str, Any]],
) -> None:
    notices = reminder_notices(remind(to), REQUEST, delegations, NOW)
    base = {"request_id": "AR-1", "step_index": 0, "n": 1, "waited_s": WAITED}
    got = [(n.kind, n.target, n.key, n.payload if n.kind == "remind" else None) for n in notices]
    assert got == [(k, t, key, {**base, **extra} if extra is not None else None) for k, t, key, extra in expected]


def test_an_emailed_approver_is_reminded_through_a_lookup_carrying_the_reminder() -> None:
    (notice,) = reminder_notices(remind(("a@x.example",)), REQUEST, [], NOW)
    assert notice.payload["nudge"] == {"request_id": "AR-1", "step_index": 0, "n": 1, "waited_s": WAITED,
                                       "kind": "remind", "notify": ["dm", "home"], "is_dm_queued": False}


@pytest.mark.parametrize(
    ("notify", "delegations", "expected"),
    [
        (["email"], [], [("approver_lookup", "U01AAA"), ("approver_lookup", "U01BBB"),
                         ("approver_lookup", "a@x.example")]),
        (["dm", "email"], [AWAY], [("remind", "U01DEL"), ("remind", "U01BBB"), ("approver_lookup", "U01BBB"),
                                   ("approver_lookup", "a@x.example")]),
        (["home"], [], [("remind", "U01AAA"), ("remind", "U01BBB"), ("approver_lookup", "a@x.example")]),
    ],
)
def test_a_reminder_follows_the_channels_of_the_ask(
    notify: list[str], delegations: list[Delegation], expected: list[tuple[str, str]],
) -> None:
    action = remind(("U01AAA", "U01BBB", "a@x.example"))
    action = replace(action, data={**action.data, "notify": notify})
    notices = reminder_notices(action, REQUEST, delegations, NOW)
    assert [(n.kind, n.target) for n in notices] == expected
    assert all(n.payload["nudge"]["notify"] == notify for n in notices if n.kind == "approver_lookup")
    dms = {n.target for n in notices if n.kind == "remind"}
    assert len({n.key for n in notices}) == len(notices), "each message its own key: none is dropped as a repeat"
    assert all(n.payload["nudge"]["is_dm_queued"] is (n.target in dms) for n in notices if n.kind == "approver_lookup")


@pytest.mark.parametrize(("notify", "expected"), [
    (["email"], [("approver_lookup", "U01EEE", "esc:U01EEE"), ("escalate", "U01DEL", "esc:notice:U01AAA"),
                 ("approver_lookup", "a@x.example", "esc:notice:a@x.example")]),
    (["dm", "email"], [("escalate", "U01EEE", "esc:U01EEE"), ("approver_lookup", "U01EEE", "esc:U01EEE:mail"),
                       ("escalate", "U01DEL", "esc:notice:U01AAA"),
                       ("approver_lookup", "a@x.example", "esc:notice:a@x.example")]),
])
def test_an_escalation_follows_the_channels_of_the_ask(notify: list[str], expected: list[tuple[str, str, str]]) -> None:
    action = escalate(("U01EEE",), ("U01AAA", "a@x.example"))
    action = replace(action, data={**action.data, "notify": notify})
    notices = escalation_notices(action, REQUEST, [AWAY], NOW)
    assert [(n.kind, n.target, n.key) for n in notices] == expected
    dms = {n.target for n in notices if n.kind == "escalate"}
    assert all(n.payload["nudge"]["is_dm_queued"] is (n.target in dms) for n in notices if n.kind == "approver_lookup")


@pytest.mark.parametrize(
    ("to", "waiting_on", "delegations", "expected"),
    [
        (("U01EEE",), ("U01AAA",), [],
         [("escalate", "U01EEE", "esc:U01EEE", "target"), ("escalate", "U01AAA", "esc:notice:U01AAA", "notice")]),
        (("U01EEE",), ("U01EEE",), [], [("escalate", "U01EEE", "esc:U01EEE", "target")]),
        (("U01EEE",), ("U01AAA",), [AWAY], [("escalate", "U01EEE", "esc:U01EEE", "target"),
                                    ("escalate", "U01DEL", "esc:notice:U01AAA", "notice")]),
        (("e@x.example",), ("a@x.example",), [],
         [("approver_lookup", "e@x.example", "esc:e@x.example", "target"),
          ("approver_lookup", "a@x.example", "esc:notice:a@x.example", "notice")]),
        ((), (), [], []),
    ],
)
def test_who_hears_of_an_escalation(
    to: tuple[str, ...], waiting_on: tuple[str, ...], delegations: list[Delegation],
    expected: list[tuple[str, str, str, str]],
) -> None:
    notices = escalation_notices(escalate(to, waiting_on), REQUEST, delegations, NOW)
    roles = [n.payload.get("role") or n.payload["nudge"]["role"] for n in notices]
    assert [(n.kind, n.target, n.key) for n in notices] == [e[:3] for e in expected]
    assert roles == [e[3] for e in expected]


@pytest.mark.parametrize(
    ("to", "waiting_on", "expected"),
    [
        (("U01EEE", "e@x.example"), ("U01AAA", "U01EEE", "a@x.example"), ["U01EEE", "U01AAA"]),
        ((), ("U01AAA",), ["U01AAA"]),
    ],
)
def test_escalation_people(to: tuple[str, ...], waiting_on: tuple[str, ...], expected: list[str]) -> None:
    assert escalation_people({"to": to, "waiting_on": waiting_on}) == expected


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (REQUEST, {"U01AAA": Recipient("U01DEL", "U01AAA", UNTIL), "U01BBB": Recipient("U01BBB")}),
        (None, {"U01AAA": Recipient("U01DEL", "U01AAA", UNTIL), "U01BBB": Recipient("U01BBB")}),
    ],
)
def test_routes_for(request_: ApprovalRequest | None, expected: dict[str, Recipient]) -> None:
    assert routes_for(request_, ["U01AAA", "U01BBB"], [AWAY], NOW) == expected


@pytest.mark.parametrize(
    ("payload", "target", "expected"),
    [
        ({"on_behalf_of": "U01AAA", "approver": "a@x"}, "U01DEL", "U01AAA"),
        ({"approver": "a@x"}, "U1", "a@x"),
        ({}, "U1", "U1"),
    ],
)
def test_reminded_seat(payload: dict[str, Any], target: str, expected: str) -> None:
    assert reminded_seat(payload, target) == expected


def test_small_parts() -> None:
    assert waited_s(remind(()), NOW) == waited_s(remind(()), NOW - timedelta(hours=1)) == WAITED
    assert waited_s(remind(()), NOW + timedelta(days=25)) == WAITED + 25 * 86400
    assert behalf_of(Recipient("U01BBB")) == {}
    assert behalf_of(Recipient("U01DEL", "U01AAA", UNTIL)) == {"on_behalf_of": "U01AAA", "until": UNTIL.isoformat()}
    assert reminded_people([remind(("U01AAA",)), remind(("U01BBB", "U01AAA"))]) == {"U01AAA", "U01BBB"}


def _reminder(person: str, n: int) -> Notice:
    return Notice(NoticeKind.REMIND, person, {"request_id": f"AR-{n}", "step_index": 0}, f"remind:AR-{n}:0:1:{person}")


@pytest.mark.parametrize(("counts", "digests", "singles"), [
    ({"UA": 3}, {}, 3),
    ({"UA": 4}, {"UA": 4}, 0),
    ({"UA": 5, "UB": 1}, {"UA": 5}, 1),
    ({"UA": 4, "UB": 4}, {"UA": 4, "UB": 4}, 0),
])
def test_many_reminders_to_one_person_at_once_become_one_digest(counts: dict[str, int], digests: dict[str, int],
                                                                 singles: int) -> None:
    notices = [_reminder(p, n) for p, count in counts.items() for n in range(count)]
    other = Notice(NoticeKind.ESCALATE, "UA", {}, "escalate:1")
    sent = digested([*notices, other])
    found = {n.target: len(n.payload["items"]) for n in sent if n.kind is NoticeKind.REMIND_DIGEST}
    assert found == digests and other in sent
    assert sum(1 for n in sent if n.kind is NoticeKind.REMIND) == singles
    for digest in (n for n in sent if n.kind is NoticeKind.REMIND_DIGEST):
        covered = sorted(str(n.key) for n in notices if n.target == digest.target)
        assert digest.payload["covers"] == covered, "the message names the reminders it stands for"
    keys = {n.key for n in sent if n.kind is NoticeKind.REMIND_DIGEST}
    assert {n.key for n in digested(notices[::-1]) if n.kind is NoticeKind.REMIND_DIGEST} == keys


@pytest.mark.parametrize(("targets", "notices", "digests"), [
    (4, 3, {"target": 4}),  # escalated to them: one message; told of escalations past them: one each
    (3, 4, {"notice": 4}),
    (5, 5, {"target": 5, "notice": 5}),
    (3, 3, {}),
])
def test_many_escalations_to_one_person_at_once_become_one_digest_per_role(
        targets: int, notices: int, digests: dict[str, int]) -> None:
    escalations = [Notice(NoticeKind.ESCALATE, "UB", {"request_id": f"AR-{n}", "role": role}, f"escalate:{role}:{n}")
                   for role, count in (("target", targets), ("notice", notices)) for n in range(count)]
    sent = digested([*escalations, _reminder("UB", 0)])
    found = {n.payload["role"]: len(n.payload["items"]) for n in sent if n.kind is NoticeKind.ESCALATE_DIGEST}
    assert found == digests
    assert all(str(n.key).startswith("escalate_digest:") for n in sent if n.kind is NoticeKind.ESCALATE_DIGEST)
    singles = [n for n in sent if n.kind is NoticeKind.ESCALATE]
    assert len(singles) == targets + notices - sum(digests.values())
    assert sum(1 for n in sent if n.kind is NoticeKind.REMIND) == 1


def _lookup(approver: str, n: int, kind: str = "remind", role: str | None = None) -> Notice:
    nudge: dict[str, Any] = {"request_id": f"AR-{n}", "step_index": 0, "kind": kind, "n": 1}
    if role:
        nudge["role"] = role
    return nudge_lookup(approver, nudge, f"{kind}:AR-{n}:0:1:{approver}")


@pytest.mark.parametrize(("lookups", "digests", "singles"), [
    ({"ext@x.example": 4}, {"ext@x.example": 4}, 0),
    ({"ext@x.example": 3}, {}, 3),
    ({"ext@x.example": 5, "U01AAA": 4, "other@x.example": 1}, {"ext@x.example": 5, "U01AAA": 4}, 1),
])
def test_many_reminders_looked_up_for_one_person_at_once_are_looked_up_together(
        lookups: dict[str, int], digests: dict[str, int], singles: int) -> None:
    notices = [_lookup(p, n) for p, count in lookups.items() for n in range(count)]
    ask_lookup = Notice(NoticeKind.LOOKUP, "ext@x.example", {"request_id": "AR-9", "step_index": 0}, "lookup:AR-9")
    sent = digested([*notices, ask_lookup])
    found = {n.target: n.payload["items"] for n in sent if n.kind is NoticeKind.LOOKUP_DIGEST}
    assert {person: len(items) for person, items in found.items()} == digests
    assert sum(1 for n in sent if n.kind is NoticeKind.LOOKUP and n is not ask_lookup) == singles
    assert ask_lookup in sent, "the lookup before an ask is never held for a digest"
    for person, items in found.items():
        assert sorted(i["key"] for i in items) == sorted(str(n.key) for n in notices if n.target == person)
        assert all(i["nudge"]["kind"] == "remind" for i in items)
    keys = {n.key for n in sent if n.kind is NoticeKind.LOOKUP_DIGEST}
    assert {n.key for n in digested(notices[::-1]) if n.kind is NoticeKind.LOOKUP_DIGEST} == keys


def test_lookups_of_reminders_and_escalations_are_grouped_apart() -> None:
    notices = [*(_lookup("ext@x.example", n) for n in range(4)),
               *(_lookup("ext@x.example", n, "escalate", "target") for n in range(4)),
               *(_lookup("ext@x.example", n, "escalate", "notice") for n in range(3))]
    sent = digested(notices)
    assert sorted((n.payload["items"][0]["nudge"]["kind"], len(n.payload["items"])) for n in sent
                  if n.kind is NoticeKind.LOOKUP_DIGEST) == [("escalate", 4), ("remind", 4)]
    assert len([n for n in sent if n.kind is NoticeKind.LOOKUP]) == 3


def _mail(address: str, n: int, kind: str = "remind", role: str = "") -> Notice:
    nudge = {"request_id": f"AR-{n}", "step_index": 0, "kind": kind, "role": role}
    return Notice(NoticeKind.APPROVAL_EMAIL, address, {"request_id": f"AR-{n}", "step_index": 0,
                                                       "approver": address, "nudge": nudge}, f"{kind}:{n}:mail")


def _dm(user: str, n: int, kind: NoticeKind = NoticeKind.REMIND, role: str = "") -> Notice:
    payload: dict[str, Any] = {"request_id": f"AR-{n}", "step_index": 0, "approver": user}
    return Notice(kind, user, {**payload, "role": role} if role else payload, f"{kind.value}:{n}:dm")


@pytest.mark.parametrize(("found", "expected"), [
    ([_mail("a@x.example", 1), _mail("a@x.example", 2)],
     [(NoticeKind.APPROVAL_EMAIL_DIGEST, "a@x.example", 2, "digest-key:mail")]),
    ([_mail("a@x.example", 1)], [(NoticeKind.APPROVAL_EMAIL_DIGEST, "a@x.example", 1, "digest-key:mail")]),
    ([_dm("U01AAA", n) for n in range(3)], [(NoticeKind.REMIND_DIGEST, "U01AAA", 3, "digest-key:dm")]),
    ([_dm("U01AAA", 1, NoticeKind.ESCALATE, "target"), _mail("a@x.example", 1, "escalate", "target")],
     [(NoticeKind.APPROVAL_EMAIL_DIGEST, "a@x.example", 1, "digest-key:mail"),
      (NoticeKind.ESCALATE_DIGEST, "U01AAA", 1, "digest-key:dm")]),
    ([], []),
])
def test_what_a_digests_lookup_finds_is_sent_as_one_message_each_way_keyed_by_the_digest(
        found: list[Notice], expected: list[tuple[NoticeKind, str, int, str]]) -> None:
    sent = told_together(found, "digest-key")
    assert [(n.kind, n.target, len(n.payload["items"]), n.key) for n in sent] == expected
    for notice in sent:
        assert [item["request_id"] for item in notice.payload["items"]] == [
            n.payload["request_id"] for n in found if n.target == notice.target]
    mails = [n for n in sent if n.kind is NoticeKind.APPROVAL_EMAIL_DIGEST]
    assert all(n.payload["kind"] == found[-1].payload["nudge"]["kind"] for n in mails)
    escalated = [n for n in sent if n.kind is NoticeKind.ESCALATE_DIGEST]
    assert all(n.payload["role"] == "target" for n in escalated)


@pytest.mark.parametrize(("since", "due", "waited"), [
    ("2028-03-11T15:00:00+00:00", "2028-03-12T14:00:00+00:00", 86400.0),  # New York springs forward: still a day
    ("2028-11-04T14:00:00+00:00", "2028-11-05T15:00:00+00:00", 86400.0),  # and falls back: still a day
    ("2028-06-01T14:00:00+00:00", "2028-06-02T16:00:00+00:00", 93600.0),
])
def test_a_wait_is_told_on_the_companys_clocks(since: str, due: str, waited: float) -> None:
    action = DueAction(ActionKind.REMIND, "remind:AR-1:0:1", (SubjectKind.APPROVAL, "AR-1"),
                       datetime.fromisoformat(due), {"since": since})
    assert waited_s(action, datetime.fromisoformat(due), ZoneInfo("America/New_York")) == waited
