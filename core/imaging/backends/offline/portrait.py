"""What the offline /suit needs to know about a portrait, from the MediaPipe models inside the wheel.

Selfie segmentation gives the person against the background, pose gives the shoulders, and the face-mesh
landmarks the detector already found give eyes, nose, chin and jaw. What must survive the new clothes
(``keep``) is the face oval plus everything of the person above the chin line (hair, ears), plus long hair
hanging below it: there is no hair/clothes parser that works offline, so hair below the chin is told from
clothes by colour, with the person above the forehead and beside the face as the example of hair, and the
chest under the chin and the face's own skin as the examples of what is not.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from PIL import Image

from core.config import ModelSettings
from core.imaging.backends.base import Face, Point, Portrait
from core.imaging.backends.offline import face_regions as fr
from core.imaging.backends.offline.mediapipe_graphs import pose_graph, selfie_segmentation_graph

# Both models look at 256 px or less, so they run on a copy whose long side is at most this.
_WORK_MAX_SIDE = 512
_VISIBLE = 0.5
# The angles of the jaw (gonions) in the face mesh.
_JAW_ANGLES = (172, 397)
# The face oval grows by this fraction of the face height, so that the hairline and the skin at the very
# edge of the face (which the mesh outline tends to cut) are kept.
_OVAL_GROWTH = 0.06
# Kept hair and ears stop this fraction of the face width inside the person mask's edge.
_EDGE_MARGIN = 0.015
# Without a usable person mask, the crown lies this fraction of forehead-to-chin above the forehead.
_CROWN_FALLBACK = 0.25
# Long hair below the chin: a pixel counts as hair when its colour cell (of a _BINS^3 Lab grid) holds at
# least _HAIR_DENSITY of the hair samples and _HAIR_ODDS times the clothes samples' share.
_BINS = 16
_HAIR_DENSITY = 0.002
_HAIR_ODDS = 3.0
_MIN_SAMPLES = 30
# Hair never hangs over the middle of the chest in an ID photo: the band +- this fraction of the face width
# around the chin stays clothes whatever its colour (a dark shirt under dark hair).
_CHEST_BAND = 0.35
# A pixel beside the face is background the segmentation let in when its colour is this many times more
# common in the sure background than in the hair and skin.
_BLEED_ODDS = 3.0


class MediaPipePortraitParser:
    """Thread-safe: one lock around the MediaPipe graphs, which keep state between calls."""

    def __init__(self) -> None:
        self._segmentation = selfie_segmentation_graph()
        self._pose = pose_graph()
        self._lock = threading.Lock()

    def parse(self, image: Image.Image, face: Face) -> Portrait:
        if face.landmarks is None:
            raise ValueError("the offline portrait parser needs face-mesh landmarks")
        import cv2

        rgb = np.asarray(image.convert("RGB"))
        height, width = rgb.shape[:2]
        scale = min(1.0, _WORK_MAX_SIDE / max(width, height))
        small_size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = rgb if scale == 1.0 else cv2.resize(rgb, small_size, interpolation=cv2.INTER_AREA)
        small = np.ascontiguousarray(small)
        with self._lock:
            alpha_small = self._segmentation.process(small).segmentation_mask
            pose = self._pose.process(small).pose_landmarks

        alpha_small = np.clip(np.nan_to_num(alpha_small), 0.0, 1.0).astype(np.float32)
        alpha = cv2.resize(alpha_small, (width, height), interpolation=cv2.INTER_LINEAR)
        person = np.round(alpha * 255).astype(np.uint8)

        lm = face.landmarks.astype(np.float32)
        eyes = sorted([_point(lm[468]), _point(lm[473])])
        jaw = fr.points(lm, fr.JAW)
        if jaw[0, 0] > jaw[-1, 0]:
            jaw = jaw[::-1].copy()
        keep = _keep(small, alpha_small, person > 127, lm, jaw, scale)
        return Portrait(
            keep=Image.fromarray(keep, "L"),
            person=Image.fromarray(person, "L"),
            eyes=(eyes[0], eyes[1]),
            nose=_point(lm[1]),
            chin=_point(lm[fr.CHIN]),
            crown=_crown(person > 127, lm, eyes),
            jaw=jaw,
            shoulders=_shoulders(pose, width, height),
        )


def _point(p: np.ndarray) -> Point:
    return (float(p[0]), float(p[1]))


def _shoulders(pose: Any, width: int, height: int) -> tuple[Point, Point] | None:
    if pose is None:
        return None
    points = [pose.landmark[i] for i in (11, 12)]
    if any(p.visibility <= _VISIBLE for p in points):
        return None
    left, right = sorted((float(p.x) * width, float(p.y) * height) for p in points)
    return (left, right)


def _crown(person: np.ndarray, lm: np.ndarray, eyes: list[Point]) -> Point:
    """The top of the person mask above the forehead, in the columns between the eyes. The mask is read
    upward from the forehead so that something above the head (a sign, another person) is not taken for
    hair."""
    height, width = person.shape
    forehead, chin = lm[10], lm[fr.CHIN]
    x0 = int(np.clip(round(eyes[0][0]), 0, width - 1))
    x1 = int(np.clip(round(eyes[1][0]), x0, width - 1)) + 1
    y_start = int(np.clip(round(forehead[1]), 0, height - 1))
    columns = person[: y_start + 1, x0:x1]
    inside = columns[-1]
    if inside.mean() > 0.5:
        # Per column, the first row of the unbroken run of person pixels that ends at the forehead.
        gaps = ~columns[:, inside]
        last_gap = np.where(gaps.any(axis=0), y_start - np.argmax(gaps[::-1], axis=0), -1)
        tops = last_gap + 1
        top = int(tops.min())
        xs = np.flatnonzero(inside)[tops <= top + 1] + x0
        return (float(xs.mean()), float(top))
    y = forehead[1] - _CROWN_FALLBACK * float(np.linalg.norm(chin - forehead))
    return (float(forehead[0]), max(0.0, float(y)))


def _below_line(jaw: np.ndarray, width: int, height: int, scale: float = 1.0) -> np.ndarray:
    """(H, W) bool: below the chin line, the jaw extended horizontally to both image sides. It leaves the
    jaw at its angles, not at the ears where the face-mesh jaw ends: from there the ear lobes and the hair
    beside the cheeks would fall below it."""
    angles = [fr.JAW.index(i) for i in _JAW_ANGLES]
    lower = jaw[min(angles) : max(angles) + 1]
    xs = np.maximum.accumulate(lower[:, 0] * scale)
    line = np.interp(np.arange(width, dtype=np.float32) + 0.5, xs, lower[:, 1] * scale)
    return np.arange(height, dtype=np.float32)[:, None] + 0.5 > line[None, :]


def _oval(lm: np.ndarray, width: int, height: int, scale: float = 1.0, grow: bool = True) -> np.ndarray:
    """The face-mesh outline filled; grown, it reaches past the hairline, where the mesh stops."""
    import cv2

    oval = fr.points(lm, fr.FACE_OVAL)
    polygons = [oval]
    if grow:
        centre = oval.mean(axis=0)
        face_height = float(np.linalg.norm(lm[fr.CHIN] - lm[10]))
        grown = centre + (oval - centre) * (1.0 + _OVAL_GROWTH)
        polygons = [grown, grown - [0.0, _OVAL_GROWTH * face_height]]
    canvas = np.zeros((height, width), np.uint8)
    for poly in polygons:
        cv2.fillPoly(canvas, [np.round(poly * scale * 4).astype(np.int32)], 255, cv2.LINE_8, shift=2)
    return canvas > 0


def _keep(
    small: np.ndarray,
    alpha_small: np.ndarray,
    person: np.ndarray,
    lm: np.ndarray,
    jaw: np.ndarray,
    scale: float,
) -> np.ndarray:
    import cv2

    height, width = person.shape
    below = _below_line(jaw, width, height)
    oval = _oval(lm, width, height)
    # The segmentation's edge bleeds a few pixels into the background; kept pixels are pasted back
    # as they are, so keep only its sure inside (the pipeline blends the edge by the person's alpha).
    radius = max(1, round(_EDGE_MARGIN * float(np.ptp(lm[list(fr.FACE_OVAL), 0]))))
    inside = cv2.erode(person.astype(np.uint8), np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)) > 0
    face = _oval(lm, width, height, grow=False) | (oval & person)
    head = (inside & ~below) | (face & ~_below_line(jaw + [0.0, 2.0], width, height))
    # Only what is joined to the face: a raised hand or a neighbour above the chin line is not hair.
    count, labels = cv2.connectedComponents(head.astype(np.uint8), connectivity=8)
    if count > 2:
        centre = np.round(fr.face_centre(lm)).astype(int)
        cx, cy = int(np.clip(centre[0], 0, width - 1)), int(np.clip(centre[1], 0, height - 1))
        head = labels == labels[cy, cx] if labels[cy, cx] else head
    bins = _colour_bins(small)
    hair = _long_hair(bins, alpha_small > 0.5, lm, jaw, scale)
    if hair is not None:
        head |= _enlarged(hair, width, height) & below & inside
    bleed = _bleed(bins, alpha_small, lm, jaw, scale)
    if bleed is not None:
        head &= ~_enlarged(bleed, width, height)
    return np.where(head, 255, 0).astype(np.uint8)


def _enlarged(mask: np.ndarray, width: int, height: int) -> np.ndarray:
    import cv2

    return (
        np.asarray(cv2.resize(mask.astype(np.uint8) * 255, (width, height), interpolation=cv2.INTER_LINEAR))
        > 127
    )


def _bleed(
    bins: np.ndarray, alpha: np.ndarray, lm: np.ndarray, jaw: np.ndarray, scale: float
) -> np.ndarray | None:
    """Background that the segmentation took for the person beside the face, below the ears (where the
    suit pipeline repaints whatever is not kept): coloured like the sure background, not like this
    person's hair or skin. At the work resolution; None when there is no sure background to learn from."""
    height, width = alpha.shape
    slm = lm * scale
    person, background = alpha > 0.5, alpha < 0.2
    oval = _oval(lm, width, height, scale)
    hair = person & ~oval & (np.arange(height)[:, None] < slm[10, 1])
    if background.sum() < _MIN_SAMPLES or hair.sum() < _MIN_SAMPLES:
        return None
    ears = min(float(jaw[0, 1]), float(jaw[-1, 1])) * scale
    zone = person & ~oval & (np.arange(height)[:, None] > ears)
    skin = np.zeros(person.shape, np.uint8)
    _fill(skin, fr.lower_face_polygon(slm, -0.15))
    own = np.maximum(_density(bins, hair), _density(bins, skin > 0))
    found = bins[zone]
    bleed = np.zeros_like(person)
    bleed[zone] = _density(bins, background)[found] > _BLEED_ODDS * own[found]
    return bleed


