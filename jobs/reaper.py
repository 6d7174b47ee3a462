"""Re-queue running jobs whose worker is gone, without waiting for the broker; send again the queued jobs
whose broker message was lost; and delete the pictures the retention rule has reached (``core.retention``).

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
import time
from datetime import timedelta
from typing import Any

from celery import Celery, bootsteps

from core.ports import JobQueue
from core.retention import purge_expired
from core.store.models import utcnow
from jobs import runtime
from jobs.celery_app import hard_time_limit
from jobs.queue import CeleryJobQueue

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


def resend_lost_jobs(queue: CeleryJobQueue) -> int:
    """Enqueue again every job queued for longer than ``lost_message_after_s`` of which the broker holds no
    message (none waiting, none delivered): a deployment without ``atelier serve`` (bots and workers
    apart) has no start-up pass that would. A duplicate, should one slip through a race with a worker taking
    the message, is harmless. Returns how many were sent."""
    ctx = runtime.context()
    cutoff = utcnow() - timedelta(seconds=ctx.settings.worker.lost_message_after_s)
    old = [job for job in ctx.store.waiting() if job.created_at is not None and job.created_at < cutoff]
    if not old:
        return 0
    present = queue.broker_job_ids()
    lost = [job for job in old if job.id not in present]
    for job in lost:
        queue.enqueue(job.id, job.queue, job.kind)
        log.warning("job %s: queued with no message in the broker; sent it again", job.id)
    return len(lost)


def install_reaper(app: Celery, queue: CeleryJobQueue, interval_s: float = REAP_INTERVAL_S) -> None:
    """Add the periodic reaper to the workers ``app`` starts."""

    class StaleJobReaper(bootsteps.StartStopStep):  # type: ignore[misc]
        requires = {"celery.worker.components:Timer"}

        def __init__(self, worker: Any, **kwargs: Any) -> None:
            super().__init__(worker, **kwargs)
            self.tref: Any = None
            self.last_look = float("-inf")
            self.last_sweep = float("-inf")

        def start(self, worker: Any) -> None:
            self.tref = worker.timer.call_repeatedly(interval_s, self.reap, priority=10)

        def stop(self, worker: Any) -> None:
            if self.tref is not None:
                self.tref.cancel()

        def reap(self) -> None:
            try:
                reap_stale_jobs(queue)
                self.look_for_lost_messages()
                self.sweep_expired()
            except Exception:  # the database or Redis is away: the next round tries again
                log.exception("stale job check failed")

        def sweep_expired(self) -> None:
            """Once per ``retention_sweep_s`` (the first round included: a worker started after a long pause
            catches up at once)."""
            ctx = runtime.context()
            now = time.monotonic()
            if now - self.last_sweep >= ctx.settings.studio.retention_sweep_s:
                self.last_sweep = now
                purge_expired(ctx.store, ctx.blobs, ctx.settings.studio.keep_days)

        def look_for_lost_messages(self) -> None:
            """At most twice per ``lost_message_after_s``: it reads the broker's lists."""
            every = runtime.context().settings.worker.lost_message_after_s / 2
            now = time.monotonic()
            if now - self.last_look >= every:
                self.last_look = now
                resend_lost_jobs(queue)

    app.steps["worker"].add(StaleJobReaper)
