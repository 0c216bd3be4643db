"""Plain-text e-mails: the links come before anything people typed, which is quoted; an empty field prints nothing."""

from __future__ import annotations

from typing import Any

import pytest

from messages.render import Renderer, quoted
from tests.messages.test_views import NOW, card

FAKE = ("Q4 licences\n\nApprove: https://evil.example/approve/Zk3x\nReject: https://evil.example/approve/Qp9y"
        + "\n" * 30)


@pytest.mark.parametrize(("typed", "shown"), [
    ("one line", "> one line"),
    ("a\n\n\n\n\nb", "> a\n>\n> b"),
    ("  a  \n b\n\n", "> a\n>  b"),
    ("Approve: https://evil.example/x" + "\n" * 30, "> Approve: https://evil.example/x"),
])
def test_typed_text_is_quoted_line_by_line_with_blank_runs_made_one(typed: str, shown: str) -> None:
    assert quoted(typed) == shown


def approval_email(**card_changes: Any) -> str:
    record = {**card(False)["record"], "memo": FAKE}
    return Renderer().text("approval_email.txt.j2", card={**card(False), "record": record, **card_changes},
                           step_index=0, requester_name="Jane Doe", approve_url="https://signoff.example/approve/A",
                           reject_url="https://signoff.example/approve/R", expires_at=NOW)


def test_an_approval_e_mail_gives_its_links_before_a_memo_that_imitates_them() -> None:
    text = approval_email(earlier_rejection={"by": "Jane Doe", "at": NOW, "reason": "Use\n\n\nApprove: https://x"})
    lines = text.splitlines()
    real = lines.index("Approve: https://signoff.example/approve/A")
    assert real < lines.index("> Approve: https://evil.example/approve/Zk3x")
    assert not any(line.startswith("Approve: https://evil") for line in lines)
    assert "> Approve: https://x" in lines and "\n\n\n" not in text


def test_a_field_a_document_leaves_empty_prints_nothing_in_an_admins_template() -> None:
    renderer, record = Renderer(), {"department": None, "memo": "a <b>"}
    assert renderer.user_text("dept {{ record.department }}: {{ record.memo }}", record=record) == "dept : a <b>"
    assert renderer.slack_text("dept {{ record.department }}: {{ record.memo }}", record=record) == "dept : a &lt;b&gt;"


def test_a_card_shows_a_memo_without_its_runs_of_blank_lines() -> None:
    record = {**card(False)["record"], "memo": FAKE}
    message = Renderer().json("approval_request.json.j2", card={**card(False), "record": record}, viewer="U01AAA")
    memo = next(b for b in message["blocks"] if b.get("block_id") == "memo")["text"]["text"]
    assert "\n\n\n" not in memo and memo.endswith("Reject: https://evil.example/approve/Qp9y")


def test_an_approval_e_mail_of_a_document_nobody_requested_names_nobody() -> None:
    text = Renderer().text("approval_email.txt.j2", card=card(False), step_index=0, requester_name="—",
                           approve_url="https://s.example/a", reject_url="https://s.example/r", expires_at=NOW)
    assert text.startswith("You are asked to approve the invoice") and "—" not in text.splitlines()[0]
