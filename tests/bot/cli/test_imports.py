"""`signoff import TYPE FILE`: documents from CSV or JSON, every row checked before any is saved."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from bot.cli.imports import ImportFileError, checked, read_rows
from bot.cli.main import main
from tests.bot.slack.test_home import ALICE, BIG_INVOICES, create_workflow
from tests.support.harness import Harness

CSV = """id;amount;currency;customer;due_date;created_by;fields.po_number;memo
INV-1;120.00;EUR;C-ACME;2026-12-20;U0REQ;PO-7;
INV-2;9000.00;EUR;C-ACME;2026-12-20;U0REQ;;"Rush, please"
"""


@pytest.fixture
def cli_env(signoff: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings a `signoff` command run next to the test bot reads."""
    settings = signoff.runtime.service.settings
    for name, value in (("SIGNOFF_DATABASE", settings.database), ("SLACK_BOT_TOKEN", settings.slack_bot_token),
                        ("SLACK_SIGNING_SECRET", "secret"), ("SLACK_API_URL", settings.slack_api_url),
                        ("SIGNOFF_API_TOKEN", "token")):
        monkeypatch.setenv(name, str(value))


async def record(signoff: Harness, record_id: str) -> dict[str, Any] | None:
    response = await signoff.api.get(f"/api/v1/records/invoice/{record_id}")
    return response.json() if response.status_code == 200 else None


async def test_a_csv_file_is_imported_and_its_approvals_are_sent_by_the_bot(
    signoff: Harness, cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    await create_workflow(signoff, BIG_INVOICES)
    path = tmp_path / "invoices.csv"
    path.write_text("\ufeff" + CSV, encoding="utf-8")
    assert await asyncio.to_thread(main, ["import", "invoice", str(path)]) == 0
    assert capsys.readouterr().out.strip() == (
        "imported 2 invoice documents: 2 created, 0 updated, 0 unchanged; 1 pending approval")
    first, second = await record(signoff, "INV-1"), await record(signoff, "INV-2")
    assert first is not None and first["fields"] == {"po_number": "PO-7"} and first["memo"] is None
    assert second is not None and second["memo"] == "Rush, please" and second["source"] == "import"
    await signoff.wait_for(lambda: [m for m in signoff.dm(ALICE) if "INV-2" in m.all_text()], timeout_s=20)
    assert await asyncio.to_thread(main, ["import", "invoice", str(path)]) == 0
    assert "0 created, 0 updated, 2 unchanged" in capsys.readouterr().out


async def test_a_file_with_bad_rows_imports_nothing_and_names_every_problem(
    signoff: Harness, cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"records": [
        {"id": "INV-1", "amount": "10.00"}, {"id": "INV-2", "amount": "1.001"}, {"id": "INV-1", "amount": "3.00"},
        {"amount": "1"}]}))
    assert await asyncio.to_thread(main, ["import", "invoice", str(path)]) == 1
    err = capsys.readouterr().err
    assert "record 2: amount: USD amounts have at most 2 decimal places" in err
    assert "record 3: id 'INV-1' is already on record 1" in err and "record 4: id: Field required" in err
    assert "nothing was imported" in err
    assert await record(signoff, "INV-1") is None


