"""Delivery records, pending chat commands and users: the smaller tables of the job store.

``JobStore`` mixes these in; each method is one short transaction.

Delivery is effectively-once: a front end *claims* a finished job by inserting its unique delivery row
(or by taking over a row whose retry time has come), sends, then marks the row ``sent`` with the token it
claimed with. Two sweeps racing for the same job cannot both claim it.

The one trade-off: a claim whose holder died between sending and ``mark_sent`` (a ``kill -9`` at exactly
that moment) would leave the job undelivered forever. So a ``claimed`` row older than ``stale_after_s`` may
be claimed again, which means that in that narrow window the user can get the result twice. We prefer a rare
duplicate to a lost result; ``stale_after_s`` must be far longer than any send (the Deliverer bounds each
send with a timeout well below it), so a slow but living sender is never overtaken.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Engine, Table, and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from core.ports import JobView
from core.store.models import Delivery, Job, PendingCommand, User, job_view, utcnow

_jobs = cast(Table, Job.__table__)
_deliveries = cast(Table, Delivery.__table__)
_pending = cast(Table, PendingCommand.__table__)
_users = cast(Table, User.__table__)
# Cancelled jobs are answered by the cancel command itself, not by the delivery sweep.
_FINISHED_FOR_DELIVERY = ("done", "failed")


@dataclass(frozen=True)
class DeliveryView:
    job_id: str
    status: str  # pending | claimed | sent | undeliverable
    attempts: int
    claimed_at: datetime | None
    sent_at: datetime | None
    next_attempt_at: datetime | None
    last_error: str | None


class DeliveryRecords:
    _engine: Engine

    def claim_delivery(self, job_id: str, *, stale_after_s: float = 600.0) -> str | None:
        """A claim token when this caller may deliver ``job_id`` now, else ``None``."""
        token = uuid.uuid4().hex
        now = utcnow()
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(_deliveries).values(
                        job_id=job_id, status="claimed", claim_token=token, claimed_at=now, attempts=1
                    )
                )
            return token
        except IntegrityError:
            pass  # somebody delivered or is delivering it: take over only a due retry or a stale claim
        due = (_deliveries.c.status == "pending") & (
            _deliveries.c.next_attempt_at.is_(None) | (_deliveries.c.next_attempt_at <= now)
        )
        stale = (_deliveries.c.status == "claimed") & (
            _deliveries.c.claimed_at < now - timedelta(seconds=stale_after_s)
        )
        with self._engine.begin() as conn:
            result = conn.execute(
                update(_deliveries)
                .where(_deliveries.c.job_id == job_id, due | stale)
                .values(
                    status="claimed", claim_token=token, claimed_at=now, attempts=_deliveries.c.attempts + 1
                )
            )
        return token if result.rowcount == 1 else None

    def undelivered(
        self, platforms: Iterable[str], *, stale_after_s: float = 600.0, limit: int = 50
    ) -> list[JobView]:
        """Finished jobs of ``platforms`` that nobody delivered yet, whose retry is due, or whose claim went
        stale. Oldest first."""
        now = utcnow()
        due = or_(
            _deliveries.c.id.is_(None),
            and_(
                _deliveries.c.status == "pending",
                or_(_deliveries.c.next_attempt_at.is_(None), _deliveries.c.next_attempt_at <= now),
            ),
            and_(
                _deliveries.c.status == "claimed",
                _deliveries.c.claimed_at < now - timedelta(seconds=stale_after_s),
            ),
        )
        query = (
            select(_jobs)
            .select_from(_jobs.outerjoin(_deliveries, _deliveries.c.job_id == _jobs.c.id))
            .where(_jobs.c.state.in_(_FINISHED_FOR_DELIVERY), _jobs.c.platform.in_(list(platforms)), due)
            .order_by(_jobs.c.finished_at)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [job_view(row) for row in conn.execute(query).all()]

    def reject_queued(self, job_id: str, error_key: str) -> bool:
        """Fail a job that never reached the queue (the broker was down) and record it as delivered: the
        caller tells the user right away, so the delivery sweep must not tell them again."""
        now = utcnow()
        with self._engine.begin() as conn:
            failed = conn.execute(
                update(_jobs)
                .where(_jobs.c.id == job_id, _jobs.c.state == "queued")
                .values(state="failed", error_key=error_key, error_params={}, finished_at=now, updated_at=now)
            ).rowcount
            if failed:
                conn.execute(
                    insert(_deliveries).values(job_id=job_id, status="sent", sent_at=now, attempts=0)
                )
        return failed == 1

    def mark_sent(self, job_id: str, token: str) -> bool:
        return self._finish_claim(job_id, token, status="sent", sent_at=utcnow())

    def mark_undeliverable(self, job_id: str, token: str, reason: str) -> bool:
        return self._finish_claim(job_id, token, status="undeliverable", last_error=reason[:255])

    def retry_delivery_later(self, job_id: str, token: str, *, delay_s: float, error: str) -> bool:
        """Give the claim back; the job becomes due again after ``delay_s``."""
        return self._finish_claim(
            job_id,
            token,
            status="pending",
            next_attempt_at=utcnow() + timedelta(seconds=delay_s),
            last_error=error[:255],
        )

    def delivery(self, job_id: str) -> DeliveryView | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(_deliveries).where(_deliveries.c.job_id == job_id)).first()
        if row is None:
            return None
        return DeliveryView(
            job_id=row.job_id,
            status=row.status,
            attempts=row.attempts,
            claimed_at=row.claimed_at,
            sent_at=row.sent_at,
            next_attempt_at=row.next_attempt_at,
            last_error=row.last_error,
        )

    def _finish_claim(self, job_id: str, token: str, **values: object) -> bool:
        with self._engine.begin() as conn:
            result = conn.execute(
                update(_deliveries)
                .where(
                    _deliveries.c.job_id == job_id,
                    _deliveries.c.status == "claimed",
                    _deliveries.c.claim_token == token,
                )
                .values(**values)
            )
        return result.rowcount == 1


@dataclass(frozen=True)
class Pending:
    command: str
    params: dict[str, Any]


class PendingCommands:
    """A command waiting for its photo ("/unmask" now, the photo in the next message)."""

    _engine: Engine

    def expect_command(
        self,
        platform: str,
        chat_id: str,
        user_id: str,
        command: str,
        ttl_s: float,
        params: dict[str, Any] | None = None,
    ) -> None:
        key = (_pending.c.platform == platform, _pending.c.chat_id == chat_id, _pending.c.user_id == user_id)
        row = {
            "platform": platform,
            "chat_id": chat_id,
            "user_id": user_id,
            "command": command,
            "params": params or {},
            "expires_at": utcnow() + timedelta(seconds=ttl_s),
            "created_at": utcnow(),
        }
        for _ in range(3):  # two concurrent calls for the same chat member: the later one wins
            try:
                with self._engine.begin() as conn:
                    conn.execute(delete(_pending).where(*key))
                    conn.execute(insert(_pending).values(**row))
                return
            except IntegrityError:
                continue
        raise RuntimeError("could not record the pending command")

    def take_command(self, platform: str, chat_id: str, user_id: str) -> Pending | None:
        """The pending command if one is there and not expired; it is removed either way."""
        with self._engine.begin() as conn:
            row = conn.execute(
                delete(_pending)
                .where(
                    _pending.c.platform == platform,
                    _pending.c.chat_id == chat_id,
                    _pending.c.user_id == user_id,
                )
                .returning(_pending.c.command, _pending.c.params, _pending.c.expires_at)
            ).first()
        if row is None or row.expires_at <= utcnow():
            return None
        return Pending(str(row.command), dict(row.params or {}))

    def peek_command(self, platform: str, chat_id: str, user_id: str) -> Pending | None:
        """The pending command if one is there and not expired, left in place."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(_pending.c.command, _pending.c.params, _pending.c.expires_at).where(
                    _pending.c.platform == platform,
                    _pending.c.chat_id == chat_id,
                    _pending.c.user_id == user_id,
                )
            ).first()
        if row is None or row.expires_at <= utcnow():
            return None
        return Pending(str(row.command), dict(row.params or {}))

    def update_pending_params(
        self, platform: str, chat_id: str, user_id: str, command: str, changes: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Merge ``changes`` into the options of this member's pending ``command``; the new options, or
        ``None`` when there is no such pending command (expired, taken, or someone else's)."""
        where = (
            _pending.c.platform == platform,
            _pending.c.chat_id == chat_id,
            _pending.c.user_id == user_id,
            _pending.c.command == command,
            _pending.c.expires_at > utcnow(),
        )
        with self._engine.begin() as conn:
            row = conn.execute(select(_pending.c.id, _pending.c.params).where(*where)).first()
            if row is None:
                return None
            params = dict(row.params or {}) | changes
            conn.execute(update(_pending).where(_pending.c.id == row.id).values(params=params))
        return params


class UserRecords:
    _engine: Engine

    def upsert_user(self, platform: str, user_id: str, lang: str) -> None:
        """Remember the user and the language they last wrote in."""
        now = utcnow()
        key = (_users.c.platform == platform, _users.c.platform_user_id == user_id)
        for _ in range(3):
            with self._engine.begin() as conn:
                if conn.execute(update(_users).where(*key).values(lang=lang, updated_at=now)).rowcount:
                    return
            try:
                with self._engine.begin() as conn:
                    conn.execute(
                        insert(_users).values(
                            platform=platform,
                            platform_user_id=user_id,
                            lang=lang,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                return
            except IntegrityError:
                continue  # inserted concurrently: update it
        raise RuntimeError("could not record the user")

    def user_language(self, platform: str, user_id: str) -> str | None:
        with self._engine.connect() as conn:
            lang = conn.execute(
                select(_users.c.lang).where(
                    _users.c.platform == platform, _users.c.platform_user_id == user_id
                )
            ).scalar()
        return str(lang) if lang is not None else None
