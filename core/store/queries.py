"""Reading jobs: by id, by chat update, per user, queue positions, and running jobs whose attempt is over."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Engine, Row, Table, and_, func, or_, select

from core.ports import JobView
from core.store.models import Job, job_view, utcnow

_jobs = cast(Table, Job.__table__)
ACTIVE_STATES = ("queued", "running")


class JobNotFound(LookupError):
    pass


@dataclass(frozen=True)
class StaleJob:
    id: str
    kind: str
    queue: str
    lease_owner: str


@dataclass(frozen=True)
class QuotaCounts:
    user_active: int  # the user's queued or running jobs of the given kinds
    user_recent: int  # the user's jobs of the given kinds created since the given time
    oldest_recent: datetime | None  # when the first of those was created
    chat_active: int  # queued or running jobs of the given kinds in the chat
    queued: int  # queued jobs of the given kinds in the whole studio


class JobQueries:
    _engine: Engine

    def quota_counts(
        self, platform: str, user_id: str, chat_id: str, kinds: Sequence[str], since: datetime
    ) -> QuotaCounts:
        """What the studio's quotas look at, in one connection."""
        of_kinds = _jobs.c.kind.in_(list(kinds))
        user = and_(of_kinds, _jobs.c.platform == platform, _jobs.c.user_id == user_id)
        active = _jobs.c.state.in_(ACTIVE_STATES)
        in_chat = and_(_jobs.c.platform == platform, _jobs.c.chat_id == chat_id)
        count = select(func.count()).select_from(_jobs)
        with self._engine.connect() as conn:
            recent = conn.execute(
                select(func.count(), func.min(_jobs.c.created_at)).where(user, _jobs.c.created_at >= since)
            ).one()
            return QuotaCounts(
                user_active=int(conn.execute(count.where(user, active)).scalar_one()),
                user_recent=int(recent[0]),
                oldest_recent=recent[1],  # aware UTC: min() keeps the column's type
                chat_active=int(conn.execute(count.where(of_kinds, active, in_chat)).scalar_one()),
                queued=int(conn.execute(count.where(of_kinds, _jobs.c.state == "queued")).scalar_one()),
            )

    def get(self, job_id: str) -> JobView:
        return job_view(self._row(job_id))

    def job_by_update_key(self, update_key: str) -> JobView | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(_jobs).where(_jobs.c.update_key == update_key)).first()
        return job_view(row) if row is not None else None

    def jobs_for_user(
        self, platform: str, user_id: str, *, active_only: bool = True, limit: int | None = None
    ) -> list[JobView]:
        """The user's jobs, newest first: every one of them unless ``limit`` says how many to show."""
        query = select(_jobs).where(_jobs.c.platform == platform, _jobs.c.user_id == user_id)
        if active_only:
            query = query.where(_jobs.c.state.in_(ACTIVE_STATES))
        query = query.order_by(_jobs.c.created_at.desc())
        with self._engine.connect() as conn:
            rows = conn.execute(query if limit is None else query.limit(limit)).all()
        return [job_view(row) for row in rows]

    def waiting(self, limit: int = 1000) -> list[JobView]:
        """Queued jobs, oldest first."""
        query = select(_jobs).where(_jobs.c.state == "queued").order_by(_jobs.c.created_at).limit(limit)
        with self._engine.connect() as conn:
            return [job_view(row) for row in conn.execute(query).all()]

    def queue_position(self, job_id: str) -> int:
        """1 when the job runs next; N when N-1 queued or running jobs of its queue came before it. 0 when
        it is not waiting any more."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(_jobs.c.queue, _jobs.c.state, _jobs.c.created_at).where(_jobs.c.id == job_id)
            ).first()
            if row is None:
                raise JobNotFound(job_id)
            if row.state != "queued":
                return 0
            earlier = or_(
                _jobs.c.created_at < row.created_at,
                and_(_jobs.c.created_at == row.created_at, _jobs.c.id < job_id),
            )
            ahead = conn.execute(
                select(func.count())
                .select_from(_jobs)
                .where(_jobs.c.queue == row.queue, _jobs.c.state.in_(ACTIVE_STATES), earlier)
            ).scalar_one()
        return int(ahead) + 1

    def expired(self, kinds: Sequence[str], done_before: datetime, limit: int = 200) -> list[JobView]:
        """Jobs of ``kinds`` whose pictures the retention rule deletes now: done before ``done_before``, or
        failed or cancelled at any time; not purged yet. Oldest first."""
        ended = or_(
            and_(_jobs.c.state == "done", _jobs.c.finished_at < done_before),
            _jobs.c.state.in_(("failed", "cancelled")),
        )
        query = (
            select(_jobs)
            .where(_jobs.c.kind.in_(list(kinds)), _jobs.c.purged_at.is_(None), ended)
            .order_by(_jobs.c.finished_at)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [job_view(row) for row in conn.execute(query).all()]

    def _row(self, job_id: str) -> Row[Any]:
        with self._engine.connect() as conn:
            row = conn.execute(select(_jobs).where(_jobs.c.id == job_id)).first()
        if row is None:
            raise JobNotFound(job_id)
        return row

    def stale_running(
        self, owner_alive: Callable[[str], bool] | None = None, limit: int = 100
    ) -> list[StaleJob]:
        """Running jobs whose attempt is over although no message may come back for them: the lease
        expired, or ``owner_alive`` says the owner process died (a whole worker killed, its messages
        waiting out the visibility timeout)."""
        now = utcnow()
        query = select(_jobs.c.id, _jobs.c.kind, _jobs.c.queue, _jobs.c.lease_owner, _jobs.c.lease_expires_at)
        with self._engine.connect() as conn:
            rows = conn.execute(query.where(_jobs.c.state == "running").limit(limit)).all()
        stale = []
        for row in rows:
            owner = row.lease_owner or ""
            expired = row.lease_expires_at is None or row.lease_expires_at <= now
            dead = bool(owner) and owner_alive is not None and not owner_alive(owner)
            if expired or dead:
                stale.append(StaleJob(row.id, row.kind, row.queue, owner))
        return stale
