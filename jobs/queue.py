"""The ``JobQueue`` port on Celery: the bot enqueues a job id by task name, without importing the tasks
(or torch)."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

from celery import Celery

from core.kinds import QUEUES
from jobs.celery_app import task_name

log = logging.getLogger(__name__)
# Where kombu's Redis transport keeps delivered, unacknowledged messages (its default ``unacked_key``).
UNACKED_KEY = "unacked"


class CeleryJobQueue:
    def __init__(self, app: Celery) -> None:
        self.app = app

    def enqueue(self, job_id: str, queue: str, kind: str) -> None:
        """Publish ``atelier.<kind>(job_id)`` to ``queue``. Raises when the broker cannot take it (after the
        app's short publish retry policy): the caller then refuses the job instead of hanging."""
        self.app.send_task(task_name(kind), args=[job_id], queue=queue, retry=True)

    def discard(self, job_ids: list[str]) -> int:
        """Remove the waiting messages of these jobs from the broker (they were cancelled or forgotten: a
        worker would skip them anyway, but a forgotten user's job ids should not linger in Redis). Messages
        a worker already holds are acknowledged by it when it sees the job is gone. Returns how many were
        removed."""
        wanted, removed = set(job_ids), 0
        with self.app.connection_for_write() as connection:
            client: Any = connection.default_channel.client
            for queue in QUEUES:
                for raw in client.lrange(queue, 0, -1):
                    if _job_id(raw) in wanted:
                        removed += int(client.lrem(queue, 1, raw))
        if removed:
            log.info("removed %d waiting message(s) of cancelled jobs from the broker", removed)
        return removed

    def workers(self, timeout_s: float = 1.0) -> list[str]:
        """The names of the workers that answer a ping within ``timeout_s`` (Celery's remote control)."""
        replies = self.app.control.ping(timeout=timeout_s) or []
        return sorted(name for reply in replies for name in reply)

    def broker_job_ids(self) -> set[str]:
        """The jobs the broker holds a message for: waiting on a queue, or delivered to a worker and not yet
        acknowledged (kombu's ``unacked`` hash)."""
        with self.app.connection_for_write() as connection:
            client: Any = connection.default_channel.client
            found = {_job_id(raw) for queue in QUEUES for raw in client.lrange(queue, 0, -1)}
            for raw in client.hvals(UNACKED_KEY):
                try:
                    found.add(_job_id(json.loads(raw)[0]))
                except (ValueError, IndexError, TypeError):
                    continue
        return {job_id for job_id in found if job_id is not None}


def _job_id(raw: bytes | str | dict[str, Any]) -> str | None:
    """The job id a kombu message (on a Redis list, or its payload) carries as its task's only argument."""
    try:
        payload = raw if isinstance(raw, dict) else json.loads(raw)
        body = payload["body"]
        if payload.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = json.loads(body)[0]
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return str(args[0]) if isinstance(args, list) and len(args) == 1 else None
