"""A real Slack Bolt app driven through the sandbox, end to end over HTTP."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.app_link.link import AppLink, deliver
from bot.sandbox.app_link.signing import sign
from bot.sandbox.errors import AckTimeoutError, AppRequestError
from bot.sandbox.state.model import DEFAULT_TOKEN
from bot.sandbox.webapi import WebApiServer
from bot.sandbox.workspace import Workspace
from tests.bot.sandbox.helpers import ADA, BOB, FINANCE, SECRET, buttons, home, modal, section


def build_bolt_app(server: WebApiServer, reasons: list[str]) -> AsyncApp:
    """A small Bolt app using the sandbox's Web API."""
    client = AsyncWebClient(token=DEFAULT_TOKEN, base_url=server.url)
    app = AsyncApp(client=client, signing_secret=SECRET)

    @app.action("approve")
    async def approve(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        """Mark the request approved in place."""
        await ack()
        container = body["container"]
        await client.chat_update(
            channel=container["channel_id"],
            ts=container["message_ts"],
            text=f"Approved by <@{body['user']['id']}>",
            blocks=[section("Approved")],
        )

    @app.action("reject")
    async def reject(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
        """Ask for a reason in a modal."""
        await ack()
        await client.views_open(trigger_id=body["trigger_id"], view=modal())

    @app.action("nope")
    async def refuse(ack: Any, respond: Any) -> None:
        """Refuse through the response_url."""
        await ack()
        await respond("Only approvers may act")

    @app.view("reject_reason")
    async def reason(ack: Any, view: dict[str, Any]) -> None:
        """Require a reason, then keep it."""
        typed = view["state"]["values"]["reason_block"]["reason"]["value"]
        if not typed:
            await ack(response_action="errors", errors={"reason_block": "Required"})
            return
        await ack()
        reasons.append(typed)

    @app.command("/signoff")
    async def command(ack: Any, command: dict[str, Any]) -> None:
        """Acknowledge with a short status."""
        await ack(f"Pending for {command['user_name']}: 2")

    @app.event("app_home_opened")
    async def home_opened(event: dict[str, Any], client: AsyncWebClient) -> None:
        """Publish the Home tab."""
        await client.views_publish(user_id=event["user"], view=home("2 tasks"))

    return app


async def serve(app: web.Application) -> tuple[web.AppRunner, int]:
    """Serve an aiohttp application on a free loopback port."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    return runner, sock.getsockname()[1]


@pytest.fixture
def reasons() -> list[str]:
    """Rejection reasons the app received."""
    return []


@pytest.fixture
async def link(
    workspace: Workspace, server: WebApiServer, reasons: list[str]
) -> AsyncIterator[AppLink]:
    """The workspace connected to a running Bolt app."""
    runner, port = await serve(build_bolt_app(server, reasons).web_app())
    yield AppLink(workspace, f"http://127.0.0.1:{port}/slack/events", SECRET)
    await runner.cleanup()


async def post(workspace: Workspace, channel: str, blocks: list[dict[str, Any]]) -> str:
    """Post an approval request as the bot and return its ts."""
    params = {"channel": channel, "text": "Approve invoice 42?", "blocks": blocks}
    answer = await workspace.call("chat.postMessage", params, DEFAULT_TOKEN)
    return str(answer.body["ts"])


async def test_click_updates_the_message(link: AppLink, workspace: Workspace) -> None:
    ts = await post(workspace, ADA, [section("Invoice 42"), buttons("approve", "reject")])

    reply = await link.click(ADA, workspace.dm_channel_id(ADA), ts, "approve")

    assert reply.status == 200
    assert reply.elapsed_s < 3
    (message,) = await workspace.wait_for(
        lambda: [m for m in workspace.dm_messages(ADA) if m.edited]
    )
    assert message.text == f"Approved by <@{ADA}>"
    assert message.action_ids() == []


async def test_reject_opens_a_modal_and_submission_is_checked(
    link: AppLink, workspace: Workspace, reasons: list[str]
) -> None:
    ts = await post(workspace, FINANCE, [buttons("approve", "reject")])
    await link.click(BOB, FINANCE, ts, "reject")
    (view,) = await workspace.wait_for(lambda: workspace.open_modals(BOB))

    await link.submit(BOB, {"reason": ""})
    assert workspace.view_errors(view["id"]) == {"reason_block": "Required"}

    await link.submit(BOB, {"reason": "Too dear"})
    assert workspace.open_modals(BOB) == []
    await workspace.wait_for(lambda: reasons)
    assert reasons == ["Too dear"]


async def test_respond_goes_through_the_response_url(link: AppLink, workspace: Workspace) -> None:
    ts = await post(workspace, FINANCE, [buttons("nope")])

    await link.click(BOB, FINANCE, ts, "nope")

    (refusal,) = await workspace.wait_for(lambda: workspace.ephemerals(BOB, FINANCE))
    assert refusal.text == "Only approvers may act"


async def test_command_ack_is_shown_ephemerally(link: AppLink, workspace: Workspace) -> None:
    await link.command(ADA, "/signoff", "pending", channel=FINANCE)

    assert [m.text for m in workspace.ephemerals(ADA, FINANCE)] == ["Pending for ada: 2"]


async def test_opening_home_publishes_a_view(link: AppLink, workspace: Workspace) -> None:
    await link.open_home(ADA)

    view = await workspace.wait_for(lambda: workspace.home_view(ADA))
    assert view is not None
    assert view["blocks"][0]["text"]["text"] == "2 tasks"


async def test_forged_requests_are_refused_by_bolt(link: AppLink) -> None:
    body, headers = link.requests.url_verification("abc")
    forged = {**headers, **sign(body, "not-the-secret", int(headers["X-Slack-Request-Timestamp"]))}

    reply = await deliver(link.app_url, (body, forged))

    assert reply.status == 401
    with pytest.raises(AppRequestError):
        await link.send((body, forged))


async def test_slow_acks_time_out(workspace: Workspace) -> None:
    async def slow(request: web.Request) -> web.Response:
        """Answer after Slack's patience has run out."""
        await asyncio.sleep(1)
        return web.Response()

    app = web.Application()
    app.router.add_post("/slack/events", slow)
    runner, port = await serve(app)
    link = AppLink(workspace, f"http://127.0.0.1:{port}/slack/events", SECRET, timeout_s=0.1)
    try:
        with pytest.raises(AckTimeoutError):
            await link.command(ADA, "/signoff")
    finally:
        await runner.cleanup()
