"""Which records a scheduled workflow selects at a sweep."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from engine.conditions import EvalContext
from engine.facts import facts_of
from engine.records import Record
from engine.scheduled import select_scheduled
from engine.workflows import Workflow, parse_definition

NOW = datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
CTX = EvalContext.at(NOW, ZoneInfo("Europe/Paris"), {"vip": ["C-VIP"]})


def workflow(**changes: Any) -> Workflow:
    data: dict[str, Any] = {
        "name": "Due soon", "record_type": "invoice", "trigger": "scheduled", "schedule": "0 9 * * *",
        "conditions": [{"field": "due_date", "op": "due_within_days", "value": 3}],
        "actions": [{"type": "notification", "channel": "#finance", "message": "due"}],
    }
    definition = parse_definition({**data, **changes})
    return Workflow(**definition.model_dump(), id="wf1", created_at=NOW, updated_at=NOW)


def candidate(record_id: str, record_type: str = "invoice", **changes: Any) -> tuple[tuple[str, str], dict[str, Any]]:
    data: dict[str, Any] = {"type": record_type, "id": record_id, "amount": "100", "customer": "C-1",
                            "due_date": "2026-04-01", "created_at": NOW, "updated_at": NOW}
    record = Record.model_validate({**data, **changes})
    return record.key(), facts_of(record)


CANDIDATES = [
    candidate("DUE"),
    candidate("LATER", due_date="2026-05-01"),
    candidate("PAID", status="paid"),
    candidate("VOID", status="void"),
    candidate("SENT", status="sent"),
    candidate("BILL", "bill", vendor="V-1", customer=None),
    candidate("VIP", customer="C-VIP"),
]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, ["DUE", "SENT", "VIP"]),
        ({"conditions": []}, ["DUE", "LATER", "SENT", "VIP"]),
        ({"conditions": [{"field": "status", "op": "in", "value": ["paid", "void"]}]}, ["PAID", "VOID"]),
        ({"conditions": [{"field": "status", "op": "ne", "value": "open"}]}, ["PAID", "VOID", "SENT"]),
        ({"conditions": [{"field": "customer", "op": "in_group", "value": "vip"}]}, ["VIP"]),
        ({"record_type": "bill"}, ["BILL"]),
        ({"enabled": False}, []),
        ({"status": "draft"}, []),
        ({"trigger": "created", "schedule": None}, []),
    ],
)
def test_select_scheduled(changes: dict[str, Any], expected: list[str]) -> None:
    selected = select_scheduled(workflow(**changes), CANDIDATES, CTX)
    assert [record_id for _, record_id in selected] == expected


def test_selection_follows_the_sweep_time() -> None:
    later = EvalContext.at(datetime(2026, 4, 2, 7, 0, tzinfo=UTC), ZoneInfo("Europe/Paris"))
    assert select_scheduled(workflow(), [candidate("DUE")], later) == []
    assert select_scheduled(workflow(), iter([candidate("DUE")]), CTX) == [("invoice", "DUE")]
