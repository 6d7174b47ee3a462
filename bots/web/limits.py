"""The live preview's per-member pace, kept by the bot process that serves the canvas (previews are cheap
jobs, not free ones: every one is a job on the GPU queue)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

HOUR_S = 3600.0


class PreviewPace:
    """At most one preview per ``interval_s`` and ``per_hour`` an hour, per member."""

    def __init__(self, interval_s: float, per_hour: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s, self.per_hour, self._clock = interval_s, per_hour, clock
        self._recent: dict[tuple[str, str], deque[float]] = {}

    def allow(self, who: tuple[str, str]) -> bool:
        """Whether ``who`` may have a preview now; counts it when so."""
        now = self._clock()
        recent = self._recent.setdefault(who, deque())
        while recent and recent[0] <= now - HOUR_S:
            recent.popleft()
        if len(recent) >= self.per_hour or (recent and now - recent[-1] < self.interval_s):
            return False
        recent.append(now)
        if len(self._recent) > 10_000:  # forget members who had no preview for an hour
            idle = [key for key, times in self._recent.items() if not times or times[-1] <= now - HOUR_S]
            for key in idle:
                del self._recent[key]
        return True
