"""Validly signed but malformed Slack requests get a 4xx or a 200 that does nothing: never a 5xx, never a change."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from bot.sandbox.app_link.link import deliver
from bot.sandbox.app_link.signing import VERIFICATION_TOKEN, SlackRequest, form_request, interaction_request, sign
from bot.sandbox.state.model import TEAM_ID
from bot.slack.payload import click_problem, shape_problem
from tests.bot.core.test_approval_flow import approval_dm, submitted_invoice
from tests.support.harness import SIGNING_SECRET, Harness

DOMAIN_TABLES = ("records", "approval_requests", "votes", "audit", "workflows", "delegations", "reminder_tasks",
                 "contacts", "rules", "workflow_runs", "prefills")
USER = {"id": "U01AAA", "username": "alice", "team_id": TEAM_ID}


def snapshot(database: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Return every row of the tables that hold what Signoff decided."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return {table: sorted(db.execute(f"SELECT * FROM {table}").fetchall(), key=repr) for table in DOMAIN_TABLES}


async def inbox_settled(database: Path, timeout_s: float = 5.0) -> None:
    """Poll until no click waits in the inbox (or the timeout passes)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
            try:
                (queued,) = db.execute("SELECT count(*) FROM inbox WHERE status = 'queued'").fetchone()
            except sqlite3.OperationalError:
                return
        if not queued:
            return
        await asyncio.sleep(0.02)


def raw(body: bytes, content_type: str = "application/x-www-form-urlencoded") -> SlackRequest:
    """Sign any body as Slack would."""
    return body, {"Content-Type": content_type, **sign(body, SIGNING_SECRET, int(time.time()))}


def payload(data: Any) -> SlackRequest:
    """Sign an interaction payload (any JSON value)."""
    return interaction_request(data, SIGNING_SECRET, int(time.time()))


def interaction(kind: str, **fields: Any) -> dict[str, Any]:
    base = {"type": kind, "token": VERIFICATION_TOKEN, "team": {"id": TEAM_ID}, "user": USER,
            "api_app_id": "A0SIGNOFF", "trigger_id": "1.2.3"}
    return {k: v for k, v in {**base, **fields}.items() if v is not None}


def submission(callback_id: str, view: dict[str, Any] | None = None, **fields: Any) -> SlackRequest:
    view = {"id": "V0X", "type": "modal", "callback_id": callback_id, **(view or {})}
    return payload(interaction("view_submission", view=view, **fields))


def click(action_id: str, action: dict[str, Any] | None = None, **fields: Any) -> SlackRequest:
    actions = [{"action_id": action_id, "block_id": "b", "type": "button", **(action or {})}]
    data = {"actions": actions, "container": {"type": "message", "channel_id": "D0X"}, **fields}
    return payload(interaction("block_actions", **data))


def command(**fields: Any) -> SlackRequest:
    data = {"token": VERIFICATION_TOKEN, "team_id": TEAM_ID, "channel_id": "D0X", "user_id": "U01AAA",
            "command": "/signoff", "text": "help", "trigger_id": "1.2.3", **fields}
    return form_request({k: v for k, v in data.items() if v is not None}, SIGNING_SECRET, int(time.time()))


def event(inner: Any) -> SlackRequest:
    body = json.dumps({"token": VERIFICATION_TOKEN, "team_id": TEAM_ID, "api_app_id": "A0SIGNOFF",
                       "type": "event_callback", "event_id": "Ev0X", "event_time": 1, "event": inner}).encode()
    return raw(body, "application/json")


def request_values(**changes: Any) -> dict[str, Any]:
    values = {"kind": {"kind": {"type": "static_select", "selected_option": {"value": "expense"}}},
              "vendor": {"vendor": {"type": "plain_text_input", "value": "Air France"}},
              "amount": {"amount": {"type": "plain_text_input", "value": "120"}},
              "currency": {"currency": {"type": "static_select", "selected_option": {"value": "EUR"}}},
              "due_date": {"due_date": {"type": "datepicker", "selected_date": "2026-12-24"}}}
    return {"state": {"values": {**values, **changes}}}


