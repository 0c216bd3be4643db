"""The rule modal: a rule's conditions and results as rows, how the list and the confirmations show a rule."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.core.service import Signoff
from bot.slack.admin_forms import (
    MAX_FORM_ROWS,
    FormRow,
    form_metadata,
    read_input,
    read_metadata,
    read_rows,
    row_count,
    row_errors,
    row_from_condition,
)
from bot.slack.payload import state_values
from bot.slack.workflow_words import value_view
from engine.conditions import ENUM_VALUES
from engine.facts import CONTACT_FIELD_TYPES, RECORD_FIELD_TYPES, field_type
from engine.rules import PREFILL_FIELDS, ChangePreview, Rule

PREVIEW_SHOWN = 20


def rule_view(rule: Rule) -> dict[str, Any]:
    """Return a rule as the list and the confirmations show it: status, conditions in words, results."""
    return {"id": rule.id, "name": rule.name, "status": rule.status.value,
            "conditions": [{"field": c.field, "op": c.op.value, "value": value_view(c.value)}
                           for c in rule.conditions[:10]],
            "more_conditions": max(0, len(rule.conditions) - 10),
            "results": [{"field": k, "value": value_view(v)} for k, v in list(rule.results.items())[:5]]}


def condition_fields() -> list[dict[str, Any]]:
    """Return the fields a condition may read, grouped: the document, its customer, its vendor."""
    contact = [name for name in CONTACT_FIELD_TYPES if name != "id"]
    return [{"group": "document", "fields": list(RECORD_FIELD_TYPES)},
            {"group": "customer", "fields": [f"customer.{n}" for n in contact]},
            {"group": "vendor", "fields": [f"vendor.{n}" for n in contact]}]


def field_choices(name: str | None) -> list[str]:
    """Return the values a field takes when it has a fixed list (types, statuses, yes/no)."""
    if name is None:
        return []
    if field_type(name) == "bool":
        return ["true", "false"]
    return list(ENUM_VALUES.get(name, ()))


def rule_rows_view(rows: Sequence[FormRow]) -> list[dict[str, Any]]:
    """Return condition rows typed by their field."""
    return [row.view(i, field_type(row.field or "") or "string", field_choices(row.field))
            for i, row in enumerate(rows)]


@dataclass(frozen=True)
class RuleForm:
    """What the rule modal holds: the rule edited (None for a new one), its name, conditions and results."""

    rule_id: str | None
    name: str | None
    rows: tuple[FormRow, ...]
    results: tuple[tuple[str | None, str | None], ...]

    @classmethod
    def of(cls, rule: Rule | None) -> RuleForm:
        """Return the form of a stored rule (with one blank row to add), or a blank one."""
        if rule is None:
            return cls(None, None, (FormRow(),), ((None, None),))
        rows = tuple(row_from_condition(c.field, c.op.value, c.value) for c in rule.conditions[:MAX_FORM_ROWS])
        results = tuple((k, str(v)) for k, v in list(rule.results.items())[:MAX_FORM_ROWS])
        return cls(rule.id, rule.name, rows, results)

    @classmethod
    def read(cls, view: Any) -> RuleForm:
        """Return the form as the admin left it in the modal."""
        meta, values = read_metadata(view), state_values(view) or {}
        rows = read_rows(values, "cond", row_count(meta, "c"))
        results = tuple((read_input(values, f"res_field_{i}"), read_input(values, f"res_value_{i}"))
                        for i in range(row_count(meta, "r")))
        rule_id = meta.get("id") if isinstance(meta.get("id"), str) else None
        return cls(rule_id, read_input(values, "name"), tuple(rows), results)

    def grown(self, action_id: str) -> RuleForm:
        """Return the form with one more condition or result row."""
        if action_id == "rule_form_add_condition" and len(self.rows) < MAX_FORM_ROWS:
            return RuleForm(self.rule_id, self.name, (*self.rows, FormRow()), self.results)
        if action_id == "rule_form_add_result" and len(self.results) < MAX_FORM_ROWS:
            return RuleForm(self.rule_id, self.name, self.rows, (*self.results, (None, None)))
        return self

    def definition(self) -> dict[str, Any]:
        """Return the rule definition the form describes (validated by the service)."""
        conditions = [c for row in self.rows if (c := row.condition(field_type(row.field or "") or "string"))]
        return {"name": (self.name or "").strip(), "conditions": conditions,
                "results": {f: (v or "").strip() for f, v in self.results if f}}

    def errors(self, details: Sequence[dict[str, Any]], word: Callable[[dict[str, Any]], str]) -> dict[str, str]:
        """Place a definition's problems on the modal's inputs, worded by `word`."""
        results = {f"results.{f}": f"res_value_{i}" for i, (f, _) in enumerate(self.results) if f}
        results["results"] = "res_field_0"
        errors = {}
        for detail in details:
            path = detail.get("path", "")
            block = results.get(path) or ("cond_field_0" if path == "conditions" else None)
            errors.update(row_errors([detail], "cond", "name", word) if block is None else {block: word(detail)[:150]})
        return errors


def rule_modal(service: Signoff, form: RuleForm) -> dict[str, Any]:
    """Render the modal that creates or edits a rule."""
    view: dict[str, Any] = service.renderer.json(
        "rule_modal.json.j2", is_new=form.rule_id is None, rule_name=form.name, rows=rule_rows_view(form.rows),
        fields=condition_fields(), results=[{"i": i, "field": f, "value": v} for i, (f, v) in enumerate(form.results)],
        result_fields=list(dict.fromkeys([*PREFILL_FIELDS, *(f for f, _ in form.results if f)])),
        can_add={"conditions": len(form.rows) < MAX_FORM_ROWS, "results": len(form.results) < MAX_FORM_ROWS},
        metadata=form_metadata(id=form.rule_id, c=len(form.rows), r=len(form.results)))
    return view


def preview_view(preview: ChangePreview) -> dict[str, Any]:
    """Return the documents a change would touch, as the confirmations list them."""
    return {"count": preview.count, "more": max(0, preview.count - PREVIEW_SHOWN),
            "records": [{"type": t, "id": i} for t, i in preview.records[:PREVIEW_SHOWN]]}
