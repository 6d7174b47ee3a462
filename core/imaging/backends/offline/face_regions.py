"""Regions of a face drawn from its 478 MediaPipe face-mesh landmarks (pixel coordinates).

Shared by the offline segmenter (where a mask can be) and the offline inpainter (where skin, lips and
nostrils go). Index lists follow the face-mesh topology.
"""

from __future__ import annotations

import numpy as np

# The jaw from the left ear, under the chin, to the right ear.
JAW = (234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454)
# The full face outline, clockwise from the top of the forehead.
FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)  # fmt: skip
# Where a mask's upper edge sits: from the right cheekbone, under the eye, over the nose bridge, and back
# under the other eye to the left cheekbone (image left = the person's right).
MASK_TOP = (454, 447, 345, 346, 347, 348, 349, 197, 120, 119, 118, 117, 116, 227, 234)
# The line through both lower eyelids and the top of the nose bridge, from the right ear to the left ear.
EYE_LINE = (
    454,
    356,
    263,
    249,
    390,
    373,
    374,
    380,
    381,
    382,
    362,
    168,
    133,
    155,
    154,
    153,
    145,
    144,
    163,
    7,
    33,
    127,
    234,
)
LIPS_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291, 375, 321, 405, 314, 17, 84, 181, 91, 146)
LIPS_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308, 324, 318, 402, 317, 14, 87, 178, 88, 95)
MOUTH_LINE = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LEFT_EYE = (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7)
RIGHT_EYE = (362, 398, 384, 385, 386, 387, 388, 466, 263, 249, 390, 373, 374, 380, 381, 382)
LEFT_BROW = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
RIGHT_BROW = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)
# Nostril openings and the sides of the nose (alae).
NOSTRILS = (79, 309)
NOSE_SIDES = (129, 358)
NOSE_TIP = 4
NOSE_BRIDGE_TOP = 168
CHIN = 152
LEFT_EYE_OUTER, RIGHT_EYE_OUTER = 33, 263


def eye_distance(landmarks: np.ndarray) -> float:
    return float(np.linalg.norm(landmarks[LEFT_EYE_OUTER] - landmarks[RIGHT_EYE_OUTER]))


def face_centre(landmarks: np.ndarray) -> np.ndarray:
    return np.asarray(landmarks[list(FACE_OVAL)].mean(axis=0))


def points(landmarks: np.ndarray, indices: tuple[int, ...]) -> np.ndarray:
    return np.asarray(landmarks[list(indices)], dtype=np.float32)


def lower_face_polygon(landmarks: np.ndarray, overhang: float = 0.08) -> np.ndarray:
    """Where a mask can be: the jaw pushed outward by ``overhang`` of its distance from the face centre
    (masks hang over the chin and the jaw line), closed by the line under the eyes and over the nose."""
    centre = face_centre(landmarks)
    jaw = points(landmarks, JAW)
    jaw = centre + (jaw - centre) * (1.0 + overhang)
    top = points(landmarks, MASK_TOP)[1:-1]
    return np.vstack([jaw, top]).astype(np.float32)


def below_eyes_polygon(landmarks: np.ndarray, overhang: float) -> np.ndarray:
    """Everything a mask could possibly cover: the jaw pushed outward as above, up to the lower eyelids."""
    centre = face_centre(landmarks)
    jaw = points(landmarks, JAW)
    jaw = centre + (jaw - centre) * (1.0 + overhang)
    return np.vstack([jaw, points(landmarks, EYE_LINE)[1:-1]]).astype(np.float32)
