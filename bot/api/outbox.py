"""REST API of dead letters: put a dead-lettered message back in the queue."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Request

from bot.api.deps import ExactNumbersRoute, refuse_unstorable_text, require_token, service_of
from bot.api.scheduler import outbox_json
from bot.core.admin import retry_dead_letter

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_token), Depends(refuse_unstorable_text)],
                   route_class=ExactNumbersRoute)




@router.post("/outbox/{item_id}/retry")
async def retry_outbox_item(request: Request, item_id: int = Path(ge=1, le=2**62)) -> dict[str, Any]:
    """Queue a dead letter again, due now; its delivery horizon starts over."""
    return outbox_json(await retry_dead_letter(service_of(request).deps, item_id))
