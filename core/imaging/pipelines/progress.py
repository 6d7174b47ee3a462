"""Progress and timings for a pipeline run as numbered stages.

A run reports one overall fraction (0..1) with the stage it is in; each stage owns a share of the bar,
and a stage with its own steps (diffusion steps, one face after another) fills its share as it goes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

# (stage key, overall fraction 0..1); every key has a "stage.<key>" message.
ProgressCallback = Callable[[str, float], None]


class StageTracker:
    def __init__(self, shares: dict[str, float], callback: ProgressCallback | None) -> None:
        """``shares``: each stage's share of the bar, in run order, summing to 1."""
        self.shares = shares
        self.callback = callback
        self.timings: dict[str, float] = {}
        self._start = {key: sum(list(shares.values())[:i]) for i, key in enumerate(shares)}

    def report(self, key: str, within: float) -> None:
        if self.callback is not None:
            done = self._start[key] + self.shares[key] * min(1.0, max(0.0, within))
            self.callback(key, min(1.0, done))

    @contextmanager
    def stage(self, key: str) -> Iterator[None]:
        """Times the block (adding up if a stage runs twice) and reports the stage's start."""
        self.report(key, 0.0)
        started = time.perf_counter()
        try:
            yield
        finally:
            self.timings[key] = self.timings.get(key, 0.0) + time.perf_counter() - started

    def steps(self, key: str, index: int, count: int) -> Callable[[float], None]:
        """Step progress (0..1) of item ``index`` of ``count`` within stage ``key``."""
        return lambda fraction: self.report(key, (index + fraction) / count)

    def finish(self) -> None:
        last = list(self.shares)[-1]
        self.report(last, 1.0)
