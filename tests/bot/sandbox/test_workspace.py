"""The workspace's own behaviour, called directly without HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.sandbox.errors import DuplicateIdError, InvalidAckError, ResponseUrlError
from bot.sandbox.state.model import ApiResponse
from bot.sandbox.workspace import Workspace
from tests.bot.sandbox.helpers import ADA, BOB, FINANCE, FakeClock, buttons, modal, section

TOKEN = "xoxb-sandbox"


async def call(workspace: Workspace, method: str, **params: Any) -> ApiResponse:
    """Call a Web API method with the workspace's token."""
    return await workspace.call(method, params, TOKEN)


async def open_modal(workspace: Workspace, user_id: str, view: dict[str, Any]) -> str:
    """Open a modal for a user and return its view id."""
    answer = await call(
        workspace, "views.open", trigger_id=workspace.issue_trigger_id(user_id), view=view
    )
    assert answer.body["ok"], answer.body
    return str(answer.body["view"]["id"])


async def test_enforced_post_rate_answers_429_with_retry_after(
    workspace: Workspace, clock: FakeClock
) -> None:
    workspace.enforce_post_rate(per_channel_per_s=1.0, burst=2)

    statuses = [(await call(workspace, "chat.postMessage", channel=FINANCE, text="x")).status]
    statuses.append((await call(workspace, "chat.postMessage", channel=FINANCE, text="x")).status)
    refused = await call(workspace, "chat.postMessage", channel=FINANCE, text="x")
    other_channel = await call(workspace, "chat.postMessage", channel=ADA, text="x")
    clock.advance(1.0)
    after_wait = await call(workspace, "chat.postMessage", channel=FINANCE, text="x")

    assert statuses == [200, 200]
    assert (refused.status, refused.body, refused.headers) == (
        429,
        {"ok": False, "error": "ratelimited"},
        {"Retry-After": "1"},
    )
    assert other_channel.status == 200
    assert after_wait.status == 200
    assert workspace.ratelimited_count(FINANCE) == 1
    assert len(workspace.messages_in(FINANCE)) == 3


async def test_relaxed_post_rate(workspace: Workspace) -> None:
    workspace.enforce_post_rate(per_channel_per_s=1.0, burst=1)
    workspace.relax_post_rate()
    answers = [await call(workspace, "chat.postMessage", channel=FINANCE, text="x") for _ in "abc"]
    assert {answer.status for answer in answers} == {200}


async def test_calls_are_recorded(workspace: Workspace) -> None:
    await call(workspace, "chat.postMessage", channel=FINANCE, text="hello")
    await call(workspace, "users.info", user="U0NOBODY")

    (posted,) = workspace.calls("chat.postMessage")
    (looked_up,) = workspace.calls("users.info")
    assert posted.params == {"channel": FINANCE, "text": "hello"}
    assert (posted.status, posted.error) == (200, None)
    assert looked_up.error == "user_not_found"
    assert [c.method for c in workspace.calls()] == ["chat.postMessage", "users.info"]


async def test_timestamps_increase_on_a_frozen_wall_clock() -> None:
    workspace = Workspace.demo(wall_clock=FakeClock(1_700_000_000.0))
    answers = [await call(workspace, "chat.postMessage", channel=FINANCE, text="x") for _ in "ab"]
    assert [a.body["ts"] for a in answers] == ["1700000000.000000", "1700000000.000001"]


async def test_bot_must_be_in_the_channel(workspace: Workspace) -> None:
    workspace.add_channel("board", bot_is_member=False)
    answer = await call(workspace, "chat.postMessage", channel="#board", text="x")
    assert answer.body["error"] == "not_in_channel"


async def test_ephemeral_needs_a_member(workspace: Workspace) -> None:
    workspace.add_channel("audit", members=[ADA])
    answer = await call(workspace, "chat.postEphemeral", channel="#audit", user=BOB, text="x")
    assert answer.body["error"] == "user_not_in_channel"


def test_duplicate_people_and_channels_are_refused(workspace: Workspace) -> None:
    with pytest.raises(DuplicateIdError):
        workspace.add_user("ada")
    with pytest.raises(DuplicateIdError):
        workspace.add_channel("#finance")


def test_new_people_join_public_channels(workspace: Workspace) -> None:
    erin = workspace.add_user("erin", "Erin Quinn", email="erin@example.com")
    assert erin.id in workspace.conversation("#finance").members
    assert workspace.user("@erin") is erin


async def test_subscribers_see_changes(workspace: Workspace) -> None:
    changes = workspace.subscribe()

    answer = await call(workspace, "chat.postMessage", channel=ADA, text="x")

    opened, posted = changes.get_nowait(), changes.get_nowait()
    assert (opened.kind, opened.user) == ("dm_opened", ADA)
    assert (posted.kind, posted.channel, posted.ts) == (
        "message",
        answer.body["channel"],
        answer.body["ts"],
    )
    assert posted.version == workspace.version
    assert changes.empty()
    workspace.unsubscribe(changes)


async def test_wait_for_returns_once_the_condition_holds(workspace: Workspace) -> None:
    async def post_later() -> None:
        """Post once the waiter is waiting."""
        await asyncio.sleep(0.01)
        await call(workspace, "chat.postMessage", channel=ADA, text="late")

    task = asyncio.create_task(post_later())
    messages = await workspace.wait_for(lambda: workspace.dm_messages(ADA), timeout_s=2)
    await task

    assert [m.text for m in messages] == ["late"]


