"""Who is asked how: the notify options of an approval step, and the lifetimes of links and identities."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engine.notify import (
    Ask,
    LinkProblem,
    Reach,
    identity_expiry,
    link_expiry,
    link_problem,
    needs_lookup,
    plan_ask,
    plan_nudge,
    reach_without_lookup,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SLACK = Reach("U01AAA", slack_user="U01AAA", email="alice@example.com")


@pytest.mark.parametrize(
    ("notify", "expected"),
    [
        (["dm", "home"], Ask("U01AAA", dm_to="U01AAA", home=True)),
        (["dm", "email"], Ask("U01AAA", dm_to="U01AAA", email_to="alice@example.com")),
        (["home"], Ask("U01AAA", home=True)),
        (["email"], Ask("U01AAA", email_to="alice@example.com")),
        ([], Ask("U01AAA", dm_to="U01AAA")),
    ],
)
def test_a_slack_user_is_asked_as_configured(notify: list[str], expected: Ask) -> None:
    assert plan_ask(SLACK, notify, "U0REQ") == expected


def test_a_slack_user_without_a_known_email_is_sent_a_dm_rather_than_nothing() -> None:
    assert plan_ask(Reach("U01AAA", slack_user="U01AAA"), ["email"], None) == Ask("U01AAA", dm_to="U01AAA")


@pytest.mark.parametrize("notify", [["dm"], ["home"], ["dm", "home"], ["email"]])
def test_someone_without_slack_is_always_emailed(notify: list[str]) -> None:
    reach = Reach("ext@partner.example", email="ext@partner.example")
    assert plan_ask(reach, notify, "U0REQ") == Ask("ext@partner.example", email_to="ext@partner.example")


def test_an_email_resolving_to_the_requester_is_not_asked() -> None:
    reach = Reach("reqina@example.com", slack_user="U0REQ", email="reqina@example.com")
    assert plan_ask(reach, ["dm", "email"], "U0REQ") is None
    assert plan_ask(Reach("nobody"), ["dm"], None) is None


def test_lookups_are_needed_for_emails_and_for_emailing_slack_users() -> None:
    assert needs_lookup("ext@partner.example", ["dm"])
    assert needs_lookup("U01AAA", ["dm", "email"])
    assert not needs_lookup("U01AAA", ["dm", "home"])
    assert not needs_lookup("U01AAA", ["dm"], "U0REQ")
    assert needs_lookup("U01AAA", ["dm"], "req@corp.example")  # is the approver the requester, by e-mail?
    assert reach_without_lookup("U01AAA") == Reach("U01AAA", slack_user="U01AAA")


def test_links_expire_with_their_request_and_within_thirty_days() -> None:
    created = NOW - timedelta(days=2)
    assert link_expiry(created, timedelta(days=7).total_seconds(), NOW) == created + timedelta(days=7)
    assert link_expiry(created, timedelta(days=90).total_seconds(), NOW) == NOW + timedelta(days=30)
    with pytest.raises(ValueError):
        link_expiry(created.replace(tzinfo=None), 60, NOW)


def test_link_problems() -> None:
    later = NOW + timedelta(hours=1)
    assert link_problem(None, later, NOW) is None
    assert link_problem(NOW, later, NOW) is LinkProblem.USED
    assert link_problem(None, NOW, NOW) is LinkProblem.EXPIRED


def test_slack_answers_are_kept_a_week_and_a_day_without_a_user() -> None:
    assert identity_expiry("U01AAA", NOW) == NOW + timedelta(days=7)
    assert identity_expiry(None, NOW) == NOW + timedelta(days=1)


@pytest.mark.parametrize(
    ("reach", "expected"),
    [
        (Reach("a@x.example", slack_user="U01CCC", email="a@x.example"), Ask("a@x.example", dm_to="U01CCC")),
        (Reach("a@x.example", email="a@x.example"), Ask("a@x.example", email_to="a@x.example")),
        (Reach("U01AAA", slack_user="U01AAA"), Ask("U01AAA", dm_to="U01AAA")),
        (Reach("nobody"), None),
    ],
)
def test_a_reminder_goes_to_slack_when_it_knows_the_approver_else_by_e_mail(reach: Reach, expected: Ask | None) -> None:
    assert plan_nudge(reach) == expected


@pytest.mark.parametrize(
    ("notify", "reach", "expected"),
    [
        (["email"], Reach("U01AAA", slack_user="U01AAA", email="a@x.example"), Ask("U01AAA", email_to="a@x.example")),
        (["dm", "email"], Reach("U01AAA", slack_user="U01AAA", email="a@x.example"),
         Ask("U01AAA", dm_to="U01AAA", email_to="a@x.example")),
        (["email"], Reach("U01AAA", slack_user="U01AAA"), Ask("U01AAA", dm_to="U01AAA")),
        (["home"], Reach("U01AAA", slack_user="U01AAA", email="a@x.example"), Ask("U01AAA", dm_to="U01AAA")),
        (["dm"], Reach("a@x.example", email="a@x.example"), Ask("a@x.example", email_to="a@x.example")),
    ],
)
def test_a_reminder_takes_the_channels_of_the_ask(notify: list[str], reach: Reach, expected: Ask) -> None:
    assert plan_nudge(reach, notify) == expected

