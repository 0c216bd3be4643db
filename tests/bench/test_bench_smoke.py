"""Smoke tests of the benchmarks: a tiny acknowledgement-latency run, the table and the runner."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bench import __main__ as runner
from bench import ack_latency
from bench.common import format_value, percentile, summary_line, table_lines

TINY = ack_latency.Plan({1: 3, 5: 2}, warmup=2)


@pytest.fixture(scope="module")
def tiny_rows() -> list[dict[str, Any]]:
    """Rows of one tiny run: 1 and 5 concurrent clicks, a few samples each."""
    return ack_latency.report_rows(asyncio.run(ack_latency.measure(TINY)))


def test_tiny_run_reports_p50_and_p99_of_signoff_the_floor_and_raw(tiny_rows: list[dict[str, Any]]) -> None:
    latency = [r for r in tiny_rows if r["unit"] == "ms"]
    assert len(latency) == 2 * 2 * 3  # levels × percentiles × (signoff, floor, raw)
    for row in latency:
        assert row["benchmark"] == "ack_latency" and row["value"] > 0 and "× floor" in row["ratio"]
    cases = {r["case"] for r in latency}
    for level, clicks in ((1, 3), (5, 10)):
        for pct in (50, 99):
            prefix = f"{level} concurrent ({clicks} clicks), p{pct}"
            assert {f"{prefix} / signoff", f"{prefix} / {ack_latency.FLOOR_LABEL}",
                    f"{prefix} / {ack_latency.RAW_LABEL}"} <= cases


def test_tiny_run_counts_every_click_as_a_vote(tiny_rows: list[dict[str, Any]]) -> None:
    votes = next(r for r in tiny_rows if r["unit"] == "votes")
    assert votes["value"] == TINY.clicks and votes["ok"] is True
    assert votes["target"] == f"= {TINY.clicks} clicked"


def test_targets_only_at_two_hundred_concurrent(tiny_rows: list[dict[str, Any]]) -> None:
    assert [r["unit"] for r in tiny_rows if "target" in r] == ["votes"]


def test_rows_print_as_a_table(tiny_rows: list[dict[str, Any]]) -> None:
    lines = table_lines(tiny_rows)
    assert lines[0].split()[:4] == ["benchmark", "case", "value", "unit"]
    assert len(lines) == len(tiny_rows) + 2 and lines[-2].endswith("PASS")


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [
        ([5.0], 99, 5.0),
        ([1.0, 2.0, 3.0, 4.0], 50, 2.0),
        ([float(i) for i in range(1, 101)], 99, 99.0),
        ([float(i) for i in range(1, 201)], 99, 198.0),
        ([3.0, 1.0, 2.0], 100, 3.0),
    ],
)
def test_percentile_is_nearest_rank(values: list[float], pct: float, expected: float) -> None:
    assert percentile(values, pct) == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [(1234.5, "1,234"), (123.45, "123.5"), (12.345, "12.35"), (0.012345, "0.0123"), (7, "7"), ("x", "x")],
)
def test_values_get_decimals_by_size(value: Any, text: str) -> None:
    assert format_value(value) == text


def test_summary_names_missed_targets_and_failed_benchmarks() -> None:
    rows = [
        {"benchmark": "b", "case": "fast", "value": 1, "unit": "ms", "target": "< 2 ms", "ok": True},
        {"benchmark": "b", "case": "slow", "value": 3, "unit": "ms", "target": "< 2 ms", "ok": False},
        {"benchmark": "b", "case": "info", "value": 3, "unit": "ms"},
    ]
    line = summary_line(rows, ["broken"])
    assert line.startswith("3 results, 2 targets: 1 PASS, 1 MISS") and "b: slow" in line and "broken" in line


def test_runner_finds_the_benchmark_modules() -> None:
    names = runner.module_names()
    assert {"conditions", "ack_latency"} <= set(names) and "common" not in names
    assert runner.runner_of(ack_latency) is not None


def test_runner_refuses_an_unknown_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    assert runner.main(["no_such_benchmark"]) == 2
    assert "unknown benchmark no_such_benchmark" in capsys.readouterr().err
