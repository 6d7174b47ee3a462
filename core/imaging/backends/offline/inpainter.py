"""Classical inpainting of the lower face: no model, only OpenCV and the face's own skin.

A plain Telea fill of a mask region smears whatever borders it (a white wall, a collar, the mask's own
straps) into the face. Instead the hole is filled with the skin of the same face: its colour and grain come
from the forehead and cheeks, its lightness follows a plane fitted to the skin around the hole (so the light
keeps falling the way it does on the rest of the face). With the face mesh's depth, the hidden nose, lips and
chin are rendered in the light the visible skin shows (``face_render``) and their relief is laid on that
plane; lips, nostrils and the mouth line get their colours (``shading``). Below the jaw, where masks overhang
onto the neck or the background, the plain Telea continuation of the photo is used instead. A smooth
correction, interpolated inward from the skin just outside the hole, removes any seam. It works on a reduced
copy of the hole (the fill is smooth, so nothing is lost) and adds the fine grain at full resolution. Last,
within a fraction of an eye distance of the hole's edge, the photo's own Telea continuation takes over from
the painted face, so what crosses the edge (stubble, the jaw line, a shadow) runs on into the hole.

With a user's identity (reference selfies) and landmarks, the face part of the hole is then replaced by the
user's own lower face (``face_transplant``); without one, by a generated stranger's when the operator turned
the face prior on (``face_prior``).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from PIL import Image

from core.config import ModelSettings
from core.imaging.backends.base import InpaintRequest, StepProgress
from core.imaging.backends.offline import face_regions as fr
from core.imaging.backends.offline import face_render, face_transplant, shading, skin
from core.imaging.backends.offline.face_prior import StyleGanFacePrior, build_face_prior

# The fill is computed with the hole's longer side scaled down to at most this many pixels.
_WORK_SIDE = 160
# Boundary colours further than this from the skin reference are not skin (wall, hair, fabric). Lightness
# counts for little: the same skin in shadow is much darker but keeps its hue.
_SKIN_DISTANCE = 14.0
_LIGHTNESS_WEIGHT = 0.35
# How much darker (L*) a bare lower face is than the forehead, typically (measured on the shared bare faces:
# 5 to 25, shading under the nose and the jaw).
_LOWER_FACE_SHADE = 8.0
_FACE_WIDEN = (1.08, 1.03)
# Generated grain relative to the grain measured on the visible skin, and its bounds (L* units). Kept low:
# on a smooth, featureless fill even 1.5 L* of noise reads as sand, and the measurement picks up brow
# hairs and sensor noise that should not be copied.
_GRAIN_SHARE = 0.5
_GRAIN_RANGE = (0.2, 0.8)
# How much of the rendered relief goes onto the lit skin plane, and its bound (L*).
_RENDER_SHARE = 0.4
_RELIEF = 25.0
# Near the hole's edge the photo's continuation (Telea) outweighs the painted face: its weight falls off by
# e over this many eye distances from the edge. Its fill is computed at most this many pixels wide.
_EDGE_BAND = 0.12
_CONTINUATION_SIDE = 512
# Bound on the edge correction (L*, a*, b*): larger differences at the edge are not skin meeting skin.
_EDGE_RESIDUAL = np.array([20.0, 10.0, 10.0], np.float32)


class ClassicalInpainter:
    resolution: ClassVar[int | None] = None

    def __init__(self, prior: StyleGanFacePrior | None = None) -> None:
        # Donor faces for users without selfies (off by default: non-commercial weights).
        self.prior = prior

    def inpaint(
        self, image: Image.Image, mask: Image.Image, request: InpaintRequest, progress: StepProgress
    ) -> Image.Image:
        identity = request.identity
        own = identity is not None and bool(identity.references)
        if request.landmarks is None or not (own or self.prior is not None):
            return _continue_the_edge(image, self._fill(image, mask, request, progress), mask, request)
        # A real lower face over the classical fill (which stays below the jaw, and everywhere when no face
        # is posed like this one): the user's own from a reference selfie, else the face prior's donor.
        base = self._fill(image, mask, request, lambda fraction: progress(0.7 * fraction))
        if own:
            assert identity is not None
            reference = face_transplant.choose_reference(request.landmarks, identity.references)
        else:
            assert self.prior is not None
            reference = self.prior.donor(image, request.landmarks, np.asarray(mask.convert("L")) > 127)
        if reference is not None:
            base = face_transplant.transplant(image, mask, request.landmarks, reference, base)
        progress(1.0)
        return _continue_the_edge(image, base, mask, request)

    def _fill(
        self, image: Image.Image, mask: Image.Image, request: InpaintRequest, progress: StepProgress
    ) -> Image.Image:
        import cv2

        rgb = np.asarray(image.convert("RGB"))
        hole = np.asarray(mask.convert("L")) > 127
        if not hole.any():
            progress(1.0)
            return image.convert("RGB").copy()
        landmarks = request.landmarks

        # Work region: the hole's bounding box with a margin, scaled down.
        ys, xs = np.nonzero(hole)
        pad = max(4, int(0.15 * max(np.ptp(xs), np.ptp(ys))))
        x0, y0 = max(0, xs.min() - pad), max(0, ys.min() - pad)
        x1, y1 = min(rgb.shape[1], xs.max() + pad + 1), min(rgb.shape[0], ys.max() + pad + 1)
        scale = min(1.0, _WORK_SIDE / max(x1 - x0, y1 - y0))
        size = (max(4, round((x1 - x0) * scale)), max(4, round((y1 - y0) * scale)))
        work = cv2.resize(rgb[y0:y1, x0:x1], size, interpolation=cv2.INTER_AREA)
        work_hole = cv2.resize(hole[y0:y1, x0:x1].astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        work_lab = _lab(work)
        work_landmarks = None if landmarks is None else (np.asarray(landmarks) - [x0, y0]) * scale

        # 1. The face's skin: colour and grain from skin the mask never covers.
        tone, grain = _skin_reference(rgb, hole, landmarks, work_lab, work_hole)
        face = np.ones_like(work_hole) if work_landmarks is None else _face_region(work_landmarks, size)
        progress(0.2)

        # 2. The lower face: where the face mesh covers it, rendered from the mesh's shape in the light the
        # visible skin shows; elsewhere (no mesh, or its outline pulled in by the mask) a lit skin plane.
        unit = max(2.0, fr.eye_distance(work_landmarks)) if work_landmarks is not None else max(size) / 2.5
        fill = _skin_surface(work_lab, work_hole, face, tone, unit)
        if work_landmarks is not None and request.depth is not None:
            skin_coloured = _near(work_lab, tone, _SKIN_DISTANCE)
            depth = np.asarray(request.depth, np.float32) * scale
            skin_rgb = (
                cv2.cvtColor(np.asarray(tone, np.float32).reshape(1, 1, 3), cv2.COLOR_Lab2RGB)[0, 0] * 255
            )
            rendered = face_render.render(work, work_hole, skin_coloured, work_landmarks, depth, skin_rgb)
            if rendered is not None:
                colours, covered = rendered
                # The render gives the relief (nose, lips, chin) as lightness around its own level; the
                # level and the colour stay the lit skin plane's, which the skin around the hole sets.
                relief = _lab(colours)[..., 0]
                inside = covered & work_hole
                if inside.any():
                    relief = relief - float(np.median(relief[inside]))
                    weight = cv2.GaussianBlur(covered.astype(np.float32), (0, 0), 0.03 * unit)
                    fill[..., 0] += _RENDER_SHARE * np.clip(relief, -_RELIEF, _RELIEF) * weight
                    face = face | covered
        # Below the jaw the photo itself (neck, collar, background) continues into the hole.
        if work_landmarks is not None:
            plain = _lab(cv2.inpaint(work, work_hole.astype(np.uint8), 3, cv2.INPAINT_TELEA))
            # A jaw line is an edge against the background, so the blend across it is narrow.
            jaw = cv2.GaussianBlur(face.astype(np.float32), (0, 0), 0.015 * unit)[..., None]
            fill = fill * jaw + plain * (1.0 - jaw)
            # 3. Lips, nostrils and the mouth line in their own colours, placed by the landmark geometry.
            fill = fill + shading.features(work_landmarks, size, unit, tone) * face[..., None]
        # 4. Whatever difference remains at the hole's edge fades smoothly across it, so the fill meets the
        # real skin around it without a seam.
        fill = _meet_the_edge(
            fill, work_lab, work_hole, unit, _near(work_lab, tone, 1.5 * _SKIN_DISTANCE) | ~face
        )
        progress(0.7)

        # 5. Back to full resolution, with skin grain, only inside the hole.
        full = np.asarray(cv2.resize(fill, (x1 - x0, y1 - y0), interpolation=cv2.INTER_CUBIC), np.float32)
        skin_weight = cv2.resize(face.astype(np.float32), (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        rng = np.random.default_rng(request.seed)
        full[..., 0] += shading.grain(rng, full.shape[:2], grain) * skin_weight
        painted = np.clip(np.round(cv2.cvtColor(full, cv2.COLOR_Lab2RGB) * 255.0), 0, 255).astype(np.uint8)
        out = rgb.copy()
        region = out[y0:y1, x0:x1]
        inside = hole[y0:y1, x0:x1]
        region[inside] = painted[inside]
        progress(1.0)
        return Image.fromarray(out, "RGB")


_lab = skin.lab_image


def _face_region(landmarks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Inside the face oval, widened a little: under a mask the mesh tends to pull the jaw inward."""
    import cv2

    centre = fr.face_centre(landmarks)
    oval = centre + (fr.points(landmarks, fr.FACE_OVAL) - centre) * _FACE_WIDEN
    canvas = np.zeros((size[1], size[0]), np.uint8)
    cv2.fillPoly(canvas, [np.round(oval).astype(np.int32)], 1)
    return canvas.astype(bool)


