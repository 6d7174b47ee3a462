"""A result made to fit a platform's upload limit, the same way for every front end.

A result is a lossless PNG at the input's full resolution, which can be larger than a platform takes from a
bot (Telegram: 10 MB for a photo, 50 MB for a file; Discord: the server's upload limit, 10 MiB without
boosts). The PNG goes unchanged when it fits. Otherwise the best JPEG that fits: full resolution at the
highest quality within the limit first, because a print or a crop needs the pixels more than it minds a
little compression noise; only when even ``MIN_JPEG_QUALITY`` is too large does the picture get smaller,
and then again at the highest quality that fits.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from PIL import Image

# Above 95 a JPEG grows a lot for no visible gain; below 75 faces show blocks, and fewer pixels look better.
MAX_JPEG_QUALITY = 95
MIN_JPEG_QUALITY = 75


@dataclass(frozen=True)
class FittedUpload:
    data: bytes
    suffix: str  # "png" (the result itself) or "jpg"
    size: tuple[int, int]  # width, height of what is sent
    quality: int | None  # the JPEG quality; None for the PNG

    @property
    def reduced(self) -> bool:
        """Whether the file is not the result itself (a JPEG, possibly smaller): worth telling the user."""
        return self.suffix != "png"


def fit_upload(png: bytes, max_bytes: int, *, max_sides_sum: int | None = None) -> FittedUpload:
    """``png`` as a platform takes it: at most ``max_bytes``, and, when given, width + height at most
    ``max_sides_sum`` (Telegram's rule for photos). Raises ``ValueError`` when not even a 1×1 JPEG fits."""
    with Image.open(io.BytesIO(png)) as image:
        width, height = image.size
        scale = 1.0 if max_sides_sum is None else min(1.0, max_sides_sum / (width + height))
        if len(png) <= max_bytes and scale == 1.0:
            return FittedUpload(png, "png", (width, height), None)
        rgb = image.convert("RGB")
    while True:
        size = (max(1, int(width * scale)), max(1, int(height * scale)))
        frame = rgb if size == rgb.size else rgb.resize(size, Image.Resampling.LANCZOS)
        fitted = _best_jpeg(frame, max_bytes)
        if isinstance(fitted, FittedUpload):
            return fitted
        if size == (1, 1):
            raise ValueError(f"no JPEG of the result fits in {max_bytes} bytes")
        # A JPEG's size follows its pixel count: shrink both sides by the square root of the excess, a little
        # more for luck, but never by less than a tenth (no crawling) or more than half (no overshooting).
        scale *= min(0.9, max(0.5, 0.95 * math.sqrt(max_bytes / fitted)))


def _best_jpeg(image: Image.Image, max_bytes: int) -> FittedUpload | int:
    """The highest-quality JPEG of ``image`` within ``max_bytes``; else the size of the smallest one tried."""
    best = _jpeg(image, MAX_JPEG_QUALITY)
    if len(best) <= max_bytes:  # the usual case: a PNG over the limit is far larger than a good JPEG of it
        return FittedUpload(best, "jpg", image.size, MAX_JPEG_QUALITY)
    smallest = _jpeg(image, MIN_JPEG_QUALITY)
    if len(smallest) > max_bytes:
        return len(smallest)
    # Bisect the qualities in between: ``fits`` always fits, ``too_big`` never does.
    fits, too_big, data = MIN_JPEG_QUALITY, MAX_JPEG_QUALITY, smallest
    while too_big - fits > 1:
        quality = (fits + too_big) // 2
        candidate = _jpeg(image, quality)
        if len(candidate) <= max_bytes:
            fits, data = quality, candidate
        else:
            too_big = quality
    return FittedUpload(data, "jpg", image.size, fits)


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()
