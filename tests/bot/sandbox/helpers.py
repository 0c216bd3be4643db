"""Shared data and fakes for the local Slack workspace tests."""

from __future__ import annotations

ADA = "U0ADA"
BOB = "U0BOB"
FINANCE = "C0FINANCE"
SECRET = "sandbox-signing-secret"


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, now_s: float = 1_700_000_000.0) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now_s += seconds


def section(text: str, **extra: object) -> dict[str, object]:
    """A section block with mrkdwn text."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}, **extra}


def buttons(*action_ids: str, block_id: str = "decision") -> dict[str, object]:
    """An actions block with one button per action_id, valued after it."""
    elements = [
        {
            "type": "button",
            "action_id": action_id,
            "text": {"type": "plain_text", "text": action_id.title()},
            "value": f"{action_id}-value",
        }
        for action_id in action_ids
    ]
    return {"type": "actions", "block_id": block_id, "elements": elements}


def modal(callback_id: str = "reject_reason", **extra: object) -> dict[str, object]:
    """A modal asking for a reason and a category."""
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": {"type": "plain_text", "text": "Reject"},
        "submit": {"type": "plain_text", "text": "Send"},
        "private_metadata": "invoice:42",
        "blocks": [
            {
                "type": "input",
                "block_id": "reason_block",
                "label": {"type": "plain_text", "text": "Reason"},
                "element": {"type": "plain_text_input", "action_id": "reason"},
            },
            {
                "type": "input",
                "block_id": "category_block",
                "optional": True,
                "label": {"type": "plain_text", "text": "Category"},
                "element": {
                    "type": "static_select",
                    "action_id": "category",
                    "options": [
                        {"text": {"type": "plain_text", "text": "Price"}, "value": "price"},
                        {"text": {"type": "plain_text", "text": "Vendor"}, "value": "vendor"},
                    ],
                },
            },
        ],
        **extra,
    }


def home(text: str = "Tasks") -> dict[str, object]:
    """A Home view with one section and an approve button."""
    return {"type": "home", "blocks": [section(text), buttons("approve")]}