def _skin_reference(
    rgb: np.ndarray,
    hole: np.ndarray,
    landmarks: np.ndarray | None,
    work_lab: np.ndarray,
    work_hole: np.ndarray,
) -> tuple[np.ndarray, float]:
    """Lab skin colour and the fine grain (std of L* minus its blur) of the visible skin."""
    if landmarks is not None:
        radius = max(2, round(0.06 * fr.eye_distance(landmarks)))
        points = np.asarray(landmarks)[list(skin.SKIN_POINTS)]
        lab = _lab(rgb)
        tone = skin.dominant_colour(np.array(skin.sample_skin(lab, points, radius, exclude=hole)))
        if tone is not None:
            return tone, _grain(lab[..., 0], points, radius, hole)
    # No landmarks (or no visible skin patch): the skin-like part of the ring around the hole.
    colours = work_lab[_ring(work_hole, 4)]
    tone = skin.dominant_colour(colours[skin.skin_like(colours)][:400])
    return (tone if tone is not None else np.median(colours, axis=0)), _GRAIN_RANGE[0]


def _grain(lightness: np.ndarray, points: np.ndarray, radius: int, hole: np.ndarray) -> float:
    import cv2

    fine = lightness - cv2.GaussianBlur(lightness, (0, 0), 1.5)
    height, width = lightness.shape
    values = []
    for x, y in points:
        x0, y0, x1, y1 = int(x) - radius, int(y) - radius, int(x) + radius + 1, int(y) + radius + 1
        if x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height and not hole[y0:y1, x0:x1].any():
            values.append(float(fine[y0:y1, x0:x1].std()))
    grain = _GRAIN_SHARE * float(np.median(values)) if values else _GRAIN_RANGE[0]
    return float(np.clip(grain, *_GRAIN_RANGE))


