"""Smoke tests of the benchmarks: a tiny acknowledgement-latency run, the table and the runner."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest

from bench import __main__ as runner
from bench import ack_latency
from bench.common import format_value, percentile, summary_line, table_lines

TINY = ack_latency.Plan({1: 3, 5: 2}, warmup=2, commit_bursts=(1, 5), singles=2)


@pytest.fixture(scope="module")
def tiny_rows() -> list[dict[str, Any]]:
    """Rows of one tiny run: 1 and 5 concurrent clicks, a few samples each, then click → committed bursts of 1 and 5."""
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
            assert {f"{prefix} / {ack_latency.SIGNOFF_LABEL}", f"{prefix} / {ack_latency.FLOOR_LABEL}",
                    f"{prefix} / {ack_latency.RAW_LABEL}"} <= cases


def test_signoff_p99_is_held_to_the_floor_at_every_level(tiny_rows: list[dict[str, Any]]) -> None:
    ratios = [r for r in tiny_rows if r["unit"] == "×"]
    assert [r["case"] for r in ratios] == [f"{level} concurrent ({clicks} clicks), p99 / signoff ÷ floor"
                                           for level, clicks in ((1, 3), (5, 10))]
    assert all(r["target"] == "≤ 1.5× floor p99" and isinstance(r["ok"], bool) for r in ratios)


def test_tiny_run_reports_click_to_vote_committed_and_to_message_updated(tiny_rows: list[dict[str, Any]]) -> None:
    timed = [r for r in tiny_rows if r["unit"] == "s"]
    single = "burst of 1 (2 bursts, one after another)"
    assert [r["case"] for r in timed] == [
        f"click → {what}, {burst}, p{pct}" for what in ("vote committed", "message updated")
        for burst in (single, "burst of 5") for pct in (50, 99)]
    assert all(0 < r["value"] < 60 and "never seen" not in r["ratio"] for r in timed)
    assert all(p50["value"] <= p99["value"] for p50, p99 in zip(timed[::2], timed[1::2], strict=True))


def test_tiny_run_compares_votes_per_second_with_the_insert_floor(tiny_rows: list[dict[str, Any]]) -> None:
    own, floor, share = (r for r in tiny_rows if r["case"].startswith("votes/s, burst of 5 "))
    assert own["value"] > 0 and floor["value"] > 0 and own["unit"] == floor["unit"] == "votes/s"
    assert share["unit"] == "%" and share["target"] == "≥ 30% of floor + INSERT" and isinstance(share["ok"], bool)


def test_tiny_run_counts_every_acknowledged_click_once(tiny_rows: list[dict[str, Any]]) -> None:
    counted, lost, duplicated = (r for r in tiny_rows if r["unit"] == "votes")
    assert counted["value"] == TINY.clicks and counted["target"] == f"= {TINY.clicks} acknowledged"
    assert lost["value"] == 0 and duplicated["value"] == 0
    assert counted["ok"] is lost["ok"] is duplicated["ok"] is True


def test_absolute_targets_only_for_two_hundred_clicks(tiny_rows: list[dict[str, Any]]) -> None:
    assert [r["unit"] for r in tiny_rows if "target" in r] == ["×", "×", "%", "votes", "votes", "votes"]


def _measured(size: int, committed: list[float]) -> ack_latency.Measurement:
    plan = ack_latency.Plan({1: 1}, commit_bursts=(size,))
    votes = ack_latency.Tally(acked=size, counted=size, lost=0, duplicates=0, approved=size // 5)
    bursts = {size: ack_latency.BurstResult(size, committed, committed)}
    return ack_latency.Measurement(plan, {}, bursts, {"signoff": 300.0, "insert": 1000.0}, votes, (0.0, 0.0))


def test_click_to_committed_targets_apply_to_bursts_of_two_hundred_and_a_thousand() -> None:
    committed = [0.01 * i for i in range(1, 201)]
    p50, p99 = ack_latency.commit_rows(_measured(200, committed), 200)
    assert (p50["value"], p99["value"]) == (1.0, 1.98) and "target" not in p50
    assert p99["target"] == "< 1 s p99" and p99["ok"] is False
    unseen = ack_latency.commit_rows(_measured(200, committed[:197]), 200)[1]
    assert unseen["value"] == math.inf and unseen["ok"] is False and "3 never seen" in unseen["ratio"]
    thousand = ack_latency.commit_rows(_measured(1000, [0.003 * i for i in range(1, 1001)]), 1000)[1]
    assert thousand["target"] == "< 4 s p99" and thousand["ok"] is True
    assert all("target" not in r for r in ack_latency.update_rows(_measured(200, committed), 200))


def test_votes_per_second_share_of_the_insert_floor() -> None:
    own, floor, share = ack_latency.throughput_rows(_measured(200, [0.5] * 200))
    assert (own["value"], floor["value"], share["value"]) == (300.0, 1000.0, 30.0) and share["ok"] is True


def test_tally_finds_lost_and_duplicated_votes() -> None:
    acked = [("R1", "U1"), ("R1", "U2"), ("R2", "U1")]
    recorded = [("R1", "U1"), ("R1", "U1"), ("R2", "U1"), ("R9", "U9")]
    tally = ack_latency.tally(acked, recorded, approved=0)
    assert (tally.acked, tally.counted, tally.lost, tally.duplicates) == (3, 4, 1, 2)


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
