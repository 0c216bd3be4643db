"""The real slack_sdk AsyncWebClient against the sandbox Web API."""

from __future__ import annotations

import json
import time

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.errors import LoopbackOnlyError
from bot.sandbox.state.model import BOT_USER_ID
from bot.sandbox.webapi import WebApiServer, start_webapi
from bot.sandbox.workspace import Workspace
from tests.bot.sandbox.helpers import ADA, BOB, FINANCE, buttons, home, modal, section


async def test_server_listens_on_loopback_with_a_free_port(server: WebApiServer) -> None:
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}/api/"


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com"])
async def test_refuses_to_listen_beyond_loopback(workspace: Workspace, host: str) -> None:
    with pytest.raises(LoopbackOnlyError):
        await start_webapi(workspace, host=host)


async def test_auth_test_names_the_bot(client: AsyncWebClient) -> None:
    response = await client.auth_test()
    assert (response["user_id"], response["bot_id"], response["team_id"]) == (
        BOT_USER_ID,
        "B0SIGNOFF",
        "T0SANDBOX",
    )


async def test_post_to_a_user_lands_in_their_dm(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    response = await client.chat_postMessage(channel=ADA, text="Invoice 42 needs you")

    opened = await client.conversations_open(users=ADA)
    assert response["channel"] == opened["channel"]["id"]
    assert response["channel"].startswith("D")
    assert [m.text for m in workspace.dm_messages(ADA)] == ["Invoice 42 needs you"]
    assert workspace.dm_messages(BOB) == []
    assert response["message"]["bot_id"] == "B0SIGNOFF"


async def test_post_by_channel_name(client: AsyncWebClient, workspace: Workspace) -> None:
    response = await client.chat_postMessage(channel="#finance", text="Digest")
    assert response["channel"] == FINANCE
    assert [m.text for m in workspace.messages_in("finance")] == ["Digest"]


async def test_timestamps_are_unique_and_increasing(client: AsyncWebClient) -> None:
    stamps = [(await client.chat_postMessage(channel=FINANCE, text=str(n)))["ts"] for n in range(5)]
    assert stamps == sorted(stamps, key=float)
    assert len(set(stamps)) == 5
    assert all(len(ts.split(".")[1]) == 6 for ts in stamps)


async def test_update_changes_the_message(client: AsyncWebClient, workspace: Workspace) -> None:
    posted = await client.chat_postMessage(
        channel=ADA, text="Approve?", blocks=[section("Approve?"), buttons("approve", "reject")]
    )

    updated = await client.chat_update(
        channel=posted["channel"], ts=posted["ts"], text="Approved", blocks=[section("Approved")]
    )

    (message,) = workspace.dm_messages(ADA)
    assert updated["ts"] == posted["ts"]
    assert message.text == "Approved"
    assert message.edited
    assert message.action_ids() == []
    history = await client.conversations_history(channel=posted["channel"])
    assert history["messages"][0]["edited"]["ts"] == posted["ts"]


async def test_update_of_a_missing_message_fails(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as caught:
        await client.chat_update(channel=FINANCE, ts="1.000001", text="x")
    assert caught.value.response["error"] == "message_not_found"


async def test_invalid_blocks_are_refused(client: AsyncWebClient, workspace: Workspace) -> None:
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(
            channel=FINANCE, text="x", blocks=[{"type": "section", "text": {"type": "mrkdwn"}}]
        )
    assert caught.value.response["error"] == "invalid_blocks"
    assert caught.value.response["errors"]
    assert workspace.messages_in(FINANCE) == []


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ({"text": "x" * 40_001}, "msg_too_long"),
        ({"text": "x", "blocks": [section(str(n)) for n in range(51)]}, "invalid_blocks"),
        ({"text": "x", "blocks": [section("y" * 3001)]}, "invalid_blocks"),
        ({}, "no_text"),
    ],
    ids=["text", "block-count", "section-text", "empty"],
)
async def test_oversized_or_empty_messages_are_refused(
    client: AsyncWebClient, message: dict[str, object], error: str
) -> None:
    with pytest.raises(SlackApiError) as caught:
        await client.api_call("chat.postMessage", json={"channel": FINANCE, **message})
    assert caught.value.response["error"] == error


