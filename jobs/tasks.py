"""Thin Celery tasks: a job id in, ``jobs.runtime.execute`` does the work. Explicit names, so front ends
enqueue by name without importing this module (or torch)."""

from __future__ import annotations

import logging
import random
from typing import Any

from celery import Celery, Task
from celery.exceptions import TimeLimitExceeded
from sqlalchemy.exc import DBAPIError

from core.config import Settings
from core.kinds import KINDS
from core.store import AttemptAction
from jobs import runtime
from jobs.celery_app import hard_time_limit, soft_time_limit, task_name

log = logging.getLogger(__name__)

# Retries for infrastructure trouble (database or blob store unreachable) and for a job another living
# worker holds wait at most this long (and at most half the visibility timeout: ``_longest_wait_s``).
_INFRA_RETRY_MAX_S = 60.0


class JobTask(Task):  # type: ignore[misc]
    def on_failure(self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        # A hard time limit kills the pool child before the task can record anything; Celery reports it
        # here, in the worker's main process.
        if isinstance(exc, TimeLimitExceeded) and args:
            runtime.fail_timed_out(str(args[0]))


def _run(task: Task, job_id: str) -> None:
    try:
        outcome = runtime.execute(job_id)
    except (DBAPIError, OSError) as error:
        retries = task.request.retries
        delay = min(_longest_wait_s(task), 2.0 ** min(retries, 6)) * random.uniform(0.5, 1.0)
        log.warning("job %s: infrastructure error (%s); retrying in %.0f s", job_id, error, delay)
        raise task.retry(countdown=delay, max_retries=None, exc=error) from error
    if outcome.action is AttemptAction.BUSY:
        raise task.retry(countdown=max(1.0, min(outcome.retry_in_s, _longest_wait_s(task))), max_retries=None)


def _longest_wait_s(task: Task) -> float:
    """A retry's countdown at most: a message that waits longer than the broker's visibility timeout is
    handed out again meanwhile, so never more than half of it."""
    visibility = (task.app.conf.broker_transport_options or {}).get("visibility_timeout")
    return _INFRA_RETRY_MAX_S if not visibility else min(_INFRA_RETRY_MAX_S, visibility / 2)


def register_tasks(app: Celery, settings: Settings) -> None:
    """Register one task per job kind ("atelier.<kind>") with the time limits of its queue."""
    for name, kind in KINDS.items():
        hard = hard_time_limit(settings.worker, kind.queue)

        def run_job(self: Task, job_id: str) -> None:
            _run(self, job_id)

        app.task(
            name=task_name(name),
            bind=True,
            base=JobTask,
            time_limit=hard,
            soft_time_limit=soft_time_limit(hard),
        )(run_job)
