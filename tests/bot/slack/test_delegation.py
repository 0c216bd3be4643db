"""`/signoff away` end to end: a delegate acts for an away approver, in both directions, until UNTIL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.approvals import Decision
from engine.errors import VoteRefusedError
from storage.models import SlackIdentity
from tests.bot.slack.test_commands import run
from tests.bot.slack.test_home import (
    ALICE,
    BRUNO,
    CHLOE,
    REQ,
    approval_workflow,
    create_workflow,
    home_with,
    pending_invoices,
    status_becomes,
    task_blocks,
    view_text,
)
from tests.support.harness import Harness

ALICE_INVOICES = approval_workflow("Alice approves invoices", [{"field": "amount", "op": "gt", "value": "5000"}],
                                   steps=[[ALICE]])
BRUNO_BILLS = approval_workflow("Bruno approves bills", [{"field": "amount", "op": "gt", "value": "100"}],
                                steps=[[BRUNO]], record_type="bill")


def day_after(h: Harness, days: int) -> str:
    return (h.runtime.service.clock.now() + timedelta(days=days)).date().isoformat()


async def votes_of(h: Harness, record_type: str, record_id: str) -> list[tuple[str, str | None, str]]:
    async with h.db.read() as repo:
        [request] = await repo.requests_for_record(record_type, record_id)
    return [(v.approver, v.acted_by, v.decision.value) for v in request.votes]


async def test_delegation_in_both_directions_until_it_expires(signoff: Harness) -> None:
    await create_workflow(signoff, ALICE_INVOICES)
    await create_workflow(signoff, BRUNO_BILLS)
    until = day_after(signoff, 2)
    answer = await run(signoff, ALICE, f"away <@{BRUNO}|bruno> {until}")
    assert "You are away until" in answer.all_text() and f"<@{BRUNO}> approves for you" in answer.all_text()
    notice = await signoff.wait_for(lambda: signoff.dm(BRUNO))
    assert f"<@{ALICE}> is away until" in notice[0].all_text()

    [first] = await pending_invoices(signoff, 1)
    home = await home_with(signoff, BRUNO, lambda v: len(task_blocks(v)) == 1)
    assert f"for <@{ALICE}>, who is away" in view_text(home) and f"You approve for <@{ALICE}>" in view_text(home)
    await signoff.link.click_in_view(BRUNO, "approve")
    await status_becomes(signoff, first, "approved")
    assert await votes_of(signoff, "invoice", first) == [(ALICE, BRUNO, "approve")]
    alice_copy = (await signoff.wait_for(lambda: signoff.dm(ALICE)))[0]
    updated = await signoff.wait_for(
        lambda: (m := signoff.workspace.message(alice_copy.channel, alice_copy.ts)) and not m.action_ids() and m)
    assert f"<@{BRUNO}> for <@{ALICE}>" in updated.all_text()
    outcome = await signoff.wait_for(lambda: [m for m in signoff.dm(REQ) if "approved" in m.text])
    assert outcome

    [second] = await pending_invoices(signoff, 1, prefix="LATER-")
    signoff.runtime.service.clock.advance(timedelta(days=3))
    home = await home_with(signoff, BRUNO, lambda v: "You approve for" not in view_text(v))
    assert task_blocks(home) == []
    async with signoff.db.read() as repo:
        [request] = await repo.requests_for_record("invoice", second)
    with pytest.raises(VoteRefusedError) as refused:
        await signoff.runtime.service.approvals.decide(request.id, BRUNO, Decision.APPROVE, on_behalf_of=ALICE)
    assert refused.value.code == "not_a_delegate"
    with pytest.raises(VoteRefusedError):
        await signoff.runtime.service.approvals.decide(request.id, BRUNO, Decision.APPROVE)
    assert "not away" in (await run(signoff, ALICE, "away")).all_text()

    assert "You are away" in (await run(signoff, BRUNO, f"away <@{ALICE}> {day_after(signoff, 5)}T18:00")).all_text()
    bill = await signoff.put("/api/v1/records/bill/B-1", {"amount": "250.00", "vendor": "V-AIR",
                                                          "created_by": REQ, "source": "app"})
    assert bill.json()["approval_status"] == "pending"
    await home_with(signoff, ALICE, lambda v: f"for <@{BRUNO}>, who is away" in view_text(v))
    value = task_value_of(signoff, ALICE, "B-1")
    assert value.endswith(f"|{BRUNO}")
    await signoff.link.click_in_view(ALICE, "reject", value=value)
    await signoff.wait_for(lambda: signoff.workspace.open_modals(ALICE))
    await signoff.link.submit(ALICE, {"reason": "Not our vendor"})
    await status_becomes(signoff, "B-1", "rejected", "bill")
    assert await votes_of(signoff, "bill", "B-1") == [(BRUNO, ALICE, "reject")]
    rejected = await signoff.wait_for(lambda: [m for m in signoff.dm(REQ) if "B-1" in m.text and "rejected" in m.text])
    assert f"<@{ALICE}> for <@{BRUNO}>" in rejected[0].text

    assert "Welcome back" in (await run(signoff, BRUNO, "away off")).all_text()
    await signoff.wait_for(lambda: [m for m in signoff.dm(ALICE) if "is back" in m.all_text()])
    assert "not away" in (await run(signoff, BRUNO, "away off")).all_text()


def task_value_of(h: Harness, user: str, record_id: str) -> str:
    [block] = [b for b in task_blocks(h.workspace.home_view(user)) if record_id in b["text"]["text"]]
    return str(block["block_id"]).removeprefix("task:")


async def test_a_delegate_who_sits_on_the_step_decides_only_for_themselves(signoff: Harness) -> None:
    await create_workflow(signoff, approval_workflow("Both", [{"field": "amount", "op": "gt", "value": "5000"}],
                                                     steps=[[ALICE, BRUNO]]))
    await run(signoff, ALICE, f"away <@{BRUNO}> {day_after(signoff, 2)}")
    [invoice] = await pending_invoices(signoff, 1)
    home = await home_with(signoff, BRUNO, lambda v: len(task_blocks(v)) == 1)
    assert "who is away" not in view_text(home)
    async with signoff.db.read() as repo:
        [request] = await repo.requests_for_record("invoice", invoice)
    with pytest.raises(VoteRefusedError) as refused:
        await signoff.runtime.service.approvals.decide(request.id, BRUNO, Decision.APPROVE, on_behalf_of=ALICE)
    assert refused.value.code == "double_seat"


async def test_one_person_never_approves_two_steps_through_a_delegation(signoff: Harness) -> None:
    await create_workflow(signoff, approval_workflow("Two people", [{"field": "amount", "op": "gt", "value": "5000"}],
                                                     steps=[[BRUNO], [CHLOE]]))
    [invoice] = await pending_invoices(signoff, 1)
    async with signoff.db.read() as repo:
        [request] = await repo.requests_for_record("invoice", invoice)
    await signoff.runtime.service.approvals.decide(request.id, BRUNO, Decision.APPROVE)
    await run(signoff, CHLOE, f"away <@{BRUNO}> {day_after(signoff, 2)}")
    home = await home_with(signoff, BRUNO, lambda v: "You approve for" in view_text(v))
    assert task_blocks(home) == []
    with pytest.raises(VoteRefusedError) as refused:
        await signoff.runtime.service.approvals.decide(request.id, BRUNO, Decision.APPROVE, on_behalf_of=CHLOE)
    assert refused.value.code == "other_step"
    with pytest.raises(VoteRefusedError):
        await signoff.runtime.service.approvals.decide(request.id, BRUNO, Decision.APPROVE)
    assert await votes_of(signoff, "invoice", invoice) == [(BRUNO, None, "approve")]


async def test_a_requester_cannot_approve_their_own_document_as_a_delegate(signoff: Harness) -> None:
    await create_workflow(signoff, ALICE_INVOICES)
    await run(signoff, ALICE, f"away <@{REQ}> {day_after(signoff, 2)}")
    [invoice] = await pending_invoices(signoff, 1)
    home = await home_with(signoff, REQ, lambda v: "Your requests" in view_text(v) and invoice in view_text(v))
    assert task_blocks(home) == []
    async with signoff.db.read() as repo:
        [request] = await repo.requests_for_record("invoice", invoice)
    with pytest.raises(VoteRefusedError) as refused:
        await signoff.runtime.service.approvals.decide(request.id, REQ, Decision.APPROVE)
    assert refused.value.code == "own_record"


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        ("<@U01BBB> yesterday", "UNTIL must be the date you are back ({week}) or a date and time ({week}T14:00)"),
        ("<@U01BBB> 2020-01-01", "UNTIL is already past"),
        ("<@U01AAA> {soon}", "you cannot approve for yourself"),
        ("<@U0NOBODY> {soon}", "name the person who approves for you"),
        ("<@U0SIGNOFF> {soon}", "name the person who approves for you"),
        ("bruno {soon}", "name the person who approves for you"),
        ("<@U01BBB> 2099-01-01", "at most a year"),
        ("<@U01BBB>", "Usage"),
    ],
)
async def test_away_refuses_what_it_cannot_do_and_changes_nothing(signoff: Harness, args: str, problem: str) -> None:
    answer = await run(signoff, ALICE, "away " + args.format(soon=day_after(signoff, 10)))
    assert problem.format(week=day_after(signoff, 7)) in answer.all_text()
    async with signoff.db.read() as repo:
        assert await repo.delegations_active_at(signoff.runtime.service.clock.now()) == []
    assert signoff.dm(BRUNO) == [] and signoff.dm(CHLOE) == []


async def test_nobody_hands_approvals_to_someone_away(signoff: Harness) -> None:
    until = day_after(signoff, 10)
    assert "You are away until" in (await run(signoff, BRUNO, f"away <@{CHLOE}> {until}")).all_text()
    for user, delegate in ((ALICE, BRUNO), (CHLOE, BRUNO)):
        answer = await run(signoff, user, f"away <@{delegate}> {until}")
        assert "is away too, until" in answer.all_text() and "name someone who is here" in answer.all_text()
    async with signoff.db.read() as repo:
        active = await repo.delegations_active_at(signoff.runtime.service.clock.now())
    assert [(d.principal, d.delegate) for d in active] == [(BRUNO, CHLOE)]


async def test_those_a_delegate_stands_in_for_are_told_when_the_delegate_goes_away(signoff: Harness) -> None:
    await run(signoff, BRUNO, f"away <@{CHLOE}> {day_after(signoff, 10)}")
    assert "You are away until" in (await run(signoff, CHLOE, f"away <@{ALICE}> {day_after(signoff, 3)}")).all_text()
    told = await signoff.wait_for(lambda: [m for m in signoff.dm(BRUNO) if "is away too" in m.all_text()])
    assert "your approvals wait for them" in told[0].all_text() and "/signoff away" in told[0].all_text()


async def test_a_new_away_replaces_the_previous_delegate(signoff: Harness) -> None:
    await run(signoff, ALICE, f"away <@{BRUNO}> {day_after(signoff, 2)}")
    await run(signoff, ALICE, f"away <@{CHLOE}> {day_after(signoff, 4)}")
    now = signoff.runtime.service.clock.now()
    async with signoff.db.read() as repo:
        active = await repo.delegations_active_at(now, principal=ALICE)
        assert [d.delegate for d in active] == [CHLOE]
        assert await repo.principals_of(BRUNO, now) == ()
        assert await repo.principals_of(CHLOE, now) == (ALICE,)
        events = await repo.audit_trail("user", ALICE)
    assert [e.action for e in events] == ["delegation_started", "delegation_ended", "delegation_started"]
    told = await signoff.wait_for(lambda: [m for m in signoff.dm(BRUNO) if "you no longer do" in m.all_text()])
    assert f"<@{CHLOE}>" in told[0].all_text()


async def test_an_away_period_that_runs_out_welcomes_the_principal_back_and_tells_the_delegate(
    signoff: Harness,
) -> None:
    assert "You are away" in (await run(signoff, ALICE, f"away <@{BRUNO}> {day_after(signoff, 2)}")).all_text()
    assert "You are away" in (await run(signoff, CHLOE, f"away <@{BRUNO}> {day_after(signoff, 2)}")).all_text()
    assert "Welcome back" in (await run(signoff, CHLOE, "away off")).all_text()
    for _ in range(2):
        assert (await signoff.post("/api/v1/clock", {"advance": "P3D"})).status_code == 200
        assert (await signoff.post("/api/v1/scheduler/tick")).status_code == 200
    welcomed = [m for m in signoff.dm(ALICE) if "Welcome back" in m.all_text()]
    told = [m for m in signoff.dm(BRUNO) if f"<@{ALICE}> is back" in m.all_text()]
    assert len(welcomed) == 1 and f"<@{BRUNO}> no longer approves for you" in welcomed[0].all_text()
    assert len(told) == 1
    assert [m for m in signoff.dm(CHLOE) if "Welcome back" in m.all_text()] == []
    assert len([m for m in signoff.dm(BRUNO) if f"<@{CHLOE}> is back" in m.all_text()]) == 1


async def test_a_delegate_is_never_given_a_task_of_a_document_they_requested_by_their_e_mail(
    signoff: Harness,
) -> None:
    await create_workflow(signoff, ALICE_INVOICES)
    assert "You are away" in (await run(signoff, ALICE, f"away <@{BRUNO}> {day_after(signoff, 3)}")).all_text()
    now = signoff.runtime.service.clock.now()
    async with signoff.db.unit_of_work() as repo:
        await repo.save_slack_identity(SlackIdentity("bruno@example.com", BRUNO, now, now + timedelta(days=1)))
    for record_id, requester in (("INV-B", "bruno@example.com"), ("INV-R", REQ)):
        invoice = {"amount": "9000.00", "customer": "C-1", "created_by": requester, "source": "app"}
        assert (await signoff.put(f"/api/v1/records/invoice/{record_id}", invoice)).status_code == 200
    await status_becomes(signoff, "INV-R", "pending")
    home = await home_with(signoff, BRUNO, lambda v: "INV-R" in view_text(v))
    assert "INV-B" not in view_text(home), "Bruno requested it: it is no task of his, for Alice or anyone"
