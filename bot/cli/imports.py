"""`signoff import TYPE FILE`: documents from a CSV or JSON file, each saved as the REST API's PUT saves it.

CSV: a header row names the columns as the API names the fields (`id`, `amount`, `currency`, `customer`,
`due_date`…; `fields.NAME` for a custom field); an empty cell leaves its field out; commas, semicolons or tabs
separate the cells. JSON: a list of documents, or `{"records": [...]}`, as the API's GET returns them too (their
read-only keys checked against the database as PUT checks them). A document's source is `import` unless its row
names another. Every row is checked before any is saved: one invalid row saves nothing, and every problem is printed
with its line (CSV) or its position (JSON). The running bot then sends the approvals they start.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import re
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from bot.clock import SystemClock
from bot.core.records import CREATED, UNCHANGED, UPDATED, ImportReport
from bot.core.service import Signoff
from bot.errors import Refused, SettingsError
from bot.senders.slack import SlackOut, make_client
from bot.settings import load_settings
from engine.records import MAX_IMPORT_ROWS, ImportRow, RecordImport, RecordType, exchange_rate_problem
from storage import open_store
from storage.errors import StorageError

ACTOR = "cli"
FIELDS_PREFIX = "fields."
DELIMITERS = ",;\t"
ROWS = TypeAdapter(ImportRow)
PARTLY = ("rows before it may have been imported; once it is fixed, importing the file again finishes the import "
          "(rows imported already come out unchanged)")


class ImportFileError(Exception):
    """A file that cannot be read as documents: its problems, one line each."""

    def __init__(self, problems: list[str], outcome: str = "nothing was imported") -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
        self.outcome = outcome


def add_import_command(sub: Any) -> None:
    """Register `signoff import TYPE FILE` on the command line parser."""
    parser = sub.add_parser("import", help="create or update documents from a CSV or JSON file")
    parser.add_argument("record_type", choices=[t.value for t in RecordType], help="the type of every document")
    parser.add_argument("file", help="a .csv file with a header row, or a .json file")
    parser.add_argument("--database", help="SQLite file or PostgreSQL URL (default: SIGNOFF_DATABASE)")


def read_rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """Return each document of a file with where it is (`line N` or `record N`); raise ImportFileError."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFileError([f"{path}: cannot be read as UTF-8 text ({exc})"]) from exc
    return _json_rows(path, text) if path.suffix.lower() == ".json" else _csv_rows(text)


def _json_rows(path: Path, text: str) -> list[tuple[str, dict[str, Any]]]:
    try:
        data = json.loads(text, parse_float=Decimal, parse_constant=_not_a_number)  # money stays as written
    except ValueError as exc:
        raise ImportFileError([f"{path}: not JSON ({exc})"]) from exc
    records = data.get("records") if isinstance(data, dict) else data
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ImportFileError([f"{path}: expected a list of documents, or {{\"records\": [...]}}"])
    return [(f"record {n}", r) for n, r in enumerate(records, start=1)]


def _not_a_number(name: str) -> Any:
    raise ValueError(f"{name} is not a number a document can hold")


def _csv_rows(text: str) -> list[tuple[str, dict[str, Any]]]:
    header = text.partition("\n")[0]
    if not header.strip():
        raise ImportFileError(["the file has no header row"])
    # cells quoted as RFC 4180 says (a doubled quote is one), whatever the header looks like
    reader = csv.reader(io.StringIO(text, newline=""), doublequote=True, quotechar='"', strict=True, **_dialect(header))
    names = [name.strip() for name in next(reader)]
    _check_header(names)
    rows, start = [], reader.line_num + 1
    try:
        for cells in reader:
            where, start = f"line {start}", reader.line_num + 1  # a quoted cell may hold line breaks
            if any(cell.strip() for cell in cells):
                rows.append((where, _document(where, names, cells)))
    except csv.Error as exc:
        raise ImportFileError([f"line {start}: not CSV as a spreadsheet writes it ({exc})"]) from exc
    return rows


def _dialect(header: str) -> dict[str, Any]:
    """Return the delimiter the header row uses (a comma when it names a single column) and whether a space follows
    each."""
    try:
        sniffed = csv.Sniffer().sniff(header, delimiters=DELIMITERS)
    except csv.Error:
        return {"delimiter": ","}
    return {"delimiter": sniffed.delimiter, "skipinitialspace": sniffed.skipinitialspace}


def _document(where: str, names: list[str], cells: list[str]) -> dict[str, Any]:
    """Return the document of a row's cells (an empty cell leaves its field out)."""
    if len(cells) != len(names):
        raise ImportFileError([f"{where}: {'more' if len(cells) > len(names) else 'fewer'} cells than the header has "
                               "columns"])
    return _nested({name: value for name, value in zip(names, cells, strict=True) if value != ""})


def _check_header(names: list[str]) -> None:
    """Refuse a header that names a column twice (which value would count?)."""
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ImportFileError([f"line 1: the header names {', '.join(repeated)} more than once"])


