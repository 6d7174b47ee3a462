"""The blob store on a local directory (the ``BlobStore`` port): inputs, results, edit masks.

Writes are atomic: the bytes go to a temporary file in the destination directory, are fsynced, and replace
the destination with ``os.replace`` (atomic on POSIX within one file system); the directory is fsynced so the
rename itself survives a power cut. A reader therefore sees the old object or the whole new one, never half a
PNG, and a worker killed mid-write leaves at most a stray temporary file (``.tmp-*``, ignored by ``exists``).

Keys are relative, slash-separated paths from a strict alphabet (``core.blobkeys``); every store checks them
with ``validate_key`` before touching anything, so a key built from anything else cannot escape the root.

Other back ends: when workers run on other machines, ``core.s3blobs.S3BlobStore`` keeps the same keys under
``s3://bucket/prefix`` with the same guarantees (a PUT is atomic: readers see the old object or the new
one). ``open_blob_store(settings)`` is the one place that chooses between them (``ATELIER_BLOBS__URL``); the
chat side's composition root and the worker runtime both call it, and nothing else in Atelier touches blob
files directly.
"""

from __future__ import annotations

import io
import math
import os
import secrets
import tempfile
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image

from core.blobkeys import InvalidBlobKey as InvalidBlobKey  # where callers have always found it
from core.blobkeys import validate_key, validate_prefix
from core.config import Settings
from core.ports import BlobStore


# Where a job's images live, derived from its id alone (a later attempt finds what an earlier one wrote).
def input_key(job_id: str) -> str:
    return f"inputs/{job_id}.png"


def extra_input_key(job_id: str, name: str) -> str:
    return f"inputs/{job_id}.{name}.png"


def result_key(job_id: str) -> str:
    return f"results/{job_id}.png"


def mask_key(job_id: str) -> str:
    return f"results/{job_id}.mask.png"


def extra_result_key(job_id: str, name: str) -> str:
    return f"results/{job_id}.{name}.png"


def delivery_parts_key(job_id: str) -> str:
    """The parts of a job's delivery that already reached the chat, while a retry may still need them."""
    return f"deliveries/{job_id}.json"


def result_keys(job_id: str, extra_results: Iterable[str] = ()) -> list[str]:
    """Every key an attempt of the job may write: the result, the edit mask and the named extra results."""
    return [result_key(job_id), mask_key(job_id), *(extra_result_key(job_id, name) for name in extra_results)]


# Photos a pending command holds until the rest of its inputs arrive (``core.studio.held``). A key names its
# owner (``core.identity.owner_slug``: /forget deletes the folder) and the time after which nobody reads it,
# so the retention sweep tells an abandoned one from its name alone.
HELD_ROOT = "held/"


def held_prefix(owner: str) -> str:
    return f"{HELD_ROOT}{owner}/"


def held_key(owner: str, expires_at: datetime) -> str:
    return f"{held_prefix(owner)}{math.ceil(expires_at.timestamp())}-{secrets.token_hex(8)}.png"


def held_expiry(key: str) -> datetime | None:
    """When the photo held under ``key`` may be deleted; ``None`` for a key ``held_key`` did not make."""
    stamp, dash, _ = key.rpartition("/")[2].partition("-")
    if not key.startswith(HELD_ROOT) or not dash or not stamp.isdigit():
        return None
    return datetime.fromtimestamp(int(stamp), UTC)


def open_blob_store(settings: Settings) -> BlobStore:
    """The blob store the settings name: the bucket of ``blobs.url`` (``s3://bucket/prefix``), else the local
    directory ``{data_dir}/blobs``. Nothing is contacted until the first call."""
    if settings.blobs.url:
        from core.s3blobs import S3BlobStore  # boto3 loads only where a bucket is configured

        return S3BlobStore.from_settings(settings.blobs)
    return LocalBlobStore(settings.blob_dir)


class LocalBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        """The file that holds ``key`` (for tools and tests; services use ``get``/``put``)."""
        return self.root / validate_key(key)

    def put(self, key: str, data: bytes) -> None:
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp_name, target)
        except BaseException:
            try:
                os.unlink(tmp_name)
            except FileNotFoundError:
                pass
            raise
        _fsync_dir(target.parent)

    def get(self, key: str) -> bytes:
        return self.path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        try:
            self.path(key).unlink()
        except FileNotFoundError:
            pass

    def keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix`` (a folder, ending in ``/``), sorted; temp files of unfinished writes
        are not keys."""
        folder = self.path(validate_prefix(prefix)[:-1])
        if not folder.is_dir():
            return []
        return sorted(
            path.relative_to(self.root).as_posix()
            for path in folder.rglob("*")
            if path.is_file() and not path.name.startswith(".tmp-")
        )

    def delete_prefix(self, prefix: str) -> int:
        """Delete every key under ``prefix`` and the emptied folders; how many keys were deleted."""
        keys = self.keys(prefix)
        for key in keys:
            self.delete(key)
        folder = self.path(prefix[:-1])
        if folder.is_dir():
            # Deepest first, so a parent is empty by the time it is looked at.
            for directory in sorted((p for p in folder.rglob("*") if p.is_dir()), reverse=True):
                if not any(directory.iterdir()):
                    directory.rmdir()
            if not any(folder.iterdir()):
                folder.rmdir()
        return len(keys)


def read_rgb(blobs: BlobStore, key: str) -> Image.Image:
    """A stored image (inputs, results, selfie crops are PNGs written by us), decoded to RGB."""
    image = Image.open(io.BytesIO(blobs.get(key)))
    image.load()
    return image.convert("RGB")


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
