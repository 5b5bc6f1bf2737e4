"""Medians with their spread, and rounds that interleave a figure with its baseline.

The machine is small and noisy (2 cores), so a single run says little: each figure is the
median of several runs, its min–max is shown, and its baseline runs in the same rounds, in a
rotating order, so that a slow minute slows both alike.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Stat:
    """A figure's runs and their median, min and max (in the figure's unit)."""

    median: float
    low: float
    high: float
    runs: tuple[float, ...]

    @classmethod
    def of(cls, values: Sequence[float]) -> Stat:
        if not values:
            raise ValueError("a Stat needs at least one run")
        runs = tuple(float(v) for v in values)
        return cls(statistics.median(runs), min(runs), max(runs), runs)

    def to_json(self) -> dict[str, object]:
        return {"median": self.median, "min": self.low, "max": self.high, "runs": list(self.runs)}


def stopwatch_ms(action: Callable[[], object]) -> float:
    """Wall time of one call, in milliseconds, after a collection so no old garbage lands in it."""
    gc.collect()
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def rounds(
    actions: Mapping[str, Callable[[], object]],
    repeats: int,
    prepare: Mapping[str, Callable[[], object]] | None = None,
) -> dict[str, Stat]:
    """Run every action once per round, starting each round one action later than the last;
    an action's ``prepare``, if it has one, runs untimed right before it."""
    names = list(actions)
    times: dict[str, list[float]] = {name: [] for name in names}
    for index in range(repeats):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            if prepare and name in prepare:
                prepare[name]()
            times[name].append(stopwatch_ms(actions[name]))
    return {name: Stat.of(values) for name, values in times.items()}
