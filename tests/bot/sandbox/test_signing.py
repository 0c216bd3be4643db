"""Requests built as Slack sends them: signatures and payload shapes."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_sdk.signature import SignatureVerifier

from bot.sandbox.app_link.events import slash_command_fields
from bot.sandbox.app_link.factory import RequestFactory
from bot.sandbox.app_link.payloads import block_actions_payload, view_actions_payload, view_submission_payload
from bot.sandbox.app_link.signing import SlackRequest, sign
from bot.sandbox.errors import (
    ActionNotFoundError,
    InputNotFoundError,
    NotVisibleError,
    UnknownOptionError,
    UnknownViewError,
)
from bot.sandbox.workspace import Workspace
from tests.bot.sandbox.helpers import ADA, BOB, FINANCE, SECRET, FakeClock, buttons, home, modal


async def post(workspace: Workspace, channel: str, **message: Any) -> str:
    """Post as the bot and return the message ts."""
    answer = await workspace.call(
        "chat.postMessage", {"channel": channel, **message}, "xoxb-sandbox"
    )
    assert answer.body["ok"], answer.body
    return str(answer.body["ts"])


async def open_modal(workspace: Workspace, user_id: str, view: dict[str, Any]) -> str:
    """Open a modal for a user and return its view id."""
    params = {"trigger_id": workspace.issue_trigger_id(user_id), "view": view}
    answer = await workspace.call("views.open", params, "xoxb-sandbox")
    assert answer.body["ok"], answer.body
    return str(answer.body["view"]["id"])


def interaction(request: SlackRequest) -> dict[str, Any]:
    """Decode the ``payload`` form field of an interaction request."""
    body, _ = request
    payload: dict[str, Any] = json.loads(parse_qs(body.decode())["payload"][0])
    return payload


@pytest.fixture
def requests(workspace: Workspace) -> RequestFactory:
    """Signed requests from the demo workspace."""
    return RequestFactory(workspace, SECRET)


def test_signature_matches_slack_sdk_verifier() -> None:
    body = b"payload=%7B%22type%22%3A+%22block_actions%22%7D&x=%C3%A9"
    now_s = int(time.time())

    headers = sign(body, SECRET, now_s)

    verifier = SignatureVerifier(SECRET)
    assert verifier.is_valid_request(body, headers)
    assert headers["X-Slack-Signature"] == verifier.generate_signature(
        timestamp=str(now_s), body=body
    )
    assert not verifier.is_valid_request(body + b"&forged=1", headers)
    assert not SignatureVerifier("another-secret").is_valid_request(body, headers)


def test_old_timestamps_are_rejected_by_the_verifier(workspace: Workspace) -> None:
    stale = RequestFactory(workspace, SECRET, clock=FakeClock(time.time() - 600))
    body, headers = stale.url_verification("abc")
    assert not SignatureVerifier(SECRET).is_valid_request(body, headers)


async def test_every_builder_produces_a_verifiable_request(
    workspace: Workspace, requests: RequestFactory
) -> None:
    ts = await post(workspace, ADA, text="Approve?", blocks=[buttons("approve")])
    await workspace.call("views.publish", {"user_id": ADA, "view": home()}, "xoxb-sandbox")
    await open_modal(workspace, ADA, modal())
    built = [
        requests.block_actions(ADA, workspace.dm_channel_id(ADA), ts, "approve"),
        requests.view_actions(ADA, "approve"),
        requests.view_submission(ADA, {"reason": "Too dear"}),
        requests.view_closed(ADA),
        requests.slash_command(ADA, "/signoff", "pending"),
        requests.app_home_opened(ADA),
        requests.url_verification("challenge-1"),
    ]
    verifier = SignatureVerifier(SECRET)
    for body, headers in built:
        assert verifier.is_valid_request(body, headers)


async def test_block_actions_payload_shape(workspace: Workspace, requests: RequestFactory) -> None:
    ts = await post(workspace, ADA, text="Approve?", blocks=[buttons("approve", "reject")])
    dm = workspace.dm_channel_id(ADA)

    body, headers = requests.block_actions(ADA, dm, ts, "reject")
    payload = interaction((body, headers))

    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert payload["type"] == "block_actions"
    assert payload["user"] == {"id": ADA, "username": "ada", "name": "ada", "team_id": "T0SANDBOX"}
    assert payload["container"] == {
        "type": "message",
        "message_ts": ts,
        "channel_id": dm,
        "is_ephemeral": False,
    }
    assert payload["channel"]["id"] == dm
    assert payload["message"]["blocks"][0]["elements"][1]["action_id"] == "reject"
    (action,) = payload["actions"]
    assert (action["action_id"], action["block_id"], action["value"], action["type"]) == (
        "reject",
        "decision",
        "reject-value",
        "button",
    )
    assert payload["response_url"].startswith("https://hooks.slack.com/respond/")


async def test_trigger_id_from_a_click_opens_a_modal(
    workspace: Workspace, requests: RequestFactory
) -> None:
    ts = await post(workspace, FINANCE, text="Approve?", blocks=[buttons("reject")])
    payload = interaction(requests.block_actions(BOB, FINANCE, ts, "reject"))

    params = {"trigger_id": payload["trigger_id"], "view": modal()}
    answer = await workspace.call("views.open", params, "xoxb-sandbox")

    assert answer.body["ok"], answer.body
    assert workspace.open_modals(BOB)[0]["id"] == answer.body["view"]["id"]


async def test_trigger_ids_expire_after_three_seconds(
    workspace: Workspace, clock: FakeClock
) -> None:
    trigger_id = workspace.issue_trigger_id(ADA)
    clock.advance(3.01)
    answer = await workspace.call(
        "views.open", {"trigger_id": trigger_id, "view": modal()}, "xoxb-sandbox"
    )
    assert answer.body["error"] == "expired_trigger_id"


async def test_lenient_workspace_keeps_trigger_ids(clock: FakeClock) -> None:
    workspace = Workspace.demo(clock=clock, trigger_ttl_s=None)
    trigger_id = workspace.issue_trigger_id(ADA)
    clock.advance(3600)
    answer = await workspace.call(
        "views.open", {"trigger_id": trigger_id, "view": modal()}, "xoxb-sandbox"
    )
    assert answer.body["ok"]


async def test_clicking_a_missing_button_fails(workspace: Workspace) -> None:
    ts = await post(workspace, ADA, text="Approved by Ada")
    with pytest.raises(ActionNotFoundError):
        block_actions_payload(workspace, ADA, workspace.dm_channel_id(ADA), ts, "approve")


async def test_nobody_clicks_in_someone_elses_dm(workspace: Workspace) -> None:
    ts = await post(workspace, ADA, text="Approve?", blocks=[buttons("approve")])
    with pytest.raises(NotVisibleError):
        block_actions_payload(workspace, BOB, workspace.dm_channel_id(ADA), ts, "approve")


async def test_ephemeral_click_has_no_message(workspace: Workspace) -> None:
    answer = await workspace.call(
        "chat.postEphemeral",
        {"channel": FINANCE, "user": BOB, "text": "Batch?", "blocks": [buttons("confirm")]},
        "xoxb-sandbox",
    )
    ts = answer.body["message_ts"]

    payload = block_actions_payload(workspace, BOB, FINANCE, ts, "confirm")

    assert payload["container"]["is_ephemeral"]
    assert "message" not in payload
    with pytest.raises(NotVisibleError):
        block_actions_payload(workspace, ADA, FINANCE, ts, "confirm")


async def test_home_action_payload(workspace: Workspace) -> None:
    await workspace.call("views.publish", {"user_id": ADA, "view": home()}, "xoxb-sandbox")

    payload = view_actions_payload(workspace, ADA, "approve")

    view = workspace.home_view(ADA)
    assert view is not None
    assert payload["container"] == {"type": "view", "view_id": view["id"]}
    assert payload["view"]["type"] == "home"
    assert payload["actions"][0]["value"] == "approve-value"
    assert "response_url" not in payload
    with pytest.raises(UnknownViewError):
        view_actions_payload(workspace, BOB, "approve")


async def test_view_submission_nests_state_values(workspace: Workspace) -> None:
    view_id = await open_modal(workspace, ADA, modal())

    payload = view_submission_payload(workspace, ADA, {"reason": "Too dear", "category": "price"})

    view = payload["view"]
    assert payload["type"] == "view_submission"
    assert (view["id"], view["callback_id"], view["private_metadata"]) == (
        view_id,
        "reject_reason",
        "invoice:42",
    )
    assert view["state"]["values"] == {
        "reason_block": {"reason": {"type": "plain_text_input", "value": "Too dear"}},
        "category_block": {
            "category": {
                "type": "static_select",
                "selected_option": {
                    "text": {"type": "plain_text", "text": "Price"},
                    "value": "price",
                },
            }
        },
    }


async def test_view_submission_leaves_unanswered_inputs_empty(workspace: Workspace) -> None:
    await open_modal(workspace, ADA, modal())

    values = view_submission_payload(workspace, ADA)["view"]["state"]["values"]

    assert values["reason_block"]["reason"]["value"] is None
    assert values["category_block"]["category"]["selected_option"] is None


async def test_view_submission_refuses_unknown_inputs_and_options(workspace: Workspace) -> None:
    await open_modal(workspace, ADA, modal())
    with pytest.raises(InputNotFoundError):
        view_submission_payload(workspace, ADA, {"amount": "12"})
    with pytest.raises(UnknownOptionError):
        view_submission_payload(workspace, ADA, {"category": "mood"})


def test_slash_command_fields(workspace: Workspace) -> None:
    fields = slash_command_fields(workspace, ADA, "/signoff", "pending", channel="#finance")

    assert {k: fields[k] for k in ("command", "text", "user_id", "channel_id", "team_id")} == {
        "command": "/signoff",
        "text": "pending",
        "user_id": ADA,
        "channel_id": FINANCE,
        "team_id": "T0SANDBOX",
    }
    assert fields["user_name"] == "ada"
    assert fields["trigger_id"] and fields["response_url"] and fields["api_app_id"]


async def test_app_home_opened_event(workspace: Workspace, requests: RequestFactory) -> None:
    body, headers = requests.app_home_opened(ADA)
    envelope = json.loads(body)

    assert headers["Content-Type"] == "application/json"
    assert envelope["type"] == "event_callback"
    assert envelope["event"]["type"] == "app_home_opened"
    assert envelope["event"]["user"] == ADA
    assert envelope["event"]["channel"] == workspace.dm_channel_id(ADA)
    assert envelope["authorizations"][0]["user_id"] == "U0SIGNOFF"
    assert envelope["event_id"].startswith("Ev")


def test_url_verification(requests: RequestFactory) -> None:
    body, _ = requests.url_verification("3eZbrw1aBm2rZgRNFdxV")
    assert json.loads(body) == {
        "token": "sandbox-verification-token",
        "challenge": "3eZbrw1aBm2rZgRNFdxV",
        "type": "url_verification",
    }
