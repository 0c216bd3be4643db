"""Checking a workflow's admin templates (messages, subjects, bodies) on sample data before it is saved."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engine.actions import Company, sample_contact, sample_record, template_context, template_sources
from engine.errors import InvalidDefinitionError
from engine.workflows import WorkflowDefinition
from messages.render import Renderer, check_user_template

SAMPLE_COMPANY = "Sample Company"


def template_problem(source: str, context: dict[str, Any], renderer: Renderer) -> str | None:
    """Return why an admin template does not compile, render or keep to its budget on the context (with its line)."""
    return check_user_template(source, context, renderer)


def check_templates(definition: WorkflowDefinition, renderer: Renderer, now: datetime) -> None:
    """Raise InvalidDefinitionError naming each message, subject or body that fails on sample data."""
    tz = renderer.fmt.tz
    context = template_context(sample_record(definition.record_type, now, tz), sample_contact(definition.record_type),
                               definition, Company(SAMPLE_COMPANY, renderer.timezone), now)
    problems = []
    for path, source in template_sources(definition):
        problem = template_problem(source, context, renderer)
        if problem is not None:
            problems.append({"path": path, "message": problem})
    if problems:
        first = problems[0]
        raise InvalidDefinitionError(f"invalid workflow: {first['path']}: {first['message']}", problems)
