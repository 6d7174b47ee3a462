"""The database tables (SQLAlchemy 2.0 typed ORM). The schema itself is owned by the Alembic migrations in
``core/store/migrations``; a test checks that these models and the migrations agree.

Timestamps are stored as UTC. SQLite has no time zone type, so ``UTCDateTime`` writes naive UTC and always
hands back aware datetimes, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    Row,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.ports import ChatRef, JobState, JobView

JOB_STATES = ("queued", "running", "done", "failed", "cancelled")
DELIVERY_STATES = ("pending", "claimed", "sent", "undeliverable")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware UTC datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("platform", "platform_user_id", name="uq_users_platform_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    platform_user_id: Mapped[str] = mapped_column(String(64))
    lang: Mapped[str] = mapped_column(String(8), default="en")
    # Whether /unmask and /suit use the user's identity model; whether raw selfies outlive their training.
    use_identity: Mapped[bool] = mapped_column(Boolean, default=True)
    keep_selfies: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Consent(Base):
    """A user agreed to a version of the /train consent text, at a time. Nothing of theirs is stored for
    training before such a row exists."""

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_user", "platform", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(64))
    text_version: Mapped[str] = mapped_column(String(32))
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Selfie(Base):
    """An accepted training selfie: its aligned face crop (and, until training, the raw photo) in the blob
    store, with what the checks measured."""

    __tablename__ = "selfies"
    __table_args__ = (Index("ix_selfies_user", "platform", "user_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # the id of the job that checked it
    platform: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(64))
    aligned_key: Mapped[str] = mapped_column(String(255))
    raw_key: Mapped[str | None] = mapped_column(String(255))
    # 128-d identity embedding and the 478 face-mesh points of the aligned crop, JSON lists.
    embedding: Mapped[list[float]] = mapped_column(JSON)
    landmarks: Mapped[list[list[float]]] = mapped_column(JSON)
    face_px: Mapped[int] = mapped_column(Integer)
    sharpness: Mapped[float] = mapped_column(Float)
    # 64-bit difference hash of the aligned crop, 16 hex digits (duplicate detection).
    dhash: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class IdentityModel(Base):
    """A user's trained identity adapter for one base model (one row per user and base model)."""

    __tablename__ = "identity_models"
    __table_args__ = (
        UniqueConstraint("platform", "user_id", "base_model", name="uq_identity_models_user_base"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(64))
    base_model: Mapped[str] = mapped_column(String(255))
    # None where the tier has no diffusion model (offline): the reference selfies are the identity.
    adapter_key: Mapped[str | None] = mapped_column(String(255))
    token: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[str] = mapped_column(String(32))
    selfies: Mapped[int] = mapped_column(Integer)
    steps: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(f"state IN {JOB_STATES!r}", name="ck_jobs_state"),
        # Queue position: queued/running jobs of one queue in creation order.
        Index("ix_jobs_queue_state_created", "queue", "state", "created_at"),
        # Delivery sweep: finished jobs.
        Index("ix_jobs_state_finished", "state", "finished_at"),
        Index("ix_jobs_user", "platform", "user_id", "state"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    platform: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(64))
    chat_id: Mapped[str] = mapped_column(String(64))
    lang: Mapped[str] = mapped_column(String(8), default="en")
    input_key: Mapped[str] = mapped_column(String(255))
    result_key: Mapped[str | None] = mapped_column(String(255))
    mask_key: Mapped[str | None] = mapped_column(String(255))
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    stage: Mapped[str | None] = mapped_column(String(32))
    error_key: Mapped[str | None] = mapped_column(String(64))
    error_params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    error_id: Mapped[str | None] = mapped_column(String(32))
    status_message_id: Mapped[str | None] = mapped_column(String(64))
    reply_to_message_id: Mapped[str | None] = mapped_column(String(64))
    # The chat update that created the job; a platform delivering the same update twice makes one job.
    update_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    # Which worker process runs the current attempt, and until when its claim holds (see JobStore).
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # What a finished job reports besides its images (a text result, a likeness score), JSON.
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # When the retention rule deleted the job's photo and results (the row itself stays, without pictures).
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Delivery(Base):
    """One row per job once somebody started delivering it; the unique ``job_id`` is what makes delivery
    effectively-once across processes."""

    __tablename__ = "deliveries"
    __table_args__ = (
        CheckConstraint(f"status IN {DELIVERY_STATES!r}", name="ck_deliveries_status"),
        Index("ix_deliveries_status", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(String(32), ForeignKey("jobs.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(255))


class PendingCommand(Base):
    """ "/unmask now, the photo later": what a chat member asked for and until when the request holds."""

    __tablename__ = "pending_commands"
    __table_args__ = (
        UniqueConstraint("platform", "chat_id", "user_id", name="uq_pending_commands_chat_user"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str] = mapped_column(String(64))
    command: Mapped[str] = mapped_column(String(32))
    # The command's options chosen so far (e.g. /suit's style and format), JSON.
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Ban(Base):
    """A user the operators banned: their updates are ignored after one notice (``notified_at``)."""

    __tablename__ = "bans"
    __table_args__ = (UniqueConstraint("platform", "user_id", name="uq_bans_user"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(255))
    banned_by: Mapped[str] = mapped_column(String(100))
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Switch(Base):
    """A studio-wide switch an operator sets from the chat (the pause), shared by every bot process."""

    __tablename__ = "switches"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[bool] = mapped_column(Boolean)
    set_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


def job_view(row: Row[Any]) -> JobView:
    return JobView(
        id=row.id,
        kind=row.kind,
        queue=row.queue,
        state=JobState(row.state),
        chat=ChatRef(platform=row.platform, user_id=row.user_id, chat_id=row.chat_id, lang=row.lang),
        input_key=row.input_key,
        result_key=row.result_key,
        mask_key=row.mask_key,
        params=dict(row.params or {}),
        attempts=row.attempts,
        progress=row.progress,
        stage=row.stage,
        error_key=row.error_key,
        error_params=dict(row.error_params or {}),
        status_message_id=row.status_message_id,
        reply_to_message_id=row.reply_to_message_id,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        result=dict(row.result or {}),
    )
