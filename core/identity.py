"""Naming of a user's personal identity: its slug, its prompt token and where its files live.

Everything here is derived from the authenticated platform user id (``ChatRef.platform`` and ``user_id``),
never from anything a user typed: a command cannot name another user's model or a path.
"""

from __future__ import annotations

import hashlib
import re

from core.config import ModelSettings

# Consonant-heavy syllables that are rare in captions: the token for a user reads as one made-up word.
_SYLLABLES = ("zq", "vx", "kj", "wq", "xz", "qv", "jk", "zx", "vq", "xj", "qz", "kx", "jv", "wx", "zk", "qj")


def owner_slug(platform: str, user_id: str) -> str:
    """A stable, opaque name for one user: ``u`` + 24 hex digits of a hash of the platform id."""
    digest = hashlib.sha256(f"{platform}:{user_id}".encode()).hexdigest()
    return f"u{digest[:24]}"


def identity_token(slug: str) -> str:
    """The user's rare token for prompts ("a photo of <token> person"), four made-up syllables."""
    digest = hashlib.sha256(f"token:{slug}".encode()).digest()
    return "".join(_SYLLABLES[b % len(_SYLLABLES)] for b in digest[:4])


def base_model_id(models: ModelSettings) -> str:
    """Which base model an adapter belongs to: adapters are trained per base model and only load there."""
    if models.tier == "standard":
        return models.inpainter
    return f"{models.tier}-sd-inpaint"


def _component(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")[:80] or "model"


def selfie_key(slug: str, selfie_id: str, variant: str = "aligned") -> str:
    """``aligned``: the face crop at the training resolution; ``raw``: the photo as sent (cleaned)."""
    return f"selfies/{slug}/{selfie_id}.{variant}.png"


def selfie_prefix(slug: str) -> str:
    return f"selfies/{slug}/"


def adapter_key(slug: str, base_model: str) -> str:
    return f"identities/{slug}/{_component(base_model)}.safetensors"


def identity_prefix(slug: str) -> str:
    return f"identities/{slug}/"


def checkpoint_prefix(slug: str, job_id: str) -> str:
    return f"training/{slug}/{job_id}/"


def training_prefix(slug: str) -> str:
    return f"training/{slug}/"


def class_images_prefix(base_model: str) -> str:
    """Prior-preservation images: generated once per base model, shared by every user's training."""
    return f"class-images/{_component(base_model)}/"
