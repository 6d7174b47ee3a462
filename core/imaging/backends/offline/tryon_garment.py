"""Cuts the top out of a /tryon garment photo: a shop's product shot, or a photo of someone wearing it.

A person the pose model can follow from the shoulders to the hips, with a head (pose also finds shoulders
and hips in a shirt laid flat), means a worn top: it is their top, found by GrabCut seeded from their chest
(surely the top), the rest of their old top's region (probably), their arms (perhaps sleeves), and their
head, hands, legs and background (surely not); its landmarks are where a top lies on them
(``garment_fit.wearer_points``), and what their hands hid of it is filled from around.

Anything else must be a product shot on a plain background: the background is the colour of the photo's
border, and everything joined to the border in that colour (and not across an edge: a white shirt on a
white background still has an outline) is background; the garment is the largest piece left, its holes
filled, and its landmarks are read off that silhouette (``garment_landmarks``).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.config import ModelSettings
from core.errors import UserError
from core.imaging.backends.base import Body, Garment, GarmentPoints
from core.imaging.backends.garment_fit import wearer_points
from core.imaging.backends.offline.garment_landmarks import silhouette_points
from core.imaging.backends.offline.tryon_body import MediaPipeBodyParser
from core.imaging.backends.torso import TorsoFrame

# The silhouette is found on a copy whose long side is at most this.
_WORK_MAX_SIDE = 400
# The garment image is kept at most this large (the painter never needs more).
_KEEP_MAX_SIDE = 1200
# The border: this share of the shorter side, all around. It is plain when this share of it lies within
# _PLAIN_DISTANCE (Lab) of its median colour.
_BORDER = 0.02
_PLAIN_SHARE = 0.8
_PLAIN_DISTANCE = 6.0
# A pixel is background-coloured within this Lab distance of the border (at least; more on a noisy border).
_MIN_TOLERANCE = 3.0
# Canny thresholds for the outline that stops the background's fill (low: a white shirt's faint shadow).
_EDGES = (8, 24)
# A garment covers between these shares of a product shot.
_AREA = (0.03, 0.95)
# GrabCut on a worn top: iterations, and the torso's core (surely the top) is the torso shrunk by this
# share of the shoulder width.
_GRABCUT_ITERATIONS = 3
_CORE_SHRINK = 0.08
# and cut this share of the way from the shoulders to the hips (below, it may be trousers); GrabCut looks
# at most this far below the hips (in shoulders-to-hips distances), on a copy at most this large.
_CORE_DEPTH = 0.55
_LEG_ROOM = 0.3
_GRABCUT_MAX_SIDE = 256


class GarmentCutter:
    def __init__(self, parser: MediaPipeBodyParser) -> None:
        self._parser = parser

    def extract(self, image: Image.Image) -> Garment:
        rgb = np.asarray(image.convert("RGB"))
        body = self._parser.parse_one(image)
        # A wearer has a head: pose also finds shoulders and hips in a shirt laid flat.
        if body is not None and "nose" in body.points and body.torso.getbbox() is not None:
            return _worn(rgb, body)
        return _product(rgb)


def _shrunk(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    import cv2

    height, width = rgb.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale == 1.0:
        return rgb, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)), scale


def _product(rgb: np.ndarray) -> Garment:
    import cv2

    small, scale = _shrunk(rgb, _WORK_MAX_SIDE)
    height, width = small.shape[:2]
    lab = cv2.cvtColor(small.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    band = max(2, round(_BORDER * min(height, width)))
    border = np.zeros((height, width), bool)
    border[:band], border[-band:], border[:, :band], border[:, -band:] = True, True, True, True
    distance = np.linalg.norm(lab - np.median(lab[border], axis=0), axis=-1)
    if (distance[border] <= _PLAIN_DISTANCE).mean() < _PLAIN_SHARE:
        raise UserError("tryon.no_garment")
    tolerance = max(_MIN_TOLERANCE, float(np.percentile(distance[border], 90)) + 2.0)
    edges = cv2.dilate(cv2.Canny(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), *_EDGES), np.ones((3, 3), np.uint8))
    background = _joined_to(border, (distance <= tolerance) & (edges == 0))
    # Thin spurs along the outline are the edge band and JPEG noise, not cloth.
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    garment = cv2.morphologyEx(np.where(background, 0, 255).astype(np.uint8), cv2.MORPH_OPEN, kernel) > 0
    garment = _filled(_largest(garment))
    if not _AREA[0] <= garment.mean() <= _AREA[1]:
        raise UserError("tryon.no_garment")
    points = silhouette_points(garment)
    if points is None:
        raise UserError("tryon.no_garment")
    return _cut(rgb, garment, {k: (x / scale, y / scale) for k, (x, y) in points.items()}, "product")


def _worn(rgb: np.ndarray, body: Body) -> Garment:
    """The top the person in the photo wears, by GrabCut on their upper body at the work size."""
    import cv2

    height, width = rgb.shape[:2]
    frame = TorsoFrame(body.points)
    to_hips = float(np.hypot(*(frame.middle - frame.hips_middle)))
    person = np.asarray(body.person) > 127
    # Below the hips (with some room for a long top) the person is surely not the top: their trousers
    # teach GrabCut what is not, as the face, neck and hands teach it the skin.
    legs = frame.below((to_hips + _LEG_ROOM * to_hips) / frame.unit, (height, width))
    ys, xs = np.nonzero(person & ~legs)
    if not len(xs):
        raise UserError("tryon.no_garment")
    pad = round(0.1 * frame.unit)
    box = (
        max(0, xs.min() - pad),
        max(0, ys.min() - pad),
        min(width, xs.max() + pad + 1),
        min(height, ys.max() + pad + 1),
    )
    window = (slice(box[1], box[3]), slice(box[0], box[2]))
    scale = min(1.0, _GRABCUT_MAX_SIDE / max(box[2] - box[0], box[3] - box[1]))
    size = (max(1, round((box[2] - box[0]) * scale)), max(1, round((box[3] - box[1]) * scale)))

    def small(mask: np.ndarray) -> np.ndarray:
        return (
            np.asarray(cv2.resize(mask[window].astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)) > 0
        )

    torso, keep = small(np.asarray(body.torso) > 127), small(np.asarray(body.keep) > 127)
    chest = small(~frame.below(_CORE_DEPTH * to_hips / frame.unit, (height, width)))
    shrink = max(1, round(_CORE_SHRINK * frame.unit * scale))
    core = cv2.erode(torso.astype(np.uint8), np.ones((2 * shrink + 1, 2 * shrink + 1), np.uint8)) > 0
    seeds = np.full(torso.shape, cv2.GC_BGD, np.uint8)
    seeds[small(person)] = cv2.GC_PR_BGD
    seeds[torso] = cv2.GC_PR_FGD
    seeds[core & chest] = cv2.GC_FGD
    seeds[keep | small(legs)] = cv2.GC_BGD
    if not (seeds == cv2.GC_FGD).any():
        raise UserError("tryon.no_garment")
    pixels = np.ascontiguousarray(cv2.resize(rgb[window], size, interpolation=cv2.INTER_AREA)[..., ::-1])
    try:
        cv2.grabCut(
            pixels,
            seeds,
            (0, 0, 0, 0),
            np.zeros((1, 65)),
            np.zeros((1, 65)),
            _GRABCUT_ITERATIONS,
            cv2.GC_INIT_WITH_MASK,
        )
    except cv2.error:
        # Too few distinct colours on one side to fit its model: the seeds are the best answer there is.
        pass
    worn = _largest((seeds == cv2.GC_FGD) | (seeds == cv2.GC_PR_FGD)) & ~keep
    if worn.sum() < 0.2 * torso.sum():
        raise UserError("tryon.no_garment")
    full = np.zeros((height, width), bool)
    soft = cv2.resize(
        worn.astype(np.float32), (box[2] - box[0], box[3] - box[1]), interpolation=cv2.INTER_LINEAR
    )
    full[window] = soft > 0.5
    points = wearer_points(body, full)
    # What the wearer's hands and forearms hide of the top is filled from around it.
    hidden = _filled(full) & ~full
    if hidden.any():
        rgb = rgb.copy()
        rgb[window] = cv2.inpaint(
            np.ascontiguousarray(rgb[window]), hidden[window].astype(np.uint8), 3, cv2.INPAINT_TELEA
        )
        full |= hidden
    return _cut(rgb, full, points, "worn")


def _cut(rgb: np.ndarray, mask: np.ndarray, points: GarmentPoints, source: str) -> Garment:
    """The garment cropped to its mask (at the photo's size or the work size) and kept at most
    ``_KEEP_MAX_SIDE`` large; ``points`` in the photo's pixels."""
    import cv2

    height, width = rgb.shape[:2]
    if mask.shape != (height, width):
        soft = cv2.resize(mask.astype(np.float32), (width, height), interpolation=cv2.INTER_LINEAR)
        mask = soft > 0.5
    ys, xs = np.nonzero(mask)
    pad = max(2, round(0.02 * max(height, width)))
    x0, y0 = max(0, int(xs.min()) - pad), max(0, int(ys.min()) - pad)
    x1, y1 = min(width, int(xs.max()) + pad + 1), min(height, int(ys.max()) + pad + 1)
    crop, crop_mask = rgb[y0:y1, x0:x1], mask[y0:y1, x0:x1].astype(np.uint8) * 255
    scale = min(1.0, _KEEP_MAX_SIDE / max(crop.shape[:2]))
    if scale < 1.0:
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        crop = np.asarray(cv2.resize(crop, size, interpolation=cv2.INTER_AREA))
        crop_mask = np.asarray(cv2.resize(crop_mask, size, interpolation=cv2.INTER_AREA), np.uint8)
    moved = {name: ((x - x0) * scale, (y - y0) * scale) for name, (x, y) in points.items()}
    return Garment(
        Image.fromarray(np.ascontiguousarray(crop), "RGB"), Image.fromarray(crop_mask, "L"), moved, source
    )


def _joined_to(seed: np.ndarray, region: np.ndarray) -> np.ndarray:
    """The parts of ``region`` that touch ``seed``."""
    import cv2

    count, labels = cv2.connectedComponents(region.astype(np.uint8), connectivity=4)
    touching = np.unique(labels[seed & region])
    return np.isin(labels, touching[touching > 0])


def _largest(mask: np.ndarray) -> np.ndarray:
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros_like(mask, dtype=bool)
    return np.asarray(labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA])))


def _filled(mask: np.ndarray) -> np.ndarray:
    """``mask`` with its holes (what is not joined to the image's edge) filled."""
    edge = np.zeros(mask.shape, bool)
    edge[0], edge[-1], edge[:, 0], edge[:, -1] = True, True, True, True
    return mask | ~_joined_to(edge, ~mask)


def build_garment_extractor(models: ModelSettings) -> GarmentCutter:
    """Shares the body parser (and its MediaPipe graphs) with the pipeline."""
    from core.imaging.backends import registry
    from core.imaging.backends.offline.tryon_body import build_body_parser

    parser = registry.shared("body_parser", models)
    return GarmentCutter(parser if isinstance(parser, MediaPipeBodyParser) else build_body_parser(models))
