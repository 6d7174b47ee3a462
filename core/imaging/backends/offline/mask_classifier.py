"""Is a face bare? Decided from the lower face's colour against the face's own skin, and from whether a
mouth and a nose show.

The skin reference is sampled on the forehead, between the brows and on the top of the nose bridge (a mask
never reaches there); the lower face is sampled at the mouth, chin, philtrum, nose tip and lower cheeks,
all placed by the face-mesh landmarks. A bare lower face has the same hue and chroma as the forehead (only
lightness changes, with shading); a mask shifts hue or chroma, or lightness by a lot, and is rarely
skin-coloured. A bare face also shows redder lips with a dark line between them, and dark nostrils; a mask
is one fabric over all of those, and a hand, a scarf or a bandana over the mouth hides them even when it is
skin-coloured.

Two logistic models turn those numbers into a mask probability, one on the colour and one on the mouth and
nose; the classifier answers the larger, so a face counts as bare only when it is skin-coloured *and* shows
its mouth (a mask printed with lips fools the second model, not the first; a hand fools the first, not the
second). /unmask then repaints every face
unless it is bare with at least ``no_mask_certainty`` (the user asked to unmask: when unsure, it does). The
weights were fitted on the tuning part of the shared photos and synthetic masked and bare faces made from
them (``bench/bench_mask_classifier.py --fit`` refits them and prints leave-one-out and held-out figures).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from core.config import ModelSettings
from core.imaging.backends.base import Face
from core.imaging.backends.offline import face_regions as fr
from core.imaging.backends.offline.skin import lab_image

# Face-mesh indices: forehead, glabella, top of the nose bridge, inner brows.
REFERENCE_POINTS = (151, 9, 8, 168, 6, 108, 337, 107, 336)
# Mouth, chin, philtrum, nose tip, lower cheeks.
LOWER_FACE_POINTS = (0, 17, 61, 291, 152, 175, 199, 200, 164, 2, 4, 1, 205, 425, 207, 427, 212, 432)
_LEFT_EYE_OUTER, _RIGHT_EYE_OUTER = 33, 263
# Patch half-size as a fraction of the distance between the outer eye corners.
_PATCH = 0.06
# Features are measured on the face's crop scaled so the eye distance is at most this many pixels.
_WORK_EYE_DISTANCE = 96.0
# The skin around the mouth: a band out to this many eye distances beyond the lips.
_AROUND_MOUTH = 0.15


@dataclass(frozen=True)
class LogisticModel:
    mean: np.ndarray
    std: np.ndarray
    weights: np.ndarray
    bias: float

    def probability(self, vector: np.ndarray) -> float:
        z = (np.asarray(vector) - self.mean) / self.std
        return float(1.0 / (1.0 + np.exp(-(z @ self.weights + self.bias))))


# Two logistic models over standardised features (fitted by bench/bench_mask_classifier.py --fit on the
# tuning photos): one on the colour features (is the lower face skin-coloured?) and one on the mouth and
# nose features (do lips and nostrils show?). A face is bare only when both say so.
COLOUR_MODEL = LogisticModel(
    mean=np.array([-19.96, 21.63, 6.99, 26.96, 0.33]),
    std=np.array([16.80, 14.58, 8.92, 21.20, 0.39]),
    weights=np.array([-1.73, 2.35, 1.84, 1.01, -2.44]),
    bias=6.23,
)
MOUTH_MODEL = LogisticModel(
    mean=np.array([3.05, -11.96, -18.21]),
    std=np.array([6.04, 11.50, 18.82]),
    weights=np.array([-6.06, 0.35, 1.85]),
    bias=-1.18,
)
COLOUR_FEATURES = 5


@dataclass(frozen=True)
class LowerFaceFeatures:
    # Lower-face colour minus skin-reference colour in the (a*, b*) plane, split into the component along
    # the skin's own chroma direction (negative: greyer, as white, black and grey masks are) and the
    # component across it (a hue change: blue, green, pink masks).
    chroma_shift: float
    hue_shift: float
    # |L*| difference; shading darkens a bare chin a little, a white or black mask changes it a lot.
    lightness_gap: float
    # Fraction of lower-face patches whose colour is skin-like at all (hue, chroma and lightness ranges).
    skin_fraction: float
    # Signs of a visible mouth and nose: the lips' a* minus the a* of the skin around the mouth (lips are
    # redder), the darkest of the line between the lips minus the lips' L*, and the nostrils' darkest L*
    # minus the nose tip's. A mask is one fabric over all of these; a hand or a scarf over the mouth hides
    # the lips even where it is skin-coloured.
    lip_redness: float
    mouth_line: float
    nostrils: float

    def vector(self) -> np.ndarray:
        return np.array(
            [
                self.chroma_shift,
                abs(self.chroma_shift),
                self.hue_shift,
                self.lightness_gap,
                self.skin_fraction,
                self.lip_redness,
                self.mouth_line,
                self.nostrils,
            ]
        )


def _patch_medians(lab: np.ndarray, points: np.ndarray, radius: int) -> np.ndarray:
    """Median Lab colour of a square patch at each point; patches cut off by the image edge are skipped."""
    height, width = lab.shape[:2]
    medians = []
    for x, y in points:
        x0, x1 = int(max(0, x - radius)), int(min(width, x + radius + 1))
        y0, y1 = int(max(0, y - radius)), int(min(height, y + radius + 1))
        if x1 - x0 > radius and y1 - y0 > radius:
            medians.append(np.median(lab[y0:y1, x0:x1].reshape(-1, 3), axis=0))
    return np.array(medians).reshape(-1, 3)


def _skin_like(colours: np.ndarray) -> np.ndarray:
    hue = np.degrees(np.arctan2(colours[:, 2], colours[:, 1]))
    chroma = np.hypot(colours[:, 1], colours[:, 2])
    return (hue > 0) & (hue < 85) & (chroma > 6) & (chroma < 55) & (colours[:, 0] > 15) & (colours[:, 0] < 95)


def _mouth_and_nose(
    lab: np.ndarray, landmarks: np.ndarray, eye_distance: float
) -> tuple[float, float, float]:
    """``lip_redness``, ``mouth_line`` and ``nostrils`` (see ``LowerFaceFeatures``) in a Lab crop whose
    pixel coordinates ``landmarks`` are given in."""
    import cv2

    height, width = lab.shape[:2]

    def filled(indices: tuple[int, ...]) -> np.ndarray:
        canvas = np.zeros((height, width), np.uint8)
        cv2.fillPoly(canvas, [np.round(fr.points(landmarks, indices)).astype(np.int32)], 1)
        return canvas

    outer, inner = filled(fr.LIPS_OUTER), filled(fr.LIPS_INNER)
    lips = (outer > 0) & (inner == 0)
    grow = max(1, round(_AROUND_MOUTH * eye_distance))
    around = cv2.dilate(outer, np.ones((2 * grow + 1, 2 * grow + 1), np.uint8)) > 0
    around &= cv2.dilate(outer, np.ones((grow // 2 * 2 + 1,) * 2, np.uint8)) == 0
    line = np.zeros((height, width), np.uint8)
    thickness = max(1, round(0.02 * eye_distance))
    cv2.polylines(line, [np.round(fr.points(landmarks, fr.MOUTH_LINE)).astype(np.int32)], False, 1, thickness)
    if lips.sum() < 4 or around.sum() < 4 or line.sum() < 2:
        return 0.0, 0.0, 0.0
    lip_colour = np.median(lab[lips], axis=0)
    lip_redness = float(lip_colour[1] - np.median(lab[around][:, 1]))
    mouth_line = float(np.percentile(lab[line > 0][:, 0], 20) - lip_colour[0])
    radius = max(1, round(0.04 * eye_distance))
    darkest = []
    for x, y in landmarks[list(fr.NOSTRILS)]:
        x0, y0 = max(0, int(x) - radius), max(0, int(y) - radius)
        patch = lab[y0 : int(y) + radius + 1, x0 : int(x) + radius + 1, 0]
        if patch.size:
            darkest.append(float(np.percentile(patch, 20)))
    tip = _patch_medians(lab, landmarks[[fr.NOSE_TIP]], radius)
    nostrils = float(min(darkest) - tip[0, 0]) if darkest and len(tip) else 0.0
    return lip_redness, mouth_line, nostrils


def lower_face_features(image: Image.Image, landmarks: np.ndarray) -> LowerFaceFeatures | None:
    """The classifier's inputs for one face; None when too little of the face lies inside the image."""
    points = np.vstack([landmarks[list(REFERENCE_POINTS)], landmarks[list(LOWER_FACE_POINTS)]])
    eye_distance = float(np.linalg.norm(landmarks[_LEFT_EYE_OUTER] - landmarks[_RIGHT_EYE_OUTER]))
    # Work on the face's crop only, at a fixed scale: converting a whole 12-megapixel photo to Lab would
    # dominate the cost, and the mouth's features must be measured at the same scale on every face.
    scale = min(1.0, _WORK_EYE_DISTANCE / max(eye_distance, 1.0))
    margin = 0.3 * eye_distance
    x0 = max(0, int(points[:, 0].min() - margin))
    y0 = max(0, int(points[:, 1].min() - margin))
    x1 = min(image.width, int(points[:, 0].max() + margin) + 1)
    y1 = min(image.height, int(points[:, 1].max() + margin) + 1)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    crop = image.crop((x0, y0, x1, y1)).convert("RGB")
    if scale < 1.0:
        crop = crop.resize((max(1, round(crop.width * scale)), max(1, round(crop.height * scale))))
    lab = lab_image(np.asarray(crop))
    local = (np.asarray(landmarks, np.float32) - [x0, y0]) * scale
    eye_distance *= scale
    radius = max(1, round(_PATCH * eye_distance))
    reference = _patch_medians(lab, local[list(REFERENCE_POINTS)], radius)
    lower = _patch_medians(lab, local[list(LOWER_FACE_POINTS)], radius)
    if len(reference) < 2 or len(lower) < 3:
        return None
    # Hair or a cap over part of the forehead must not become the reference: keep skin-like patches.
    skin = _skin_like(reference)
    if skin.sum() >= 2:
        reference = reference[skin]
    centre = np.median(reference, axis=0)
    along = centre[1:] / (np.linalg.norm(centre[1:]) + 1e-6)
    across = np.array([-along[1], along[0]])
    delta = lower[:, 1:] - centre[1:]
    lip_redness, mouth_line, nostrils = _mouth_and_nose(lab, local, eye_distance)
    return LowerFaceFeatures(
        chroma_shift=float(np.median(delta @ along)),
        hue_shift=float(np.median(np.abs(delta @ across))),
        lightness_gap=float(abs(np.median(lower[:, 0] - centre[0]))),
        skin_fraction=float(_skin_like(lower).mean()),
        lip_redness=lip_redness,
        mouth_line=mouth_line,
        nostrils=nostrils,
    )


def mask_probability(features: LowerFaceFeatures) -> float:
    """The larger of the two models' mask probabilities: a bare face must look bare in colour *and* show
    its mouth (a skin-coloured hand or scarf over the mouth fails the second; a mask printed with lips
    fails the first)."""
    vector = features.vector()
    return max(
        COLOUR_MODEL.probability(vector[:COLOUR_FEATURES]), MOUTH_MODEL.probability(vector[COLOUR_FEATURES:])
    )


class LandmarkMaskClassifier:
    """Needs face-mesh landmarks; a face without them (or mostly outside the photo) gets probability 0."""

    def mask_probabilities(self, image: Image.Image, faces: list[Face]) -> list[float]:
        probabilities = []
        for face in faces:
            features = None if face.landmarks is None else lower_face_features(image, face.landmarks)
            probabilities.append(0.0 if features is None else mask_probability(features))
        return probabilities


def build_mask_classifier(models: ModelSettings) -> LandmarkMaskClassifier:
    return LandmarkMaskClassifier()
