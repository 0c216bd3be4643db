"""While an approver is away, their reminders, escalations and Home tasks go to their delegate, for them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.outbox.asking import Asking
from bot.sandbox.blockkit.validation import validate_message
from bot.sandbox.state.model import Message
from storage.models import SENT, SlackIdentity
from tests.bot.jobs.test_scheduler_clock import START, paris, tick_at
from tests.bot.slack.test_commands import run
from tests.bot.slack.test_delegation import task_value_of, votes_of
from tests.bot.slack.test_home import home_with, status_becomes, task_blocks, view_text
from tests.support.harness import Harness, running_signoff

ALICE, BRUNO, CHLOE, DIMITRI, REQ = "U01AAA", "U01BBB", "U01CCC", "U01DDD", "U0REQ"
BACK = START + timedelta(days=5)
WORKFLOW: dict[str, Any] = {
    "name": "Alice approves invoices", "record_type": "invoice", "trigger": "created",
    "conditions": [{"field": "amount", "op": "gt", "value": "5000"}],
    "actions": [{"type": "approval", "steps": [{"approvers": [ALICE], "min_approvers": 1}],
                 "remind_every": "P1D", "escalate_after": "P3D", "escalate_to": [DIMITRI]}],
}
INVOICE = {"amount": "12500.00", "currency": "EUR", "customer": "C-ACME", "due_date": "2026-12-20",
           "created_by": REQ, "source": "app"}


def new_dms(h: Harness, user: str, seen: dict[str, int]) -> list[Message]:
    """Return the DMs a person got since the last call (per person)."""
    messages = h.dm(user)
    fresh, seen[user] = messages[seen.get(user, 0):], len(messages)
    return fresh


def button_values(message: Message) -> set[str]:
    return {str(e.get("value")) for b in message.blocks if b.get("type") == "actions" for e in b["elements"]}


async def request_id_of(h: Harness, record_id: str) -> str:
    async with h.db.read() as repo:
        [request] = await repo.requests_for_record("invoice", record_id)
    return str(request.id)


async def start(h: Harness) -> None:
    await tick_at(h, paris(START, 9, 0))
    assert (await h.post("/api/v1/workflows", WORKFLOW)).status_code == 201
    for record_id in ("INV-1", "INV-2", "INV-3"):
        assert (await h.put(f"/api/v1/records/invoice/{record_id}", INVOICE)).json()["approval_status"] == "pending"
    for principal, delegate in ((ALICE, BRUNO), (DIMITRI, CHLOE)):
        answer = await run(h, principal, f"away <@{delegate}> {BACK.isoformat()}")
        assert "You are away until" in answer.all_text()
        await h.wait_for(lambda d=delegate: [m for m in h.dm(d) if "is away until" in m.text])
    await h.wait_for(lambda: len([m for m in h.dm(ALICE) if "needs your approval" in m.text]) == 3)


async def test_reminders_escalations_and_tasks_of_the_away_go_to_their_delegate_until_they_are_back(
    tmp_path: Path,
) -> None:
    async with running_signoff(tmp_path / "away.db", timezone="Europe/Paris") as signoff:
        await start(signoff)
        seen: dict[str, int] = {}
        for user in (ALICE, BRUNO, CHLOE, DIMITRI):
            new_dms(signoff, user, seen)

        assert await tick_at(signoff, paris(START + timedelta(days=1), 9, 30)) == {"remind": 3}
        reminders = await signoff.wait_for(lambda: len(signoff.dm(BRUNO)) >= seen[BRUNO] + 3 and signoff.dm(BRUNO))
        reminders = reminders[seen[BRUNO]:]
        seen[BRUNO] += len(reminders)
        assert new_dms(signoff, ALICE, seen) == []
        for message in reminders:
            assert "Reminder" in message.text and f"For <@{ALICE}>, who is away until" in message.all_text()
            assert validate_message(message.blocks, message.text) == []
        inv2 = next(m for m in reminders if "INV-2" in m.text)
        assert button_values(inv2) == {f"{await request_id_of(signoff, 'INV-2')}|{ALICE}"}

        home = await home_with(signoff, BRUNO, lambda v: len(task_blocks(v)) == 3)
        assert f"for <@{ALICE}>, who is away until" in view_text(home)
        await signoff.link.click_in_view(BRUNO, "approve", value=task_value_of(signoff, BRUNO, "INV-1"))
        await status_becomes(signoff, "INV-1", "approved")
        await signoff.click(BRUNO, inv2, "approve")
        await status_becomes(signoff, "INV-2", "approved")
        assert await votes_of(signoff, "invoice", "INV-1") == [(ALICE, BRUNO, "approve")]
        assert await votes_of(signoff, "invoice", "INV-2") == [(ALICE, BRUNO, "approve")]

        assert await tick_at(signoff, paris(START + timedelta(days=2), 9, 30)) == {"remind": 1}
        assert await tick_at(signoff, paris(START + timedelta(days=3), 9, 30)) == {"escalate": 1}
        escalated = await signoff.wait_for(lambda: [m for m in signoff.dm(CHLOE) if "Escalated to you" in m.text])
        assert f"For <@{DIMITRI}>, who is away until" in escalated[0].all_text()
        assert button_values(escalated[0]) == {f"{await request_id_of(signoff, 'INV-3')}|{DIMITRI}"}
        notice = await signoff.wait_for(lambda: [m for m in signoff.dm(BRUNO) if "was escalated to" in m.text])
        assert f"For <@{ALICE}>, who is away until" in notice[0].all_text()
        assert [m for m in signoff.dm(DIMITRI) if "INV-3" in m.text] == []
        assert [m for m in signoff.dm(ALICE) if "INV-3" in m.text and "escalated" in m.text] == []
        for user in (ALICE, BRUNO, CHLOE, DIMITRI):
            new_dms(signoff, user, seen)

        assert await tick_at(signoff, paris(BACK, 9, 30)) == {"remind": 1}
        back = await signoff.wait_for(lambda: [m for m in new_dms(signoff, ALICE, seen) if "Reminder" in m.text])
        assert "who is away" not in back[0].all_text() and "waiting for your decision" in back[0].text
        await signoff.wait_for(lambda: [m for m in new_dms(signoff, DIMITRI, seen) if "Reminder" in m.text])
        assert await tick_at(signoff, paris(BACK + timedelta(days=1), 9, 30)) == {"remind": 1}  # escalated once
        await signoff.wait_for(lambda: [m for m in new_dms(signoff, DIMITRI, seen) if "Reminder" in m.text])
        await signoff.wait_for(lambda: [m for m in new_dms(signoff, ALICE, seen) if "Reminder" in m.text])
        for delegate, principal in ((BRUNO, ALICE), (CHLOE, DIMITRI)):  # the away periods ran out: told once
            told_back = [m.text for m in new_dms(signoff, delegate, seen)]
            assert told_back == [f"👋 <@{principal}> is back: you no longer approve in their place."]
        home = await home_with(signoff, BRUNO, lambda v: "who is away" not in view_text(v))
        assert task_blocks(home) == []


async def test_a_delegate_who_approved_from_a_reminder_sees_it_there_without_buttons(tmp_path: Path) -> None:
    both = {**WORKFLOW, "name": "Alice and Dimitri approve invoices",
            "actions": [{"type": "approval", "steps": [{"approvers": [ALICE, DIMITRI], "min_approvers": 2}],
                         "remind_every": "P1D"}]}
    async with running_signoff(tmp_path / "away.db", timezone="Europe/Paris") as signoff:
        await tick_at(signoff, paris(START, 9, 0))
        assert (await signoff.post("/api/v1/workflows", both)).status_code == 201
        assert (await signoff.put("/api/v1/records/invoice/INV-1", INVOICE)).json()["approval_status"] == "pending"
        await run(signoff, ALICE, f"away <@{BRUNO}> {BACK.isoformat()}")
        assert await tick_at(signoff, paris(START + timedelta(days=1), 9, 30)) == {"remind": 1}
        [reminder] = await signoff.wait_for(lambda: [m for m in signoff.dm(BRUNO) if "Reminder" in m.text])
        asked = (await signoff.wait_for(lambda: [m for m in signoff.dm(DIMITRI) if "approve" in m.action_ids()]))[0]
        await signoff.click(BRUNO, reminder, "approve")
        shown = {u: (lambda m=m: signoff.workspace.message(m.channel, m.ts)) for u, m in ((BRUNO, reminder),
                                                                                       (DIMITRI, asked))}
        await signoff.wait_for(lambda: f"You approved it for <@{ALICE}>" in shown[BRUNO]().all_text())
        assert shown[BRUNO]().action_ids() == []
        await signoff.wait_for(lambda: "1 of 2 approved" in shown[DIMITRI]().all_text())
        assert shown[DIMITRI]().action_ids() == ["approve", "reject"]
        assert await votes_of(signoff, "invoice", "INV-1") == [(ALICE, BRUNO, "approve")]


BOTH: dict[str, Any] = {
    **WORKFLOW, "name": "Alice and Dimitri approve invoices",
    "actions": [{"type": "approval", "steps": [{"approvers": [ALICE, DIMITRI], "min_approvers": 2}]}],
}


async def alice_away_under_both(h: Harness) -> None:
    """Have Alice and Dimitri approve invoices, and Alice away, Bruno approving in her place."""
    await tick_at(h, paris(START, 9, 0))
    assert (await h.post("/api/v1/workflows", BOTH)).status_code == 201
    await run(h, ALICE, f"away <@{BRUNO}> {BACK.isoformat()}")


async def test_the_delegate_of_an_approver_away_is_asked_as_the_step_starts_and_decides_in_their_seat(
    tmp_path: Path,
) -> None:
    async with running_signoff(tmp_path / "away.db", timezone="Europe/Paris") as signoff:
        await alice_away_under_both(signoff)
        assert (await signoff.put("/api/v1/records/invoice/INV-1", INVOICE)).json()["approval_status"] == "pending"
        [ask] = await signoff.wait_for(lambda: [m for m in signoff.dm(BRUNO) if "INV-1" in m.text])
        assert ask.text == f"Invoice INV-1 for €12,500.00 needs approval for <@{ALICE}>, who is away"
        assert f"For <@{ALICE}>, who is away until" in ask.all_text()
        assert button_values(ask) == {f"{await request_id_of(signoff, 'INV-1')}|{ALICE}"}
        assert validate_message(ask.blocks, ask.text) == []
        await signoff.wait_for(lambda: [m for m in signoff.dm(ALICE) if "needs your approval" in m.text])
        dimitri = (await signoff.wait_for(lambda: [m for m in signoff.dm(DIMITRI) if "approve" in m.action_ids()]))[0]

        def shown() -> Message:
            return signoff.workspace.message(ask.channel, ask.ts)

        await signoff.click(DIMITRI, dimitri, "approve")
        await signoff.wait_for(lambda: "1 of 2 approved" in shown().all_text())
        assert f"For <@{ALICE}>, who is away until" in shown().all_text()
        assert button_values(shown()) == {f"{await request_id_of(signoff, 'INV-1')}|{ALICE}"}
        await signoff.click(BRUNO, shown(), "approve")
        await status_becomes(signoff, "INV-1", "approved")
        assert await votes_of(signoff, "invoice", "INV-1") == [(DIMITRI, None, "approve"), (ALICE, BRUNO, "approve")]
        await signoff.wait_for(lambda: "who is away" not in shown().all_text() and not shown().action_ids())
        assert len([m for m in signoff.dm(BRUNO) if "INV-1" in m.text]) == 1


async def test_a_delegate_who_requested_the_document_is_not_asked_for_the_approver_away(tmp_path: Path) -> None:
    async with running_signoff(tmp_path / "away.db", timezone="Europe/Paris") as signoff:
        await tick_at(signoff, paris(START, 9, 0))
        assert (await signoff.post("/api/v1/workflows", WORKFLOW)).status_code == 201
        await run(signoff, ALICE, f"away <@{BRUNO}> {BACK.isoformat()}")
        created = await signoff.put("/api/v1/records/invoice/INV-1", {**INVOICE, "created_by": BRUNO})
        assert created.json()["approval_status"] == "pending"
        await signoff.wait_for(lambda: [m for m in signoff.dm(ALICE) if "needs your approval" in m.text])
        await signoff.runtime.deliverer.drain()
        assert [m for m in signoff.dm(BRUNO) if "needs approval for" in m.text] == []


async def test_a_delegates_ask_is_no_longer_theirs_once_the_approver_decides_or_is_back(tmp_path: Path) -> None:
    async with running_signoff(tmp_path / "away.db", timezone="Europe/Paris") as signoff:
        await alice_away_under_both(signoff)
        for record_id in ("INV-1", "INV-2"):
            assert (await signoff.put(f"/api/v1/records/invoice/{record_id}", INVOICE)).status_code == 200
        asks = {r: (await signoff.wait_for(lambda r=r: [m for m in signoff.dm(BRUNO) if r in m.text]))[0]
                for r in ("INV-1", "INV-2")}
        mine = {r: (await signoff.wait_for(lambda r=r: [m for m in signoff.dm(ALICE) if r in m.text]))[0]
                for r in ("INV-1", "INV-2")}

        def shown(record_id: str) -> Message:
            return signoff.workspace.message(asks[record_id].channel, asks[record_id].ts)

        await signoff.click(ALICE, mine["INV-1"], "approve")
        await signoff.wait_for(lambda: "approved it themselves" in shown("INV-1").all_text())
        assert shown("INV-1").action_ids() == [] and "who is away" not in shown("INV-1").all_text()

        await run(signoff, ALICE, "away off")
        dimitri = (await signoff.wait_for(
            lambda: [m for m in signoff.dm(DIMITRI) if "INV-2" in m.text and "approve" in m.action_ids()]))[0]
        await signoff.click(DIMITRI, dimitri, "approve")
        await signoff.wait_for(lambda: f"<@{ALICE}> is back" in shown("INV-2").all_text())
        assert shown("INV-2").action_ids() == []
        for record_id in ("INV-1", "INV-2"):
            assert validate_message(shown(record_id).blocks, shown(record_id).text) == []


async def test_a_delegate_the_step_lists_under_their_e_mail_is_asked_only_for_their_own_seat(tmp_path: Path) -> None:
    listed = {**BOTH, "actions": [{"type": "approval", "steps": [{"approvers": [ALICE, "bruno@example.com"],
                                                                  "min_approvers": 2}]}]}
    async with running_signoff(tmp_path / "away.db", timezone="Europe/Paris") as signoff:
        await tick_at(signoff, paris(START, 9, 0))
        now = signoff.runtime.service.clock.now()
        async with signoff.db.unit_of_work() as repo:
            await repo.save_slack_identity(SlackIdentity("bruno@example.com", BRUNO, now, now + timedelta(days=7)))
        assert (await signoff.post("/api/v1/workflows", listed)).status_code == 201
        await run(signoff, ALICE, f"away <@{BRUNO}> {BACK.isoformat()}")
        assert (await signoff.put("/api/v1/records/invoice/INV-1", INVOICE)).json()["approval_status"] == "pending"
        [own] = await signoff.wait_for(lambda: [m for m in signoff.dm(BRUNO) if "needs your approval" in m.text])
        await signoff.runtime.deliverer.drain()
        assert [m for m in signoff.dm(BRUNO) if "INV-1" in m.text] == [own]
        alices = (await signoff.wait_for(lambda: [m for m in signoff.dm(ALICE) if "INV-1" in m.text]))[0]
        await signoff.click(ALICE, alices, "approve")  # her copies' refresh leaves his as his own seat's
        await signoff.wait_for(lambda: "1 of 2 approved" in signoff.workspace.message(own.channel, own.ts).all_text())
        redrawn = signoff.workspace.message(own.channel, own.ts)
        assert redrawn.action_ids() == ["approve", "reject"] and "themselves" not in redrawn.all_text()
        await signoff.click(BRUNO, redrawn, "approve")
        await status_becomes(signoff, "INV-1", "approved")
        assert await votes_of(signoff, "invoice", "INV-1") == [(ALICE, None, "approve"),
                                                               ("bruno@example.com", BRUNO, "approve")]


THREE: dict[str, Any] = {
    **WORKFLOW, "name": "Alice, Dimitri or Chloé approves invoices",
    "actions": [{"type": "approval", "steps": [{"approvers": [ALICE, DIMITRI, CHLOE], "min_approvers": 1}]}],
}


@pytest.mark.parametrize(("workflow", "stand_in"), [(BOTH, "U0ADMIN"), (THREE, None)], ids=["short", "enough-left"])
async def test_the_copies_of_a_seat_taken_off_the_step_lose_their_buttons(
    tmp_path: Path, workflow: dict[str, Any], stand_in: str | None,
) -> None:
    async with running_signoff(tmp_path / "away.db", timezone="Europe/Paris") as signoff:
        await tick_at(signoff, paris(START, 9, 0))
        assert (await signoff.post("/api/v1/workflows", workflow)).status_code == 201
        await run(signoff, ALICE, f"away <@{BRUNO}> {BACK.isoformat()}")
        assert (await signoff.put("/api/v1/records/invoice/INV-1", INVOICE)).status_code == 200
        copies = {user: (await signoff.wait_for(lambda u=user: [m for m in signoff.dm(u) if "INV-1" in m.text]))[0]
                  for user in (ALICE, BRUNO, DIMITRI)}
        await signoff.runtime.deliverer.drain()
        signoff.workspace.user(ALICE).deleted = True  # she left: Slack refuses her DMs from now on
        async with signoff.db.read() as repo:
            [alices] = [i for i in await repo.outbox_items(SENT) if i.kind == "ask" and i.target == ALICE]
        asking = Asking(signoff.runtime.service.deps, signoff.runtime.service.approvals)
        assert "taken off the step" in (await asking.unreachable(alices, "user_disabled"))["skipped"]

        def shown(user: str) -> Message:
            return signoff.workspace.message(copies[user].channel, copies[user].ts)

        for user in (ALICE, BRUNO):  # her own copy, and her delegate's, would only be refused now
            await signoff.wait_for(lambda u=user: "You no longer decide on this step" in shown(u).all_text())
            assert shown(user).action_ids() == [] and "who is away" not in shown(user).all_text()
            assert validate_message(shown(user).blocks, shown(user).text) == []
        await signoff.runtime.deliverer.drain()
        assert shown(DIMITRI).action_ids() == ["approve", "reject"]
        assert shown(DIMITRI).ts == copies[DIMITRI].ts and "no longer" not in shown(DIMITRI).all_text()
        admin_asks = [m for m in signoff.dm("U0ADMIN") if "INV-1" in m.text]
        assert bool(admin_asks) is (stand_in is not None)  # a step short of its quorum gets a stand-in


async def test_a_delegates_ask_sent_before_the_lookup_finds_their_e_mail_seat_becomes_their_own(
    tmp_path: Path,
) -> None:
    listed = {**BOTH, "actions": [{"type": "approval", "steps": [{"approvers": [ALICE, "bruno@example.com"],
                                                                  "min_approvers": 2}]}]}
    async with running_signoff(tmp_path / "away.db", timezone="Europe/Paris") as signoff:
        await tick_at(signoff, paris(START, 9, 0))
        assert (await signoff.post("/api/v1/workflows", listed)).status_code == 201
        await run(signoff, ALICE, f"away <@{BRUNO}> {BACK.isoformat()}")
        signoff.workspace.fail_next("users.lookupByEmail", 503)  # Slack cannot tell yet whose the e-mail is
        assert (await signoff.put("/api/v1/records/invoice/INV-1", INVOICE)).json()["approval_status"] == "pending"
        [ask] = await signoff.wait_for(lambda: [m for m in signoff.dm(BRUNO) if "needs approval for" in m.text])
        await signoff.runtime.deliverer.drain()
        await signoff.wait_for(lambda: len([m for m in signoff.dm(BRUNO) if "INV-1" in m.text]) == 2)

        def shown() -> Message:
            return signoff.workspace.message(ask.channel, ask.ts)

        await signoff.wait_for(lambda: "who is away" not in shown().all_text())
        assert button_values(shown()) == {await request_id_of(signoff, "INV-1")}
        await signoff.click(BRUNO, shown(), "approve")
        assert await votes_of(signoff, "invoice", "INV-1") == [("bruno@example.com", BRUNO, "approve")]
        await signoff.wait_for(lambda: "You approved it; it waits" in shown().all_text())  # their own seat, not "for"
