"""Raster helpers for the vector suit painter: anti-aliased shape coverage, soft shadows, fabric grain and
shaded compositing.

Shapes are filled with sub-pixel precision and anti-aliased edges. Compositing is the expensive part (three
float channels per pixel), so each layer remembers the box outside which it is empty and only that box is
composited; shades are passed as functions of the box, so that they too are computed only there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# Rows and columns of a layer's non-empty part.
Box = tuple[slice, slice]
# The shade (a multiplier of the colour) of a layer inside a box, (h, w) or broadcastable to it.
Shade = Callable[[Box], np.ndarray]
# Sub-pixel precision of the fills (cv2's "shift" fractional bits).
_SHIFT = 3


@dataclass(frozen=True)
class Layer:
    """A shape's coverage (full size, 0..1) and the box outside which it is 0."""

    alpha: np.ndarray
    box: Box

    @classmethod
    def fill(cls, size: tuple[int, int], polygons: list[np.ndarray], antialias: bool = True) -> Layer:
        import cv2

        canvas = np.zeros((size[1], size[0]), np.uint8)
        for poly in polygons:
            cv2.fillPoly(canvas, [_fixed(poly)], 255, cv2.LINE_AA if antialias else cv2.LINE_8, shift=_SHIFT)
        return cls._of(canvas, _box(np.vstack(polygons), size))

    @classmethod
    def stroke(cls, size: tuple[int, int], lines: list[np.ndarray], thickness: float) -> Layer:
        import cv2

        canvas = np.zeros((size[1], size[0]), np.uint8)
        width = max(1, round(thickness))
        cv2.polylines(canvas, [_fixed(p) for p in lines], False, 255, width, cv2.LINE_AA, shift=_SHIFT)
        return cls._of(canvas, _box(np.vstack(lines), size, width + 2))

    @classmethod
    def disc(cls, size: tuple[int, int], centre: tuple[float, float], radius: float) -> Layer:
        import cv2

        canvas = np.zeros((size[1], size[0]), np.uint8)
        c = (round(centre[0] * (1 << _SHIFT)), round(centre[1] * (1 << _SHIFT)))
        cv2.circle(canvas, c, max(1, round(radius * (1 << _SHIFT))), 255, -1, cv2.LINE_AA, shift=_SHIFT)
        corners = np.array(
            [[centre[0] - radius, centre[1] - radius], [centre[0] + radius, centre[1] + radius]]
        )
        return cls._of(canvas, _box(corners, size))

    @classmethod
    def _of(cls, canvas: np.ndarray, box: Box) -> Layer:
        """From a drawn 0..255 canvas, converted to floats only inside the box (zero outside it anyway)."""
        alpha = np.zeros(canvas.shape, np.float32)
        alpha[box] = canvas[box] * np.float32(1 / 255)
        return cls(alpha, box)

    def times(self, other: Layer) -> Layer:
        """Both shapes at once (an intersection, soft-edged)."""
        rows = slice(max(self.box[0].start, other.box[0].start), min(self.box[0].stop, other.box[0].stop))
        cols = slice(max(self.box[1].start, other.box[1].start), min(self.box[1].stop, other.box[1].stop))
        alpha = np.zeros_like(self.alpha)
        alpha[rows, cols] = self.alpha[rows, cols] * other.alpha[rows, cols]
        return Layer(alpha, (rows, cols))

    def soft(self, sigma: float, dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
        """The coverage blurred (a soft shadow), optionally offset by (dx, dy) first; computed only around
        the layer's box."""
        height, width = self.alpha.shape
        margin = int(np.ceil(3 * sigma + abs(dx) + abs(dy))) + 1
        rows = slice(max(0, self.box[0].start - margin), min(height, self.box[0].stop + margin))
        cols = slice(max(0, self.box[1].start - margin), min(width, self.box[1].stop + margin))
        out = np.zeros_like(self.alpha)
        if rows.stop > rows.start and cols.stop > cols.start:
            out[rows, cols] = blur(np.ascontiguousarray(self.alpha[rows, cols]), sigma, dx, dy)
        return out

    @property
    def empty(self) -> bool:
        return self.box[0].stop <= self.box[0].start or self.box[1].stop <= self.box[1].start


def over(out: np.ndarray, layer: Layer, colour: np.ndarray, shade: Shade) -> None:
    """Composite ``colour * shade`` over ``out`` (H, W, 3 floats) in place, weighted by the coverage."""
    import cv2

    if layer.empty:
        return
    box = layer.box
    height, width = box[0].stop - box[0].start, box[1].stop - box[1].start
    s = np.ascontiguousarray(np.broadcast_to(shade(box), (height, width)), np.float32)
    painted = cv2.merge([s * float(colour[0]), s * float(colour[1]), s * float(colour[2])])
    blend(out, box, painted, layer.alpha[box])


def blend(out: np.ndarray, box: Box, painted: np.ndarray, alpha: np.ndarray) -> None:
    import cv2

    a = np.ascontiguousarray(alpha, np.float32)
    out[box] = cv2.blendLinear(
        np.ascontiguousarray(painted, np.float32), np.ascontiguousarray(out[box]), a, 1 - a
    )


def blur(layer: np.ndarray, sigma: float, dx: float = 0.0, dy: float = 0.0) -> np.ndarray:
    """Gaussian blur, after moving the layer by (dx, dy); wide blurs run on a reduced copy (shadows have
    no detail to lose)."""
    import cv2

    factor = max(1, int(sigma // 2))
    h, w = layer.shape
    small = layer
    if factor > 1:
        small = cv2.resize(layer, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    if dx or dy:
        sx, sy = small.shape[1] / w, small.shape[0] / h
        small = _shifted(small, dx * sx, dy * sy)
    if sigma >= 0.5:
        small = cv2.GaussianBlur(small, (0, 0), sigma / factor)
    if factor == 1:
        return np.asarray(small)
    return np.asarray(cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR))


def grain(rng: np.random.Generator, size: tuple[int, int], unit: float, amplitude: float) -> np.ndarray:
    """Fabric grain of std about ``amplitude``: fine noise smeared along one diagonal (a twill weave) over a
    faint mottling. Drawn at half size: at full size it reads as sensor noise, not cloth."""
    import cv2

    width, height = size
    hw, hh = max(1, width // 2), max(1, height // 2)
    fine = np.asarray(
        cv2.filter2D(rng.standard_normal((hh, hw), dtype=np.float32), -1, np.eye(3, dtype=np.float32))
    )
    # The mottling is smooth: drawn at an eighth of the size.
    coarse = rng.standard_normal((max(1, hh // 4), max(1, hw // 4)), dtype=np.float32)
    coarse = np.asarray(cv2.resize(cv2.GaussianBlur(coarse, (0, 0), max(0.7, 0.02 * unit)), (hw, hh)))
    noise = (fine / max(float(fine.std()), 1e-6) + 0.6 * coarse / max(float(coarse.std()), 1e-6)).astype(
        np.float32
    )
    return np.asarray(cv2.resize(noise, (width, height), interpolation=cv2.INTER_LINEAR) * (amplitude / 1.2))


def below_polygon(line: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Everything under the chin line, which runs on level past its ends to the image's sides."""
    width, height = size
    far = 2.0 * (width + height)
    return np.vstack(
        [
            [-far, line[0, 1]],
            line,
            [width + far, line[-1, 1]],
            [width + far, height + far],
            [-far, height + far],
        ]
    ).astype(np.float32)


def _fixed(points: np.ndarray) -> np.ndarray:
    """Points in cv2's fixed-point form (``shift`` fractional bits)."""
    return np.round(np.asarray(points, np.float64) * (1 << _SHIFT)).astype(np.int32)


def _box(points: np.ndarray, size: tuple[int, int], margin: int = 2) -> Box:
    x0, y0 = np.floor(points.min(axis=0)).astype(int) - margin
    x1, y1 = np.ceil(points.max(axis=0)).astype(int) + margin
    rows = slice(int(np.clip(y0, 0, size[1])), int(np.clip(y1, 0, size[1])))
    return (rows, slice(int(np.clip(x0, 0, size[0])), int(np.clip(x1, 0, size[0]))))


def _shifted(layer: np.ndarray, dx: float, dy: float) -> np.ndarray:
    import cv2

    matrix = np.array([[1, 0, dx], [0, 1, dy]], np.float32)
    return np.asarray(cv2.warpAffine(layer, matrix, (layer.shape[1], layer.shape[0])))