async def test_wait_for_times_out(workspace: Workspace) -> None:
    with pytest.raises(TimeoutError):
        await workspace.wait_for(lambda: workspace.dm_messages(ADA), timeout_s=0.05)


async def test_message_helpers(workspace: Workspace) -> None:
    blocks = [section("*Invoice 42*"), buttons("approve", "reject")]
    await call(workspace, "chat.postMessage", channel=ADA, text="Invoice 42", blocks=blocks)

    (message,) = workspace.dm_messages(ADA)

    assert message.action_ids() == ["approve", "reject"]
    assert "*Invoice 42*" in message.all_text()
    assert "Reject" in message.all_text()
    assert all("block_id" in block for block in message.blocks or [])


async def test_update_keeps_blocks_when_only_text_changes(workspace: Workspace) -> None:
    posted = await call(
        workspace, "chat.postMessage", channel=FINANCE, text="a", blocks=[section("a")]
    )
    ts = posted.body["ts"]

    await call(workspace, "chat.update", channel=FINANCE, ts=ts, text="b")

    (message,) = workspace.messages_in(FINANCE)
    assert (message.text, message.blocks and message.blocks[0]["text"]["text"]) == ("b", "a")


async def test_response_url_replaces_or_adds(workspace: Workspace) -> None:
    posted = await call(workspace, "chat.postMessage", channel=FINANCE, text="Approve?")
    ts = posted.body["ts"]
    url = workspace.issue_response_url(BOB, FINANCE, ts)
    key = url.rsplit("/", 1)[1]

    workspace.respond(key, {"text": "Only approvers may act"})
    workspace.respond(key, {"text": "Approved", "replace_original": True})

    assert [m.text for m in workspace.ephemerals(BOB)] == ["Only approvers may act"]
    assert [m.text for m in workspace.messages_in(FINANCE)] == ["Approved"]
    workspace.respond(key, {"delete_original": True})
    assert workspace.messages_in(FINANCE) == []


async def test_response_url_allows_five_uses(workspace: Workspace) -> None:
    key = workspace.issue_response_url(BOB, FINANCE).rsplit("/", 1)[1]
    for _ in range(5):
        workspace.respond(key, {"text": "x"})
    with pytest.raises(ResponseUrlError):
        workspace.respond(key, {"text": "x"})
    with pytest.raises(ResponseUrlError):
        workspace.respond("nope", {"text": "x"})


async def test_submission_ack_with_errors_keeps_the_modal(workspace: Workspace) -> None:
    view_id = await open_modal(workspace, ADA, modal())

    workspace.apply_view_submission_ack(
        view_id, {"response_action": "errors", "errors": {"reason_block": "Required"}}
    )

    assert [v["id"] for v in workspace.open_modals(ADA)] == [view_id]
    assert workspace.view_errors(view_id) == {"reason_block": "Required"}


async def test_submission_ack_update_push_and_clear(workspace: Workspace) -> None:
    view_id = await open_modal(workspace, ADA, modal())

    workspace.apply_view_submission_ack(view_id, {"response_action": "update", "view": modal("b")})
    workspace.apply_view_submission_ack(view_id, {"response_action": "push", "view": modal("c")})
    stacked = [v["callback_id"] for v in workspace.open_modals(ADA)]
    workspace.apply_view_submission_ack(view_id, {"response_action": "clear"})

    assert stacked == ["b", "c"]
    assert workspace.open_modals(ADA) == []


async def test_empty_submission_ack_closes_only_the_top_modal(workspace: Workspace) -> None:
    root_id = await open_modal(workspace, ADA, modal())
    trigger_id = workspace.issue_trigger_id(ADA)
    pushed = await call(workspace, "views.push", trigger_id=trigger_id, view=modal("confirm"))

    workspace.apply_view_submission_ack(pushed.body["view"]["id"], None)

    assert [v["id"] for v in workspace.open_modals(ADA)] == [root_id]


async def test_invalid_submission_ack_is_refused(workspace: Workspace) -> None:
    view_id = await open_modal(workspace, ADA, modal())
    with pytest.raises(InvalidAckError):
        workspace.apply_view_submission_ack(
            view_id, {"response_action": "update", "view": {"type": "modal"}}
        )


async def test_modal_stack_is_limited_to_three(workspace: Workspace) -> None:
    await open_modal(workspace, ADA, modal())
    for expected in ("ok", "ok", "push_limit_reached"):
        trigger_id = workspace.issue_trigger_id(ADA)
        answer = await call(workspace, "views.push", trigger_id=trigger_id, view=modal())
        assert answer.body.get("error", "ok") == expected


def test_command_ack_is_shown_to_the_user_only(workspace: Workspace) -> None:
    workspace.apply_command_ack(ADA, FINANCE, "Here are your tasks")
    workspace.apply_command_ack(ADA, FINANCE, {"response_type": "in_channel", "text": "Digest"})
    workspace.apply_command_ack(ADA, FINANCE, "")

    assert [m.text for m in workspace.ephemerals(ADA, FINANCE)] == ["Here are your tasks"]
    assert [m.text for m in workspace.messages_in(FINANCE)] == ["Digest"]


async def test_injected_429_carries_retry_after(workspace: Workspace) -> None:
    workspace.fail_next("views.publish", status=429)

    refused = await call(workspace, "views.publish", user_id=ADA, view=modal())

    assert (refused.status, refused.body["error"], refused.headers) == (
        429,
        "ratelimited",
        {"Retry-After": "1"},
    )