def _ring(hole: np.ndarray, width: int) -> np.ndarray:
    import cv2

    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1, 2 * width + 1))
    return cv2.dilate(hole.astype(np.uint8), kernel).astype(bool) & ~hole


def _skin_surface(
    lab: np.ndarray, hole: np.ndarray, face: np.ndarray, tone: np.ndarray, unit: float
) -> np.ndarray:
    """Skin-coloured Lab field over the work image: lightness from a plane fitted to the skin around the
    hole, chroma from that skin (or the reference when too little of it shows)."""

    height, width = hole.shape
    difference = (lab - tone) * np.array([_LIGHTNESS_WEIGHT, 1.0, 1.0], np.float32)
    near = np.linalg.norm(difference, axis=-1) < _SKIN_DISTANCE
    boundary = _ring(hole, max(2, round(0.08 * unit))) & near & face
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    level_shift = 0.0
    if boundary.sum() >= 12:
        # The cheeks right around the hole know the lower face better than the forehead does, but they sit
        # in the mask's shadow and catch its reflected colour: trust them and the (slightly darkened, as
        # lower faces are) reference half each.
        around = np.median(lab[boundary], axis=0)
        level = 0.5 * around[0] + 0.5 * (tone[0] - _LOWER_FACE_SHADE)
        level_shift = float(level - around[0])
        tone = np.array([level, *(0.5 * around[1:] + 0.5 * tone[1:])], np.float32)
    lightness = np.full((height, width), float(tone[0]), np.float32)
    if boundary.sum() >= 12:
        design = np.stack([np.ones(boundary.sum()), xx[boundary], yy[boundary]], axis=1)
        target = lab[boundary, 0]
        coef, *_ = np.linalg.lstsq(design, target, rcond=None)
        # Refit without the worst third (a shadow the mask cast, a stray strand of hair).
        residual = np.abs(design @ coef - target)
        keep = residual <= np.quantile(residual, 0.67)
        if keep.sum() >= 8:
            coef, *_ = np.linalg.lstsq(design[keep], target[keep], rcond=None)
        plane = coef[0] + coef[1] * xx + coef[2] * yy + level_shift
        lightness = np.clip(plane, tone[0] - 15.0, tone[0] + 15.0).astype(np.float32)
    surface = np.dstack([lightness, np.full_like(lightness, tone[1]), np.full_like(lightness, tone[2])])

    return surface


