"""Counters and gauges of one process, served at `/metrics` in Prometheus text format."""

from __future__ import annotations


class Metrics:
    """Counters and gauges exposed in Prometheus text format."""

    def __init__(self) -> None:
        self.counters: dict[str, float] = {}
        self.gauges: dict[str, float] = {}

    def inc(self, name: str, amount: float = 1) -> None:
        """Add to a counter."""
        self.counters[name] = self.counters.get(name, 0) + amount

    def set(self, name: str, value: float) -> None:
        """Set a gauge to its current value."""
        self.gauges[name] = value

    def text(self) -> str:
        """Render every counter and gauge as Prometheus exposition text."""
        lines = []
        for kind, values in (("counter", self.counters), ("gauge", self.gauges)):
            for name in sorted(values):
                lines += [f"# TYPE {name} {kind}", f"{name} {values[name]:g}"]
        return "\n".join(lines) + "\n"
