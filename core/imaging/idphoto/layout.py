"""Where the head goes: from a portrait's eyes, chin and crown to the crop that meets an ID format's rules.

The crop is one similarity transform (scale, a small rotation that levels the eyes, shift) from the photo to
the output canvas. ``OutputTransform.apply`` is the only way pixels get there, so a caller (or a test) can
put any image of the photo's size through exactly the same resampling: face and hair pixels of the result
are those of ``apply(photo)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from core.errors import UserError
from core.imaging.backends.base import Point, Portrait
from core.imaging.idphoto.catalog import MM_PER_INCH, IdFormat

# Search resolution of the head-size / margin solver, per range.
_GRID = 41


@dataclass(frozen=True)
class LayoutLimits:
    # A head rolled further than this is refused ("hold your head straight"); less is levelled.
    max_roll_deg: float = 12.0
    # Nose offset from the eye midpoint, as a fraction of the eye distance, beyond which the head is turned.
    max_yaw: float = 0.3
    # Output pixels per photo pixel above which the photo is too small for the format's resolution.
    max_upscale: float = 3.0


@dataclass(frozen=True)
class Placement:
    """Where the head sits on the format, in millimetres."""

    head_mm: float
    crown_margin_mm: float
    eyes_from_bottom_mm: float


@dataclass(frozen=True)
class OutputTransform:
    """Photo -> output canvas: optional integer box reduction, then an affine map."""

    size: tuple[int, int]
    # Output pixel = matrix @ (x, y, 1) for a photo pixel (x, y) (before any reduction).
    matrix: np.ndarray
    reduce: int = 1

    @property
    def scale(self) -> float:
        return float(math.hypot(self.matrix[0, 0], self.matrix[1, 0]))

    def point(self, p: Point) -> Point:
        x, y = self.matrix @ np.array([p[0], p[1], 1.0])
        return (float(x), float(y))

    def points(self, xy: np.ndarray) -> np.ndarray:
        xy = np.asarray(xy, np.float64).reshape(-1, 2)
        return (xy @ self.matrix[:, :2].T + self.matrix[:, 2]).astype(np.float32)

    def apply(
        self, image: Image.Image, *, fill: int | tuple[int, ...] = 0, mask: bool = False
    ) -> Image.Image:
        """``image`` (the photo's size) resampled onto the canvas; ``fill`` where the photo does not reach."""
        source, matrix = image, self.matrix
        if self.reduce > 1:
            # A box reduction first: the affine step then never shrinks by more than 2x, which bicubic
            # sampling would alias.
            source = image.reduce(self.reduce)
            matrix = matrix @ np.diag([self.reduce, self.reduce, 1.0])
        inverse = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]
        resample = Image.Resampling.BILINEAR if mask else Image.Resampling.BICUBIC
        return source.transform(
            self.size, Image.Transform.AFFINE, tuple(inverse.ravel()), resample=resample, fillcolor=fill
        )


@dataclass(frozen=True)
class Layout:
    transform: OutputTransform
    placement: Placement
    roll_deg: float


def plan_layout(
    portrait: Portrait, image_size: tuple[int, int], fmt: IdFormat, dpi: int, limits: LayoutLimits
) -> Layout:
    """The transform that puts the head where ``fmt`` wants it; ``UserError`` when the pose or the photo
    make the format impossible."""
    (lx, ly), (rx, ry) = portrait.eyes
    eye_distance = math.hypot(rx - lx, ry - ly)
    roll = math.degrees(math.atan2(ry - ly, rx - lx))
    if abs(roll) > limits.max_roll_deg:
        raise UserError("suit.head_tilted", degrees=round(abs(roll)))
    if portrait.crown[1] <= 0.5:
        raise UserError("suit.head_cut_off")

    # Level the eyes: rotate about their midpoint, then measure the head upright.
    centre = np.array([(lx + rx) / 2, (ly + ry) / 2])
    level = _rotation(-math.radians(roll))

    def upright(p: Point) -> np.ndarray:
        return np.asarray(level @ (np.array(p) - centre))

    chin, crown, nose = upright(portrait.chin), upright(portrait.crown), upright(portrait.nose)
    if eye_distance > 0 and abs(nose[0]) / eye_distance > limits.max_yaw:
        raise UserError("suit.head_turned")
    head_px = chin[1] - crown[1]
    if head_px <= 0 or not crown[1] < 0 < chin[1]:
        raise UserError("suit.no_face")
    eye_depth = -crown[1] / head_px  # eyes' distance below the crown, as a fraction of the head height

    placement = solve_placement(fmt, eye_depth)
    width, height = fmt.pixels(dpi)
    px_per_mm = dpi / MM_PER_INCH
    scale = placement.head_mm * px_per_mm / head_px
    if scale > limits.max_upscale:
        needed = math.ceil(placement.head_mm * px_per_mm / limits.max_upscale)
        raise UserError("suit.low_resolution", head_px=round(head_px), needed_px=needed)
    eyes_y = (fmt.height_mm - placement.eyes_from_bottom_mm) * px_per_mm
    linear = scale * level
    offset = np.array([width / 2, eyes_y]) - linear @ centre
    matrix = np.hstack([linear, offset[:, None]])
    reduce = max(1, math.floor(1 / scale)) if scale < 0.5 else 1
    return Layout(OutputTransform((width, height), matrix, reduce), placement, roll)


def solve_placement(fmt: IdFormat, eye_depth: float) -> Placement:
    """Head height and top margin inside the format's ranges, nearest the middle of each, with the eye line
    (fixed by this face's proportions) inside its range where the format has one."""
    best: tuple[float, Placement] | None = None
    for head in np.linspace(*fmt.head_mm, _GRID):
        for margin in np.linspace(*fmt.crown_margin_mm, _GRID):
            eyes = fmt.height_mm - margin - eye_depth * head
            if fmt.eyes_from_bottom_mm is not None and not (
                fmt.eyes_from_bottom_mm[0] <= eyes <= fmt.eyes_from_bottom_mm[1]
            ):
                continue
            if margin + head >= fmt.height_mm:  # the chin must stay inside the photo
                continue
            cost = _off_centre(head, fmt.head_mm) + _off_centre(margin, fmt.crown_margin_mm)
            if fmt.eyes_from_bottom_mm is not None:
                cost += 0.5 * _off_centre(eyes, fmt.eyes_from_bottom_mm)
            if best is None or cost < best[0]:
                best = (cost, Placement(float(head), float(margin), float(eyes)))
    if best is None:
        raise UserError("suit.format_impossible", format=fmt.id)
    return best[1]


def _off_centre(value: float, bounds: tuple[float, float]) -> float:
    low, high = bounds
    return 0.0 if high == low else abs(value - (low + high) / 2) / (high - low)


def _rotation(radians: float) -> np.ndarray:
    c, s = math.cos(radians), math.sin(radians)
    return np.array([[c, -s], [s, c]])
