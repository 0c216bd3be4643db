"""The replicas benchmark's report: ratios of bursts taken in the same turn, and the scaling targets."""

from __future__ import annotations

import pytest

from bench.replicas import Bursts, rows_of

COSTS = {"cpu_ms_replicas": 2.0, "cpu_ms_postgresql": 1.0, "cpu_ms_slack_and_client": 0.1, "round_trips": 2.2}


def bursts(*rates: float) -> Bursts:
    return Bursts(list(rates), [50.0] * len(rates), [COSTS] * len(rates))


@pytest.mark.parametrize(
    ("mine", "theirs", "ratio"),
    [
        ((400, 300, 500), (200, 300, 250), 2.0),    # burst by burst: 2, 1, 2
        ((300, 600, 450), (300, 400, 300), 1.5),    # a drift weighs on both of a turn alike
        ((100, 100, 100), (100, 100, 100), 1.0),
    ],
)
def test_a_ratio_is_the_median_of_the_ratios_of_bursts_of_the_same_turn(
    mine: tuple[float, ...], theirs: tuple[float, ...], ratio: float,
) -> None:
    assert bursts(*mine).paired(bursts(*theirs)) == pytest.approx(ratio)


@pytest.mark.parametrize(
    ("one", "two", "three", "two_ok", "three_ok"),
    [
        ((300, 200, 400), (420, 280, 560), (430, 270, 600), True, True),     # 1.4× one; three ≥ two in most turns
        ((300, 200, 400), (360, 260, 480), (420, 300, 560), False, True),    # 1.2× and 1.3× one
        ((300, 200, 400), (420, 280, 560), (400, 260, 560), True, False),    # three slower than two
    ],
)
def test_targets_hold_on_the_paired_ratios(
    one: tuple[float, ...], two: tuple[float, ...], three: tuple[float, ...], two_ok: bool, three_ok: bool,
) -> None:
    found = {("sqlite", 1): bursts(600, 600, 600), ("postgresql", 1): bursts(*one),
             ("postgresql", 2): bursts(*two), ("postgresql", 3): bursts(*three)}
    first, second = found[("postgresql", 1)], found[("postgresql", 2)]
    rows = rows_of({config: b.summary(first, second) for config, b in found.items()})
    verdicts = {row["case"]: row.get("ok") for row in rows if "target" in row and "votes/s" in row["case"]}
    assert verdicts == {"200-click burst, postgresql, 2 processes: votes/s": two_ok,
                        "200-click burst, postgresql, 3 processes: votes/s": three_ok}


def test_the_raw_floor_is_reported_beside_the_replicas_without_a_target() -> None:
    found = {("postgresql", 1): bursts(300, 300), ("postgresql", 2): bursts(420, 420),
             ("postgresql", 3): bursts(400, 400)}
    floor = {1: bursts(380, 380), 2: bursts(700, 700), 3: bursts(693, 693)}
    for b in floor.values():
        b.per_vote = [{"cpu_ms_processes": 2.5, "cpu_ms_postgresql": 0.2}] * 2
    results = {config: b.summary(found[("postgresql", 1)], found[("postgresql", 2)]) for config, b in found.items()}
    results |= {("floor", n): b.floor_summary(floor[1], floor[2]) for n, b in floor.items()}
    rows = {row["case"]: row for row in rows_of(results)}
    three = rows["200-click burst, postgresql, 3 processes: votes/s"]
    assert "0.952× two (raw floor: 0.99× two)" in three["ratio"]  # a ratio a target judges never reads 1.00× in a miss
    assert "(raw floor: 1.84× one)" in rows["200-click burst, postgresql, 2 processes: votes/s"]["ratio"]
    assert rows["raw floor, 3 processes: units/s"]["value"] == 693
    assert "target" not in rows["raw floor, 3 processes: units/s"]