def _nested(cells: dict[str, str]) -> dict[str, Any]:
    """Gather `fields.NAME` columns into the document's custom fields."""
    document: dict[str, Any] = {k: v for k, v in cells.items() if not k.startswith(FIELDS_PREFIX)}
    custom = {k.removeprefix(FIELDS_PREFIX): v for k, v in cells.items() if k.startswith(FIELDS_PREFIX)}
    if custom:
        document["fields"] = custom
    return document


def checked(rows: Sequence[tuple[str, dict[str, Any]]], home_currency: str | None = None) -> list[RecordImport]:
    """Validate every row (its exchange rate too, when the company has a currency), refuse repeated ids, and split
    the rows into imports the API would take; raise ImportFileError with every problem."""
    problems: list[str] = []
    valid: list[ImportRow] = []
    seen: dict[str, str] = {}
    for where, data in rows:
        try:
            row = ROWS.validate_python(data)
        except ValidationError as exc:
            problems += [f"{where}: {'.'.join(map(str, e['loc'])) or '(row)'}: {e['msg'].removeprefix('Value error, ')}"
                         for e in exc.errors()]
            continue
        if (problem := exchange_rate_problem(row, home_currency)) is not None:
            problems.append(f"{where}: exchange_rate: {problem}")
        if row.id in seen:
            problems.append(f"{where}: id {row.id!r} is already on {seen[row.id]}")
        seen.setdefault(row.id, where)
        valid.append(row)
    if not rows:
        problems.append("the file holds no document")
    if problems:
        raise ImportFileError(problems)
    return [RecordImport.model_construct(records=valid[i:i + MAX_IMPORT_ROWS])
            for i in range(0, len(valid), MAX_IMPORT_ROWS)]


async def _import(record_type: RecordType, path: Path, database: str | None) -> ImportReport:
    settings = load_settings(**({"database": database} if database else {}))
    rows = read_rows(path)
    batches = checked(rows, settings.currency)
    db = await open_store(settings.database, create=False)
    try:
        service = Signoff(db, settings, SlackOut(make_client(settings.slack_bot_token, settings.slack_api_url)),
                          SystemClock())
        await _check_all(service, record_type, batches, rows)
        report = ImportReport()
        for number, batch in enumerate(batches):
            try:
                saved = await service.records.import_records(record_type, batch, ACTOR)
            except Refused as exc:  # a document changed since it was checked
                raise ImportFileError(located(exc, rows[number * MAX_IMPORT_ROWS:]), PARTLY) from exc
            report.records += saved.records
            for change, count in saved.counts.items():
                report.counts[change] += count
        return report
    finally:
        await db.close()


async def _check_all(service: Signoff, record_type: RecordType, batches: Sequence[RecordImport],
                     rows: Sequence[tuple[str, Any]]) -> None:
    """Check every row against the database before any is saved; raise ImportFileError with every problem."""
    problems = []
    for number, batch in enumerate(batches):
        try:
            await service.records.check_import(record_type, batch)
        except Refused as exc:
            problems += located(exc, rows[number * MAX_IMPORT_ROWS:])
    if problems:
        raise ImportFileError(problems)


def located(refusal: Refused, rows: Sequence[tuple[str, Any]]) -> list[str]:
    """Return the problems of a refused import, each at its row's place in the file (`records.N.KEY`: `line M: KEY`)."""
    problems = []
    for detail in refusal.details or [{"message": refusal.message}]:
        path, message = detail.get("path", ""), detail.get("message", "")
        match = re.fullmatch(r"records\.(\d+)\.(.+)", path)
        if match and int(match[1]) < len(rows):
            problems.append(f"{rows[int(match[1])][0]}: {match[2]}: {message}")
        else:
            problems.append(f"{path}: {message}" if path else message)
    return problems


def summary(record_type: RecordType, report: ImportReport) -> str:
    """Return what an import did, in one line."""
    pending = sum(1 for r in report.records if r.approval_status.value == "pending")
    return (f"imported {len(report.records)} {record_type.value} documents: {report.counts[CREATED]} created, "
            f"{report.counts[UPDATED]} updated, {report.counts[UNCHANGED]} unchanged; {pending} pending approval")


def run_import_command(args: argparse.Namespace) -> int:
    """Run `signoff import TYPE FILE`; print what it did, or every problem (nothing saved)."""
    record_type = RecordType(args.record_type)
    try:
        report = asyncio.run(_import(record_type, Path(args.file), args.database))
    except ImportFileError as exc:
        print("\n".join(f"signoff: {args.file}: {p}" for p in exc.problems), file=sys.stderr)
        print(f"signoff: {exc.outcome}", file=sys.stderr)
        return 1
    except (SettingsError, StorageError) as exc:
        print(f"signoff: {exc}", file=sys.stderr)
        return 2
    except Refused as exc:
        details = [f"signoff: {d.get('path', '')}: {d.get('message', '')}" for d in exc.details or []]
        print("\n".join([f"signoff: {exc.message}", *details]), file=sys.stderr)
        return 1
    print(summary(record_type, report))
    return 0
