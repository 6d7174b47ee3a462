"""The test doubles shared by every test that needs no worker: one in-memory ``JobQueue``."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from core.config import Settings
from core.ports import JobState

if TYPE_CHECKING:
    from core.studio.service import Studio


class MemoryQueue:
    """The ``JobQueue`` port in memory: what was handed to the workers (``enqueued``: job id, queue, kind)
    and what was taken back (``discarded``).

    With ``studio`` set (it may be set after the studio is built on this queue), each enqueue first checks the
    reliability contract: the job row is queued and its inputs are stored before a worker can see the job.
    ``broken`` refuses like a Redis that is down; ``delay_s`` makes a slow broker."""

    def __init__(self, studio: Studio | None = None, *, broken: bool = False, delay_s: float = 0.0) -> None:
        self.studio = studio
        self.broken = broken
        self.delay_s = delay_s
        self.enqueued: list[tuple[str, str, str]] = []
        self.discarded: list[str] = []
        self._lock = threading.Lock()

    def enqueue(self, job_id: str, queue: str, kind: str) -> None:
        if self.studio is not None:
            job = self.studio.job(job_id)
            assert job.state is JobState.QUEUED
            stored = [job.input_key, *(job.params.get("inputs") or {}).values()]
            assert all(self.studio.blobs.exists(key) for key in stored if key)
        time.sleep(self.delay_s)
        if self.broken:
            raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        with self._lock:
            self.enqueued.append((job_id, queue, kind))

    def discard(self, job_ids: list[str]) -> int:
        with self._lock:
            self.discarded += job_ids
        return len(job_ids)

    def kinds(self) -> list[str]:
        return [kind for _, _, kind in self.enqueued]


def without_quotas(settings: Settings) -> Settings:
    """``settings`` with the studio's quotas out of the way, for tests where one user submits dozens of jobs
    at once (the quotas are tested on their own)."""
    unlimited = {"max_active_per_user": 10**6, "max_jobs_per_hour": 10**6, "max_active_per_chat": 10**6}
    return settings.model_copy(update={"studio": settings.studio.model_copy(update=unlimited)})
