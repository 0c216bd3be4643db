"""What people pick or type is kept in the view's (or message's) state and sent as `state.values`, as Slack does."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.sandbox.app_link.payloads import block_actions_payload, view_actions_payload, view_submission_payload
from bot.sandbox.blockkit.state_values import initial_entry
from bot.sandbox.mailbox import Mailbox, parse_mail
from bot.sandbox.ui.page_data import escape_mentions
from bot.sandbox.webapi import WebApiServer
from bot.sandbox.workspace import Workspace
from tests.bot.sandbox.helpers import BOB, section

TICK = {"type": "checkboxes", "action_id": "task_select",
        "options": [{"text": {"type": "plain_text", "text": "Select"}, "value": "t1"}]}
MENU = {"type": "static_select", "action_id": "pick",
        "options": [{"text": {"type": "plain_text", "text": "A"}, "value": "a"},
                    {"text": {"type": "plain_text", "text": "B"}, "value": "b"}]}
BATCH = {"type": "button", "action_id": "batch", "text": {"type": "plain_text", "text": "Go"}, "value": "go"}
HOME_BLOCKS: list[dict[str, Any]] = [
    {"type": "section", "block_id": "task:1", "text": {"type": "mrkdwn", "text": "one"}, "accessory": TICK},
    {"type": "actions", "block_id": "menu", "elements": [MENU, {"type": "datepicker", "action_id": "day"}]},
    {"type": "actions", "block_id": "go", "elements": [BATCH]},
]


async def published_home(client: AsyncWebClient, workspace: Workspace) -> str:
    """Publish Bob's Home with a checkbox, a menu, a date picker and a button; return its view id."""
    answer = await client.views_publish(user_id=BOB, view={"type": "home", "blocks": HOME_BLOCKS})
    return str(answer["view"]["id"])


async def test_a_ticked_checkbox_is_in_the_state_of_a_later_click(
    client: AsyncWebClient, server: WebApiServer
) -> None:
    workspace = server.workspace
    view_id = await published_home(client, workspace)
    view_actions_payload(workspace, BOB, "task_select", view_id=view_id, value=["t1"])
    payload = view_actions_payload(workspace, BOB, "batch", view_id=view_id)
    ticked = payload["view"]["state"]["values"]["task:1"]["task_select"]
    assert ticked == {"type": "checkboxes", "selected_options": [TICK["options"][0]]}  # type: ignore[index]
    assert payload["state"] == payload["view"]["state"]


async def test_a_click_carries_what_the_page_holds_in_every_element(
    client: AsyncWebClient, server: WebApiServer
) -> None:
    workspace = server.workspace
    view_id = await published_home(client, workspace)
    held = {"task:1": {"task_select": ["t1"]}, "menu": {"pick": "b", "day": "2026-12-01"}, "gone": {"x": "y"}}
    values = view_actions_payload(workspace, BOB, "batch", view_id=view_id, state=held)["view"]["state"]["values"]
    assert values["menu"]["pick"]["selected_option"]["value"] == "b"
    assert values["menu"]["day"] == {"type": "datepicker", "selected_date": "2026-12-01"}
    assert values["task:1"]["task_select"]["selected_options"][0]["value"] == "t1" and "gone" not in values


async def test_a_republished_home_forgets_what_was_picked(client: AsyncWebClient, server: WebApiServer) -> None:
    workspace = server.workspace
    view_id = await published_home(client, workspace)
    view_actions_payload(workspace, BOB, "task_select", view_id=view_id, value=["t1"])
    await client.views_publish(user_id=BOB, view={"type": "home", "blocks": HOME_BLOCKS})
    assert view_actions_payload(workspace, BOB, "batch", view_id=view_id)["view"]["state"]["values"] == {}


async def test_a_message_keeps_what_its_reader_picked(client: AsyncWebClient, server: WebApiServer) -> None:
    blocks = [section("Pick"), {"type": "actions", "block_id": "menu", "elements": [MENU, BATCH]}]
    posted = await client.chat_postMessage(channel=BOB, text="pick", blocks=blocks)
    workspace = server.workspace
    block_actions_payload(workspace, BOB, posted["channel"], posted["ts"], "pick", value="a")
    payload = block_actions_payload(workspace, BOB, posted["channel"], posted["ts"], "batch")
    assert payload["state"]["values"]["menu"]["pick"]["selected_option"]["value"] == "a"