NOT_CLICKS: dict[str, Callable[[], SlackRequest]] = {
    "form without payload": lambda: raw(b"hello=world"),
    "payload not JSON": lambda: raw(b"payload=%7Bnot+json"),
    "payload a JSON array": lambda: raw(b"payload=" + urlencode({"": "[1, 2]"})[1:].encode()),
    "payload a JSON string": lambda: payload("view_submission"),
    "payload a number": lambda: payload(42),
    "non-UTF-8 form": lambda: raw(b"payload=\xff\xfe\xfd"),
    "non-UTF-8 percent-encoded payload": lambda: raw(b"payload=%FF%FE%7B%7D"),
    "non-UTF-8 JSON body": lambda: raw(b'{"type": "event_callback", "x": "\xff"}', "application/json"),
    "JSON body not JSON": lambda: raw(b"{not json", "application/json"),
    "JSON body an array": lambda: raw(b"[1, 2, 3]", "application/json"),
    "empty body": lambda: raw(b""),
    "unknown type": lambda: payload(interaction("made_up")),
    "view_submission without view": lambda: payload(interaction("view_submission")),
    "view_submission view a string": lambda: payload(interaction("view_submission", view="request_new")),
    "view_submission view without type": lambda: payload(interaction("view_submission", view={
        "id": "V1", "callback_id": "request_new", "state": {"values": {}}})),
    "JSON body nested deeply": lambda: raw(b'{"type": "event_callback", "a": ' + b"[" * 100_000 + b"]" * 100_000
                                           + b"}", "application/json"),
    "payload nested deeply": lambda: raw(b"payload=" + quote('{"type": "view_submission", "x": '
                                                             + "[" * 100_000 + "]" * 100_000 + "}").encode()),
    "request modal without state": lambda: submission("request_new"),
    "request modal with state null": lambda: submission("request_new", {"state": None}),
    "request modal values a list": lambda: submission("request_new", {"state": {"values": []}}),
    "request modal block a string": lambda: submission("request_new", {"state": {"values": {"vendor": "x"}}}),
    "request modal without user": lambda: submission("request_new", request_values(), user=None),
    "request modal user a string": lambda: submission("request_new", request_values(), user="U01AAA"),
    "request modal date 31/12/2026": lambda: submission("request_new", request_values(
        due_date={"due_date": {"type": "datepicker", "selected_date": "31/12/2026"}})),
    "request modal date 2026-02-30": lambda: submission("request_new", request_values(
        due_date={"due_date": {"type": "datepicker", "selected_date": "2026-02-30"}})),
    "request modal date a number": lambda: submission("request_new", request_values(
        due_date={"due_date": {"type": "datepicker", "selected_date": 20261231}})),
    "request modal amount a list": lambda: submission("request_new", request_values(
        amount={"amount": {"type": "plain_text_input", "value": ["1"]}})),
    "request modal amount 9e4999999": lambda: submission("request_new", request_values(
        amount={"amount": {"type": "plain_text_input", "value": "9e4999999"}})),
    "request modal vendor with NUL": lambda: submission("request_new", request_values(
        vendor={"vendor": {"type": "plain_text_input", "value": "Air\x00France"}})),
    "request modal vendor too long": lambda: submission("request_new", request_values(
        vendor={"vendor": {"type": "plain_text_input", "value": "V" * 5000}})),
    "request modal vendor a number": lambda: submission("request_new", request_values(
        vendor={"vendor": {"type": "plain_text_input", "value": 7}})),
    "request modal option null": lambda: submission("request_new", request_values(
        currency={"currency": {"type": "static_select", "selected_option": None}}, vendor={})),
    "request modal memo with escape": lambda: submission("request_new", request_values(
        vendor={"vendor": {"type": "plain_text_input", "value": ""}},
        description={"description": {"type": "plain_text_input", "value": "\x1b[2J" * 2000}})),
    "reject reason without state": lambda: submission("reject_reason", {"private_metadata": "AR-1"}),
    "reject reason metadata a lone surrogate": lambda: submission("reject_reason", {
        "private_metadata": "\ud800",
        "state": {"values": {"reason": {"reason": {"type": "plain_text_input", "value": "too expensive"}}}}}),
    "reject reason without metadata": lambda: submission("reject_reason", {"state": {"values": {
        "reason": {"reason": {"type": "plain_text_input", "value": "too expensive"}}}}}),
    "reject reason metadata a dict": lambda: submission("reject_reason", {"private_metadata": {"a": 1}, "state": {
        "values": {"reason": {"reason": {"type": "plain_text_input", "value": "too expensive"}}}}}),
    "reject reason without user": lambda: submission("reject_reason", {"private_metadata": "AR-1", "state": {
        "values": {"reason": {"reason": {"type": "plain_text_input", "value": "too expensive"}}}}}, user=None),
    "reject reason a list": lambda: submission("reject_reason", {"private_metadata": "AR-1", "state": {
        "values": {"reason": {"reason": {"type": "plain_text_input", "value": ["no"]}}}}}),
    "confirm without state": lambda: submission("approve_confirm", {"private_metadata": "[]"}),
    "confirm metadata not JSON": lambda: submission("approve_confirm", {"private_metadata": "{", "state": {
        "values": {"force_reason": {"force_reason": {"type": "plain_text_input", "value": "urgent"}}}}}),
    "confirm metadata a JSON object": lambda: submission("approve_confirm", {
        "private_metadata": '{"a": 1}',
        "state": {"values": {"force_reason": {"force_reason": {"type": "plain_text_input", "value": "urgent"}}}}}),
    "confirm metadata a list of numbers": lambda: submission("approve_confirm", {
        "private_metadata": "[1, 2]",
        "state": {"values": {"force_reason": {"force_reason": {"type": "plain_text_input", "value": "urgent"}}}}}),
    "new workflow without metadata": lambda: submission("workflow_new", {"state": {"values": {}}}),
    "new workflow without state": lambda: submission("workflow_new", {"private_metadata": "invoice-approval"},
                                                     user={"id": "U0ADMIN"}),
    "new workflow without user": lambda: submission("workflow_new", {"private_metadata": "invoice-approval"},
                                                    user=None),
    "new workflow metadata a list": lambda: submission("workflow_new", {"private_metadata": ["x"],
                                                                        "state": {"values": {}}},
                                                       user={"id": "U0ADMIN"}),
    "view_closed without view": lambda: payload(interaction("view_closed")),
    "shortcut without trigger": lambda: payload(interaction("shortcut", callback_id="new_request", trigger_id=None)),
    "shortcut without user": lambda: payload(interaction("shortcut", callback_id="new_request", user=None)),
    "unknown shortcut": lambda: payload(interaction("shortcut", callback_id="made_up")),
    "command without user": lambda: command(user_id=None),
    "command without text": lambda: command(text=None),
    "command with NUL": lambda: command(text="away \x00 2026-12-31"),
    "command away with bad date": lambda: command(text="away <@U01BBB> 31/12/2026"),
    "command away with huge date": lambda: command(text="away <@U01BBB> 99999-99-99"),
    "command very long": lambda: command(text="workflow show " + "x" * 50_000),
    "command unknown": lambda: command(text="rm -rf"),
    "command without trigger": lambda: command(text="request", trigger_id=None),
    "event without event": lambda: raw(json.dumps({"type": "event_callback", "team_id": TEAM_ID}).encode(),
                                       "application/json"),
    "event a string": lambda: event("app_home_opened"),
    "home opened without user": lambda: event({"type": "app_home_opened", "tab": "home"}),
    "home opened user a dict": lambda: event({"type": "app_home_opened", "tab": "home", "user": {"id": 1}}),
    "home opened tab a list": lambda: event({"type": "app_home_opened", "tab": [], "user": "U01AAA"}),
    "home opened user a number": lambda: event({"type": "app_home_opened", "tab": "home", "user": 5}),
    "message event channel a number": lambda: event({"type": "message", "channel": 5, "user": "U01AAA"}),
    "edited message user a list": lambda: event({"type": "message", "subtype": "message_changed",
                                                 "message": {"user": ["U01AAA"]}}),
    "event team id a number": lambda: raw(json.dumps({"type": "event_callback", "team_id": 7, "event": {
        "type": "app_home_opened", "tab": "home", "user": "U01AAA"}}).encode(), "application/json"),
}


