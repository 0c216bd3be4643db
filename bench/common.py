"""Shared pieces of the benchmarks: report rows, percentiles and the results table."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

Row = dict[str, Any]
COLUMNS = ("benchmark", "case", "value", "unit", "ratio / target", "result")
VALUE_COLUMN = 2


def is_quick() -> bool:
    """Tell whether the smaller sizes were asked for (`SIGNOFF_BENCH_QUICK=1`)."""
    return os.environ.get("SIGNOFF_BENCH_QUICK") == "1"


def percentile(values: Sequence[float], pct: float) -> float:
    """Return the nearest-rank percentile `pct` (0–100] of the values."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def has_target(row: Mapping[str, Any]) -> bool:
    """Tell whether a row carries a target to pass or miss."""
    return "target" in row


def result_of(row: Mapping[str, Any]) -> str:
    """Return PASS or MISS for a row with a target, else an empty string."""
    if not has_target(row):
        return ""
    return "PASS" if row.get("ok") else "MISS"


def format_value(value: Any) -> str:
    """Return a number with as many decimals as its size deserves."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    size = abs(value)
    decimals = 0 if size >= 1000 else 1 if size >= 100 else 2 if size >= 1 else 4
    return f"{value:,.{decimals}f}"


def _notes(row: Mapping[str, Any]) -> str:
    parts = [str(row["ratio"])] if row.get("ratio") else []
    if has_target(row):
        parts.append(f"target {row['target']}")
    return "; ".join(parts)


def table_lines(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """Return the rows as an aligned text table with a header line."""
    cells = [
        (str(r.get("benchmark", "")), str(r.get("case", "")), format_value(r.get("value", "")),
         str(r.get("unit", "")), _notes(r), result_of(r))
        for r in rows
    ]
    widths = [max(len(c[i]) for c in [COLUMNS, *cells]) for i in range(len(COLUMNS))]
    rules = tuple("-" * w for w in widths)
    return [_line(values, widths).rstrip() for values in (COLUMNS, rules, *cells)]


def _line(values: Sequence[str], widths: Sequence[int]) -> str:
    pairs = enumerate(zip(values, widths, strict=True))
    return "  ".join(v.rjust(w) if i == VALUE_COLUMN else v.ljust(w) for i, (v, w) in pairs)


def summary_line(rows: Sequence[Mapping[str, Any]], failed: Sequence[str] = ()) -> str:
    """Return one line counting rows, targets passed and missed, and benchmarks that failed."""
    targeted = [r for r in rows if has_target(r)]
    missed = [f"{r['benchmark']}: {r['case']}" for r in targeted if not r.get("ok")]
    text = f"{len(rows)} results, {len(targeted)} targets: {len(targeted) - len(missed)} PASS, {len(missed)} MISS"
    if missed:
        text += " (missed: " + "; ".join(missed) + ")"
    if failed:
        text += f"; benchmarks that failed to run: {', '.join(failed)}"
    return text
