"""The job store: the database is the source of truth for every job.

Every state change is a guarded ``UPDATE ... WHERE state = <expected>`` (compare-and-set), so two worker
processes that receive the same job (a redelivered message, a duplicate) can never both run it or both
finish it, on SQLite and PostgreSQL alike.

Attempts and leases. ``start_attempt`` counts attempts in the row, not in the broker: Celery redelivers a job
whose worker died (``task_reject_on_worker_lost``), and a photo that crashes its worker every time would
otherwise loop forever. The running attempt holds a *lease*: the owner (host, pid and start time of the
worker process) and an expiry that progress reports extend. A redelivered job whose lease is still held by a
living process is a duplicate (``BUSY``: try again later); one whose owner is dead or whose lease expired is
taken over, or failed as crashed after ``max_attempts``. When a whole worker dies, its messages only come back
after the broker's visibility timeout; ``stale_running`` + ``mark_requeued`` let the surviving workers hand
such a job to the queue again much sooner (``jobs.reaper``). A duplicate message is harmless either way.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Engine, Table, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from core.ports import ChatRef, JobState, JobView
from core.store.admin_records import AdminRecords
from core.store.engine import is_sqlite, make_engine
from core.store.identity_records import IdentityRecords
from core.store.migrate import sqlite_path
from core.store.models import Job, job_view, utcnow
from core.store.queries import ACTIVE_STATES, JobQueries
from core.store.records import DeliveryRecords, PendingCommands, UserRecords

_jobs = cast(Table, Job.__table__)


class AttemptAction(enum.StrEnum):
    RUN = "run"  # this caller runs the job now
    ANNOUNCE = "announce"  # already done: only publish that it is finished
    BUSY = "busy"  # another living process runs it: look again after retry_in_s
    SKIP = "skip"  # failed or cancelled: nothing to do
    CRASHED = "crashed"  # max_attempts reached: the job was just failed as crashed


@dataclass(frozen=True)
class Attempt:
    action: AttemptAction
    job: JobView
    retry_in_s: float = 0.0


@dataclass(frozen=True)
class NewJob:
    id: str
    kind: str
    queue: str
    chat: ChatRef
    input_key: str
    params: dict[str, Any] = field(default_factory=dict)
    update_key: str | None = None
    reply_to_message_id: str | None = None


@dataclass(frozen=True)
class ActiveCap:
    """At most ``most`` queued or running jobs of ``kinds`` per user (``create_job``)."""

    kinds: tuple[str, ...]
    most: int


class OverCap(Exception):
    def __init__(self, active: int) -> None:
        super().__init__(active)
        self.active = active


class JobStore(JobQueries, DeliveryRecords, PendingCommands, UserRecords, IdentityRecords, AdminRecords):
    """Repository over the job database (SQLite or PostgreSQL). Thread-safe; create one per process (after
    ``fork``: connections must not cross into a child)."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        path = sqlite_path(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        self._engine: Engine = make_engine(url, echo=echo)
        self._sqlite = is_sqlite(url)

    @property
    def engine(self) -> Engine:
        return self._engine

    def close(self) -> None:
        self._engine.dispose()

    # --- creating and reading -------------------------------------------------------------------------

    def create_job(self, job: NewJob, cap: ActiveCap | None = None) -> bool:
        """Insert a queued job. ``False`` (and nothing written) when ``update_key`` was seen before.

        With ``cap``, raises ``OverCap`` (nothing written) when the user already has ``cap.most`` queued or
        running jobs of ``cap.kinds``. Count and insert are one step for every writer, so several bot
        processes cannot both take the last place: on PostgreSQL under a transaction-scoped advisory lock on
        the user, on SQLite in a transaction that takes the database's write lock as it begins."""
        now = utcnow()
        try:
            with self._engine.begin() as conn:
                if cap is not None:
                    self._check_cap(conn, job.chat, cap)
                self._insert_job(conn, job, now)
        except IntegrityError:
            if job.update_key is not None and self.job_by_update_key(job.update_key) is not None:
                return False
            raise
        return True

    def _check_cap(self, conn: Connection, chat: ChatRef, cap: ActiveCap) -> None:
        if self._sqlite:
            # The driver opens transactions lazily, at the first write; this one must hold the write lock
            # before it counts (other writers wait for it through busy_timeout).
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.execute(
                select(
                    func.pg_advisory_xact_lock(func.hashtext(f"atelier-cap:{chat.platform}:{chat.user_id}"))
                )
            )
        active = conn.execute(
            select(func.count())
            .select_from(_jobs)
            .where(
                _jobs.c.platform == chat.platform,
                _jobs.c.user_id == chat.user_id,
                _jobs.c.kind.in_(list(cap.kinds)),
                _jobs.c.state.in_(ACTIVE_STATES),
            )
        ).scalar_one()
        if active >= cap.most:
            raise OverCap(int(active))

    @staticmethod
    def _insert_job(conn: Connection, job: NewJob, now: datetime) -> None:
        conn.execute(
            insert(_jobs).values(
                id=job.id,
                kind=job.kind,
                queue=job.queue,
                state="queued",
                platform=job.chat.platform,
                user_id=job.chat.user_id,
                chat_id=job.chat.chat_id,
                lang=job.chat.lang,
                input_key=job.input_key,
                params=job.params,
                attempts=0,
                progress=0.0,
                update_key=job.update_key,
                reply_to_message_id=job.reply_to_message_id,
                created_at=now,
                updated_at=now,
            )
        )

    def set_status_message(self, job_id: str, message_id: str) -> None:
        self._update(job_id, None, status_message_id=message_id)

    # --- the worker side ------------------------------------------------------------------------------

    def start_attempt(
        self,
        job_id: str,
        max_attempts: int,
        *,
        owner: str = "",
        lease_s: float = 3600.0,
        owner_alive: Callable[[str], bool] | None = None,
    ) -> Attempt:
        """Decide what a worker that just received ``job_id`` does (see the module docstring).

        ``owner_alive`` tells whether a lease owner process still lives (cheap on the same host); without
        it an unexpired lease counts as alive.
        """
        for _ in range(20):  # compare-and-set loop: only repeats when another process changed the row
            row = self._row(job_id)
            job, now = job_view(row), utcnow()
            lease = {"lease_owner": owner, "lease_expires_at": now + timedelta(seconds=lease_s)}
            if job.state is JobState.DONE:
                return Attempt(AttemptAction.ANNOUNCE, job)
            if job.state in (JobState.FAILED, JobState.CANCELLED):
                return Attempt(AttemptAction.SKIP, job)
            if job.state is JobState.QUEUED:
                started = dict(
                    lease,
                    state="running",
                    attempts=_jobs.c.attempts + 1,
                    started_at=now,
                    progress=0.0,
                    stage=None,
                )
                if self._update(job_id, ("queued",), **started):
                    return Attempt(AttemptAction.RUN, self.get(job_id))
                continue
            held_by, expires = row.lease_owner, row.lease_expires_at
            # A lease held by this very process belongs to an attempt that is over (the process runs one job).
            held = held_by and held_by != owner and expires is not None and expires > now
            if held and (owner_alive is None or owner_alive(held_by)):
                return Attempt(AttemptAction.BUSY, job, retry_in_s=(expires - now).total_seconds())
            same_attempt = _jobs.c.attempts == job.attempts
            if job.attempts >= max_attempts:
                crashed = self._update(
                    job_id,
                    ("running",),
                    same_attempt,
                    state="failed",
                    error_key="job.crashed",
                    error_params={"attempts": job.attempts},
                    finished_at=now,
                    lease_owner=None,
                )
                if crashed:
                    return Attempt(AttemptAction.CRASHED, self.get(job_id))
                continue
            takeover = dict(lease, attempts=_jobs.c.attempts + 1, started_at=now, progress=0.0, stage=None)
            if self._update(job_id, ("running",), same_attempt, **takeover):
                return Attempt(AttemptAction.RUN, self.get(job_id))
        raise RuntimeError(f"job {job_id}: could not start an attempt under contention")

    def report_progress(
        self, job_id: str, owner: str, stage: str, fraction: float, *, lease_s: float
    ) -> bool:
        """Record progress and extend the lease. ``False`` when this attempt should stop: the job was
        cancelled, finished elsewhere, or taken over by another process."""
        return self._update(
            job_id,
            ("running",),
            _jobs.c.lease_owner == owner,
            stage=stage,
            progress=max(0.0, min(1.0, fraction)),
            lease_expires_at=utcnow() + timedelta(seconds=lease_s),
        )

    def mark_done(
        self,
        job_id: str,
        result_key: str | None,
        mask_key: str | None,
        result: dict[str, Any] | None = None,
    ) -> bool:
        """``running -> done``; ``True`` for exactly one caller. ``result``: what the job reports besides its
        images (see ``JobView.result``)."""
        return self._update(
            job_id,
            ("running",),
            state="done",
            result_key=result_key,
            mask_key=mask_key,
            result=result or {},
            progress=1.0,
            finished_at=utcnow(),
            lease_owner=None,
            lease_expires_at=None,
        )

    def mark_failed(
        self,
        job_id: str,
        error_key: str,
        error_params: dict[str, Any] | None = None,
        *,
        error_id: str | None = None,
        from_states: Sequence[str] = ("running",),
    ) -> bool:
        return self._update(
            job_id,
            tuple(from_states),
            state="failed",
            error_key=error_key,
            error_params=error_params or {},
            error_id=error_id,
            finished_at=utcnow(),
            lease_owner=None,
            lease_expires_at=None,
        )

    def cancel(self, job_id: str) -> bool:
        """Cancel a queued or running job; a running attempt stops at its next progress report."""
        return self._update(
            job_id,
            ACTIVE_STATES,
            state="cancelled",
            finished_at=utcnow(),
            lease_owner=None,
            lease_expires_at=None,
        )

    def mark_requeued(self, job_id: str, seen_owner: str, *, grace_s: float) -> bool:
        """Release the lease of a running job whose attempt is over (see ``stale_running``) so that the next
        message for it takes over at once; it is considered stale again after ``grace_s`` if no worker picked
        it up. ``True`` for the one caller that should enqueue it again."""
        return self._update(
            job_id,
            ("running",),
            _jobs.c.lease_owner == seen_owner,
            lease_owner="",
            lease_expires_at=utcnow() + timedelta(seconds=grace_s),
        )

    def mark_purged(self, job_id: str) -> bool:
        """The retention rule deleted the job's pictures. Only an ended job: a job that was just retried
        under the same id cannot exist (retries are new jobs), and a running one keeps its inputs."""
        return self._update(job_id, ("done", "failed", "cancelled"), purged_at=utcnow())

    # --- helpers --------------------------------------------------------------------------------------

    def _update(
        self, job_id: str, from_states: tuple[str, ...] | None, *conditions: Any, **values: Any
    ) -> bool:
        """One guarded UPDATE of one row; ``True`` when it matched."""
        query = update(_jobs).where(_jobs.c.id == job_id, *conditions)
        if from_states is not None:
            query = query.where(_jobs.c.state.in_(from_states))
        with self._engine.begin() as conn:
            result = conn.execute(query.values(updated_at=utcnow(), **values))
        return result.rowcount == 1
