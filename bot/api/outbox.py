"""REST API of dead letters: put a dead-lettered message back in the queue."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Request

from bot.api.records import require_token
from bot.api.scheduler import outbox_json
from bot.core.service import Signoff
from bot.errors import Conflict, NotFound

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_token)])


def _service(request: Request) -> Signoff:
    service: Signoff = request.app.state.service
    return service


@router.post("/outbox/{item_id}/retry")
async def retry_outbox_item(request: Request, item_id: int = Path(ge=1, le=2**62)) -> dict[str, Any]:
    """Queue a dead letter again, due now; its delivery horizon starts over."""
    service = _service(request)
    async with service.db.transaction() as repo:
        if not await repo.requeue_dead(item_id, service.clock.now()):
            item = await repo.outbox_item(item_id)
            if item is None:
                raise NotFound(f"no outbox item {item_id}")
            raise Conflict(f"outbox item {item_id} is {item.status}; only dead letters can be retried")
        item = await repo.outbox_item(item_id)
    service.wake_delivery()
    assert item is not None
    return outbox_json(item)
