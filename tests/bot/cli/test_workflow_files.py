"""Workflows as YAML files: apply (all or nothing, errors with file, document and path) and export."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli.main import main
from bot.cli.workflow_files import apply_files, export_workflows
from engine.catalog import catalog
from engine.errors import InvalidDefinitionError
from engine.workflows import Workflow
from messages.render import Renderer
from storage.sqlite import Database

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
RENDERER = Renderer("en", "Europe/Paris")
SPEC_EXAMPLE = """\
name: Large invoices need two approvals
record_type: invoice
trigger: created
conditions:
  - {field: amount, op: gt, value: "5000"}
  - {field: customer.state, op: in, value: [CA, NY]}
actions:
  - type: approval
    steps:
      - {approvers: [U01AAA, U01BBB, U01CCC], min_approvers: 2}
      - {approvers: ["group:finance-leads"], min_approvers: 1}
    remind_every: P1D        # ISO 8601 durations
    escalate_after: P3D
    escalate_to: [U01DDD]
    expire_after: P30D
  - type: notification
    channel: "#finance"
    message: "{{ record.type }} {{ record.id }} for {{ record.amount | money }} awaits approval"
"""
BILLS = {"name": "Bills", "record_type": "bill",
         "actions": [{"type": "notification", "channel": "#finance", "message": "{{ record.id }}"}]}


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "a.db")
    yield database
    await database.close()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def apply(db: Database, *paths: Path, dry_run: bool = False) -> str:
    return (await apply_files(db, list(paths), RENDERER, NOW, dry_run)).text()


async def stored(db: Database) -> list[Workflow]:
    async with db.read() as repo:
        return await repo.list_workflows()


async def names(db: Database) -> list[str]:
    return [w.name for w in await stored(db)]


async def test_export_then_apply_on_an_empty_database_gives_identical_definitions(db: Database, tmp_path: Path) -> None:
    many = [t.definition.model_dump(mode="json") for t in catalog()]
    await apply(db, write(tmp_path, "spec.yml", SPEC_EXAMPLE), write(tmp_path, "catalog.yml", yaml.safe_dump(many)))
    source = await stored(db)
    assert len(source) == 2 + 1 + len(many)
    exported = await export_workflows(db)
    target = await Database.open(tmp_path / "b.db")
    try:
        report = await apply(target, write(tmp_path, "export.yml", exported))
        copied = await stored(target)
        assert {w.id: w.definition() for w in copied} == {w.id: w.definition() for w in source}
        assert await export_workflows(target) == exported
        assert report.count("created:") == len(source) - 2 and report.count("unchanged:") == 2
    finally:
        await target.close()


async def test_documents_and_lists_are_both_accepted(db: Database, tmp_path: Path) -> None:
    documents = "---\n" + yaml.safe_dump(BILLS) + "---\n" + SPEC_EXAMPLE
    listed = yaml.safe_dump([{**BILLS, "name": "Bills 2"}, {**BILLS, "name": "Bills 3"}])
    await apply(db, write(tmp_path, "docs.yml", documents), write(tmp_path, "list.yml", listed))
    applied = [n for n in await names(db) if not n.endswith("reminder")]
    assert applied == ["Bills", "Large invoices need two approvals", "Bills 2", "Bills 3"]


async def test_an_id_updates_that_workflow(db: Database, tmp_path: Path) -> None:
    renamed = yaml.safe_dump({"id": "wf_bills", **BILLS, "name": "All bills"})
    await apply(db, write(tmp_path, "one.yml", yaml.safe_dump({"id": "wf_bills", **BILLS})))
    report = await apply(db, write(tmp_path, "two.yml", renamed))
    assert report == "updated: wf_bills (All bills)"
    again = await apply(db, write(tmp_path, "three.yml", renamed))
    assert again == "unchanged: wf_bills (All bills)"
    [bills] = [w for w in await stored(db) if w.id == "wf_bills"]
    assert bills.name == "All bills"


async def test_dry_run_saves_nothing(db: Database, tmp_path: Path) -> None:
    before = await names(db)
    report = await apply(db, write(tmp_path, "bills.yml", yaml.safe_dump(BILLS)), dry_run=True)
    assert report.startswith("would be created: wf_") and await names(db) == before


BROKEN_TEMPLATE = {**BILLS, "actions": [{"type": "notification", "channel": "#finance", "message": "a\n{{ x "}]}
SIX = {**BILLS, "actions": [{"type": "approval", "steps": [{"approvers": ["U1AA", "U2AA", "U3AA", "U4AA",
                                                                         "U5AA", "U6AA"]}]}]}


BILLS_LINES = len(yaml.safe_dump(BILLS).splitlines())


@pytest.mark.parametrize(
    ("text", "where", "path", "message"),
    [
        (yaml.safe_dump_all([BILLS, {**BILLS, "conditions": [{"field": "colour", "op": "eq", "value": 1}]}]),
         "document 2", "conditions[0].field", "unknown field"),
        (yaml.safe_dump([BILLS, BILLS, {**BILLS, "conditions": [{"field": "memo", "op": "gt", "value": "1"}]}]),
         "document 3", "conditions[0].op", "does not apply"),
        (yaml.safe_dump(BROKEN_TEMPLATE), "document 1", "actions[0].message", "line 2"),
        (yaml.safe_dump(SIX), "document 1", "actions[0].steps[0].approvers", "at most 5"),
        (yaml.safe_dump({**BILLS, "id": "bad id!"}), "document 1", "id", "letters, digits"),
        (yaml.safe_dump_all([{**BILLS, "id": "wf_x"}, {**BILLS, "id": "wf_x"}]), "document 2", "id", "twice"),
        ("- just a string\n", "document 1", "(root)", "expected an object"),
        ("name: [unclosed\n", "bad.yml", "line 2", "expected"),
        (yaml.safe_dump(BILLS) + "record_type: invoice\n", "bad.yml", f"line {BILLS_LINES + 1}",
         "the key 'record_type' is given twice"),
        (yaml.safe_dump(BILLS) + yaml.safe_dump({**BILLS, "name": "Second, with no --- before it"}), "bad.yml",
         f"line {BILLS_LINES + 1}", "given twice"),
    ],
)
async def test_an_invalid_definition_saves_nothing(
    db: Database, tmp_path: Path, text: str, where: str, path: str, message: str
) -> None:
    good = write(tmp_path, "good.yml", yaml.safe_dump({**BILLS, "name": "Would be saved"}))
    bad = write(tmp_path, "bad.yml", text)
    before = await names(db)
    with pytest.raises(InvalidDefinitionError) as caught:
        await apply(db, good, bad)
    found = [d for d in caught.value.details if where in d["where"] and d["path"] == path and message in d["message"]]
    assert found and found[0]["file"] == str(bad), caught.value.details
    assert await names(db) == before


def test_cli_apply_and_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    database = str(tmp_path / "cli.db")
    assert main(["migrate", "--database", database]) == 0
    spec = write(tmp_path, "spec.yml", SPEC_EXAMPLE)
    assert main(["workflows", "apply", str(spec), "--dry-run", "--database", database]) == 0
    assert "would be created" in capsys.readouterr().out
    assert main(["workflows", "apply", str(spec), "--database", database]) == 0
    assert capsys.readouterr().out.startswith("created: wf_")
    out = tmp_path / "all.yml"
    assert main(["workflows", "export", "--out", str(out), "--database", database]) == 0
    exported: list[Any] = list(yaml.safe_load_all(out.read_text(encoding="utf-8")))
    assert [d["name"] for d in exported][-1] == "Large invoices need two approvals"
    assert main(["workflows", "export", "--database", database]) == 0
    assert capsys.readouterr().out == out.read_text(encoding="utf-8")


def test_cli_reports_every_problem_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path, "bad.yml", yaml.safe_dump_all([BILLS, SIX]))
    assert main(["migrate", "--database", str(tmp_path / "cli.db")]) == 0
    assert main(["workflows", "apply", str(bad), "--database", str(tmp_path / "cli.db")]) == 1
    err = capsys.readouterr().err
    assert f"{bad}: document 2: actions[0].steps[0].approvers:" in err and "nothing was saved" in err
    assert main(["workflows", "apply", str(tmp_path / "missing.yml"), "--database", str(tmp_path / "cli.db")]) == 1
    assert "missing.yml" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["workflows", "export"], ["workflows", "apply", "--dry-run", "x.yml"],
                                     ["workflows", "apply", "x.yml"], ["tokens", "list"], ["migrate", "--check"]])
def test_a_mistyped_database_is_refused_and_not_created(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    typo = tmp_path / "signof.db"
    assert main([*command, "--database", str(typo)]) == 2
    assert "no Signoff database at" in capsys.readouterr().err and not typo.exists()


def test_cli_refuses_a_condition_on_a_missing_group_even_in_a_dry_run(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    in_group = {**BILLS, "conditions": [{"field": "vendor", "op": "in_group", "value": "travel-vendors"}]}
    path = write(tmp_path, "group.yml", yaml.safe_dump(in_group))
    assert main(["migrate", "--database", str(tmp_path / "cli.db")]) == 0
    for dry_run in (["--dry-run"], []):
        assert main(["workflows", "apply", str(path), *dry_run, "--database", str(tmp_path / "cli.db")]) == 1
        err = capsys.readouterr().err
        assert "workflow 'Bills': conditions[0].value: no group 'travel-vendors'" in err and "nothing was saved" in err
    assert main(["workflows", "export", "--database", str(tmp_path / "cli.db")]) == 0
    assert "Bills" not in capsys.readouterr().out
