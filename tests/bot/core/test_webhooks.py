"""Outbound status webhooks against a real aiohttp server on loopback that checks the HMAC."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.core.webhooks import event_name
from bot.outbox.webhooks import sign
from engine.approvals import ApprovalRequest, Decision, Step, Vote
from engine.events import ApprovalRequested, RecordApproved, RecordRejected, StepApproved, VoteRecorded
from tests.bot.core.test_approval_flow import approval_dm
from tests.support.harness import Harness, running_signoff

SECRET = "whsec-test-0123456789"
time_zero = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Receiver:
    """A webhook endpoint: answers with the queued statuses (then 200) and keeps what it got."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    received: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    bad_signatures: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.text()
        timestamp = request.headers["X-Signoff-Timestamp"]
        expected = "sha256=" + hmac.new(SECRET.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()
        fresh = abs(time.time() - int(timestamp)) < 300
        if not (fresh and hmac.compare_digest(expected, request.headers.get("X-Signoff-Signature", ""))):
            self.bad_signatures += 1
            return web.Response(status=401)
        status = self.statuses.pop(0) if self.statuses else 200
        payload = json.loads(body)
        assert request.headers["X-Signoff-Event"] == payload["event"]
        self.received.append((status, payload))
        return web.Response(status=status)

    def delivered(self) -> list[str]:
        return [p["event"] for status, p in self.received if status == 200]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/hook", found.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    found.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    try:
        yield found
    finally:
        await runner.cleanup()


WORKFLOW = {"name": "Bills", "record_type": "bill",
            "actions": [{"type": "approval", "steps": [{"approvers": ["U01AAA"]}]}]}
BILL = {"amount": "900", "vendor": "V-1", "created_by": "U0REQ", "source": "app"}


async def tick(signoff: Harness, advance: str = "PT5S") -> None:
    assert (await signoff.post("/api/v1/clock", {"advance": advance})).status_code == 200
    assert (await signoff.post("/api/v1/scheduler/tick")).status_code == 200


async def test_events_are_signed_and_retried_after_a_failure(tmp_path: Path, receiver: Receiver) -> None:
    receiver.statuses = [500]
    async with running_signoff(tmp_path / "w.db", webhook_url=receiver.url, webhook_secret=SECRET) as signoff:
        assert (await signoff.post("/api/v1/workflows", WORKFLOW)).status_code == 201
        assert (await signoff.put("/api/v1/records/bill/B-1", BILL)).json()["approval_status"] == "pending"
        await signoff.runtime.deliverer.drain()
        assert receiver.received[0][0] == 500
        await tick(signoff)
        assert sorted(receiver.delivered()) == ["approval.requested", "record.created"]
        await signoff.click("U01AAA", await approval_dm(signoff, "U01AAA"), "approve")
        await signoff.wait_for(lambda: "approval.approved" in receiver.delivered() or None)
        await signoff.put("/api/v1/records/bill/B-1", {**BILL, "memo": "changed"})
        await tick(signoff)
    assert receiver.bad_signatures == 0
    delivered = {p["event"]: p for status, p in receiver.received if status == 200}
    assert set(delivered) == {"record.created", "approval.requested", "approval.approved", "record.updated"}
    approved = delivered["approval.approved"]
    assert set(approved) == {"id", "event", "record", "approval", "at", "sequence"}
    assert approved["at"].endswith("Z") and approved["record"]["created_at"].endswith("Z")
    assert approved["record"]["id"] == "B-1" and approved["record"]["amount"] == "900"
    assert approved["approval"]["status"] == "approved" and approved["approval"]["votes"][0]["approver"] == "U01AAA"
    assert delivered["record.updated"]["record"]["memo"] == "changed"
    assert delivered["record.created"]["approval"] is None
    first = receiver.received[0][1]
    assert [p for _, p in receiver.received[1:] if p["id"] == first["id"]] == [first]


@pytest.mark.parametrize(
    ("status", "is_retried"),
    [(500, True), (503, True), (408, True), (429, True), (400, False), (404, False), (410, False)],
)
async def test_client_errors_are_final_and_others_retried(
    tmp_path: Path, receiver: Receiver, status: int, is_retried: bool
) -> None:
    receiver.statuses = [status]
    async with running_signoff(tmp_path / "w.db", webhook_url=receiver.url, webhook_secret=SECRET) as signoff:
        async with signoff.db.unit_of_work() as repo:
            await signoff.runtime.service.automation.webhooks.queue(
                repo, "record.updated", None, None, signoff.runtime.service.clock.now())
        await signoff.runtime.deliverer.drain()
        await tick(signoff)
        async with signoff.db.read() as repo:
            [item] = [i for i in await repo.outbox_items() if i.kind == "webhook"]
    assert [s for s, _ in receiver.received] == ([status, 200] if is_retried else [status])
    assert item.status == ("sent" if is_retried else "dead") and str(status) in (item.last_error or "")


async def test_no_webhooks_when_off(signoff: Harness) -> None:
    assert (await signoff.post("/api/v1/workflows", WORKFLOW)).status_code == 201
    await signoff.put("/api/v1/records/bill/B-1", BILL)
    async with signoff.db.read() as repo:
        assert [i for i in await repo.outbox_items() if i.kind == "webhook"] == []


def test_signature_is_hmac_of_timestamp_and_body() -> None:
    expected = hmac.new(b"k", b"1700000000.{}", hashlib.sha256).hexdigest()
    assert sign("k", "1700000000", "{}") == f"sha256={expected}"


TWO_STEPS = ApprovalRequest(id="AR", record_type="bill", record_id="B-1", workflow_id="wf", requester="U0REQ",
                            steps=(Step(0, ("U1",), 1), Step(1, ("U2",), 1)), created_at=time_zero,
                            step_started_at=time_zero)
VOTED = replace(TWO_STEPS, current_step=1, votes=(Vote(0, "U1", Decision.APPROVE, time_zero),))


@pytest.mark.parametrize(
    ("event", "approval", "name"),
    [
        (ApprovalRequested("AR", 0, ("U1",), time_zero), TWO_STEPS, "approval.requested"),
        (ApprovalRequested("AR", 1, ("U2",), time_zero), VOTED, None),
        (StepApproved("AR", 0, ("U1",), time_zero), VOTED, "approval.step_approved"),
        (StepApproved("AR", 1, ("U2",), time_zero), VOTED, None),
        (RecordApproved("AR", time_zero), VOTED, "approval.approved"),
        (RecordRejected("AR", "U1", "no", time_zero), TWO_STEPS, "approval.rejected"),
        (RecordRejected("AR", None, "late", time_zero, "expired"), TWO_STEPS, "approval.expired"),
        (RecordRejected("AR", None, "gone", time_zero, "cancelled"), TWO_STEPS, "approval.cancelled"),
        (VoteRecorded("AR", 0, "U1", "approve", time_zero), TWO_STEPS, None),
    ],
)
def test_event_names(event: Any, approval: ApprovalRequest, name: str | None) -> None:
    assert event_name(event, approval) == name


async def test_a_receiver_that_was_down_orders_a_documents_events_by_sequence(
    tmp_path: Path, receiver: Receiver,
) -> None:
    two_steps = {**WORKFLOW, "actions": [{"type": "approval", "steps": [
        {"approvers": ["U01AAA"]}, {"approvers": ["U01BBB"]}]}]}
    async with running_signoff(tmp_path / "w.db", webhook_url=receiver.url, webhook_secret=SECRET) as signoff:
        assert (await signoff.post("/api/v1/workflows", two_steps)).status_code == 201
        receiver.statuses = [500] * 3
        for amount in ("50.00", "60.00", "70.00"):
            await signoff.put("/api/v1/records/bill/W-1", {**BILL, "amount": amount, "source": "manual"})
        await signoff.runtime.deliverer.drain(wait_s=0)
        for _ in range(4):
            await tick(signoff, "PT1M")
        received = [p for status, p in receiver.received if status == 200]
        assert [p["record"]["amount"] for p in sorted(received, key=lambda p: p["sequence"])] == [
            "50.00", "60.00", "70.00"]
        await signoff.put("/api/v1/records/bill/W-2", BILL)
        await signoff.click("U01AAA", await approval_dm(signoff, "U01AAA"), "approve")
        await signoff.wait_for(lambda: "approval.step_approved" in receiver.delivered() or None)
    events = [(p["event"], p.get("step")) for _, p in sorted(receiver.received, key=lambda r: r[1]["sequence"])
              if p["record"]["id"] == "W-2"]
    assert events == [("record.created", None), ("approval.requested", 0), ("approval.step_approved", 0)]
    [stepped] = [p for _, p in receiver.received if p["event"] == "approval.step_approved"]
    times = [stepped["at"], stepped["record"]["created_at"], *(v["at"] for v in stepped["approval"]["votes"])]
    assert len(times) == 3 and all(t.endswith("Z") for t in times), times  # UTC ISO 8601 ending in Z, as documented


async def test_record_events_carry_the_fields_workflows_set(tmp_path: Path, receiver: Receiver) -> None:
    stamp = {"name": "Stamp", "record_type": "bill", "trigger": "created",
             "actions": [{"type": "update", "field": "memo", "value": "CHECKED"}]}
    scheduled = {**stamp, "name": "Later", "trigger": "scheduled", "schedule": "0 9 * * *",
                 "actions": [{"type": "update", "field": "category", "value": "Rent"}]}
    async with running_signoff(tmp_path / "w.db", webhook_url=receiver.url, webhook_secret=SECRET) as signoff:
        await signoff.post("/api/v1/workflows", stamp)
        later = (await signoff.post("/api/v1/workflows", scheduled)).json()["id"]
        await signoff.put("/api/v1/records/bill/B-1", {**BILL, "source": "manual"})
        service = signoff.runtime.service
        async with signoff.db.unit_of_work() as repo:
            workflow, record = await repo.get_workflow(later), await repo.get_record("bill", "B-1")
            assert workflow is not None and record is not None
            await service.automation.run_workflow(repo, workflow, record, service.clock.now(), cause="scheduled")
        await signoff.runtime.deliverer.drain()
    events = [(p["event"], p["record"]["memo"], p["record"]["category"]) for _, p in receiver.received]
    assert events == [("record.created", "CHECKED", None), ("record.updated", "CHECKED", "Rent")]
