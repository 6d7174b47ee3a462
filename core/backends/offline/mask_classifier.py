"""Does a face wear a mask? Decided from colour statistics of the lower face against the face's own skin.

The skin reference is sampled on the forehead, between the brows and on the top of the nose bridge (a mask
never reaches there); the lower face is sampled at the mouth, chin, philtrum, nose tip and lower cheeks,
all placed by the face-mesh landmarks. A bare lower face has the same hue and chroma as the forehead (only
lightness changes, with shading); a mask shifts hue or chroma, or lightness by a lot, and is rarely
skin-coloured. Five numbers summarise that and a logistic model turns them into a probability.

The model's weights were fitted on the project's labelled photos (``bench/bench_mask_classifier.py`` refits
them and prints the accuracy, leave-one-out included). Lips are deliberately not a feature: masks printed
with lips exist, and lip colour would be the first thing such a mask fools.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from core.backends.base import Face
from core.config import ModelSettings

# Face-mesh indices: forehead, glabella, top of the nose bridge, inner brows.
REFERENCE_POINTS = (151, 9, 8, 168, 6, 108, 337, 107, 336)
# Mouth, chin, philtrum, nose tip, lower cheeks.
LOWER_FACE_POINTS = (0, 17, 61, 291, 152, 175, 199, 200, 164, 2, 4, 1, 205, 425, 207, 427, 212, 432)
_LEFT_EYE_OUTER, _RIGHT_EYE_OUTER = 33, 263
# Patch half-size as a fraction of the distance between the outer eye corners.
_PATCH = 0.06

# Logistic model over standardised features (fitted by bench/bench_mask_classifier.py --fit).
FEATURE_MEAN = np.array([-9.07, 12.43, 4.24, 23.43, 0.58])
FEATURE_STD = np.array([14.41, 11.64, 6.29, 18.63, 0.45])
WEIGHTS = np.array([-1.59, 1.55, 0.59, 1.02, -0.98])
BIAS = 0.72


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

    def vector(self) -> np.ndarray:
        return np.array(
            [
                self.chroma_shift,
                abs(self.chroma_shift),
                self.hue_shift,
                self.lightness_gap,
                self.skin_fraction,
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


def lower_face_features(image: Image.Image, landmarks: np.ndarray) -> LowerFaceFeatures | None:
    """The classifier's inputs for one face; None when too little of the face lies inside the image."""
    import cv2

    points = np.vstack([landmarks[list(REFERENCE_POINTS)], landmarks[list(LOWER_FACE_POINTS)]])
    eye_distance = float(np.linalg.norm(landmarks[_LEFT_EYE_OUTER] - landmarks[_RIGHT_EYE_OUTER]))
    radius = max(1, round(_PATCH * eye_distance))
    # Work on the face's crop only: converting a whole 12-megapixel photo to Lab would dominate the cost.
    x0 = max(0, int(points[:, 0].min()) - radius - 1)
    y0 = max(0, int(points[:, 1].min()) - radius - 1)
    x1 = min(image.width, int(points[:, 0].max()) + radius + 2)
    y1 = min(image.height, int(points[:, 1].max()) + radius + 2)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    crop = np.asarray(image.crop((x0, y0, x1, y1)).convert("RGB"), dtype=np.float32) / 255.0
    lab = cv2.cvtColor(crop, cv2.COLOR_RGB2Lab)
    offset = np.array([x0, y0], dtype=np.float32)
    reference = _patch_medians(lab, landmarks[list(REFERENCE_POINTS)] - offset, radius)
    lower = _patch_medians(lab, landmarks[list(LOWER_FACE_POINTS)] - offset, radius)
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
    return LowerFaceFeatures(
        chroma_shift=float(np.median(delta @ along)),
        hue_shift=float(np.median(np.abs(delta @ across))),
        lightness_gap=float(abs(np.median(lower[:, 0] - centre[0]))),
        skin_fraction=float(_skin_like(lower).mean()),
    )


def mask_probability(features: LowerFaceFeatures) -> float:
    z = (features.vector() - FEATURE_MEAN) / FEATURE_STD
    return float(1.0 / (1.0 + np.exp(-(z @ WEIGHTS + BIAS))))


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
