"""Putting an inpainted region back into a photo without touching anything else.

Models never composite: the pipeline crops around the mask, lets the model paint the crop (at the model's
resolution), and pastes the result back here. Every pixel outside the dilated mask keeps its exact input
bytes; inside, the painted pixels are colour-matched to the photo and blended in over a feathered edge.

Images are PIL RGB, masks PIL ``L`` with 255 = edit, as everywhere in core; numpy is used inside. OpenCV is
imported inside the functions that need it, like in the backends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class CropBox:
    """Integer pixel box, ``x1``/``y1`` exclusive, always inside the image it was made for."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.x0, self.y0, self.x1, self.y1)


@dataclass(frozen=True)
class SquareFit:
    """How a crop was fitted into the model's square: scaled to ``inner`` and padded at ``offset``."""

    original: tuple[int, int]
    inner: tuple[int, int]
    offset: tuple[int, int]

    def restore(self, painted: Image.Image) -> Image.Image:
        """The model's square output cut back to the crop's own size."""
        (ox, oy), (iw, ih) = self.offset, self.inner
        inner = painted.crop((ox, oy, ox + iw, oy + ih))
        return inner if inner.size == self.original else inner.resize(self.original, Image.Resampling.LANCZOS)

    def points(self, xy: np.ndarray) -> np.ndarray:
        """Crop pixel coordinates mapped into the square."""
        sx, sy = self.inner[0] / self.original[0], self.inner[1] / self.original[1]
        return np.asarray(xy, dtype=np.float32) * [sx, sy] + self.offset


@dataclass(frozen=True)
class FaceCrop:
    """What gets repainted for one face: a crop of the photo and the dilated mask inside it."""

    box: CropBox
    image: Image.Image
    # The mask grown by ``dilate_px``: 255 = may be repainted. Its border is where blending fades out.
    mask: Image.Image
    dilate_px: int


@dataclass(frozen=True)
class CompositeResult:
    image: Image.Image
    # 255 where pixels may differ from the input (the dilated mask), 0 where they are bit-identical.
    edit_mask: Image.Image


def crop_box_around(
    mask: Image.Image,
    margin: float = 0.35,
    min_margin_px: int = 8,
    include: tuple[float, float, float, float] | None = None,
) -> CropBox:
    """A square box around the mask's bounding box (joined with ``include``, e.g. the whole face, when
    given) grown by ``margin`` of its longer side (at least ``min_margin_px``) on every side, shifted to
    stay inside the image and clipped where the image is too small to hold it. It always contains the
    whole mask."""
    bbox = mask.getbbox()
    if bbox is None:
        raise ValueError("the mask is empty")
    width, height = mask.size
    bx0, by0, bx1, by1 = bbox
    if include is not None:
        bx0, by0 = max(0, min(bx0, math.floor(include[0]))), max(0, min(by0, math.floor(include[1])))
        bx1, by1 = min(width, max(bx1, math.ceil(include[2]))), min(height, max(by1, math.ceil(include[3])))
    extent = max(bx1 - bx0, by1 - by0)
    side = extent + 2 * max(min_margin_px, math.ceil(extent * margin))
    cx, cy = (bx0 + bx1) / 2, (by0 + by1) / 2

    def span(centre: float, limit: int) -> tuple[int, int]:
        if side >= limit:
            return 0, limit
        start = int(round(centre - side / 2))
        start = min(max(0, start), limit - side)
        return start, start + side

    x0, x1 = span(cx, width)
    y0, y1 = span(cy, height)
    return CropBox(x0, y0, x1, y1)


def cut_face_crop(
    image: Image.Image,
    mask: Image.Image,
    *,
    dilate_px: int,
    margin: float = 0.35,
    face: tuple[float, float, float, float] | None = None,
) -> FaceCrop:
    """Crop ``image`` and ``mask`` around the mask (and the whole ``face`` box, so the painter sees the
    skin and features it must match) and dilate the mask inside the crop: the crop's margin is wider than
    the dilation, so this equals dilating the whole mask, at a fraction of the cost."""
    # Room for the dilation plus the colour-matching ring around it.
    box = crop_box_around(mask, margin=margin, min_margin_px=3 * dilate_px + 4, include=face)
    return FaceCrop(box, image.crop(box.as_tuple()), dilate(mask.crop(box.as_tuple()), dilate_px), dilate_px)


def dilate(mask: Image.Image, radius: int) -> Image.Image:
    """Grow a mask by ``radius`` pixels (Euclidean, so a round brush)."""
    binary = np.asarray(mask.convert("L")) > 127
    return Image.fromarray(np.where(_grow(binary, radius), 255, 0).astype(np.uint8), "L")


def _grow(mask: np.ndarray, radius: int) -> np.ndarray:
    # Thresholding the distance to the mask costs the same for any radius; a dilation with a round kernel
    # grows with its area and takes a quarter of a second at the radii a 12-megapixel photo needs.
    import cv2

    if radius <= 0 or not mask.any():
        return mask.copy()
    distance = cv2.distanceTransform(np.where(mask, 0, 1).astype(np.uint8), cv2.DIST_L2, 5)
    return np.asarray(distance <= radius)


