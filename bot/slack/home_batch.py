"""Approving several tasks at once from the Home tab, and the confirmation that forced approvals need first."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.core.service import Signoff
from bot.slack.home_tasks import MAX_HOME_TASKS, parse_task_value
from bot.slack.payload import input_state, mapping, state_values, text
from engine.approvals import ApprovalRequest, BatchMove, Decision, ForceKind, RequestStatus, batch_move
from engine.errors import VoteRefusedError
from messages.cards import record_view

MAX_BATCH = MAX_HOME_TASKS
MAX_SKIPPED_SHOWN = 10
TASK_BLOCK = "task:"  # the block id of a task in the Home view is this prefix and the task's value
NOT_COUNTED = "already_voted"
DECIDED = {RequestStatus.APPROVED: Decision.APPROVE, RequestStatus.REJECTED: Decision.REJECT}


@dataclass
class BatchResult:
    """How a batch of approvals went."""

    approved: int = 0
    waiting: int = 0  # of those approved here, the documents that wait for more approvals or their next step
    forced: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)

    def notice(self) -> dict[str, Any]:
        """Return the Home notice that reports this batch: how many were approved, which were skipped and why."""
        return {"kind": "batch", "approved": self.approved, "waiting": self.waiting, "forced": self.forced,
                "refused": len(self.refused), "codes": sorted({code for _, code in self.refused}),
                "skipped": self.skipped[:MAX_SKIPPED_SHOWN],
                "skipped_hidden": max(0, len(self.refused) - MAX_SKIPPED_SHOWN)}


async def approve_many(
    service: Signoff, actor: str, values: Sequence[str], reason: str | None = None
) -> BatchResult:
    """Approve several tasks; forced ones only when a confirmation reason is given.

    Each approval is its own transaction and counts once however often it is tried, so a batch cut short
    by a crash is run again whole: its inbox row is completed after the last approval, not the first.
    """
    with service.db.carrying_nothing():
        result = await _approve_each(service, actor, values, reason)
        result.skipped = await _skipped(service, result.refused[:MAX_SKIPPED_SHOWN])
    return result


async def _approve_each(service: Signoff, actor: str, values: Sequence[str], reason: str | None) -> BatchResult:
    result = BatchResult()
    for value in values[:MAX_BATCH]:
        request_id, seat = parse_task_value(value)
        try:
            kind = await service.approvals.force_needed(request_id, actor, seat)
            if batch_move(kind, reason) is BatchMove.FORCE:
                outcome = await service.approvals.force(request_id, actor, reason or "", seat)
                result.forced += outcome.is_counted
            else:
                outcome = await service.approvals.decide(request_id, actor, Decision.APPROVE, on_behalf_of=seat)
            result.approved += outcome.is_counted
            result.waiting += outcome.is_counted and outcome.request.is_open()
            result.refused += [] if outcome.is_counted else [(request_id, NOT_COUNTED)]
        except VoteRefusedError as exc:
            result.refused.append((request_id, exc.code))
    return result


async def _skipped(service: Signoff, refused: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """Describe the tasks a batch skipped: their document, why, and where a request was closed, by whom."""
    async with service.db.read() as repo:
        requests = [await repo.get_request(request_id) for request_id, _ in refused]
    return [_skip_view(request_id, code, request)
            for (request_id, code), request in zip(refused, requests, strict=True)]


def _skip_view(request_id: str, code: str, request: ApprovalRequest | None) -> dict[str, Any]:
    if request is None:
        return {"type": "", "id": request_id, "code": code, "status": None, "by": None}
    return {"type": request.record_type, "id": request.record_id, "code": code, "status": request.status.value,
            "by": _decided_by(request)}


def _decided_by(request: ApprovalRequest) -> str | None:
    """Return who approved or rejected a closed request last (the delegate who clicked, when one did), or None."""
    decision = DECIDED.get(request.status)
    votes = [v for v in request.votes if v.decision is decision]
    return (votes[-1].acted_by or votes[-1].approver) if votes else None


def selected_values(view: Any) -> list[str]:
    """Return the task values ticked in a Home view's checkboxes, in display order.

    Only the tasks the view shows (its current page) count: a ticked value that is not its own block's task, or
    a ticked block the view does not show, is left out, as are malformed ones.
    """
    values, blocks = state_values(view) or {}, mapping(view).get("blocks")
    chosen: list[str] = []
    for block in blocks if isinstance(blocks, list) else []:
        block_id = mapping(block).get("block_id")
        picked = input_state(values, block_id, "task_select") if isinstance(block_id, str) else {}
        options = picked.get("selected_options")
        chosen += [v for o in (options if isinstance(options, list) else [])
                   if (v := text(mapping(o).get("value"))) and block_id == TASK_BLOCK + v]
    return list(dict.fromkeys(chosen))


async def confirm_view(service: Signoff, actor: str, values: Sequence[str]) -> dict[str, Any] | None:
    """Return the confirmation modal for approvals that include forced ones, or None when none is forced."""
    forced = []
    for value in values[:MAX_BATCH]:
        request_id, seat = parse_task_value(value)
        kind = await service.approvals.force_needed(request_id, actor, seat)
        if kind is not None:
            forced.append(await _forced_line(service, request_id, kind))
    if not forced:
        return None
    view: dict[str, Any] = service.renderer.json(
        "home_confirm.json.j2", forced=forced, total=len(values[:MAX_BATCH]),
        metadata=json.dumps(list(values[:MAX_BATCH])))
    return view


async def _forced_line(service: Signoff, request_id: str, kind: ForceKind) -> dict[str, Any]:
    async with service.db.read() as repo:
        request = await repo.get_request(request_id)
        record = await repo.get_record(request.record_type, request.record_id) if request else None
    return {"kind": kind.value, "record": record_view(record, None) if record else {"type": "", "id": request_id}}

