"""A business suit drawn from vector shapes: the offline tier's clothes painter.

The outlines come from ``suit_shapes`` (fitted to the body geometry); this module turns them into cloth.
Flat fills read as paper cut-outs, so every layer is shaded the way a studio light shades it: a top-down
gradient, the torso darkening toward its sides, shadows cast by the lapels, the collar, the knot and the
chin, dark lapel edges, and a faint seeded fabric grain.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from PIL import Image

from core.config import ModelSettings
from core.imaging.backends.base import StepProgress, SuitRequest
from core.imaging.backends.offline import skin, suit_shapes
from core.imaging.backends.offline.suit_raster import Box, Layer, Shade, below_polygon, blend, grain, over

_SHIRT = (0.93, 0.935, 0.94)
_BURGUNDY = (0.42, 0.1, 0.15)
_NAVY_TIE = (0.11, 0.15, 0.3)
# Shading strengths (fractions of the lit colour).
_LAPEL_SHADOW = 0.4
_COLLAR_SHADOW = 0.3
_CHIN_SHADOW = 0.4
_SIDE_FALLOFF = 0.16
_SEAM = 0.3
_GRAIN = 0.025
# Canvases larger than this (below the chin line) are drawn at a reduced size, then enlarged.
_MAX_DRAWN_PIXELS = 600_000


class VectorSuitPainter:
    resolution: ClassVar[int | None] = None

    def paint(
        self, image: Image.Image, mask: Image.Image, request: SuitRequest, progress: StepProgress
    ) -> Image.Image:
        import cv2

        rgb = np.asarray(image.convert("RGB"))
        height, width = rgb.shape[:2]
        mask = mask.convert("L")
        if mask.size != image.size:
            mask = mask.resize(image.size, Image.Resampling.NEAREST)
        weight = np.asarray(mask, np.float32) * np.float32(1 / 255)
        line = np.asarray(request.geometry.chin_line, np.float32)
        # Only the band from the chin line's highest point down is ever painted.
        top = int(np.clip(np.floor(line[:, 1].min()) - 1, 0, height))
        size = (width, height - top)
        result = rgb.copy()
        if size[1] > 0 and weight[top:].any():
            geometry = request.geometry.mapped(1.0, 0.0, -float(top))
            region = below_polygon(np.asarray(geometry.chin_line, np.float32), size)
            # Anti-aliased inside, but never a pixel whose centre lies above the chin line.
            below = Layer.fill(size, [region]).times(Layer.fill(size, [region], antialias=False))
            # Below the chin line but outside the mask is what the pipeline keeps: the neck, long hair.
            kept = below.alpha * (1.0 - weight[top:])
            # Large canvases (600 dpi) are drawn smaller and enlarged: cloth has no detail finer than
            # that, and the cost stays that of a 300 dpi photo.
            scale = min(1.0, float(np.sqrt(_MAX_DRAWN_PIXELS / (size[0] * size[1]))))
            drawn = (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))
            small = geometry.mapped(drawn[0] / size[0])
            shapes = suit_shapes.fit(small, request.tie, request.cut, drawn)
            photo, kept_drawn = rgb[top:], kept
            if drawn != size:
                photo = cv2.resize(photo, drawn, interpolation=cv2.INTER_AREA)
                kept_drawn = cv2.resize(kept, drawn, interpolation=cv2.INTER_AREA)
            cloth = _render(shapes, request, photo, kept_drawn, np.asarray(small.chin, np.float32))
            if drawn != size:
                cloth = cv2.resize(cloth, size, interpolation=cv2.INTER_LINEAR)
            alpha = weight[top:] * below.alpha
            painted = cv2.convertScaleAbs(cloth, alpha=255.0)
            result[top:] = cv2.blendLinear(painted, np.ascontiguousarray(rgb[top:]), alpha, 1.0 - alpha)
            # Exactly the input wherever nothing was painted (the mask's outside and above the chin line).
            np.copyto(result[top:], rgb[top:], where=(alpha == 0)[..., None])
        progress(1.0)
        return Image.fromarray(result, "RGB")


def _render(
    shapes: suit_shapes.SuitShapes,
    request: SuitRequest,
    photo: np.ndarray,
    kept: np.ndarray,
    chin: np.ndarray,
) -> np.ndarray:
    """The clothes over the plain background, (H, W, 3) floats in 0..1."""
    height, width = photo.shape[:2]
    size = (width, height)
    unit = shapes.unit
    y_axis = (np.arange(height, dtype=np.float32) - shapes.collar_y) / unit
    x_axis = (np.arange(width, dtype=np.float32) - shapes.centre) / unit

    def ys(box: Box) -> np.ndarray:
        return y_axis[box[0]][:, None]

    def xs(box: Box) -> np.ndarray:
        return np.abs(x_axis[box[1]])[None, :]

    jacket = _jacket_colour(request)
    shirt = np.asarray(_SHIRT, np.float32)
    body = Layer.fill(size, [shapes.jacket])
    opening = Layer.fill(size, [shapes.opening]).times(body)
    lapels = Layer.fill(size, list(shapes.lapels)).times(body)
    collar = Layer.fill(size, list(shapes.collar)).times(body)
    band = Layer.fill(size, list(shapes.band))
    seams = Layer.stroke(size, list(shapes.seams), max(1.0, 0.02 * unit))

    chin_shade = _chin_shade(size, chin, shapes.collar_y, unit)
    noise = grain(np.random.default_rng(request.seed), size, unit, _GRAIN)
    lapel_drop = lapels.soft(0.07 * unit, 0.0, 0.06 * unit) * (1.0 - lapels.alpha)
    lapel_near = lapels.soft(0.05 * unit)
    lapel_rim = 1.0 - lapels.soft(0.03 * unit)
    collar_drop = collar.soft(0.05 * unit, 0.0, 0.05 * unit)
    collar_rim = 1.0 - collar.soft(0.025 * unit)
    # The torso turns away from the light at its sides (darker) and catches it on the shoulders' tops
    # (lighter): the outline blurred from a copy moved up leaves the top edge out of the darkening.
    torso_edge = 1.0 - body.soft(0.12 * unit, 0.0, -0.15 * unit)
    shoulder_light = body.alpha - body.soft(0.05 * unit, 0.0, 0.1 * unit)

    def cloth(box: Box) -> np.ndarray:
        # Light from above and in front: brighter high on the chest, darker toward the torso's sides.
        light = (
            1.06
            - 0.1 * np.clip(ys(box) / 3.0, 0.0, 1.0)
            - _SIDE_FALLOFF * np.clip(xs(box) / 2.6, 0, 1.2) ** 2
        )
        return light * chin_shade[box] * (1.0 + noise[box])

    out = np.empty((height, width, 3), np.float32)
    out[...] = np.asarray(request.background, np.float32) / 255.0
    over(
        out,
        body,
        jacket,
        lambda b: (
            cloth(b)
            * (1 - _LAPEL_SHADOW * lapel_drop[b])
            * (1 - 0.35 * torso_edge[b])
            * (1 + 0.1 * np.clip(shoulder_light[b], 0.0, 1.0))
        ),
    )

    def shirt_shade(b: Box) -> np.ndarray:
        lit = chin_shade[b] * (1.0 - 0.05 * np.clip(ys(b) / 2.0, 0.0, 1.0)) + 0.3 * noise[b]
        return lit * (1.0 - 0.3 * lapel_near[b]) * (1.0 - _COLLAR_SHADOW * collar_drop[b])

    over(out, opening, shirt, shirt_shade)
    # The band turns away toward the back of the neck.
    over(out, band, shirt, lambda b: shirt_shade(b) * (0.97 - 0.1 * np.clip(xs(b) - 0.5, 0.0, 0.3) / 0.3))
    if shapes.neckline is not None:
        neckline = Layer.fill(size, [shapes.neckline]).times(opening)
        _skin_over(out, neckline, photo, kept, shapes, lambda b: 1.0 - _COLLAR_SHADOW * collar_drop[b])
    if shapes.blade is not None and shapes.knot is not None:
        knot = Layer.fill(size, [shapes.knot])
        tie = np.asarray(_NAVY_TIE if jacket[0] > jacket[2] * 1.6 else _BURGUNDY, np.float32)
        knot_drop = knot.soft(0.04 * unit, 0.0, 0.05 * unit)

        def tie_shade(b: Box) -> np.ndarray:
            stripes = 1.0 + 0.07 * (np.sin((x_axis[b[1]][None, :] - ys(b)) * 2 * np.pi / 0.22) > 0.6)
            return chin_shade[b] * stripes * (1.0 - _COLLAR_SHADOW * collar_drop[b])

        blade = Layer.fill(size, [shapes.blade]).times(opening)
        over(
            out,
            blade,
            tie,
            lambda b: (
                tie_shade(b) * (1 - 0.25 * np.clip(xs(b) / 0.36, 0, 1) ** 2) * (1 - 0.45 * knot_drop[b])
            ),
        )
        # The knot is rounder than the blade: lighter in its middle, darker at its sides.
        over(out, knot, tie, lambda b: tie_shade(b) * (1.1 - 0.5 * np.clip(xs(b) / 0.26, 0.0, 1.0) ** 2))

    def collar_shade(b: Box) -> np.ndarray:
        return chin_shade[b] * (1.04 - 0.12 * np.clip(xs(b) - 0.2, 0.0, 1.0)) * (1.0 - 0.25 * collar_rim[b])

    def lapel_shade(b: Box) -> np.ndarray:
        return cloth(b) * 1.04 * (1.0 - 0.25 * lapel_rim[b]) * (1.0 - _SEAM * seams.alpha[b])

    if request.cut == "women":
        # A blouse collar lies over the lapels; a shirt collar tucks under them.
        over(out, lapels, jacket, lapel_shade)
        over(out, collar, shirt, collar_shade)
    else:
        over(out, collar, shirt, collar_shade)
        over(out, lapels, jacket, lapel_shade)
    for x, y in shapes.buttons:
        over(out, Layer.disc(size, (x, y), 0.09 * unit).times(body), jacket * 0.6, cloth)
    return np.clip(out, 0.0, 1.0)


def _chin_shade(size: tuple[int, int], chin: np.ndarray, collar_y: float, unit: float) -> np.ndarray:
    """1 minus the chin's soft shadow on the collar's front: as wide as the chin, strongest at the top of
    the collar and gone half a neck width lower."""
    width, height = size
    shade = np.ones((height, width), np.float32)
    top = max(float(chin[1]), collar_y - 0.15 * unit)
    x0, x1 = int(np.clip(chin[0] - 1.2 * unit, 0, width)), int(np.clip(chin[0] + 1.2 * unit, 0, width))
    y0, y1 = int(np.clip(top - 0.4 * unit, 0, height)), int(np.clip(top + 1.2 * unit, 0, height))
    if x1 > x0 and y1 > y0:
        ys = (np.arange(y0, y1, dtype=np.float32)[:, None] - top) / (0.35 * unit)
        xs = (np.arange(x0, x1, dtype=np.float32)[None, :] - chin[0]) / (0.4 * unit)
        shadow = np.exp(-(xs**2) - ys**2 * (ys > 0)) * np.clip(ys + 1.0, 0.0, 1.0)
        shade[y0:y1, x0:x1] = 1.0 - _CHIN_SHADOW * shadow
    return shade


def _skin_over(
    out: np.ndarray,
    layer: Layer,
    photo: np.ndarray,
    kept: np.ndarray,
    shapes: suit_shapes.SuitShapes,
    shadow: Shade,
) -> None:
    """An open neckline shows skin: the kept neck's own colour at its lower edge, column by column,
    continued downward and darkening toward the neckline's point (it lies in the collar's shadow)."""
    import cv2

    if layer.empty:
        return
    rows, cols = layer.box
    unit, y0 = shapes.unit, shapes.collar_y
    top = int(np.clip(y0 - 0.7 * unit, 0, photo.shape[0]))
    bottom = int(np.clip(y0 + 0.1 * unit, top, photo.shape[0]))
    pixels = photo[top:bottom, cols].astype(np.float32) / 255.0
    # What the pipeline kept there may be long hair or a bit of the old shirt: only skin counts.
    neck = (kept[top:bottom, cols] > 0.5) & skin.skin_like(skin.lab_image(pixels * 255.0))
    if neck.sum() < max(10, 0.02 * neck.size):
        return  # no neck to continue: the neckline stays shirt
    # Weighted toward each column's lowest neck pixels: the skin right above the collar.
    depth = np.arange(top, bottom, dtype=np.float32)[:, None]
    weights = neck * np.exp((depth - bottom) / max(1.0, 0.08 * unit))
    total = weights.sum(axis=0)
    column = (weights[..., None] * pixels).sum(axis=0) / np.maximum(total, 1e-6)[:, None]
    colours = np.where(total[:, None] > 1e-3, column, np.median(pixels[neck], axis=0))[None]
    colours = np.asarray(cv2.GaussianBlur(colours, (0, 0), sigmaX=max(1.0, 0.06 * unit), sigmaY=0.1))
    fall = np.clip((np.arange(rows.start, rows.stop, dtype=np.float32) - y0) / unit, 0.0, 1.2)[:, None]
    shade = shadow(layer.box) * (1.0 - 0.22 * fall)
    blend(out, layer.box, colours * shade[..., None], layer.alpha[layer.box])


def _jacket_colour(request: SuitRequest) -> np.ndarray:
    colour = exemplar_colour(request.exemplar) if request.exemplar is not None else None
    return np.asarray(colour if colour is not None else request.colour, np.float32) / 255.0


def exemplar_colour(exemplar: Image.Image) -> tuple[int, int, int] | None:
    """The suit's colour in a picture of one: of three colour clusters in the picture's middle (below
    where a face would be), the largest that is neither near-white (a shirt) nor the colour of the
    picture's border (its background)."""
    small = exemplar.convert("RGB")
    small.thumbnail((96, 96))
    rgb = np.asarray(small, np.float32)
    h, w = rgb.shape[:2]
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    middle = rgb[int(0.3 * h) : int(0.9 * h) + 1, w // 4 : w - w // 4].reshape(-1, 3)
    if len(middle) < 3:
        return None
    centres, labels = _kmeans(middle, 3)
    counts = np.bincount(labels, minlength=3)
    lab = _lab(centres)
    background = _lab(np.median(border, axis=0, keepdims=True))[0]
    for k in np.argsort(-counts, kind="stable"):
        near_white = lab[k, 0] > 88 and np.hypot(lab[k, 1], lab[k, 2]) < 10
        like_border = np.linalg.norm(lab[k] - background) < 12
        if counts[k] and not near_white and not like_border:
            r, g, b = (int(v) for v in np.clip(np.round(centres[k]), 0, 255))
            return (r, g, b)
    return None


def _kmeans(points: np.ndarray, k: int, iterations: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Plain k-means, started from colours spread over the lightness range (deterministic, no RNG)."""
    order = np.argsort(points.sum(axis=1), kind="stable")
    centres = points[order[((np.arange(k) + 0.5) / k * len(points)).astype(int)]].copy()
    labels = np.zeros(len(points), np.intp)
    for _ in range(iterations):
        labels = np.argmin(((points[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1)
        for j in range(k):
            if (labels == j).any():
                centres[j] = points[labels == j].mean(axis=0)
    return centres, labels


def _lab(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return np.asarray(cv2.cvtColor(rgb.reshape(1, -1, 3).astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)[0])


def build_clothes_painter(models: ModelSettings) -> VectorSuitPainter:
    return VectorSuitPainter()