def _long_hair(
    bins: np.ndarray, person: np.ndarray, lm: np.ndarray, jaw: np.ndarray, scale: float
) -> np.ndarray | None:
    """Hair hanging below the chin line, at the work resolution, or None when it cannot be told."""
    import cv2

    height, width = person.shape
    slm = lm * scale
    face_width = float(np.ptp(slm[list(fr.FACE_OVAL), 0]))
    face_height = float(np.linalg.norm(slm[fr.CHIN] - slm[10]))
    chin = slm[fr.CHIN]
    ys, xs = np.mgrid[0:height, 0:width]
    below = _below_line(jaw, width, height, scale)
    oval = _oval(lm, width, height, scale)
    # Hair examples: the person above the forehead and beside the face, outside the face.
    above = person & ~below & ~oval
    hair_seed = above & (ys < slm[10, 1])
    # Skin examples (the cheeks, nose and mouth) keep ears, neck and a bare chest from passing for hair.
    skin = np.zeros(person.shape, np.uint8)
    _fill(skin, fr.lower_face_polygon(slm, -0.15))
    # The chest under the chin, as far below it as the photo shows (a close-up shows little of it).
    chest = (
        person
        & (np.abs(xs - chin[0]) < 0.3 * face_width)
        & (ys > chin[1] + 0.25 * face_height)
        & (ys < chin[1] + 0.9 * face_height)
    )
    candidates = person & below & (np.abs(xs - chin[0]) > _CHEST_BAND * face_width)
    if hair_seed.sum() < _MIN_SAMPLES or chest.sum() < _MIN_SAMPLES or not candidates.any():
        return None
    hair_density = _density(bins, above)
    other_density = np.maximum(_density(bins, chest), _density(bins, skin > 0))
    found = bins[candidates]
    raw = np.zeros(person.shape, np.uint8)
    raw[candidates] = (hair_density[found] > _HAIR_DENSITY) & (
        hair_density[found] > _HAIR_ODDS * other_density[found]
    )
    # Strands and highlights leave holes and specks; a median closes the first and drops the second.
    hair = np.asarray(cv2.medianBlur(raw * 255, 5)) > 0
    # Keep only hair that hangs from the hair above: joined to it through hair-coloured pixels.
    count, labels = cv2.connectedComponents((hair | above).astype(np.uint8), connectivity=8)
    if count <= 1:
        return None
    joined = np.unique(labels[hair_seed])
    return np.isin(labels, joined[joined > 0]) & hair