async def test_a_file_of_documents_as_the_api_returned_them_is_checked_against_the_stored_ones(
    signoff: Harness, cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    await signoff.post("/api/v1/imports/invoice", {"records": [
        {"id": f"INV-{n}", "amount": "10.00", "created_by": "U0REQ"} for n in (1, 2)]})
    read = [(await signoff.api.get(f"/api/v1/records/invoice/INV-{n}")).json() for n in (1, 2)]
    path = tmp_path / "export.json"
    path.write_text(json.dumps([{**read[0], "memo": "kept"}, {**read[1], "approval_status": "approved"}]))
    assert await asyncio.to_thread(main, ["import", "invoice", str(path)]) == 1
    err = capsys.readouterr().err
    assert "record 2: approval_status: changes through approvals only (it is none)" in err, err
    assert (await signoff.api.get("/api/v1/records/invoice/INV-1")).json()["memo"] is None
    path.write_text(json.dumps([{**read[0], "memo": "kept"}, read[1]]))
    assert await asyncio.to_thread(main, ["import", "invoice", str(path)]) == 0
    assert "1 updated, 1 unchanged" in capsys.readouterr().out
    assert (await signoff.api.get("/api/v1/records/invoice/INV-1")).json()["memo"] == "kept"


@pytest.mark.parametrize(("text", "suffix", "problem"), [
    ("", ".csv", "no header row"),
    ("id,amount\n", ".csv", "holds no document"),
    ("id,amount\nINV-1,1.00,extra\n", ".csv", "line 2: more cells than the header has columns"),
    ("{", ".json", "not JSON"),
    ('{"rows": []}', ".json", "expected a list of documents"),
    ("id,amount,colour\nINV-1,1.00,red\n", ".csv", "line 2: colour: Extra inputs are not permitted"),
    ("id\tamount\tdue_date\nINV-1\t1.00\t20/12/2026\n", ".csv", "line 2: due_date: must be a date written YYYY-MM-DD"),
    ("id,amount,customer\nSHORT-1\n", ".csv", "line 2: fewer cells than the header has columns"),
    ("id,amount\nNO-AMOUNT,\n", ".csv", "line 2: amount: Field required"),
    ("id,amount,amount\nDC-1,1,2\n", ".csv", "line 1: the header names amount more than once"),
    ('id,memo,amount\nM-1,"two\nlines",1.001\n', ".csv", "line 2: amount: USD amounts have at most 2 decimal places"),
    ('[{"id": "N-1", "amount": NaN}]', ".json", "not JSON"),
    ("id,amount,currency\nL-1,10.00,USD\n\n\nL-2,1.001,USD\n", ".csv", "line 5: amount: USD amounts have at most"),
    ("id,amount\r\nL-1,1\r\n\r\nL-2,1.001\r\n", ".csv", "line 4: amount: USD amounts have at most"),
    ('id,memo,amount\nQ-1,"a ""b""\nc",1\n  \nQ-2,x,1.001\n', ".csv", "line 5: amount: USD amounts have at most"),
])
def test_files_that_are_not_documents_are_refused_with_where(
    tmp_path: Path, text: str, suffix: str, problem: str,
) -> None:
    path = tmp_path / f"f{suffix}"
    path.write_text(text)
    with pytest.raises(ImportFileError) as refused:
        checked(read_rows(path))
    assert any(problem in p for p in refused.value.problems), refused.value.problems


def test_a_large_file_is_split_into_imports_the_api_would_take(tmp_path: Path) -> None:
    path = tmp_path / "many.csv"
    path.write_text("id,amount\n" + "".join(f"INV-{n},{n}.00\n" for n in range(2500)))
    batches = checked(read_rows(path))
    assert [len(b.records) for b in batches] == [1000, 1000, 500]
    with pytest.raises(ImportFileError, match="exchange_rate"):
        checked(read_rows(path), "EUR")


def test_a_file_keeps_money_and_line_breaks_as_written(tmp_path: Path) -> None:
    as_json = tmp_path / "exact.json"
    as_json.write_text('[{"id": "FL-1", "amount": 99999999999999.99}, {"id": "FL-2", "amount": 5.10}]')
    [batch] = checked(read_rows(as_json))
    assert [str(r.amount) for r in batch.records] == ["99999999999999.99", "5.10"]
    as_csv = tmp_path / "lines.csv"
    as_csv.write_bytes(b'id,memo,amount\r\nCSV-1,"line1\r\nline2, with comma",1200.50\r\nCSV-2,plain,3.00\r\n')
    [batch] = checked(read_rows(as_csv))
    assert [(r.id, r.memo, str(r.amount)) for r in batch.records] == [
        ("CSV-1", "line1\nline2, with comma", "1200.50"), ("CSV-2", "plain", "3.00")]


def test_a_csv_cell_keeps_its_doubled_quotes_as_one_and_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "quotes.csv"
    path.write_text('id,amount,currency,memo\nQ-1,10.00,USD,"Order ""ABC"", rush"\n   \n'
                    'Q-2,10.00,USD,"say ""hi"""\n\nQ-3,10.00,USD,"say ""hi""\nsecond line"\n,,,\n')
    [batch] = checked(read_rows(path))
    assert [(r.id, r.memo) for r in batch.records] == [
        ("Q-1", 'Order "ABC", rush'), ("Q-2", 'say "hi"'), ("Q-3", 'say "hi"\nsecond line')]
    semicolons = tmp_path / "semicolons.csv"
    semicolons.write_text('id;amount;memo\nS-1;"1.50";"a ""b"" c"\n')
    [batch] = checked(read_rows(semicolons))
    assert [(r.id, str(r.amount), r.memo) for r in batch.records] == [("S-1", "1.50", 'a "b" c')]


def test_a_csv_written_with_a_space_after_each_comma_is_read_as_written(tmp_path: Path) -> None:
    path = tmp_path / "spaced.csv"
    path.write_text('id, amount, customer, memo\nA-1, 10.00, C1, "x, y"\nA-2, 3.00, C1, plain\n')
    [batch] = checked(read_rows(path))
    assert [(r.id, str(r.amount), r.customer, r.memo) for r in batch.records] == [
        ("A-1", "10.00", "C1", "x, y"), ("A-2", "3.00", "C1", "plain")]
    unclosed = tmp_path / "unclosed.csv"
    unclosed.write_text('id,amount,memo\nU-1,1.00,"never closed\nU-2,2.00,x\n')
    with pytest.raises(ImportFileError, match="line 2: not CSV as a spreadsheet writes it"):
        read_rows(unclosed)


async def test_every_batch_of_a_large_file_is_checked_against_the_database_before_any_is_saved(
    signoff: Harness, cli_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("bot.cli.imports.MAX_IMPORT_ROWS", 2)
    await signoff.post("/api/v1/imports/invoice", {"records": [{"id": f"INV-{n}", "amount": "1.00"} for n in (1, 5)]})
    read = {n: (await signoff.api.get(f"/api/v1/records/invoice/INV-{n}")).json() for n in (1, 5)}
    rows = [read[1], {"id": "INV-2", "amount": "2.00"}, {"id": "INV-3", "amount": "3.00"},
            {"id": "INV-4", "amount": "4.00", "approval_status": "none"}, {**read[5], "approval_status": "approved"}]
    path = tmp_path / "five.json"
    path.write_text(json.dumps(rows))
    assert await asyncio.to_thread(main, ["import", "invoice", str(path)]) == 1
    err = capsys.readouterr().err
    assert "record 4: approval_status: changes through approvals only (the document is new)" in err, err
    assert "record 5: approval_status: changes through approvals only (it is none)" in err, err
    assert "nothing was imported" in err
    assert (await signoff.api.get("/api/v1/records/invoice/INV-2")).status_code == 404