CLICKS: dict[str, Callable[[], SlackRequest]] = {
    "approve without actions": lambda: payload(interaction("block_actions")),
    "approve with empty actions": lambda: payload(interaction("block_actions", actions=[])),
    "approve with actions a dict": lambda: payload(interaction("block_actions", actions={"action_id": "approve"})),
    "approve with actions null": lambda: payload({**interaction("block_actions"), "actions": None}),
    "approve with action id a number": lambda: click(5, {"value": "AR-1"}),  # type: ignore[arg-type]
    "approve with channel id a list": lambda: click("approve", {"value": "AR-1"}, channel={"id": ["D0X"]}),
    "approve with action a string": lambda: payload(interaction("block_actions", actions=["approve"])),
    "approve without value": lambda: click("approve"),
    "approve with value null": lambda: click("approve", {"value": None}),
    "approve with value a number": lambda: click("approve", {"value": 12}),
    "approve with value a list": lambda: click("approve", {"value": ["AR-1"]}),
    "approve without user": lambda: click("approve", {"value": "AR-1"}, user=None),
    "approve with user a string": lambda: click("approve", {"value": "AR-1"}, user="U01AAA"),
    "approve with user id a number": lambda: click("approve", {"value": "AR-1"}, user={"id": 7}),
    "approve without trigger": lambda: click("approve", {"value": "AR-1"}, trigger_id=None),
    "approve value of pipes": lambda: click("approve", {"value": "|||"}),
    "reject without value": lambda: click("reject"),
    "reject without user": lambda: click("reject", {"value": "AR-1"}, user=None),
    "reject without trigger": lambda: click("reject", {"value": "AR-1"}, trigger_id=None),
    "reminder done value text": lambda: click("reminder_done", {"value": "abc"}),
    "reminder done value huge": lambda: click("reminder_done", {"value": "9" * 500}),
    "digest done value huge": lambda: click("digest_done", {"value": "99999999999999999999999"}),
    "approve value a lone surrogate": lambda: click("approve", {"value": "\ud800"}),
    "reject value with NUL": lambda: click("reject", {"value": "AR-1\u0000"}),
    "reminder done without value": lambda: click("reminder_done"),
    "page next without value": lambda: click("page_next"),
    "page next value not JSON": lambda: click("page_next", {"value": "{"}),
    "page next value a list": lambda: click("page_next", {"value": "[1]"}),
    "page next value missing keys": lambda: click("page_next", {"value": '{"c": "workflows"}'}),
    "page next page not a number": lambda: click("page_next", {"value": '{"c": "workflows", "a": "", "p": "x"}'}),
    "page next page huge": lambda: click("page_next", {"value": '{"c": "workflows", "a": "", "p": 1e308}'}),
    "page next command a list": lambda: click("page_next", {"value": '{"c": [], "a": {}, "p": 0}'}),
    "workflow menu without option": lambda: click("workflow_menu"),
    "workflow menu option null": lambda: click("workflow_menu", {"selected_option": None}),
    "template use without value": lambda: click("template_use", user={"id": "U0ADMIN"}),
    "prefill without block": lambda: click("prefill_choice", {"block_id": None}),
    "prefill block a number": lambda: click("prefill_choice", {"block_id": 5, "selected_option": {"value": "x"}}),
    "prefill without user": lambda: click("prefill_choice", {"block_id": "prefill:AR-1:category",
                                                             "selected_option": {"value": "x"}}, user=None),
    "batch without view": lambda: click("batch_approve"),
    "batch view a string": lambda: click("batch_approve", view="home"),
    "batch blocks a dict": lambda: click("batch_approve", view={"blocks": {"a": 1}, "state": {"values": {}}}),
    "batch options malformed": lambda: click("batch_approve", view={
        "blocks": [{"block_id": "t"}, "x"], "state": {"values": {"t": {"task_select": {"selected_options": [{}]}}}}}),
    "refresh without user": lambda: click("home_refresh", user=None),
    "home tasks next without value": lambda: click("home_tasks_next"),
    "home tasks next value not JSON": lambda: click("home_tasks_next", {"value": "{"}),
    "home tasks previous value a list": lambda: click("home_tasks_previous", {"value": "[0, 0]"}),
    "home requests next page negative": lambda: click("home_requests_next", {"value": '{"t": -1, "r": 0}'}),
    "home requests previous page huge": lambda: click("home_requests_previous", {"value": '{"t": 0, "r": 1e308}'}),
    "home new request without trigger": lambda: click("home_new_request", trigger_id=None),
    "unknown action": lambda: click("made_up_action", {"value": "x"}),
}