def _fill(canvas: np.ndarray, polygon: np.ndarray) -> None:
    import cv2

    cv2.fillPoly(canvas, [np.round(polygon).astype(np.int32)], 1)


def _colour_bins(rgb: np.ndarray) -> np.ndarray:
    """(H, W) index of each pixel's cell in a coarse Lab colour grid."""
    import cv2

    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    n = _BINS
    lightness = np.clip(lab[..., 0] / 100.0 * n, 0, n - 1).astype(np.int32)
    a = np.clip((lab[..., 1] + 48.0) / 96.0 * n, 0, n - 1).astype(np.int32)
    b = np.clip((lab[..., 2] + 48.0) / 96.0 * n, 0, n - 1).astype(np.int32)
    return np.asarray((lightness * n + a) * n + b)


def _density(bins: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Share of the samples in each colour cell, smoothed over neighbouring cells (a few hundred samples
    leave most cells of a hair or shirt colour empty)."""
    import cv2

    n = _BINS
    counts = np.bincount(bins[samples], minlength=n**3).astype(np.float32).reshape(n, n, n)
    smooth = np.stack([cv2.GaussianBlur(plane, (0, 0), 0.8) for plane in counts])
    smooth = (smooth[:-2] + 2 * smooth[1:-1] + smooth[2:]) / 4 if n > 2 else smooth
    smooth = np.concatenate([counts[:1], smooth, counts[-1:]])
    return np.asarray(smooth.reshape(-1) / max(1.0, float(samples.sum())))


def build_portrait_parser(models: ModelSettings) -> MediaPipePortraitParser:
    return MediaPipePortraitParser()