def feather(mask: Image.Image, width: int) -> np.ndarray:
    """Blend weights for a binary mask: 0 outside it, rising smoothly to 1 at ``width`` pixels inside it.
    Monotone in the distance from the mask's edge, and exactly 0 wherever the mask is 0."""
    import cv2

    binary = (np.asarray(mask.convert("L")) > 127).astype(np.uint8)
    if width <= 0:
        return binary.astype(np.float32)
    distance = cv2.distanceTransform(binary, cv2.DIST_L2, 5)
    t = np.clip(distance / float(width), 0.0, 1.0)
    alpha = t * t * (3.0 - 2.0 * t)
    alpha[binary == 0] = 0.0
    return alpha.astype(np.float32)


def ring_around(mask: np.ndarray, width: int) -> np.ndarray:
    """The band of ``width`` pixels just outside a boolean mask."""
    return _grow(mask, width) & ~mask


def match_colour(
    painted: np.ndarray, original: np.ndarray, region: np.ndarray, ring: np.ndarray, max_gain: float = 2.0
) -> np.ndarray:
    """Correct a painted crop's colour drift: the painted and the original crop should agree on the ring
    around the mask (a model repaints it too, and drifts), so the per-channel Lab mean/std transfer that
    maps the painted ring onto the original ring is applied to the painted ``region``. Both arrays are
    uint8 RGB of the same size; returns a new uint8 array, identical to ``painted`` outside ``region``."""
    import cv2

    out = painted.copy()
    if ring.sum() < 16 or not region.any() or np.array_equal(painted[ring], original[ring]):
        # Nothing to compare against, or nothing drifted (a classical inpainter leaves the ring alone).
        return out

    def lab(pixels: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(pixels.reshape(-1, 1, 3).astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab).reshape(
            -1, 3
        )

    source, target = lab(painted[ring]), lab(original[ring])
    gain = np.clip(target.std(axis=0) / np.maximum(source.std(axis=0), 1e-3), 1.0 / max_gain, max_gain)
    corrected = (lab(painted[region]) - source.mean(axis=0)) * gain + target.mean(axis=0)
    rgb = cv2.cvtColor(corrected.reshape(-1, 1, 3).astype(np.float32), cv2.COLOR_Lab2RGB).reshape(-1, 3)
    out[region] = np.clip(np.round(rgb * 255.0), 0, 255).astype(np.uint8)
    return out


def fit_square(image: Image.Image, size: int, *, mask: bool = False) -> tuple[Image.Image, SquareFit]:
    """Scale a crop so its longer side is ``size`` and pad it to a square (edge pixels repeated for an
    image, zeros for a mask), so a model that wants a square never sees a stretched face."""
    width, height = image.size
    scale = size / max(width, height)
    inner = (max(1, round(width * scale)), max(1, round(height * scale)))
    resample = Image.Resampling.NEAREST if mask else Image.Resampling.LANCZOS
    scaled = np.asarray(image.resize(inner, resample))
    ox, oy = (size - inner[0]) // 2, (size - inner[1]) // 2
    pad = ((oy, size - inner[1] - oy), (ox, size - inner[0] - ox)) + ((0, 0),) * (scaled.ndim - 2)
    padded = np.pad(scaled, pad, mode="constant" if mask else "edge")
    return Image.fromarray(padded, image.mode), SquareFit((width, height), inner, (ox, oy))


def paste_back(
    base: Image.Image,
    painted: Image.Image,
    box: CropBox,
    edit_mask: Image.Image,
    *,
    feather_px: int,
    ring_px: int,
) -> CompositeResult:
    """Blend the painted crop into ``base`` at ``box``.

    ``edit_mask`` is the dilated mask for the crop (``box`` sized); outside it the result is ``base``
    byte for byte. Inside, the painted pixels are colour-matched (see ``match_colour``) and blended with
    weights that fall to 0 at the mask's edge over ``feather_px`` pixels."""
    if painted.size != (box.width, box.height) or edit_mask.size != painted.size:
        raise ValueError(f"painted {painted.size} / mask {edit_mask.size} do not fit box {box}")
    out = np.array(base.convert("RGB"))
    original = out[box.y0 : box.y1, box.x0 : box.x1]
    region = np.asarray(edit_mask) > 127
    painted_arr = np.asarray(painted.convert("RGB"))
    matched = match_colour(painted_arr, original, region, ring_around(region, ring_px))
    alpha = feather(edit_mask, feather_px)[..., None]
    blended = np.round(matched * alpha + original * (1.0 - alpha)).astype(np.uint8)
    out[box.y0 : box.y1, box.x0 : box.x1] = np.where(region[..., None], blended, original)
    full_mask = np.zeros((base.height, base.width), np.uint8)
    full_mask[box.y0 : box.y1, box.x0 : box.x1] = np.where(region, 255, 0)
    return CompositeResult(Image.fromarray(out, "RGB"), Image.fromarray(full_mask, "L"))
