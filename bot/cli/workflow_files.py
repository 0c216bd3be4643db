"""Workflows as YAML files: `signoff workflows apply FILE…` and `signoff workflows export`.

A file holds one or many definitions, as `---`-separated documents or as a list. A definition
with an `id` updates that workflow (or creates it under that id); without one it is created.
Every definition is checked before anything is saved: one invalid definition saves nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from bot.core import yaml_text
from bot.core.template_checks import check_templates
from bot.core.workflows import save_definitions
from bot.errors import Refused, SettingsError
from bot.settings import ENV_NAMES, Settings
from engine.errors import InvalidDefinitionError
from engine.workflows import Workflow, WorkflowDefinition, parse_definition
from messages.render import Renderer
from storage import open_store
from storage.errors import StorageError
from storage.ports import Store

WORKFLOW_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
ACTOR = "cli"


@dataclass(frozen=True)
class Document:
    """One definition read from a file: where it came from (1-based document number) and its data."""

    file: str
    number: int
    data: Any

    def where(self) -> str:
        """Return `FILE: document N`."""
        return f"{self.file}: document {self.number}"


@dataclass(frozen=True)
class Checked:
    """A valid definition and the workflow id it targets (None: a new workflow)."""

    document: Document
    workflow_id: str | None
    definition: WorkflowDefinition


@dataclass
class ApplyReport:
    """What applying did (or would do, in a dry run)."""

    dry_run: bool
    lines: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, verb: str, workflow_id: str, name: str) -> None:
        """Record one outcome: created, updated or unchanged."""
        self.lines.append((verb, workflow_id, name))

    def text(self) -> str:
        """Return the report, one line per definition."""
        prefix = "would be " if self.dry_run else ""
        return "\n".join(f"{prefix}{verb}: {wid} ({name})" for verb, wid, name in self.lines)


def _problem(document: Document | None, file: str, path: str, message: str) -> dict[str, str]:
    where = document.where() if document else file
    return {"file": file, "document": str(document.number) if document else "", "path": path,
            "message": message, "where": where}


def _raise(problems: list[dict[str, str]]) -> None:
    if problems:
        first = problems[0]
        raise InvalidDefinitionError(f"{first['where']}: {first['path']}: {first['message']}", problems)


def read_documents(text: str, file: str) -> list[Document]:
    """Split a YAML text into definitions; raise InvalidDefinitionError naming the file and line."""
    try:
        raw = [doc for doc in yaml_text.load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}" if mark is not None else "(file)"
        _raise([_problem(None, file, line, str(getattr(exc, "problem", None) or exc).splitlines()[0])])
        return []
    items = raw[0] if len(raw) == 1 and isinstance(raw[0], list) else raw
    return [Document(file, number, data) for number, data in enumerate(items, start=1)]


def _split_id(document: Document) -> tuple[str | None, Any, list[dict[str, str]]]:
    data = document.data
    if not isinstance(data, dict) or "id" not in data:
        return None, data, []
    data = dict(data)
    workflow_id = data.pop("id")
    if not isinstance(workflow_id, str) or not WORKFLOW_ID.match(workflow_id):
        message = "must be 1-64 letters, digits, '_', '.' or '-'"
        return None, data, [_problem(document, document.file, "id", message)]
    return workflow_id, data, []


def check_document(
    document: Document, renderer: Renderer, now: datetime
) -> tuple[Checked | None, list[dict[str, str]]]:
    """Validate one definition (schema, conditions, templates); return it or its problems."""
    workflow_id, data, problems = _split_id(document)
    try:
        definition = parse_definition(data)
        check_templates(definition, renderer, now)
    except InvalidDefinitionError as exc:
        problems += [_problem(document, document.file, d["path"], d["message"]) for d in exc.details]
        return None, problems
    return (None, problems) if problems else (Checked(document, workflow_id, definition), [])


def check_documents(documents: Sequence[Document], renderer: Renderer, now: datetime) -> list[Checked]:
    """Validate every definition; raise InvalidDefinitionError listing every problem of every file."""
    checked, problems, seen = [], [], set[str]()
    for document in documents:
        item, found = check_document(document, renderer, now)
        problems += found
        if item is not None and item.workflow_id in seen:
            problems.append(_problem(document, document.file, "id", f"{item.workflow_id} is defined twice"))
        elif item is not None:
            checked.append(item)
            seen |= {item.workflow_id} if item.workflow_id else set()
    _raise(problems)
    return checked


async def apply_checked(db: Store, items: Sequence[Checked], now: datetime, dry_run: bool = False) -> ApplyReport:
    """Save checked definitions in one unit of work (nothing in a dry run); return what happened."""
    report = ApplyReport(dry_run)
    pairs = [(item.workflow_id, item.definition) for item in items]
    for verb, workflow_id, name in await save_definitions(db, pairs, now, ACTOR, dry_run=dry_run):
        report.add(verb, workflow_id, name)
    return report


def export_text(workflows: Sequence[Workflow]) -> str:
    """Return workflows as `---`-separated YAML documents, each with its id, oldest first."""
    documents = [{"id": w.id, **w.definition().model_dump(mode="json")} for w in workflows]
    return yaml.safe_dump_all(documents, sort_keys=False, allow_unicode=True, explicit_start=True, width=4096)


async def export_workflows(db: Store) -> str:
    """Return every stored workflow as YAML."""
    async with db.read() as repo:
        return export_text(await repo.list_workflows())


async def apply_files(
    db: Store, paths: Sequence[Path], renderer: Renderer, now: datetime, dry_run: bool = False
) -> ApplyReport:
    """Read, check and apply workflow files; raise InvalidDefinitionError (nothing saved) when any is invalid."""
    documents: list[Document] = []
    problems: list[dict[str, str]] = []
    for path in paths:
        try:
            documents += read_documents(path.read_text(encoding="utf-8"), str(path))
        except InvalidDefinitionError as exc:
            problems += exc.details
        except OSError as exc:
            problems.append(_problem(None, str(path), "(file)", exc.strerror or str(exc)))
    _raise(problems)
    return await apply_checked(db, check_documents(documents, renderer, now), now, dry_run)


def file_settings(database: str | None) -> Settings:
    """Read the settings the file commands need (database, time zone, locale); Slack settings are not needed."""
    overrides: dict[str, Any] = {"database": database} if database else {}
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = ENV_NAMES.get(str(err["loc"][0]) if err["loc"] else "?", "?")
        raise SettingsError(f"{name} is invalid: {err['msg'].removeprefix('Value error, ')}") from exc


def add_workflow_commands(sub: Any) -> None:
    """Register `signoff workflows apply|export` on the command line parser."""
    workflows = sub.add_parser("workflows", help="apply or export workflow definitions as YAML")
    actions = workflows.add_subparsers(dest="workflows_command", required=True)
    apply = actions.add_parser("apply", help="create or update workflows from YAML files")
    apply.add_argument("files", nargs="+", type=Path, metavar="FILE.yml")
    apply.add_argument("--dry-run", action="store_true", help="check and report, save nothing")
    apply.add_argument("--database", help="SQLite file (default: SIGNOFF_DATABASE)")
    export = actions.add_parser("export", help="write every workflow as YAML")
    export.add_argument("--out", type=Path, help="file to write (default: standard output)")
    export.add_argument("--database", help="SQLite file (default: SIGNOFF_DATABASE)")


async def _command(args: argparse.Namespace, settings: Settings) -> int:
    db = await open_store(settings.database, migrate=False, create=False)
    try:
        if args.workflows_command == "export":
            text = await export_workflows(db)
            if args.out:
                args.out.write_text(text, encoding="utf-8")
            else:
                sys.stdout.write(text)
            return 0
        renderer = Renderer(settings.locale, settings.timezone)
        report = await apply_files(db, args.files, renderer, datetime.now(UTC), args.dry_run)
        print(report.text())
        return 0
    finally:
        await db.close()


def run_workflow_command(args: argparse.Namespace) -> int:
    """Run `signoff workflows …`; print problems (file, document, path) and return 1 when invalid."""
    try:
        return asyncio.run(_command(args, file_settings(args.database)))
    except (SettingsError, StorageError) as exc:
        print(f"signoff: {exc}", file=sys.stderr)
        return 2
    except (InvalidDefinitionError, Refused) as exc:
        for problem in exc.details:
            print(f"signoff: {problem.get('where', '-')}: {problem['path']}: {problem['message']}", file=sys.stderr)
        print("signoff: nothing was saved", file=sys.stderr)
        return 1
