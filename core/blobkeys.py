"""What a blob key may look like, shared by every blob store (``core.blobs``, ``core.s3blobs``).

Keys are relative, slash-separated paths from a strict alphabet (letters, digits, ``. _ -``); no absolute
paths, no ``..``, no empty segments, no hidden names. Keys come from job ids the service generates, but the
check makes a key built from anything else unable to escape the store's root or prefix.
"""

from __future__ import annotations

import re

_SEGMENT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
MAX_KEY_LENGTH = 512


class InvalidBlobKey(ValueError):
    pass


def validate_key(key: str) -> str:
    """Return ``key`` unchanged when it is a safe relative key, else raise ``InvalidBlobKey``."""
    if not key or len(key) > MAX_KEY_LENGTH or key.startswith("/"):
        raise InvalidBlobKey(f"invalid blob key {key!r}")
    for segment in key.split("/"):
        if segment in ("", ".", "..") or not _SEGMENT.match(segment) or segment.startswith(".tmp-"):
            raise InvalidBlobKey(f"invalid blob key {key!r}")
    return key


def validate_prefix(prefix: str) -> str:
    """Return ``prefix`` unchanged when it names a folder of keys (a valid key followed by ``/``)."""
    if not prefix.endswith("/"):
        raise InvalidBlobKey(f"a key prefix ends with '/': {prefix!r}")
    validate_key(prefix[:-1])
    return prefix
