"""The worker side of /train: checking a selfie and training an identity (the identity a later job of the
same user runs with is found by ``jobs.identities``).

Both job kinds answer with a sentence (``{"key": ..., "params": ...}``, rendered by the Deliverer in the
user's language) rather than an image. Everything is located through the job's authenticated user
(``core.identity.owner_slug``), never through anything in the job's options except the ids of the user's own
selfies, which are looked up under that user.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from core import identity
from core.blobs import read_rgb
from core.config import TrainSettings
from core.errors import UserError
from core.imaging.intake import encode_png
from core.ports import JobView
from core.store import IdentityModelView, SelfieView

if TYPE_CHECKING:
    from dreambooth.selfies import SelfieChecker
    from jobs.runtime import ProgressReporter, WorkerContext

log = logging.getLogger(__name__)
Notice = dict[str, Any]


# --- selfie checks ---------------------------------------------------------------------------------------
_checker_lock = threading.Lock()
_checkers: dict[str, SelfieChecker] = {}


def _checker(train: TrainSettings) -> SelfieChecker:
    """One checker per process and settings (its face models load once). Call under ``_checker_lock``."""
    from dreambooth.selfies import build_selfie_checker

    key = train.model_dump_json()
    if key not in _checkers:
        _checkers[key] = build_selfie_checker(train)
    return _checkers[key]


def check_selfie(ctx: WorkerContext, job: JobView, progress: ProgressReporter) -> Notice:
    """Check one training selfie against the user's accepted ones; record it when it passes. A rejected
    photo is deleted at once (its reason is the job's failure)."""
    platform, user_id = job.chat.platform, job.chat.user_id
    slug, train = identity.owner_slug(platform, user_id), ctx.settings.train
    progress("check", 0.05)
    image = read_rgb(ctx.blobs, job.input_key)
    accepted = [s for s in ctx.store.selfies(platform, user_id) if s.id != job.id]
    try:
        with _checker_lock:  # one check at a time per process: the face models keep state between calls
            checked = _checker(train).check(
                image, [s.embedding for s in accepted], accepted_hashes=[s.dhash for s in accepted]
            )
    except UserError:
        ctx.blobs.delete(job.input_key)
        raise
    progress("check", 0.9)
    aligned_key = identity.selfie_key(slug, job.id)
    ctx.blobs.put(aligned_key, encode_png(checked.aligned))
    ctx.store.add_selfie(
        platform,
        user_id,
        SelfieView(
            id=job.id,
            aligned_key=aligned_key,
            raw_key=job.input_key,
            embedding=checked.embedding,
            landmarks=checked.landmarks,
            face_px=int(checked.face_px),
            sharpness=float(checked.sharpness),
            dhash=int(checked.dhash),
        ),
    )
    count = ctx.store.selfie_count(platform, user_id)
    return _notice("train.selfie_ok", count=count, min=train.min_selfies, max=train.max_selfies)


# --- training ----------------------------------------------------------------------------------------------
def train_identity_job(ctx: WorkerContext, job: JobView, progress: ProgressReporter) -> Notice:
    """Train the user's identity LoRA on their accepted selfies (resuming from the job's latest checkpoint
    when the task was redelivered), publish it atomically and register it for this base model."""
    from jobs.runtime import JobAborted

    platform, user_id = job.chat.platform, job.chat.user_id
    settings, slug = ctx.settings, identity.owner_slug(platform, user_id)
    base = identity.base_model_id(settings.models)
    wanted = [str(i) for i in (job.params.get("options") or {}).get("selfies", [])]
    selfies = ctx.store.selfies(platform, user_id, wanted)
    if len(selfies) < settings.train.min_selfies:
        raise UserError("train.need_more", have=len(selfies), need=settings.train.min_selfies)
    checkpoints = identity.checkpoint_prefix(slug, job.id)
    adapter_key: str | None = None
    steps = 0
    try:
        if settings.models.tier != "offline":  # the offline tier has no diffusion model: selfies suffice
            progress("prepare", 0.0)
            adapter, steps = _train_adapter(ctx, job, selfies, identity.identity_token(slug), progress)
            progress("publish", 1.0)
            adapter_key = identity.adapter_key(slug, base)
            ctx.blobs.put(adapter_key, adapter)
        model = IdentityModelView(
            base_model=base,
            adapter_key=adapter_key,
            token=identity.identity_token(slug),
            job_id=job.id,
            selfies=len(selfies),
            steps=steps,
            created_at=None,
        )
        try:
            ctx.store.save_identity_model(platform, user_id, model, job_id=job.id, owner=ctx.owner)
        except LookupError:  # cancelled or forgotten while training: publish nothing
            if adapter_key is not None:
                ctx.blobs.delete(adapter_key)
            raise JobAborted(job.id) from None
    except JobAborted:
        ctx.blobs.delete_prefix(checkpoints)  # a cancelled training is not resumed
        raise
    ctx.blobs.delete_prefix(checkpoints)
    if not ctx.store.user_prefs(platform, user_id).keep_selfies:
        for key in ctx.store.drop_raw_selfies(platform, user_id, [s.id for s in selfies]):
            ctx.blobs.delete(key)
    key = "train.ready" if adapter_key is not None else "train.ready_references"
    return _notice(key, count=len(selfies))


def _train_adapter(
    ctx: WorkerContext, job: JobView, selfies: list[SelfieView], token: str, progress: ProgressReporter
) -> tuple[bytes, int]:
    from core.imaging.backends import registry
    from dreambooth.checkpoints import BlobCheckpointStore
    from dreambooth.training import train_on_inpainter

    settings = ctx.settings
    slug = identity.owner_slug(job.chat.platform, job.chat.user_id)

    def on_step(step: int, total: int, loss: float) -> None:
        progress("train", step / max(1, total))

    result, config = train_on_inpainter(
        registry.shared("inpainter", settings.models),
        [read_rgb(ctx.blobs, s.aligned_key) for s in selfies],
        [s.landmarks for s in selfies],
        token,
        settings.train,
        BlobCheckpointStore(ctx.blobs, identity.checkpoint_prefix(slug, job.id)),
        on_step,
        blobs=ctx.blobs,
        base_model=identity.base_model_id(settings.models),
    )
    log.info(
        "job %s: trained %d steps (resumed from %d), loss %.4f -> %.4f",
        job.id,
        config.steps,
        result.resumed_from,
        result.losses[0] if result.losses else float("nan"),
        result.losses[-1] if result.losses else float("nan"),
    )
    return result.adapter, config.steps


# --- the identity a job uses -------------------------------------------------------------------------------
def _notice(key: str, **params: Any) -> Notice:
    return {"key": key, "params": params}