async def test_unknown_channel(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as caught:
        await client.chat_postMessage(channel="C0NOPE", text="x")
    assert caught.value.response["error"] == "channel_not_found"


@pytest.mark.parametrize(("token", "error"), [("xoxb-wrong", "invalid_auth"), (None, "not_authed")])
async def test_wrong_or_missing_token(server: WebApiServer, token: str | None, error: str) -> None:
    with pytest.raises(SlackApiError) as caught:
        await AsyncWebClient(token=token, base_url=server.url).chat_postMessage(
            channel=FINANCE, text="x"
        )
    assert caught.value.response["error"] == error


async def test_unknown_method(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as caught:
        await client.api_call("chat.teleport")
    assert caught.value.response["error"] == "unknown_method"


async def test_rate_limit_is_honoured_by_the_sdk_retry_handler(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
    workspace.throttle_channel("#finance", retry_after_s=1)

    started_s = time.monotonic()
    response = await client.chat_postMessage(channel=FINANCE, text="after the wait")
    elapsed_s = time.monotonic() - started_s

    assert response["ok"]
    assert elapsed_s >= 1.0
    assert workspace.ratelimited_count(FINANCE) == 1
    assert [c.status for c in workspace.calls("chat.postMessage")] == [429, 200]
    assert [m.text for m in workspace.messages_in(FINANCE)] == ["after the wait"]


async def test_rate_limit_without_retry_reaches_the_caller(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    workspace.throttle_channel(ADA, retry_after_s=2.5, times=2)

    for _ in range(2):
        with pytest.raises(SlackApiError) as caught:
            await client.chat_postMessage(channel=ADA, text="x")
        assert caught.value.response.status_code == 429
        assert caught.value.response.headers["Retry-After"] == "3"
        assert caught.value.response["error"] == "ratelimited"
    assert (await client.chat_postMessage(channel=ADA, text="x"))["ok"]
    assert workspace.ratelimited_count() == 2


async def test_injected_server_error_is_retried_by_the_sdk(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    workspace.fail_next("chat.postMessage", status=503)
    client.retry_handlers.append(AsyncServerErrorRetryHandler(max_retry_count=1))

    assert (await client.chat_postMessage(channel=FINANCE, text="x"))["ok"]
    assert [c.status for c in workspace.calls("chat.postMessage")] == [503, 200]


async def test_injected_server_error_reaches_the_caller(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    workspace.fail_next("views.publish", status=500)
    with pytest.raises(SlackApiError) as caught:
        await client.views_publish(user_id=ADA, view=home())
    assert caught.value.response.status_code == 500
    assert workspace.home_view(ADA) is None


async def test_lookup_by_email(client: AsyncWebClient) -> None:
    found = await client.users_lookupByEmail(email="Bob@Example.com")
    assert found["user"]["id"] == BOB
    assert found["user"]["profile"]["email"] == "bob@example.com"
    with pytest.raises(SlackApiError) as caught:
        await client.users_lookupByEmail(email="nobody@example.com")
    assert caught.value.response["error"] == "users_not_found"


async def test_users_info_and_paginated_list(client: AsyncWebClient) -> None:
    info = await client.users_info(user="U0CARA")
    assert (info["user"]["tz"], info["user"]["real_name"]) == ("Europe/Paris", "Cara Dupont")

    pages = [page["members"] async for page in await client.users_list(limit=2)]

    assert [len(page) for page in pages] == [2, 2, 1]
    assert {member["id"] for page in pages for member in page} >= {ADA, BOB, BOT_USER_ID}


async def test_conversations_read_side(client: AsyncWebClient) -> None:
    await client.chat_postMessage(channel=FINANCE, text="one")
    await client.chat_postMessage(channel=FINANCE, text="two")

    listed = await client.conversations_list()
    info = await client.conversations_info(channel=FINANCE)
    members = await client.conversations_members(channel=FINANCE)
    history = await client.conversations_history(channel=FINANCE, limit=1)

    assert {c["name"] for c in listed["channels"]} == {"general", "finance"}
    assert info["channel"]["is_member"]
    assert ADA in members["members"]
    assert [m["text"] for m in history["messages"]] == ["two"]
    assert history["has_more"]


async def test_ephemeral_delete_and_permalink(client: AsyncWebClient, workspace: Workspace) -> None:
    posted = await client.chat_postMessage(channel=FINANCE, text="Digest")
    await client.chat_postEphemeral(channel=FINANCE, user=BOB, text="Only approvers may act")
    link = await client.chat_getPermalink(channel=FINANCE, message_ts=posted["ts"])
    await client.chat_delete(channel=FINANCE, ts=posted["ts"])

    assert [m.text for m in workspace.ephemerals(BOB)] == ["Only approvers may act"]
    assert workspace.ephemerals(ADA) == []
    assert link["permalink"].endswith(f"/archives/{FINANCE}/p{posted['ts'].replace('.', '')}")
    assert workspace.messages_in(FINANCE) == []


async def test_views_open_with_a_trigger_id(client: AsyncWebClient, workspace: Workspace) -> None:
    trigger_id = workspace.issue_trigger_id(ADA)

    opened = await client.views_open(trigger_id=trigger_id, view=modal())

    (shown,) = workspace.open_modals(ADA)
    assert shown["id"] == opened["view"]["id"]
    assert opened["view"]["callback_id"] == "reject_reason"
    assert opened["view"]["hash"]
    with pytest.raises(SlackApiError) as caught:
        await client.views_open(trigger_id=trigger_id, view=modal())
    assert caught.value.response["error"] == "exchanged_trigger_id"


async def test_views_update_honours_the_hash(client: AsyncWebClient, workspace: Workspace) -> None:
    opened = await client.views_open(trigger_id=workspace.issue_trigger_id(ADA), view=modal())
    view_id, first_hash = opened["view"]["id"], opened["view"]["hash"]

    updated = await client.views_update(view_id=view_id, hash=first_hash, view=modal("step2"))
    with pytest.raises(SlackApiError) as caught:
        await client.views_update(view_id=view_id, hash=first_hash, view=modal("step3"))

    assert updated["view"]["callback_id"] == "step2"
    assert caught.value.response["error"] == "hash_conflict"
    assert workspace.open_modals(ADA)[0]["callback_id"] == "step2"


async def test_views_update_by_external_id_and_push(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    await client.views_open(
        trigger_id=workspace.issue_trigger_id(ADA), view=modal(external_id="reject-42")
    )
    await client.views_update(external_id="reject-42", view=modal("renamed"))
    await client.views_push(trigger_id=workspace.issue_trigger_id(ADA), view=modal("confirm"))

    assert [v["callback_id"] for v in workspace.open_modals(ADA)] == ["renamed", "confirm"]


async def test_invalid_modal_is_refused(client: AsyncWebClient, workspace: Workspace) -> None:
    too_long_title = modal(title={"type": "plain_text", "text": "A title far longer than 24"})
    with pytest.raises(SlackApiError) as caught:
        await client.views_open(trigger_id=workspace.issue_trigger_id(ADA), view=too_long_title)
    assert caught.value.response["error"] == "invalid_arguments"
    assert "/view/title/text" in caught.value.response["response_metadata"]["messages"][0]


async def test_views_publish_sets_the_home_tab(
    client: AsyncWebClient, workspace: Workspace
) -> None:
    first = await client.views_publish(user_id=ADA, view=home("3 tasks"))
    second = await client.views_publish(user_id=ADA, view=home("2 tasks"))

    shown = workspace.home_view(ADA)
    assert shown is not None
    assert first["view"]["id"] == second["view"]["id"] == shown["id"]
    assert shown["blocks"][0]["text"]["text"] == "2 tasks"
    assert workspace.home_view(BOB) is None


async def test_form_encoded_post_and_get(server: WebApiServer, workspace: Workspace) -> None:
    form = {
        "token": "xoxb-sandbox",
        "channel": FINANCE,
        "text": "form post",
        "blocks": json.dumps([section("from a form")]),
    }
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{server.url}chat.postMessage", data=form) as posted:
            posted_body = await posted.json()
        headers = {"Authorization": "Bearer xoxb-sandbox"}
        query = {"user": ADA}
        async with session.get(f"{server.url}users.info", params=query, headers=headers) as got:
            got_body = await got.json()

    assert posted_body["ok"], posted_body
    assert "from a form" in workspace.messages_in(FINANCE)[0].all_text()
    assert got_body["user"]["id"] == ADA


async def test_api_test_echoes_without_a_token(server: WebApiServer) -> None:
    response = await AsyncWebClient(base_url=server.url).api_test(foo="bar")
    assert response["args"]["foo"] == "bar"