def _near(lab: np.ndarray, tone: np.ndarray, distance: float) -> np.ndarray:
    """Pixels coloured like the skin ``tone`` (lightness counting little: shading changes it)."""
    difference = (lab - tone) * np.array([_LIGHTNESS_WEIGHT, 1.0, 1.0], np.float32)
    return np.asarray(np.linalg.norm(difference, axis=-1) < distance)


def _meet_the_edge(
    fill: np.ndarray, lab: np.ndarray, hole: np.ndarray, unit: float, trusted: np.ndarray
) -> np.ndarray:
    """``fill`` plus a smooth correction inside the hole that makes it equal the photo just outside it:
    the residual on a thin ring around the hole, bounded (a strand of hair or a frame on the ring must not
    spread), interpolated inward at half resolution. Ring pixels that are not ``trusted`` (on the face but
    not skin-coloured: the fabric's last pixels, a shadow) ask for no correction."""
    import cv2

    ring = _ring(hole, max(1, round(0.04 * unit)))
    if ring.sum() < 8:
        return fill
    residual = np.clip(lab - fill, -_EDGE_RESIDUAL, _EDGE_RESIDUAL).astype(np.float32)
    residual[~trusted] = 0.0
    height, width = hole.shape
    half = (max(4, width // 2), max(4, height // 2))
    known = cv2.resize(ring.astype(np.uint8), half, interpolation=cv2.INTER_NEAREST) > 0
    small = cv2.resize(np.where(ring[..., None], residual, 0.0), half, interpolation=cv2.INTER_AREA)
    weight = cv2.resize(ring.astype(np.float32), half, interpolation=cv2.INTER_AREA)
    small = small / np.maximum(weight, 1e-3)[..., None]
    unknown = (~known).astype(np.uint8)
    spread = np.dstack([cv2.inpaint(small[..., k], unknown, 5, cv2.INPAINT_TELEA) for k in range(3)])
    spread = cv2.GaussianBlur(spread, (0, 0), max(0.5, 0.05 * unit / 2))
    correction = cv2.resize(spread, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.asarray(np.where(hole[..., None], fill + correction, fill), np.float32)


def _continue_the_edge(
    image: Image.Image, painted: Image.Image, mask: Image.Image, request: InpaintRequest
) -> Image.Image:
    """``painted`` with OpenCV's Telea continuation of ``image`` blended in near the hole's edge (weight 1
    on the edge, falling off over _EDGE_BAND eye distances): whatever crosses the edge (stubble, a jaw line,
    the shadow of the nose) runs on into the hole instead of stopping at a painted face, whichever painted
    it. The Telea fill is computed at most _CONTINUATION_SIDE pixels wide; its cost grows with the hole."""
    import cv2

    hole = np.asarray(mask.convert("L")) > 127
    if not hole.any():
        return painted
    ys, xs = np.nonzero(hole)
    pad = 8
    x0, y0 = max(0, xs.min() - pad), max(0, ys.min() - pad)
    x1, y1 = min(hole.shape[1], xs.max() + pad + 1), min(hole.shape[0], ys.max() + pad + 1)
    photo = np.ascontiguousarray(np.asarray(image.convert("RGB"))[y0:y1, x0:x1])
    inside = hole[y0:y1, x0:x1].astype(np.uint8)
    height, width = inside.shape
    scale = min(1.0, _CONTINUATION_SIDE / max(height, width))
    if scale < 1.0:
        size = (max(4, round(width * scale)), max(4, round(height * scale)))
        small = cv2.resize(photo, size, interpolation=cv2.INTER_AREA)
        small_hole = cv2.resize(inside, size, interpolation=cv2.INTER_NEAREST)
        filled = cv2.inpaint(small, small_hole, 3, cv2.INPAINT_TELEA)
        continued = cv2.resize(filled, (width, height), interpolation=cv2.INTER_LINEAR)
    else:
        continued = cv2.inpaint(photo, inside, 3, cv2.INPAINT_TELEA)
    # The eye distance sets the band; without landmarks, the hole's size stands in for it.
    if request.landmarks is not None:
        unit = fr.eye_distance(np.asarray(request.landmarks))
    else:
        unit = max(width, height) / 2.5
    distance = cv2.distanceTransform(inside, cv2.DIST_L2, 3)
    weight = np.exp(-distance / max(1.0, _EDGE_BAND * unit))[..., None]
    out = np.asarray(painted.convert("RGB")).copy()
    region = out[y0:y1, x0:x1].astype(np.float32)
    blended = np.clip(np.round(weight * continued + (1.0 - weight) * region), 0, 255).astype(np.uint8)
    out[y0:y1, x0:x1] = np.where(inside[..., None] > 0, blended, out[y0:y1, x0:x1])
    return Image.fromarray(out, "RGB")


def build_inpainter(models: ModelSettings) -> ClassicalInpainter:
    return ClassicalInpainter(prior=build_face_prior(models))