# Bodies Bolt cannot even read (it fails before any listener): the front door must refuse them with 400,
# which `bot.slack.payload.shape_problem` decides.
FRONT_DOOR = ("payload not JSON", "payload a JSON array", "payload a JSON string", "payload a number",
              "non-UTF-8 percent-encoded payload", "JSON body not JSON", "JSON body an array",
              "view_submission view a string", "event a string", "view_submission view without type",
              "JSON body nested deeply", "payload nested deeply")
UNREADABLE_CLICKS = ("approve with actions a dict", "approve with action a string", "approve with user a string",
                     "batch view a string", "home opened user a number", "approve with action id a number",
                     "approve with actions null", "message event channel a number", "edited message user a list",
                     "event team id a number", "approve with channel id a list")
# Bodies the listeners cope with, but that are no Slack request either: the front door refuses them too.
ALSO_REFUSED = ("non-UTF-8 form", "non-UTF-8 JSON body", "request modal user a string",
                "reject reason metadata a lone surrogate", "approve value a lone surrogate",
                "approve with empty actions", "approve with user id a number", "prefill block a number",
                "home opened user a dict")


@pytest.mark.parametrize("name", [*FRONT_DOOR, *UNREADABLE_CLICKS, *ALSO_REFUSED])
def test_the_shape_check_refuses_what_bolt_cannot_read(name: str) -> None:
    body, headers = {**NOT_CLICKS, **CLICKS}[name]()
    assert shape_problem(body, headers["Content-Type"]) is not None


