"""Approval links are used once per seat before they expire; Slack identities are replaced; the audit trail in order."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from engine.approvals import ApprovalRequest, Step
from engine.notify import EmailedSeat
from storage.models import ApprovalLink, AuditLine, SlackIdentity, hash_link_token
from storage.ports import Store

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def a_link(decision: str, approver: str = "a@example.com", step: int = 0) -> ApprovalLink:
    return ApprovalLink("AR-1", step, approver, decision, approver, NOW, NOW + timedelta(days=7))


async def stored_request(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.insert_request(ApprovalRequest("AR-1", "invoice", "INV-1", "wf", "U0REQ",
                                                  (Step(0, ("a@example.com", "b@example.com"), 2),), NOW, NOW))


async def test_a_link_decides_its_seat_once_and_only_before_it_expires(store: Store) -> None:
    await stored_request(store)
    approve, reject = hash_link_token("approve-token"), hash_link_token("reject-token")
    other, late = hash_link_token("other-seat"), hash_link_token("expiring")
    async with store.unit_of_work() as repo:
        await repo.add_approval_link(approve, a_link("approve"))
        await repo.add_approval_link(reject, a_link("reject"))
        await repo.add_approval_link(other, a_link("approve", "b@example.com"))
        await repo.add_approval_link(late, a_link("approve", "b@example.com", step=1))
    async with store.unit_of_work() as repo:
        assert await repo.use_approval_link(approve, NOW + timedelta(minutes=1))
        assert not await repo.use_approval_link(reject, NOW + timedelta(minutes=2))
        assert not await repo.use_approval_link(approve, NOW + timedelta(minutes=2))
        assert not await repo.use_approval_link(late, NOW + timedelta(days=7))
        assert not await repo.use_approval_link(hash_link_token("unknown"), NOW)
    async with store.read() as repo:
        used = await repo.approval_link(reject)
        untouched = await repo.approval_link(other)
        assert await repo.approval_link(hash_link_token("unknown")) is None
    assert used == replace(a_link("reject"), used_at=NOW + timedelta(minutes=1))
    assert untouched == a_link("approve", "b@example.com") and hash_link_token("x") != hash_link_token("y")


async def test_a_seat_with_unused_links_is_told_once_per_address(store: Store) -> None:
    await stored_request(store)
    async with store.unit_of_work() as repo:
        for token, link in (("a1", a_link("approve")), ("a2", a_link("reject")), ("a3", a_link("approve")),
                            ("b1", a_link("approve", "b@example.com")), ("c1", a_link("approve", "c@example.com", 1)),
                            ("a4", replace(a_link("approve"), email="a.other@example.com"))):
            await repo.add_approval_link(hash_link_token(token), link)
        assert await repo.use_approval_link(hash_link_token("b1"), NOW)
    seat_a, other_address = EmailedSeat(0, "a@example.com", "a@example.com"), \
        EmailedSeat(0, "a@example.com", "a.other@example.com")
    seat_c = EmailedSeat(1, "c@example.com", "c@example.com")
    async with store.read() as repo:
        assert await repo.untold_seats("AR-1") == [other_address, seat_a, seat_c]
        assert await repo.untold_seats("AR-2") == []
    async with store.unit_of_work() as repo:
        assert await repo.mark_seat_told("AR-1", seat_a, NOW)
        assert not await repo.mark_seat_told("AR-1", seat_a, NOW)
        assert not await repo.mark_seat_told("AR-1", EmailedSeat(0, "b@example.com", "b@example.com"), NOW)
    async with store.read() as repo:
        assert await repo.untold_seats("AR-1") == [other_address, seat_c]
        assert (await repo.approval_link(hash_link_token("a2"))) == a_link("reject")


async def test_a_slack_identity_is_replaced_by_the_latest_answer(store: Store) -> None:
    first = SlackIdentity("a@example.com", None, NOW, NOW + timedelta(hours=1))
    second = SlackIdentity("a@example.com", "U1", NOW + timedelta(hours=2), NOW + timedelta(days=1))
    async with store.unit_of_work() as repo:
        await repo.save_slack_identity(first)
        assert await repo.slack_identity("a@example.com") == first
        await repo.save_slack_identity(second)
    async with store.read() as repo:
        assert await repo.slack_identity("a@example.com") == second
        assert await repo.slack_identity("b@example.com") is None
        assert await repo.principals_of("U1", NOW) == ("a@example.com",)


async def test_the_e_mails_of_people_are_what_slack_said_oldest_answer_first(store: Store) -> None:
    answers = [SlackIdentity("z@example.com", "U1", NOW, NOW), SlackIdentity("a@example.com", "U1", NOW, NOW),
               SlackIdentity("old@example.com", "U1", NOW - timedelta(days=9), NOW - timedelta(days=2)),
               SlackIdentity("b@example.com", "U2", NOW, NOW), SlackIdentity("nobody@example.com", None, NOW, NOW)]
    async with store.unit_of_work() as repo:
        for answer in answers:
            await repo.save_slack_identity(answer)
    async with store.read() as repo:
        assert await repo.emails_of(["U1", "U2", "U3", "U1"]) == {
            "U1": ("old@example.com", "a@example.com", "z@example.com"), "U2": ("b@example.com",)}
        assert await repo.emails_of([]) == {}
        assert len(await repo.emails_of([f"U{n}" for n in range(2000)])) == 2  # more people than one statement takes


async def test_the_audit_trail_keeps_the_order_entries_were_appended(store: Store) -> None:
    async with store.unit_of_work() as repo:
        await repo.audit(NOW + timedelta(hours=1), "U1", "created", ("invoice", "INV-1"), None, "none", {"n": 1})
        await repo.audit_many([AuditLine(NOW, None, "submitted", ("invoice", "INV-1"), "none", "pending"),
                               AuditLine(NOW, "U2", "approved", ("invoice", "INV-2")),
                               AuditLine(NOW + timedelta(hours=3), "U2", "submitted", ("invoice", "INV-2"))])
    async with store.read() as repo:
        trail = await repo.audit_trail("invoice", "INV-1")
        last = await repo.last_audit_of("invoice", ["INV-1", "INV-2", "INV-3"], ["submitted"])
    assert [(e.action, e.actor, e.from_state, e.to_state, e.detail) for e in trail] == [
        ("created", "U1", None, "none", {"n": 1}), ("submitted", None, "none", "pending", {})]
    assert trail[0].seq < trail[1].seq and trail[0].at == NOW + timedelta(hours=1)
    assert last == {"INV-1": NOW, "INV-2": NOW + timedelta(hours=3)}
