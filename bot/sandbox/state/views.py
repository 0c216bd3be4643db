"""Modals (a stack per person), Home views, what people typed in them, and the trigger ids that open them."""

from __future__ import annotations

import copy
import secrets
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.sandbox.blockkit.elements import kept_input_state
from bot.sandbox.blockkit.validation import validate_view
from bot.sandbox.errors import SlackCallError, UnknownViewError
from bot.sandbox.params import Params
from bot.sandbox.state.directory import Directory
from bot.sandbox.state.model import APP_ID, BOT_ID, TEAM_ID

MAX_MODAL_STACK = 3


@dataclass
class _Trigger:
    user_id: str
    issued_at_s: float
    used: bool = False


def view_spec(params: Params, kind: str) -> dict[str, Any]:
    """Return the ``view`` argument of a call, refused as Slack does unless it is a valid view of this kind."""
    spec = params.decoded("view", "invalid_arguments")
    if not isinstance(spec, dict):
        raise SlackCallError("invalid_arguments", detail="view is required")
    problems = validate_view(spec)
    if spec.get("type") != kind:
        problems.append(f"[ERROR] must be '{kind}' here [json-pointer:/view/type]")
    if problems:
        raise SlackCallError(
            "invalid_arguments", errors=problems, response_metadata={"messages": problems}
        )
    return spec


