"""Forged, stale and replayed Slack requests are refused with 401 and change nothing."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.sandbox.app_link.factory import RequestFactory
from bot.sandbox.app_link.link import deliver
from tests.bot.core.test_approval_flow import approval_dm, record, submitted_invoice
from tests.support.harness import SIGNING_SECRET, Harness


async def _click_with(signoff: Harness, factory: RequestFactory) -> int:
    dm = await approval_dm(signoff, "U01AAA")
    request = factory.block_actions("U01AAA", dm.channel, dm.ts, "approve")
    reply = await deliver(f"{signoff.runtime.url}/slack/events", request)
    return reply.status


@pytest.mark.parametrize(
    ("secret", "clock_offset_s"),
    [("not-the-secret", 0), (SIGNING_SECRET, -301), (SIGNING_SECRET, -3600), (SIGNING_SECRET, 3600)],
)
async def test_bad_signature_or_old_timestamp_is_401(signoff: Harness, secret: str, clock_offset_s: int) -> None:
    await submitted_invoice(signoff)
    factory = RequestFactory(signoff.workspace, secret, clock=lambda: time.time() + clock_offset_s)
    assert await _click_with(signoff, factory) == 401
    assert (await record(signoff))["approval"]["votes"] == []


async def test_replayed_request_is_401_and_counts_once(signoff: Harness) -> None:
    await submitted_invoice(signoff)
    dm = await approval_dm(signoff, "U01AAA")
    factory = RequestFactory(signoff.workspace, SIGNING_SECRET)
    request = factory.block_actions("U01AAA", dm.channel, dm.ts, "approve")
    url = f"{signoff.runtime.url}/slack/events"
    assert (await deliver(url, request)).status == 200
    assert (await deliver(url, request)).status == 401
    await signoff.wait_for(lambda: signoff.workspace.message(dm.channel, dm.ts).edited)
    assert len((await record(signoff))["approval"]["votes"]) == 1


async def test_tampered_body_is_401(signoff: Harness) -> None:
    await submitted_invoice(signoff)
    dm = await approval_dm(signoff, "U01AAA")
    body, headers = RequestFactory(signoff.workspace, SIGNING_SECRET).block_actions(
        "U01AAA", dm.channel, dm.ts, "approve"
    )
    forged = body.replace(b"U01AAA", b"U01BBB")
    reply = await deliver(f"{signoff.runtime.url}/slack/events", (forged, headers))
    assert reply.status == 401
    assert (await record(signoff))["approval"]["votes"] == []


@pytest.mark.parametrize("timestamp", [b"\xb2", b"1\xb9", "١٢٣".encode(), b"-5", b""])
async def test_a_timestamp_of_other_digits_is_401_not_500(signoff: Harness, timestamp: bytes) -> None:
    host, port = signoff.runtime.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    body = b"payload=%7B%7D"
    writer.write(b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                 b"X-Slack-Request-Timestamp: " + timestamp + b"\r\nX-Slack-Signature: v0=00\r\n"
                 b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
    status_line = await reader.readline()
    writer.close()
    assert status_line.split()[1] == b"401", status_line