@pytest.mark.parametrize(
    "name", [n for n in [*NOT_CLICKS, *CLICKS] if n not in (*FRONT_DOOR, *UNREADABLE_CLICKS, *ALSO_REFUSED)])
def test_the_shape_check_lets_listeners_judge_the_rest(name: str) -> None:
    body, headers = {**NOT_CLICKS, **CLICKS}[name]()
    assert shape_problem(body, headers["Content-Type"]) is None


@pytest.mark.parametrize("name", list(NOT_CLICKS))
async def test_a_malformed_request_is_answered_without_error_or_change(
    signoff: Harness, tmp_path: Path, name: str
) -> None:
    await submitted_invoice(signoff)
    await approval_dm(signoff, "U01AAA")
    before = snapshot(tmp_path / "signoff.db")
    reply = await deliver(f"{signoff.runtime.url}/slack/events", NOT_CLICKS[name]())
    assert reply.status < 500, reply.text()[:300]
    await inbox_settled(tmp_path / "signoff.db")
    assert snapshot(tmp_path / "signoff.db") == before


@pytest.mark.parametrize("name", list(CLICKS))
async def test_a_malformed_click_is_answered_without_error_or_change(
    signoff: Harness, tmp_path: Path, name: str
) -> None:
    await submitted_invoice(signoff)
    await approval_dm(signoff, "U01AAA")
    before = snapshot(tmp_path / "signoff.db")
    reply = await deliver(f"{signoff.runtime.url}/slack/events", CLICKS[name]())
    assert reply.status < 500, reply.text()[:300]
    await inbox_settled(tmp_path / "signoff.db")
    assert snapshot(tmp_path / "signoff.db") == before