class Views(Directory):
    """Every open modal and published Home view, whom each is shown to, and the input errors of modals."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._views: dict[str, dict[str, Any]] = {}
        self._view_owner: dict[str, str] = {}
        self._view_errors: dict[str, dict[str, str]] = {}
        self._modal_stacks: dict[str, list[str]] = defaultdict(list)
        self._homes: dict[str, str] = {}
        self._triggers: dict[str, _Trigger] = {}

    # Reading

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """Return the Home view last published for a user."""
        view_id = self._homes.get(user_id)
        return self._views[view_id] if view_id else None

    def open_modals(self, user_id: str) -> list[dict[str, Any]]:
        """Return the user's open modal stack, root first."""
        return [self._views[view_id] for view_id in self._modal_stacks.get(user_id, [])]

    def view(self, view_id: str) -> dict[str, Any]:
        """Return an open modal or Home view by id."""
        if view_id not in self._views:
            raise UnknownViewError(view_id)
        return self._views[view_id]

    def view_owner(self, view_id: str) -> str:
        """Return the id of the user a view is shown to."""
        self.view(view_id)
        return self._view_owner[view_id]

    def view_errors(self, view_id: str) -> dict[str, str]:
        """Return the input errors the app answered a modal submission with."""
        return dict(self._view_errors.get(view_id, {}))

    def view_by_external_id(self, external_id: str) -> str | None:
        """Return the id of the view the app gave this external_id, if one is shown."""
        return next((view_id for view_id, view in self._views.items() if view.get("external_id") == external_id), None)

    # What people type and pick

    def set_view_state(self, view_id: str, values: dict[str, dict[str, Any]]) -> None:
        """Store what the user typed or picked in a view, as ``state.values``."""
        self.view(view_id)["state"] = {"values": copy.deepcopy(values)}

    def merge_view_state(self, view_id: str, values: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """Add what the user typed or picked to a view's ``state.values``; return the whole state."""
        view = self.view(view_id)
        stored = view.setdefault("state", {}).setdefault("values", {})
        for block_id, entries in values.items():
            stored.setdefault(block_id, {}).update(copy.deepcopy(dict(entries)))
        return copy.deepcopy(view["state"])

    # Trigger ids

    def issue_trigger_id(self, user_id: str) -> str:
        """Issue a trigger id for a user's interaction, valid for a short while."""
        self.user(user_id)
        trigger_id = f"{next(self._sequence)}.{int(self.wall_clock())}.{secrets.token_hex(10)}"
        self._triggers[trigger_id] = _Trigger(user_id, self.clock())
        return trigger_id

    def use_trigger(self, trigger_id: str) -> str:
        """Spend a trigger id, refused as Slack does when unknown, used or expired; return its user's id."""
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            raise SlackCallError("invalid_trigger_id")
        if trigger.used:
            raise SlackCallError("exchanged_trigger_id")
        age_s = self.clock() - trigger.issued_at_s
        if self.trigger_ttl_s is not None and age_s > self.trigger_ttl_s:
            raise SlackCallError("expired_trigger_id")
        trigger.used = True
        return trigger.user_id

    # Opening, changing and closing views

    def open_modal(self, user_id: str, spec: dict[str, Any]) -> dict[str, Any]:
        """Open a modal as the root of a new stack, closing the user's open modals."""
        for view_id in self._modal_stacks.get(user_id, []):
            self._forget_view(view_id)
        self._modal_stacks[user_id] = []
        return self.push_modal(user_id, spec)

    def push_modal(self, user_id: str, spec: dict[str, Any]) -> dict[str, Any]:
        """Push a modal on top of the user's stack."""
        stack = self._modal_stacks[user_id]
        if len(stack) >= MAX_MODAL_STACK:
            raise SlackCallError("push_limit_reached")
        self._check_external_id_free(spec)
        root_view_id = stack[0] if stack else None
        previous_view_id = stack[-1] if stack else None
        view = self._new_view(user_id, spec, root_view_id, previous_view_id)
        stack.append(view["id"])
        self._notify("view_opened", user=user_id, view_id=view["id"])
        return view

    def publish_home(self, user_id: str, spec: dict[str, Any]) -> dict[str, Any]:
        """Publish a user's first Home view."""
        view = self._new_view(user_id, spec, root_view_id=None, previous_view_id=None)
        self._homes[user_id] = view["id"]
        self._notify("home_published", user=user_id, view_id=view["id"])
        return view

    def update_view(self, view_id: str, spec: dict[str, Any]) -> dict[str, Any]:
        """Replace a view's content, keeping what the user entered in unchanged inputs."""
        current = self._views[view_id]
        view = self._shape_view(view_id, spec)
        view["root_view_id"] = current["root_view_id"]
        view["previous_view_id"] = current["previous_view_id"]
        view["state"] = {"values": kept_input_state(current, view["blocks"])}
        self._views[view_id] = view
        self._view_errors.pop(view_id, None)
        self._notify("view_updated", user=self._view_owner[view_id], view_id=view_id)
        return view

    def close_modal(self, user_id: str, view_id: str | None = None) -> None:
        """Close the user's top modal (or the given one and every modal above it)."""
        stack = self._modal_stacks.get(user_id) or []
        if not stack:
            return
        position = stack.index(view_id) if view_id in stack else len(stack) - 1
        closed = stack[position:]
        del stack[position:]
        for closed_id in closed:
            self._forget_view(closed_id)
        self._notify("view_closed", user=user_id, view_id=closed[0])

    def clear_modals(self, user_id: str) -> None:
        """Close every modal the user has open."""
        stack = self._modal_stacks.get(user_id) or []
        if stack:
            self.close_modal(user_id, stack[0])

    def _check_external_id_free(self, spec: dict[str, Any]) -> None:
        external_id = spec.get("external_id")
        if external_id and any(v.get("external_id") == external_id for v in self._views.values()):
            raise SlackCallError("duplicate_external_id")

    def _new_view(
        self,
        user_id: str,
        spec: dict[str, Any],
        root_view_id: str | None,
        previous_view_id: str | None,
    ) -> dict[str, Any]:
        view_id = self._new_id("V")
        view = self._shape_view(view_id, spec)
        view["root_view_id"] = root_view_id or view_id
        view["previous_view_id"] = previous_view_id
        self._views[view_id] = view
        self._view_owner[view_id] = user_id
        return view

    def _shape_view(self, view_id: str, spec: dict[str, Any]) -> dict[str, Any]:
        view = {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": spec["type"],
            "blocks": self._with_ids(spec.get("blocks") or []),
            "private_metadata": spec.get("private_metadata", ""),
            "callback_id": spec.get("callback_id", ""),
            "external_id": spec.get("external_id", ""),
            "state": {"values": {}},
            "hash": f"{int(self.wall_clock())}.{next(self._sequence):08x}",
            "clear_on_close": bool(spec.get("clear_on_close", False)),
            "notify_on_close": bool(spec.get("notify_on_close", False)),
            "app_id": APP_ID,
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }
        for key in ("title", "submit", "close"):
            if key in spec:
                view[key] = copy.deepcopy(spec[key])
        return view

    def _forget_view(self, view_id: str) -> None:
        self._views.pop(view_id, None)
        self._view_owner.pop(view_id, None)
        self._view_errors.pop(view_id, None)
