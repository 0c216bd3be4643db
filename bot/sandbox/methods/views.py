"""Web API methods that open, push, update and publish views: views.*."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.sandbox.errors import SlackCallError
from bot.sandbox.params import Params
from bot.sandbox.state.views import Views, view_spec


def open_view(workspace: Views, params: Params) -> dict[str, Any]:
    """Answer views.open: a modal as the root of a new stack."""
    user_id = _use_trigger(workspace, params)
    spec = view_spec(params, "modal")
    return {"view": workspace.open_modal(user_id, spec)}


def push(workspace: Views, params: Params) -> dict[str, Any]:
    """Answer views.push: a modal on top of the open ones."""
    user_id = _use_trigger(workspace, params)
    spec = view_spec(params, "modal")
    if not workspace.open_modals(user_id):
        raise SlackCallError("view_not_found")
    return {"view": workspace.push_modal(user_id, spec)}


def update(workspace: Views, params: Params) -> dict[str, Any]:
    """Answer views.update: new content for a shown view, by view_id or external_id."""
    view_id = _view_id_for(workspace, params)
    current = workspace.view(view_id)
    spec = view_spec(params, current["type"])
    expected_hash = params.text("hash")
    if expected_hash is not None and expected_hash != current["hash"]:
        raise SlackCallError("hash_conflict")
    return {"view": workspace.update_view(view_id, spec)}


def publish(workspace: Views, params: Params) -> dict[str, Any]:
    """Answer views.publish: a person's Home view, new or replaced."""
    user = workspace.user(params.required("user_id", "user_not_found"))
    spec = view_spec(params, "home")
    home = workspace.home_view(user.id)
    if home is None:
        return {"view": workspace.publish_home(user.id, spec)}
    expected_hash = params.text("hash")
    if expected_hash is not None and expected_hash != home["hash"]:
        raise SlackCallError("hash_conflict")
    return {"view": workspace.update_view(home["id"], spec)}


def _use_trigger(workspace: Views, params: Params) -> str:
    return workspace.use_trigger(params.text("trigger_id") or params.required("interactivity_pointer"))


def _view_id_for(workspace: Views, params: Params) -> str:
    view_id = params.text("view_id")
    if view_id is not None:
        workspace.view(view_id)
        return view_id
    found = workspace.view_by_external_id(params.required("external_id", "invalid_arguments"))
    if found is None:
        raise SlackCallError("view_not_found")
    return found


METHODS: dict[str, Callable[[Views, Params], dict[str, Any]]] = {
    "views.open": open_view,
    "views.push": push,
    "views.update": update,
    "views.publish": publish,
}
