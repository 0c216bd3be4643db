"""The workspace state the sandbox keeps between runs: snapshot, JSON, restore."""

from __future__ import annotations

import json
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.app_link.payloads import block_actions_payload
from bot.sandbox.state.model import DEFAULT_TOKEN
from bot.sandbox.webapi import WebApiServer, start_webapi
from bot.sandbox.workspace import Workspace
from tests.bot.sandbox.helpers import ADA, BOB, FINANCE, FakeClock, buttons, section

HOME = {"type": "home", "blocks": [section("Your tasks")]}


async def populated(client: AsyncWebClient, workspace: Workspace) -> dict[str, Any]:
    """Post to a channel and a DM, publish a Home view; return the posted ids."""
    channel = await client.chat_postMessage(channel=FINANCE, text="hello *finance*")
    dm = await client.chat_postMessage(channel=BOB, text="asks", blocks=[section("Approve?"), buttons("approve")])
    await client.chat_update(channel=dm["channel"], ts=dm["ts"], text="asked again")
    await client.chat_postEphemeral(channel=FINANCE, user=ADA, text="only Ada")
    await client.views_publish(user_id=BOB, view=HOME)
    return {"channel_ts": channel["ts"], "dm": dm["channel"], "dm_ts": dm["ts"]}


async def test_a_restored_workspace_has_the_same_conversations(
    client: AsyncWebClient, workspace: Workspace, server: WebApiServer
) -> None:
    posted = await populated(client, workspace)
    saved = json.loads(json.dumps(workspace.snapshot()))
    restored = Workspace.demo(clock=FakeClock(1000.0))
    restored.restore(saved)
    assert [m.text for m in restored.messages_in(FINANCE)] == ["hello *finance*"]
    copy = restored.message(posted["dm"], posted["dm_ts"])
    assert copy.text == "asked again" and copy.edited and copy.action_ids() == ["approve"]
    assert restored.dm_channel_id(BOB) == posted["dm"]
    assert restored.ephemerals(ADA) == []
    home = restored.home_view(BOB)
    assert home is not None and home["blocks"][0]["text"]["text"] == "Your tasks"
    assert block_actions_payload(restored, BOB, posted["dm"], posted["dm_ts"], "approve")["actions"][0]["value"]


async def test_a_restored_workspace_keeps_ids_and_timestamps_moving_forward(
    client: AsyncWebClient, workspace: Workspace, server: WebApiServer
) -> None:
    posted = await populated(client, workspace)
    saved = json.loads(json.dumps(workspace.snapshot()))
    restored = Workspace.demo(wall_clock=lambda: 1.0)
    restored.restore(saved)
    new_dm = restored.dm_channel_id(ADA)
    assert new_dm not in {c["id"] for c in saved["conversations"]}
    restored_server = await start_webapi(restored)
    try:
        later = AsyncWebClient(token=DEFAULT_TOKEN, base_url=restored_server.url)
        answer = await later.chat_postMessage(channel=FINANCE, text="after the restart")
    finally:
        await restored_server.close()
    assert float(answer["ts"]) > float(posted["channel_ts"])
    assert [m.text for m in restored.messages_in(FINANCE)][-1] == "after the restart"


def test_snapshot_does_not_change_the_workspace(workspace: Workspace) -> None:
    before = workspace.version
    first, second = workspace.snapshot(), workspace.snapshot()
    assert workspace.version == before
    assert first["users"] == second["users"] and second["sequence"] > first["sequence"] - 1


async def test_a_click_picks_the_element_of_the_given_block(client: AsyncWebClient, server: WebApiServer) -> None:
    blocks = [buttons("approve", block_id="first"), buttons("approve", block_id="second")]
    blocks[1]["elements"][0]["value"] = "second-value"  # type: ignore[index]
    posted = await client.chat_postMessage(channel=BOB, text="two tasks", blocks=blocks)
    workspace = server.workspace
    chosen = block_actions_payload(workspace, BOB, posted["channel"], posted["ts"], "approve", block_id="second")
    first = block_actions_payload(workspace, BOB, posted["channel"], posted["ts"], "approve")
    assert (chosen["actions"][0]["block_id"], chosen["actions"][0]["value"]) == ("second", "second-value")
    assert (first["actions"][0]["block_id"], first["actions"][0]["value"]) == ("first", "approve-value")