async def test_a_submission_sends_menus_outside_inputs_too(client: AsyncWebClient, server: WebApiServer) -> None:
    workspace = server.workspace
    trigger = workspace.issue_trigger_id(BOB)
    view = {"type": "modal", "title": {"type": "plain_text", "text": "Edit"},
            "submit": {"type": "plain_text", "text": "Save"},
            "blocks": [{"type": "actions", "block_id": "menu", "elements": [MENU]},
                       {"type": "input", "block_id": "why", "label": {"type": "plain_text", "text": "Why"},
                        "element": {"type": "plain_text_input", "action_id": "why"}}]}
    opened = await client.views_open(trigger_id=trigger, view=view)
    view_id = opened["view"]["id"]
    payload = view_submission_payload(workspace, BOB, {"why": "because"}, view_id=view_id,
                                      state={"menu": {"pick": "b"}})
    values = payload["view"]["state"]["values"]
    assert values["menu"]["pick"]["selected_option"]["value"] == "b" and values["why"]["why"]["value"] == "because"


def test_typed_names_become_mentions(workspace: Workspace) -> None:
    users = workspace.users()
    assert escape_mentions("away @bob 2026-12-01", users) == "away <@U0BOB|bob> 2026-12-01"
    assert escape_mentions("@Ada and @U0CARA", users) == "<@U0ADA|ada> and <@U0CARA|cara>"
    assert escape_mentions("@nobody <@U0BOB> mail@bob", users) == "@nobody <@U0BOB> mail@bob"


def test_a_received_mail_is_parsed_for_the_mail_view() -> None:
    raw = (b"From: Acme Books <signoff@sandbox.example>\r\nTo: Ann <ann@x.example>\r\nCc: b@x.example\r\n"
           b"Subject: Reminder\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlease pay.\r\n")
    mail = parse_mail(1, datetime(2026, 1, 1, tzinfo=UTC), "signoff@sandbox.example", ["ann@x.example"], raw)
    assert (mail.to, mail.cc, mail.subject, mail.body.strip()) == (["ann@x.example"], ["b@x.example"],
                                                                   "Reminder", "Please pay.")
    assert mail.sender == "Acme Books <signoff@sandbox.example>", "as a mail client shows who it is from"


async def test_the_catcher_keeps_what_an_smtp_client_sends() -> None:
    import aiosmtplib

    seen: list[str] = []
    mailbox = Mailbox(lambda: datetime(2026, 1, 1, tzinfo=UTC), lambda mail: seen.append(mail.subject))
    await mailbox.start()
    try:
        message = "From: a@x.example\r\nTo: b@x.example\r\nSubject: Hello\r\n\r\nBody\r\n"
        await aiosmtplib.send(message, sender="a@x.example", recipients=["b@x.example"],
                              hostname="127.0.0.1", port=mailbox.port)
        await asyncio.sleep(0)
    finally:
        await mailbox.close()
    assert seen == ["Hello"] and mailbox.as_json()[0]["to"] == ["b@x.example"]


OPTION_B = MENU["options"][1]


@pytest.mark.parametrize(
    ("element", "expected"),
    [
        ({"type": "plain_text_input", "action_id": "x", "initial_value": "Acme"}, {"value": "Acme"}),
        ({"type": "plain_text_input", "action_id": "x"}, {"value": None}),
        ({"type": "multi_users_select", "action_id": "x", "initial_users": ["U1"]}, {"selected_users": ["U1"]}),
        ({"type": "multi_users_select", "action_id": "x"}, {"selected_users": []}),
        ({**MENU, "initial_option": OPTION_B}, {"selected_option": OPTION_B}),
        ({**MENU, "type": "multi_static_select", "initial_options": [OPTION_B]}, {"selected_options": [OPTION_B]}),
        ({"type": "datepicker", "action_id": "x", "initial_date": "2026-12-24"}, {"selected_date": "2026-12-24"}),
    ],
)
def test_an_untouched_input_reports_its_initial_value_as_slack_does(
    element: dict[str, Any], expected: dict[str, Any],
) -> None:
    entry = initial_entry(element)
    assert {k: v for k, v in entry.items() if k != "type"} == expected and entry["type"] == element["type"]
