"""Someone approves for me while I am away: start or end a delegation, audit it, tell the delegate."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.core.deps import Deps
from engine.delegation import Delegation
from engine.planning import SubjectKind
from storage.ports import Repository

AWAY_SUBJECT = SubjectKind.DELEGATION.value


async def start_away(deps: Deps, principal: str, delegation: Delegation) -> list[Delegation]:
    """Store the delegation (ending the earlier one, whose delegate is told, as when it ends by hand), audit it and
    tell the delegate, and the people this principal stands in for that their approvals wait for them meanwhile;
    return what it ended."""
    now = deps.clock.now()
    notice = deps.renderer.json("delegation_notice.json.j2", principal=principal, until=delegation.end(),
                                is_started=True)
    async with deps.unit_of_work() as repo:
        ended = await repo.end_delegations(principal, now)
        await _tell_ended(deps, repo, principal, [d for d in ended if d.delegate != delegation.delegate], now,
                          replaced_by=delegation.delegate)
        await repo.start_delegation(delegation)
        await repo.schedule_subject(AWAY_SUBJECT, principal, delegation.end(), None)
        await repo.audit(now, principal, "delegation_started", ("user", principal), None, delegation.delegate,
                         {"until": delegation.end().isoformat()})
        await repo.enqueue("message", delegation.delegate, {"message": notice}, now)
        for standing_in in await repo.delegations_active_at(now, delegate=principal):
            told = deps.renderer.json("delegate_away_notice.json.j2", delegate=principal, until=standing_in.end(),
                                      back=delegation.end())
            await repo.enqueue("message", standing_in.principal, {"message": told}, now)
    return ended


async def end_away(deps: Deps, principal: str) -> list[Delegation]:
    """End a person's delegation now, audit it and tell the delegate; return what was ended."""
    now = deps.clock.now()
    async with deps.unit_of_work() as repo:
        ended = await repo.end_delegations(principal, now)
        await _tell_ended(deps, repo, principal, ended, now)
    return ended


async def _tell_ended(
    deps: Deps, repo: Repository, principal: str, ended: list[Delegation], now: datetime,
    replaced_by: str | None = None,
) -> None:
    """Audit each delegation ended by hand and tell its delegate they no longer approve for the principal (who is
    back, or has `replaced_by` approve instead)."""
    for delegation in ended:
        notice = deps.renderer.json("delegation_notice.json.j2", principal=principal, until=now, is_started=False,
                                    replaced_by=replaced_by)
        await repo.audit(now, principal, "delegation_ended", ("user", principal), delegation.delegate, None)
        await repo.enqueue("message", delegation.delegate, {"message": notice}, now)


async def away_ended(deps: Deps, repo: Repository, data: Mapping[str, Any]) -> None:
    """Announce, in the sweep's unit of work, that an away period ran out: the principal is welcomed back and the
    delegate told they no longer approve for them."""
    now, until = deps.clock.now(), datetime.fromisoformat(data["until"])
    principal, delegate = data["principal"], data["delegate"]
    back = deps.renderer.json("commands_note.json.j2", code="away_ended", detail={"delegate": delegate})
    notice = deps.renderer.json("delegation_notice.json.j2", principal=principal, until=until, is_started=False)
    await repo.enqueue("message", principal, {"message": back}, now, key=f"away_ended:{principal}:{data['until']}")
    await repo.enqueue("message", delegate, {"message": notice}, now,
                       key=f"away_ended:{principal}:{data['until']}:delegate")
    await repo.audit(now, None, "delegation_ended", ("user", principal), delegate, None, {"until": data["until"]})
