"""What approval held: the `send` actions of a document's runs that wait until it is approved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from engine.lifecycle import RELEASED, RunLine, held_for_approval

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
HELD = {"index": 1, "type": "send", "result": "skipped", "reason": "not approved: invoice INV-1 is pending approval"}
NO_EMAIL = {"index": 2, "type": "send", "result": "skipped", "reason": "the contact has no e-mail address"}
SENT = {"index": 1, "type": "send", "result": "queued"}


def line(workflow_id: str, hours: int, *actions: dict[str, Any], cause: str = "created") -> RunLine:
    return RunLine(workflow_id, cause, T0 + timedelta(hours=hours), tuple(actions))


@pytest.mark.parametrize(("runs", "since", "held"), [
    ([], None, {}),
    ([line("w1", 0, HELD)], None, {"w1": (1,)}),
    ([line("w1", 2, HELD, NO_EMAIL), line("w2", 1, {**HELD, "index": 3})], None, {"w1": (1,), "w2": (3,)}),
    ([line("w1", 2, HELD), line("w1", 0, HELD)], None, {"w1": (1,)}),
    ([line("w1", 0, SENT)], None, {}),
    ([line("w1", 3, HELD), line("w1", 2, SENT, cause=RELEASED), line("w1", 0, HELD)], None, {"w1": (1,)}),
    ([line("w1", 2, SENT, cause=RELEASED), line("w1", 0, HELD)], None, {}),
    ([line("w1", 5, HELD), line("w2", 1, HELD)], T0 + timedelta(hours=3), {"w1": (1,)}),
])
def test_the_sends_held_are_those_since_the_last_approval_and_the_last_release(
    runs: list[RunLine], since: datetime | None, held: dict[str, tuple[int, ...]],
) -> None:
    assert held_for_approval(runs, since) == held
