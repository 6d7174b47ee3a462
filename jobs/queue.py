"""The ``JobQueue`` port on Celery: the bot enqueues a job id by task name, without importing the tasks
(or torch)."""

from __future__ import annotations

from celery import Celery

from jobs.celery_app import task_name


class CeleryJobQueue:
    def __init__(self, app: Celery) -> None:
        self.app = app

    def enqueue(self, job_id: str, queue: str, kind: str) -> None:
        """Publish ``atelier.<kind>(job_id)`` to ``queue``. Raises when the broker cannot take it (after the
        app's short publish retry policy): the caller then refuses the job instead of hanging."""
        self.app.send_task(task_name(kind), args=[job_id], queue=queue, retry=True)
