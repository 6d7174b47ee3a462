"""What operators set from the chat: bans and studio-wide switches; and the queue figures they read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from sqlalchemy import Engine, Table, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from core.store.models import Ban, Job, Switch, utcnow
from core.store.queries import ACTIVE_STATES

_bans = cast(Table, Ban.__table__)
_switches = cast(Table, Switch.__table__)
_jobs = cast(Table, Job.__table__)
PAUSED = "paused"


@dataclass(frozen=True)
class QueueDepth:
    queue: str
    queued: int
    running: int


class AdminRecords:
    _engine: Engine

    def ban(self, platform: str, user_id: str, banned_by: str, reason: str | None = None) -> bool:
        """``False`` when the user was banned already."""
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(_bans).values(
                        platform=platform,
                        user_id=user_id,
                        banned_by=banned_by,
                        reason=reason[:255] if reason else None,
                        created_at=utcnow(),
                    )
                )
        except IntegrityError:
            return False
        return True

    def unban(self, platform: str, user_id: str) -> bool:
        with self._engine.begin() as conn:
            result = conn.execute(
                delete(_bans).where(_bans.c.platform == platform, _bans.c.user_id == user_id)
            )
        return result.rowcount > 0

    def is_banned(self, platform: str, user_id: str) -> bool:
        query = select(_bans.c.id).where(_bans.c.platform == platform, _bans.c.user_id == user_id)
        with self._engine.connect() as conn:
            return conn.execute(query).first() is not None

    def claim_ban_notice(self, platform: str, user_id: str) -> bool:
        """``True`` exactly once per ban, across bot processes: this caller tells the user."""
        query = (
            update(_bans)
            .where(_bans.c.platform == platform, _bans.c.user_id == user_id, _bans.c.notified_at.is_(None))
            .values(notified_at=utcnow())
        )
        with self._engine.begin() as conn:
            return conn.execute(query).rowcount == 1

    def set_switch(self, name: str, value: bool, set_by: str) -> None:
        values = {"value": value, "set_by": set_by, "updated_at": utcnow()}
        change = update(_switches).where(_switches.c.name == name).values(**values)
        with self._engine.begin() as conn:
            if conn.execute(change).rowcount:
                return
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(_switches).values(name=name, **values))
        except IntegrityError:  # another process made the row meanwhile: ours is the later word
            with self._engine.begin() as conn:
                conn.execute(change)

    def switch(self, name: str) -> bool:
        with self._engine.connect() as conn:
            value = conn.execute(select(_switches.c.value).where(_switches.c.name == name)).scalar()
        return bool(value)

    def queue_depths(self) -> list[QueueDepth]:
        """Queued and running jobs per queue, from the job database (the source of truth)."""
        query = (
            select(_jobs.c.queue, _jobs.c.state, func.count())
            .where(_jobs.c.state.in_(ACTIVE_STATES))
            .group_by(_jobs.c.queue, _jobs.c.state)
        )
        with self._engine.connect() as conn:
            counts = {(queue, state): int(n) for queue, state, n in conn.execute(query).all()}
        queues = sorted({queue for queue, _ in counts})
        return [QueueDepth(q, counts.get((q, "queued"), 0), counts.get((q, "running"), 0)) for q in queues]
