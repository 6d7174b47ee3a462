"""Re-queue running jobs whose worker is gone, without waiting for the broker.

When a whole worker dies (``kill -9``, OOM, a crashed machine, a one-machine deployment killed with its
embedded Redis), Celery only redelivers its unacknowledged message after the visibility timeout (hours, so
that long jobs never run twice). The job row knows better: its lease owner is a dead process on this host,
or its lease (hard time limit + margin) expired. Every worker checks for such jobs every few seconds and
enqueues them again; the store's guarded update lets exactly one worker do it, and a late duplicate from the
broker is harmless (``start_attempt`` skips or takes over).

It runs on the worker's own timer, in the main process's event loop, not in a thread: the prefork pool forks
children from that process at any time, and a fork while another thread holds a lock can deadlock the child.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, bootsteps

from core.ports import JobQueue
from jobs import runtime
from jobs.celery_app import hard_time_limit

log = logging.getLogger(__name__)

REAP_INTERVAL_S = 5.0


def reap_stale_jobs(queue: JobQueue) -> int:
    """Enqueue every running job whose attempt is over; returns how many this worker re-queued."""
    ctx = runtime.context()
    requeued = 0
    for job in ctx.store.stale_running(owner_alive=runtime.owner_alive):
        grace_s = hard_time_limit(ctx.settings.worker, job.queue) + runtime.LEASE_MARGIN_S
        if not ctx.store.mark_requeued(job.id, job.lease_owner, grace_s=grace_s):
            continue  # another worker got there first, or a message came back meanwhile
        queue.enqueue(job.id, job.queue, job.kind)
        log.warning("job %s: its worker %r is gone; queued it again", job.id, job.lease_owner or "(requeued)")
        requeued += 1
    return requeued


def install_reaper(app: Celery, queue: JobQueue, interval_s: float = REAP_INTERVAL_S) -> None:
    """Add the periodic reaper to the workers ``app`` starts."""

    class StaleJobReaper(bootsteps.StartStopStep):  # type: ignore[misc]
        requires = {"celery.worker.components:Timer"}

        def __init__(self, worker: Any, **kwargs: Any) -> None:
            super().__init__(worker, **kwargs)
            self.tref: Any = None

        def start(self, worker: Any) -> None:
            self.tref = worker.timer.call_repeatedly(interval_s, self.reap, priority=10)

        def stop(self, worker: Any) -> None:
            if self.tref is not None:
                self.tref.cancel()

        def reap(self) -> None:
            try:
                reap_stale_jobs(queue)
            except Exception:  # the database or Redis is away: the next round tries again
                log.exception("stale job check failed")

    app.steps["worker"].add(StaleJobReaper)
