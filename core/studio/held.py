"""Photos a pending command keeps until the rest of its inputs arrive: /tryon's first photo while the member
sends the second.

A photo is held after intake, so one we cannot use is refused as it arrives rather than after the other, and
it is kept clean (``CleanPhoto``): the job takes it as it is, without a second intake (a clean PNG may be
larger than intake lets an upload be). Its blob key carries its owner and the time after which nobody reads
it (``core.blobs.held_key``): /forget deletes the owner's folder, and the retention sweep
(``core.retention.purge_held``) deletes what was abandoned (the other photo never came, another command
replaced the request, the bot stopped in between) without asking the database.

Functions here are synchronous (intake, blob store); async callers run them in a thread.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.blobs import held_expiry, held_key
from core.config import IntakeSettings
from core.identity import owner_slug
from core.imaging.intake_pool import CleanPhoto, clean_photo
from core.ports import BlobStore, ChatRef
from core.store.models import utcnow

# How long a held photo outlives the request that points at it: a request taken in its last second still
# finds its photo.
HOLD_MARGIN_S = 60.0


@dataclass(frozen=True)
class HeldPhoto:
    """What a pending request records of a photo it holds (JSON, in its params)."""

    key: str
    source_format: str
    width: int
    height: int
    # The chat update it came in: a redelivered copy of that update is not the next photo.
    update_key: str | None = None
    # The platform message that carried it: the result answers it.
    message_id: str | None = None

    def as_params(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_params(cls, params: object) -> HeldPhoto | None:
        """``None`` for anything that is not such a record."""
        if not isinstance(params, dict):
            return None
        try:
            return cls(**params)
        except TypeError:
            return None


def hold_photo(
    blobs: BlobStore,
    limits: IntakeSettings,
    chat: ChatRef,
    data: bytes,
    ttl_s: float,
    *,
    update_key: str | None,
    message_id: str | None,
) -> HeldPhoto:
    """Clean ``data`` (``UserError`` for a photo we refuse) and keep it for ``ttl_s`` and a margin."""
    clean = clean_photo(data, limits)
    expires = utcnow() + timedelta(seconds=ttl_s + HOLD_MARGIN_S)
    key = held_key(owner_slug(chat.platform, chat.user_id), expires)
    blobs.put(key, clean.data)
    return HeldPhoto(key, clean.source_format, clean.width, clean.height, update_key, message_id)


def held_clean(blobs: BlobStore, held: HeldPhoto) -> CleanPhoto | None:
    """The held photo as intake left it; ``None`` when it is gone (swept after its time, or /forget)."""
    if not blobs.exists(held.key):
        return None
    return CleanPhoto(blobs.get(held.key), held.source_format, held.width, held.height)


def release(blobs: BlobStore, photos: list[HeldPhoto]) -> None:
    """Delete held photos nobody will use any more (the job took copies, or the request was replaced)."""
    for photo in photos:
        blobs.delete(photo.key)


def time_left_s(photos: Iterable[HeldPhoto], default: float, now: datetime | None = None) -> float:
    """How much longer a request may point at ``photos``: until the first of them may be swept, less the
    margin (``default`` when it holds none)."""
    now = now or utcnow()
    ends = [end for end in (held_expiry(photo.key) for photo in photos) if end is not None]
    if not ends:
        return default
    return (min(ends) - now).total_seconds() - HOLD_MARGIN_S
