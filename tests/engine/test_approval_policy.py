"""Small approval rules, table-driven: who a step still waits for, reasons, forced approvals in a batch."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from engine.approvals import (
    MIN_REASON_CHARS,
    ApprovalRequest,
    BatchMove,
    Decision,
    ForceKind,
    RequestStatus,
    Step,
    Vote,
    batch_move,
    forced_label,
    is_on_step,
    is_still_governed,
    is_valid_reason,
    is_waiting_on,
    valid_reason,
)
from engine.errors import VoteRefusedError

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
REQUEST = ApprovalRequest(
    id="AR-1", record_type="invoice", record_id="INV-1", workflow_id="wf", requester="U0REQ",
    steps=(Step(0, ("UA", "UB"), 2), Step(1, ("UD",), 1)), created_at=NOW, step_started_at=NOW,
)
VOTED = replace(REQUEST, votes=(Vote(0, "UA", Decision.APPROVE, NOW),))
CLOSED = replace(REQUEST, status=RequestStatus.APPROVED)


@pytest.mark.parametrize(
    ("request_", "step", "who", "expected"),
    [
        (REQUEST, 0, "UA", True),
        (REQUEST, 0, "UX", False),
        (REQUEST, 1, "UD", False),
        (VOTED, 0, "UA", False),
        (VOTED, 0, "UB", True),
        (CLOSED, 0, "UB", False),
        (None, 0, "UA", False),
    ],
)
def test_is_waiting_on(request_: ApprovalRequest | None, step: int, who: str, expected: bool) -> None:
    assert is_waiting_on(request_, step, who) is expected


@pytest.mark.parametrize(
    ("request_", "step", "expected"),
    [(REQUEST, 0, True), (REQUEST, 1, False), (CLOSED, 0, False), (None, 0, False)],
)
def test_is_on_step(request_: ApprovalRequest | None, step: int, expected: bool) -> None:
    assert is_on_step(request_, step) is expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (None, None),
        ("", None),
        ("no", None),
        ("  no  ", None),
        ("bad", "bad"),
        ("  wrong amount \n", "wrong amount"),
        ("x" * 3000, "x" * 3000),
        ("x" * 3001, None),
        ("bad\x00", None),
    ],
)
def test_a_reason_needs_three_characters(typed: str | None, expected: str | None) -> None:
    assert valid_reason(typed) == expected
    assert is_valid_reason(expected) is (expected is not None)
    assert MIN_REASON_CHARS == 3


@pytest.mark.parametrize(
    ("governing", "expected"), [("wf", True), ("other", False), (None, False)],
)
def test_is_still_governed(governing: str | None, expected: bool) -> None:
    assert is_still_governed(REQUEST, governing) is expected


@pytest.mark.parametrize(
    ("kind", "reason", "expected"),
    [
        (None, None, BatchMove.VOTE),
        (None, "fine", BatchMove.VOTE),
        (ForceKind.STALE, "fine", BatchMove.FORCE),
        (ForceKind.OVERRIDE, "fine", BatchMove.FORCE),
        (ForceKind.OVERRIDE, None, "needs_confirmation"),
        (ForceKind.STALE, "", "needs_confirmation"),
    ],
)
def test_how_a_batch_approves_a_task(kind: ForceKind | None, reason: str | None, expected: str) -> None:
    if expected == "needs_confirmation":
        with pytest.raises(VoteRefusedError) as refused:
            batch_move(kind, reason)
        assert refused.value.code == expected
    else:
        assert batch_move(kind, reason) is expected


@pytest.mark.parametrize(
    ("kind", "expected"), [(None, "forced"), (ForceKind.STALE, "stale"), (ForceKind.OVERRIDE, "override")],
)
def test_forced_label(kind: ForceKind | None, expected: str) -> None:
    assert forced_label(kind) == expected
