"""Run the benchmarks and print one table: `python -m bench [NAME ...] [--quick] [--json FILE]`.

Every module of this package that exposes `bench() -> list[dict]` or `async def abench() -> list[dict]`
is a benchmark. A row has `benchmark`, `case`, `value`, `unit`, optionally `ratio` (text), and when it
carries a target, `target` (text) and `ok` (bool). Missing a target is reported, not an error: the
exit status is 0 unless a benchmark fails to run.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import pkgutil
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import bench
from bench.common import Row, summary_line, table_lines

KNOWN_ORDER = ("conditions", "rules", "scheduler", "delivery", "ack_latency")
NOT_BENCHMARKS = frozenset({"common", "errors"})


def module_names() -> list[str]:
    """Return the benchmark module names of the package, known ones first, then the rest by name."""
    found = {m.name for m in pkgutil.iter_modules(bench.__path__)
             if not m.name.startswith("_") and m.name not in NOT_BENCHMARKS}
    known = [name for name in KNOWN_ORDER if name in found]
    return known + sorted(found - set(known))


def runner_of(module: ModuleType) -> Callable[[], list[Row]] | None:
    """Return a callable running the module's benchmark, or None when it has none."""
    abench = getattr(module, "abench", None)
    if callable(abench):
        return lambda: asyncio.run(abench())
    run = getattr(module, "bench", None)
    return run if callable(run) else None


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Read the command line."""
    parser = argparse.ArgumentParser(prog="python -m bench", description="Run Signoff's benchmarks.")
    parser.add_argument("names", nargs="*", metavar="NAME", help="benchmarks to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes (sets SIGNOFF_BENCH_QUICK=1)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the rows as JSON to FILE")
    return parser.parse_args(argv)


def run_one(name: str) -> list[Row]:
    """Import and run one benchmark module; return its rows (none when it has no benchmark)."""
    module = importlib.import_module(f"bench.{name}")
    run = runner_of(module)
    if run is None:
        return []
    started_s = time.perf_counter()
    print(f"running {name} …", file=sys.stderr, flush=True)
    rows = run()
    print(f"  {name}: {len(rows)} results in {time.perf_counter() - started_s:.1f} s", file=sys.stderr, flush=True)
    return rows


def run_all(names: Sequence[str]) -> tuple[list[Row], list[str]]:
    """Run the named benchmarks; return every row and the names of those that failed."""
    rows: list[Row] = []
    failed: list[str] = []
    for name in names:
        try:
            rows += run_one(name)
        except Exception:
            traceback.print_exc()
            failed.append(name)
    return rows, failed


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmarks, print the table and the summary line; return the exit status."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.quick:
        os.environ["SIGNOFF_BENCH_QUICK"] = "1"
    available = module_names()
    unknown = [n for n in args.names if n not in available]
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; available: {', '.join(available)}", file=sys.stderr)
        return 2
    rows, failed = run_all(args.names or available)
    print("\n".join(table_lines(rows)) if rows else "no results")
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2, default=_jsonable) + "\n", encoding="utf-8")
    print(summary_line(rows, failed))
    return 1 if failed else 0


def _jsonable(value: Any) -> Any:
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
