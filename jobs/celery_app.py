"""The Celery application: configuration only (tasks live in ``jobs.tasks``, registered by the worker).

The bot process imports this module to enqueue by task name, so nothing here imports torch or a pipeline.

Why each setting (see RELIABILITY.md for the measurements):
- ``task_acks_late`` + ``task_reject_on_worker_lost``: a job whose worker process dies (OOM, ``kill -9``,
  a segfault in a native library) goes back to the queue instead of being lost. The job row counts attempts,
  so a photo that kills its worker every time is failed after ``max_attempts`` instead of looping.
- ``worker_prefetch_multiplier = 1``: a GPU worker holds one job, not a batch that waits behind a long one.
- Per-queue hard and soft time limits, always below the visibility timeout (checked at start-up), so the
  broker never hands a still-running job to a second worker.
- ``unacked_restore_interval``/``unacked_restore_throttle``: how often workers look for messages whose worker
  vanished. Kombu's defaults scan about every 100 s; we scan every few seconds.
- No result backend: the database is the source of truth.
"""

from __future__ import annotations

from celery import Celery
from kombu import Exchange, Queue

from core.config import Settings, WorkerSettings
from core.kinds import KINDS, QUEUES
from jobs.broker import BrokerMisconfigured, kombu_url, redis_url


def task_name(kind: str) -> str:
    return f"atelier.{kind}"


def hard_time_limit(worker: WorkerSettings, queue: str) -> float:
    limits = {
        "gpu": worker.gpu_time_limit_s,
        "cpu": worker.cpu_time_limit_s,
        "train": worker.train_time_limit_s,
    }
    return float(limits[queue])


def check_time_limits(worker: WorkerSettings) -> None:
    """Refuse to start when a hard time limit is not below the visibility timeout: the broker would hand a
    job that is still running to a second worker. Every queue counts, not only the ones this worker
    consumes: any worker on the broker restores abandoned messages of every queue, with its own timeout."""
    too_long = {
        q: hard_time_limit(worker, q)
        for q in QUEUES
        if hard_time_limit(worker, q) >= worker.visibility_timeout_s
    }
    if too_long:
        raise BrokerMisconfigured(
            f"time limits {too_long} are not below the visibility timeout ({worker.visibility_timeout_s} s): "
            "raise ATELIER_WORKER__VISIBILITY_TIMEOUT_S or lower the time limits"
        )
    if worker.max_attempts < 1:
        raise BrokerMisconfigured("ATELIER_WORKER__MAX_ATTEMPTS must be at least 1")


def soft_time_limit(hard_s: float) -> float:
    """The soft limit raises ``SoftTimeLimitExceeded`` inside the task, leaving time to record the failure
    before the hard limit kills the process."""
    return hard_s - max(0.5, min(30.0, hard_s * 0.1))


def restore_interval_s(worker: WorkerSettings) -> float:
    """Seconds between scans for abandoned messages: short enough to redeliver soon after the visibility
    timeout, cheap either way (one sorted-set range query)."""
    return max(0.5, min(10.0, worker.visibility_timeout_s / 10))


def create_app(settings: Settings) -> Celery:
    worker = settings.worker
    app = Celery("atelier", broker=kombu_url(redis_url(settings)), set_as_current=False)
    app.conf.update(
        task_queues=[Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUES],
        task_default_queue="cpu",
        task_routes={task_name(name): {"queue": kind.queue} for name, kind in KINDS.items()},
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        result_backend=None,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,  # a worker waits for Redis to come back, however long
        broker_transport_options={
            "visibility_timeout": worker.visibility_timeout_s,
            "unacked_restore_interval": restore_interval_s(worker),
            "unacked_restore_throttle": 1,
            "socket_timeout": 30,
            "socket_connect_timeout": 5,
            "health_check_interval": 25,
            "retry_on_timeout": True,
        },
        # The bot publishes while a user waits: fail fast (it answers "busy") rather than hang.
        task_publish_retry_policy={
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 1,
        },
        # A running job keeps running through a broker blip; a redelivered duplicate finds the job's lease
        # held in the database and backs off (jobs.runtime), so nothing runs twice.
        worker_cancel_long_running_tasks_on_connection_loss=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
    )
    return app
