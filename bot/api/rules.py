"""REST API for pre-fill rules and groups under /api/v1 (SPEC §8, §9)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request

from bot.api.deps import (
    RECORDS_READ,
    ExactNumbersRoute,
    Ref,
    json_object,
    known_keys,
    refuse_unstorable_text,
    require_token,
    token_actor,
)
from bot.core.groups import GroupsService, membership_json
from bot.core.prefill import prefill_json
from bot.core.rules import RuleResult, RulesService, apply_rules_yaml, rules_to_yaml
from bot.errors import Unprocessable
from engine.groups import Group, Membership
from engine.records import RecordType
from engine.rules import Rule, RuleStatus

__all__ = ["apply_rules_yaml", "router", "rules_to_yaml"]

router = APIRouter(prefix="/api/v1", dependencies=[Depends(require_token), Depends(refuse_unstorable_text)],
                   route_class=ExactNumbersRoute)


def _rules(request: Request) -> RulesService:
    return request.app.state.service.rules


def _groups(request: Request) -> GroupsService:
    return request.app.state.service.groups


def rule_json(rule: Rule) -> dict[str, Any]:
    """Serialise a rule for the API."""
    return rule.model_dump(mode="json")


def _result_json(result: RuleResult) -> dict[str, Any]:
    body = rule_json(result.rule) if result.rule else {}
    return {**body, "records_changed": result.records_changed}


def group_json(group: Group, membership: Membership) -> dict[str, Any]:
    """Serialise a group with its members for the API."""
    return {**group.model_dump(mode="json"), **membership_json(membership)}


# rules


@router.get("/rules")
async def list_rules(request: Request) -> dict[str, Any]:
    """List every rule, oldest first."""
    return {"rules": [rule_json(r) for r in await _rules(request).list_rules()]}


@router.post("/rules", status_code=201)
async def create_rule(
    request: Request, data: Any = Body(...), actor: str = Depends(token_actor)
) -> dict[str, Any]:
    """Create a rule; a published one pre-fills matching documents at once."""
    return _result_json(await _rules(request).create_rule(data, actor))


@router.get("/rules/{rule_id}")
async def get_rule(rule_id: Ref, request: Request) -> dict[str, Any]:
    """Return one rule."""
    return rule_json(await _rules(request).get_rule(rule_id))


@router.put("/rules/{rule_id}")
async def update_rule(
    rule_id: Ref, request: Request, data: Any = Body(...), actor: str = Depends(token_actor)
) -> dict[str, Any]:
    """Replace a rule's definition."""
    return _result_json(await _rules(request).update_rule(rule_id, data, actor))


@router.delete("/rules/{rule_id}", status_code=204)
async def delete_rule(rule_id: Ref, request: Request, actor: str = Depends(token_actor)) -> None:
    """Delete a rule, undoing its pre-fills on not-yet-approved documents."""
    await _rules(request).delete_rule(rule_id, actor)


@router.post("/rules/{rule_id}/publish")
async def publish_rule(rule_id: Ref, request: Request, actor: str = Depends(token_actor)) -> dict[str, Any]:
    """Publish a rule: every not-yet-approved matching document is pre-filled."""
    return _result_json(await _rules(request).set_status(rule_id, RuleStatus.PUBLISHED, actor))


@router.post("/rules/{rule_id}/unpublish")
async def unpublish_rule(rule_id: Ref, request: Request, actor: str = Depends(token_actor)) -> dict[str, Any]:
    """Unpublish a rule: its pre-fills are removed and what was there before comes back."""
    return _result_json(await _rules(request).set_status(rule_id, RuleStatus.DRAFT, actor))


@router.get("/records/{record_type}/{record_id}/prefills", openapi_extra=RECORDS_READ)
async def record_prefills(record_type: RecordType, record_id: Ref, request: Request) -> dict[str, Any]:
    """Return what rules pre-filled or suggested on a document."""
    return {"prefills": prefill_json(await _rules(request).prefills(record_type.value, record_id))}


# groups


@router.get("/groups")
async def list_groups(request: Request) -> dict[str, Any]:
    """List every group with its members."""
    return {"groups": [group_json(g, m) for g, m in await _groups(request).list_groups()]}


@router.post("/groups", status_code=201)
async def create_group(
    request: Request, data: Any = Body(...), actor: str = Depends(token_actor)
) -> dict[str, Any]:
    """Create a group; `members` are manual additions."""
    return group_json(*await _groups(request).create_group(json_object(data), actor))


@router.get("/groups/{group_id}")
async def get_group(group_id: Ref, request: Request) -> dict[str, Any]:
    """Return one group (by id or name) with its members."""
    return group_json(*await _groups(request).get_group(group_id))


@router.put("/groups/{group_id}")
async def update_group(
    group_id: Ref, request: Request, data: Any = Body(...), actor: str = Depends(token_actor)
) -> dict[str, Any]:
    """Replace a group's definition."""
    return group_json(*await _groups(request).update_group(group_id, data, actor))


@router.delete("/groups/{group_id}", status_code=204)
async def delete_group(group_id: Ref, request: Request, actor: str = Depends(token_actor)) -> None:
    """Delete a group (admin tokens only; never while a workflow or rule uses it)."""
    await _groups(request).delete_group(group_id, actor)


@router.get("/groups/{group_id}/members")
async def group_members(group_id: Ref, request: Request) -> dict[str, Any]:
    """Return a group's members, with the automatic, added and removed ones."""
    _, membership = await _groups(request).get_group(group_id)
    return membership_json(membership)


@router.post("/groups/{group_id}/members")
async def change_members(
    group_id: Ref, request: Request, data: Any = Body(...), actor: str = Depends(token_actor)
) -> dict[str, Any]:
    """Add (`add`) and remove (`remove`) members by hand."""
    body = known_keys(data, ("add", "remove"))
    _, membership = await _groups(request).change_members(group_id, body.get("add"), body.get("remove"), actor)
    return membership_json(membership)


@router.post("/groups/{group_id}/email", status_code=202)
async def email_group(
    group_id: Ref, request: Request, data: Any = Body(...), actor: str = Depends(token_actor)
) -> dict[str, Any]:
    """E-mail the members of a customer or vendor group that have an address: all, or those listed in `to` (an
    unknown key, a misspelt `to` say, is refused rather than read as "all")."""
    body = known_keys(data, ("subject", "message", "to"))
    if "to" in body and body["to"] is None:
        raise Unprocessable("to is null", [{"path": "to", "message": "list the members to e-mail, or leave to out "
                                                                     "to e-mail them all"}])
    return await _groups(request).email_group(group_id, body.get("subject"), body.get("message"), actor,
                                              body.get("to"))