def inbox_rows(database: Path) -> list[tuple[str, int]]:
    """Return the status and attempts of every inbox row."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        return [(str(status), int(attempts)) for status, attempts in db.execute(
            "SELECT status, attempts FROM inbox WHERE kind = 'click' ORDER BY id")]


async def test_a_click_nested_too_deeply_is_done_at_once_not_retried(signoff: Harness, tmp_path: Path) -> None:
    deep = {"x": json.loads("[" * 500 + "]" * 500)}
    deep_click = raw(b"payload=" + quote(json.dumps(interaction("block_actions", actions=[], **deep))[:-1]
                                         + ', "y": ' + "[" * 100_000 + "]" * 100_000 + "}").encode())
    reply = await deliver(f"{signoff.runtime.url}/slack/events", deep_click)
    assert reply.status == 200
    await inbox_settled(tmp_path / "signoff.db")
    assert inbox_rows(tmp_path / "signoff.db") == [("done", 1)]


@pytest.mark.parametrize("action_id", ["rule_edit", "rule_publish", "rule_delete", "group_edit", "group_delete"])
async def test_a_click_on_something_removed_meanwhile_is_told_and_done(signoff: Harness, tmp_path: Path,
                                                                      action_id: str) -> None:
    admin = {"id": "U0ADMIN", "username": "admin", "team_id": TEAM_ID}
    reply = await deliver(f"{signoff.runtime.url}/slack/events", click(action_id, {"value": "gone-1"}, user=admin))
    assert reply.status == 200
    told = await signoff.workspace.wait_for(lambda: signoff.workspace.dm_messages("U0ADMIN"))
    assert "no longer exists" in told[-1].text
    await inbox_settled(tmp_path / "signoff.db")
    assert inbox_rows(tmp_path / "signoff.db") == [("done", 1)]


@pytest.mark.parametrize("name", ["approve value a lone surrogate", "reject value with NUL", "digest done value huge"])
async def test_a_click_slack_would_not_send_is_done_at_once(signoff: Harness, tmp_path: Path, name: str) -> None:
    reply = await deliver(f"{signoff.runtime.url}/slack/events", CLICKS[name]())
    assert reply.status == 200
    await inbox_settled(tmp_path / "signoff.db")
    assert inbox_rows(tmp_path / "signoff.db") == [("done", 1)]


@pytest.mark.parametrize(("value", "refused"), [("AR-1", False), ("AR-1\u0000", True), ("\ud800", True),
                                               ("AR-\U0001f600", False)])
def test_a_stored_click_holding_text_no_database_stores_is_not_slacks(value: str, refused: bool) -> None:
    data = interaction("block_actions", actions=[{"action_id": "approve", "value": value}])
    assert (click_problem(data) is not None) is refused


UNHANDLED = {
    "a command of another app": lambda: command(command="/expenses", text="help"),
    "a shortcut nobody defined": lambda: payload(interaction("shortcut", callback_id="no_such_shortcut")),
    "a modal nobody opened": lambda: payload(interaction("view_submission", view={
        "id": "V1", "type": "modal", "callback_id": "no_such_modal", "state": {"values": {}},
        "private_metadata": ""})),
}


@pytest.mark.parametrize("name", list(UNHANDLED))
async def test_a_signed_request_nothing_handles_is_400_in_the_envelope(signoff: Harness, name: str) -> None:
    reply = await deliver(f"{signoff.runtime.url}/slack/events", UNHANDLED[name]())
    assert reply.status == 400, reply.text()[:300]
    assert reply.json()["error"]["code"] == "bad_request"
