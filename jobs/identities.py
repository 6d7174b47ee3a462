"""The identity a job runs with: its own user's trained model and reference selfies, found through the job's
authenticated user (``core.identity.owner_slug``), never through anything the job's options say."""

from __future__ import annotations

from core import identity
from core.blobs import read_rgb
from core.config import ModelSettings
from core.imaging.backends.base import Identity, ReferenceFace
from core.ports import BlobStore, JobView
from core.store import JobStore


def job_identity(store: JobStore, blobs: BlobStore, models: ModelSettings, job: JobView) -> Identity | None:
    """The identity of the job's own user for the worker's base model (``models``), or ``None`` (no selfies,
    no model, or the user turned it off)."""
    platform, user_id = job.chat.platform, job.chat.user_id
    if not store.user_prefs(platform, user_id).use_identity:
        return None
    slug = identity.owner_slug(platform, user_id)
    model = store.identity_model(platform, user_id, identity.base_model_id(models))
    selfies = store.selfies(platform, user_id)
    if model is None and (models.tier != "offline" or not selfies):
        return None
    # Only the offline tier paints from the selfies themselves; the others need their embeddings (likeness),
    # so they skip decoding up to 20 crops per job.
    with_images = models.tier == "offline"
    references = tuple(
        ReferenceFace(read_rgb(blobs, s.aligned_key) if with_images else None, s.landmarks, s.embedding)
        for s in selfies
        if not with_images or blobs.exists(s.aligned_key)
    )
    adapter = blobs.get(model.adapter_key) if model is not None and model.adapter_key else None
    token = model.token if model is not None else identity.identity_token(slug)
    return Identity(name=slug, token=token, adapter=adapter, references=references)
