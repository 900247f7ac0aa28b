"""Samples of a benchmark: the median and spread `scripts/bench` reports, and how they are taken
(a warm-up, then a few runs)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Callable


@dataclass
class Samples:
    values: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def spread(self) -> str:
        lo, hi = min(self.values), max(self.values)
        if len(self.values) < 2 or not self.median:
            return "-"
        return f"±{(hi - lo) / 2 / abs(self.median) * 100:.1f}%"

    def to_dict(self) -> dict:
        return {"median": self.median, "min": min(self.values), "max": max(self.values),
                "samples": self.values}


def measure(fn: Callable[[], float], runs: int, warmup: int = 1) -> Samples:
    for _ in range(warmup):
        fn()
    return Samples([fn() for _ in range(runs)])
