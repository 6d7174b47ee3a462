"""Where the clothes go on the ID-photo canvas: the chin line, the neck, and the body geometry a clothes
painter follows.

The chin line is the upper edge of what gets repainted: it runs along the jaw and, from the jaw's ends, level
to the canvas edges. Everything below it is repainted (old clothes, shoulders) except what the parser marked
to keep (long hair) and the neck: the skin under the jaw, down to the collar line, found by the colour of
this face's own skin, so the neck keeps its real outline and the new collar closes around it.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from core.imaging.backends.base import BodyGeometry, Point

# Fractions of the head height (chin to crown) and of the jaw's width, from typical adult proportions.
COLLAR_BELOW_CHIN = 0.2
NECK_HALF_WIDTH = 0.36
SHOULDER_BELOW_CHIN = 0.45
SHOULDER_HALF_WIDTH = 1.25
# How far the collar band rises beside the neck above the collar line's centre, in neck half-widths.
COLLAR_BAND_RISE = 0.8
# How far from the chin's column a neck is looked for, as a fraction of the jaw's width.
NECK_SEARCH_HALF_WIDTH = 0.42
# Pose shoulders closer to the centre than this many neck half-widths are not shoulders.
MIN_SHOULDER_SPREAD = 2.0


def body_geometry(
    jaw: np.ndarray,
    chin: Point,
    head_px: float,
    shoulders: tuple[Point, Point] | None,
    size: tuple[int, int],
) -> BodyGeometry:
    """Geometry on a ``size`` canvas from the jaw line (left to right), chin and head height in canvas
    pixels, and the pose's shoulders when found."""
    jaw = np.asarray(jaw, np.float32)
    jaw_width = float(jaw[:, 0].max() - jaw[:, 0].min())
    half_neck = NECK_HALF_WIDTH * jaw_width
    collar_y = chin[1] + COLLAR_BELOW_CHIN * head_px
    neck = ((chin[0] - half_neck, collar_y), (chin[0] + half_neck, collar_y))
    if not _plausible(shoulders, chin, collar_y, half_neck):
        y = chin[1] + SHOULDER_BELOW_CHIN * head_px
        shoulders = (
            (chin[0] - SHOULDER_HALF_WIDTH * jaw_width, y),
            (chin[0] + SHOULDER_HALF_WIDTH * jaw_width, y),
        )
    assert shoulders is not None
    return BodyGeometry(chin=chin, neck=neck, shoulders=shoulders, chin_line=chin_line(jaw, size[0]))


def chin_line(jaw: np.ndarray, width: int) -> np.ndarray:
    """The jaw, extended level from its ends to beyond both canvas edges."""
    jaw = np.asarray(jaw, np.float32)
    left = (min(-1.0, float(jaw[0, 0]) - 1), float(jaw[0, 1]))
    right = (max(width + 1.0, float(jaw[-1, 0]) + 1), float(jaw[-1, 1]))
    return np.asarray([left, *map(tuple, jaw), right], np.float32)


def neck_skin(
    canvas: np.ndarray, person: np.ndarray, face: np.ndarray, geometry: BodyGeometry, jaw_width: float
) -> np.ndarray:
    """Boolean mask of the neck between the jaw and the collar line: pixels of the ``person`` coloured like
    the skin of ``face`` (a boolean mask of the face's own lower half on ``canvas``), connected to the jaw.
    (A skin-coloured wall beside the jaw is not the person.)"""
    import cv2

    height, width = canvas.shape[:2]
    region = below(geometry.chin_line, (width, height)) & ~below(collar_line(geometry), (width, height))
    columns = np.abs(np.arange(width) - geometry.chin[0]) <= NECK_SEARCH_HALF_WIDTH * jaw_width
    region &= columns[None, :] & person
    if not region.any() or face.sum() < 50:
        return np.zeros((height, width), bool)
    lab = cv2.cvtColor(canvas.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    samples = lab[face]
    centre = np.median(samples, axis=0)
    spread = np.maximum(np.percentile(np.abs(samples - centre), 80, axis=0), [6.0, 3.0, 3.0])
    # The neck is usually in the chin's shadow: allow it darker than the face, not much lighter.
    dl = lab[..., 0] - centre[0]
    close = (
        (dl > -(3 * spread[0] + 25))
        & (dl < 2 * spread[0] + 8)
        & (np.abs(lab[..., 1] - centre[1]) < 2.5 * spread[1] + 4)
        & (np.abs(lab[..., 2] - centre[2]) < 2.5 * spread[2] + 4)
    )
    candidate = (close & region).astype(np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    candidate = cv2.morphologyEx(candidate, cv2.MORPH_OPEN, kernel)
    # Only what hangs from the jaw: components touching the band just under the chin line.
    count, labels = cv2.connectedComponents(candidate)
    touching = region & ~below(geometry.chin_line + np.array([0.0, 4.0], np.float32), (width, height))
    keep_labels = set(np.unique(labels[touching & (candidate > 0)])) - {0}
    neck = np.isin(labels, list(keep_labels)) if count > 1 and keep_labels else np.zeros_like(region)
    closed = cv2.morphologyEx(neck.astype(np.uint8), cv2.MORPH_CLOSE, kernel)
    return np.asarray(closed > 0) & region


def collar_line(geometry: BodyGeometry) -> np.ndarray:
    """Where a shirt collar meets the neck: at the collar line in front, rising beside the neck where the
    collar band wraps around it."""
    (lx, y), (rx, _) = geometry.neck
    centre, half = (lx + rx) / 2, (rx - lx) / 2
    rise = COLLAR_BAND_RISE * half
    return np.asarray(
        [
            (-1e4, y - rise),
            (centre - 2 * half, y - rise),
            (centre, y),
            (centre + 2 * half, y - rise),
            (1e4, y - rise),
        ],
        np.float32,
    )


def below(line: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Boolean mask of the canvas below ``line`` (which spans the canvas from left to right)."""
    width, height = size
    bottom = height + 1.0
    polygon = [(float(x), float(y)) for x, y in line] + [
        (float(line[-1, 0]), bottom),
        (float(line[0, 0]), bottom),
    ]
    canvas = Image.new("L", size, 0)
    ImageDraw.Draw(canvas).polygon(polygon, fill=255)
    return np.asarray(canvas) > 0


def _plausible(shoulders: tuple[Point, Point] | None, chin: Point, collar_y: float, half_neck: float) -> bool:
    if shoulders is None:
        return False
    (lx, ly), (rx, ry) = shoulders
    spread = MIN_SHOULDER_SPREAD * half_neck
    return ly > collar_y and ry > collar_y and lx < chin[0] - spread and rx > chin[0] + spread
