"""Consent records, accepted selfies, identity models and per-user settings: the /train tables.

``JobStore`` mixes these in; each method is one short transaction. ``forget_user`` is the one place that
deletes a user: it removes every row that names them and returns the blob keys the caller must delete.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import numpy as np
from sqlalchemy import Engine, Table, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from core.ports import JobView
from core.store.models import (
    Consent,
    Delivery,
    IdentityModel,
    Job,
    PendingCommand,
    Selfie,
    User,
    job_view,
    utcnow,
)

_consents = cast(Table, Consent.__table__)
_selfies = cast(Table, Selfie.__table__)
_models = cast(Table, IdentityModel.__table__)
_users = cast(Table, User.__table__)
_jobs = cast(Table, Job.__table__)
_pending = cast(Table, PendingCommand.__table__)
_deliveries = cast(Table, Delivery.__table__)
_ACTIVE = ("queued", "running")


@dataclass(frozen=True)
class SelfieView:
    id: str
    aligned_key: str
    raw_key: str | None
    embedding: np.ndarray = field(compare=False)
    landmarks: np.ndarray = field(compare=False)
    face_px: int = 0
    sharpness: float = 0.0
    dhash: int = 0  # unsigned 64-bit difference hash of the aligned crop
    created_at: datetime | None = None


@dataclass(frozen=True)
class IdentityModelView:
    base_model: str
    adapter_key: str | None
    token: str
    job_id: str
    selfies: int
    steps: int
    created_at: datetime | None


@dataclass(frozen=True)
class UserPrefs:
    use_identity: bool = True
    keep_selfies: bool = False


@dataclass(frozen=True)
class ForgottenRows:
    """What ``forget_user`` deleted, and the blob keys that belonged to it."""

    jobs: list[JobView]
    selfies: list[SelfieView]
    models: list[IdentityModelView]
    consents: int


class IdentityRecords:
    _engine: Engine

    # --- consent ----------------------------------------------------------------------------------------
    def record_consent(self, platform: str, user_id: str, text_version: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                insert(_consents).values(
                    platform=platform, user_id=user_id, text_version=text_version, accepted_at=utcnow()
                )
            )

    def has_consent(self, platform: str, user_id: str, text_version: str) -> bool:
        with self._engine.connect() as conn:
            found = conn.execute(
                select(_consents.c.id).where(
                    _consents.c.platform == platform,
                    _consents.c.user_id == user_id,
                    _consents.c.text_version == text_version,
                )
            ).first()
        return found is not None

    # --- selfies ----------------------------------------------------------------------------------------
    def add_selfie(self, platform: str, user_id: str, selfie: SelfieView) -> bool:
        """Record an accepted selfie; ``False`` when this id was recorded before (a redelivered check)."""
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    insert(_selfies).values(
                        id=selfie.id,
                        platform=platform,
                        user_id=user_id,
                        aligned_key=selfie.aligned_key,
                        raw_key=selfie.raw_key,
                        embedding=[round(float(v), 6) for v in selfie.embedding],
                        landmarks=np.round(np.asarray(selfie.landmarks, float), 2).tolist(),
                        face_px=selfie.face_px,
                        sharpness=selfie.sharpness,
                        dhash=f"{selfie.dhash:016x}",
                        created_at=utcnow(),
                    )
                )
        except IntegrityError:
            return False
        return True

    def selfies(self, platform: str, user_id: str, ids: Sequence[str] | None = None) -> list[SelfieView]:
        query = select(_selfies).where(_selfies.c.platform == platform, _selfies.c.user_id == user_id)
        if ids is not None:
            query = query.where(_selfies.c.id.in_(list(ids)))
        with self._engine.connect() as conn:
            rows = conn.execute(query.order_by(_selfies.c.created_at, _selfies.c.id)).all()
        return [_selfie_view(row) for row in rows]

    def selfie_count(self, platform: str, user_id: str) -> int:
        with self._engine.connect() as conn:
            count = conn.execute(
                select(func.count())
                .select_from(_selfies)
                .where(_selfies.c.platform == platform, _selfies.c.user_id == user_id)
            ).scalar_one()
        return int(count)

    def drop_raw_selfies(self, platform: str, user_id: str, ids: Sequence[str]) -> list[str]:
        """Forget the raw photos of these selfies (their aligned crops stay); the blob keys to delete."""
        where = (_selfies.c.platform == platform, _selfies.c.user_id == user_id, _selfies.c.id.in_(list(ids)))
        with self._engine.begin() as conn:
            keys = [
                str(key)
                for key in conn.execute(select(_selfies.c.raw_key).where(*where)).scalars()
                if key is not None
            ]
            conn.execute(update(_selfies).where(*where).values(raw_key=None))
        return keys

    # --- identity models ---------------------------------------------------------------------------------
    def save_identity_model(
        self,
        platform: str,
        user_id: str,
        model: IdentityModelView,
        *,
        job_id: str,
        owner: str,
    ) -> IdentityModelView | None:
        """Register (or replace) the user's model for ``model.base_model``, only while the training job
        ``job_id`` is still running under ``owner``: a training cancelled or forgotten meanwhile registers
        nothing. Returns the model it replaced, if any (the caller deletes its adapter when the key differs),
        or ``None``; raises ``LookupError`` when the job no longer runs."""
        values: dict[str, Any] = {
            "platform": platform,
            "user_id": user_id,
            "base_model": model.base_model,
            "adapter_key": model.adapter_key,
            "token": model.token,
            "job_id": model.job_id,
            "selfies": model.selfies,
            "steps": model.steps,
            "created_at": utcnow(),
        }
        key = (
            _models.c.platform == platform,
            _models.c.user_id == user_id,
            _models.c.base_model == model.base_model,
        )
        with self._engine.begin() as conn:
            running = conn.execute(
                select(_jobs.c.id)
                .where(_jobs.c.id == job_id, _jobs.c.state == "running", _jobs.c.lease_owner == owner)
                .with_for_update()
            ).first()
            if running is None:
                raise LookupError(f"training job {job_id} no longer runs")
            previous = conn.execute(select(_models).where(*key)).first()
            conn.execute(delete(_models).where(*key))
            conn.execute(insert(_models).values(**values))
        return None if previous is None else _model_view(previous)

    def identity_model(self, platform: str, user_id: str, base_model: str) -> IdentityModelView | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(_models).where(
                    _models.c.platform == platform,
                    _models.c.user_id == user_id,
                    _models.c.base_model == base_model,
                )
            ).first()
        return None if row is None else _model_view(row)

    def identity_models(self, platform: str, user_id: str) -> list[IdentityModelView]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(_models).where(_models.c.platform == platform, _models.c.user_id == user_id)
            ).all()
        return [_model_view(row) for row in rows]

    # --- settings -----------------------------------------------------------------------------------------
    def user_prefs(self, platform: str, user_id: str) -> UserPrefs:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(_users.c.use_identity, _users.c.keep_selfies).where(
                    _users.c.platform == platform, _users.c.platform_user_id == user_id
                )
            ).first()
        return UserPrefs() if row is None else UserPrefs(bool(row.use_identity), bool(row.keep_selfies))

    def set_user_pref(self, platform: str, user_id: str, name: str, value: bool) -> bool:
        """Change one preference of a known user (``upsert_user`` first); ``False`` for an unknown user."""
        if name not in ("use_identity", "keep_selfies"):
            raise ValueError(f"unknown preference {name!r}")
        with self._engine.begin() as conn:
            changed = conn.execute(
                update(_users)
                .where(_users.c.platform == platform, _users.c.platform_user_id == user_id)
                .values({name: value, "updated_at": utcnow()})
            ).rowcount
        return changed == 1

    # --- jobs by user and kind --------------------------------------------------------------------------
    def active_of_kind(self, kind: str, platform: str | None = None, user_id: str | None = None) -> int:
        """Queued or running jobs of ``kind`` (of one user when given)."""
        query = (
            select(func.count()).select_from(_jobs).where(_jobs.c.kind == kind, _jobs.c.state.in_(_ACTIVE))
        )
        if platform is not None and user_id is not None:
            query = query.where(_jobs.c.platform == platform, _jobs.c.user_id == user_id)
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    # --- forgetting -----------------------------------------------------------------------------------------
    def forget_user(self, platform: str, user_id: str) -> ForgottenRows:
        """Delete every row about this user (jobs with their deliveries, selfies, models, consents, pending
        commands, the user). Callers cancel active jobs first, so workers stop."""
        jobs_where = (_jobs.c.platform == platform, _jobs.c.user_id == user_id)
        with self._engine.begin() as conn:
            jobs = [job_view(row) for row in conn.execute(select(_jobs).where(*jobs_where)).all()]
            selfies = [
                _selfie_view(row)
                for row in conn.execute(
                    select(_selfies).where(_selfies.c.platform == platform, _selfies.c.user_id == user_id)
                ).all()
            ]
            models = [
                _model_view(row)
                for row in conn.execute(
                    select(_models).where(_models.c.platform == platform, _models.c.user_id == user_id)
                ).all()
            ]
            # Explicit rather than through ON DELETE CASCADE, which SQLite only honours with a pragma.
            conn.execute(delete(_deliveries).where(_deliveries.c.job_id.in_([job.id for job in jobs])))
            conn.execute(delete(_jobs).where(*jobs_where))
            conn.execute(
                delete(_selfies).where(_selfies.c.platform == platform, _selfies.c.user_id == user_id)
            )
            conn.execute(delete(_models).where(_models.c.platform == platform, _models.c.user_id == user_id))
            consents = conn.execute(
                delete(_consents).where(_consents.c.platform == platform, _consents.c.user_id == user_id)
            ).rowcount
            conn.execute(
                delete(_pending).where(_pending.c.platform == platform, _pending.c.user_id == user_id)
            )
            conn.execute(
                delete(_users).where(_users.c.platform == platform, _users.c.platform_user_id == user_id)
            )
        return ForgottenRows(jobs, selfies, models, int(consents))


def _selfie_view(row: Any) -> SelfieView:
    return SelfieView(
        id=row.id,
        aligned_key=row.aligned_key,
        raw_key=row.raw_key,
        embedding=np.asarray(row.embedding, np.float32),
        landmarks=np.asarray(row.landmarks, np.float32),
        face_px=row.face_px,
        sharpness=row.sharpness,
        dhash=int(row.dhash, 16),
        created_at=row.created_at,
    )


def _model_view(row: Any) -> IdentityModelView:
    return IdentityModelView(
        base_model=row.base_model,
        adapter_key=row.adapter_key,
        token=row.token,
        job_id=row.job_id,
        selfies=row.selfies,
        steps=row.steps,
        created_at=row.created_at,
    )
