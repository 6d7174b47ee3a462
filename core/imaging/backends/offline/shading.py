"""Lips, nostrils and skin grain for the classical inpainter, as Lab offsets over the rendered skin.

Everything is drawn from the face-mesh landmarks as soft shapes (blurred in proportion to the face size).
The shape's own light and shade come from ``face_render``; these are the colours the skin's do not explain.
Lip colour follows the skin tone: measured on the tuning half of the shared bare faces, lips are about 14 L*
darker than the cheeks beside them and redder by an a* that grows with the skin's lightness (0.38 a* per L*
of forehead skin, from +4 on dark skin to +22 on fair), and a little bluer (-3 b*).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.imaging.backends.offline import face_regions as fr

# (L*, a*, b*) offsets. The mouth line and nostrils darker; the rest of the shading comes from the mesh.
_LIP_LIGHTNESS, _LIP_BLUE = -11.0, -3.0
_LIP_REDNESS = (0.38, -14.0, 4.0, 22.0)  # slope per L*, intercept, lower and upper bound
_UPPER_LIP = (-4.0, 1.0, 0.0)
_MOUTH_LINE = (-18.0, 3.0, 0.0)
_NOSTRIL = (-18.0, 3.0, 0.0)
_UNDER_NOSE = (-3.0, 0.0, 0.0)
_NOSE_SIDE = (-3.0, 1.0, 0.0)
_NOSE_TIP = (2.0, 0.0, 0.0)
_UNDER_LIP = (-3.0, 0.0, 0.0)
_CHIN = (1.5, 0.0, 0.0)
# Under a mask the mesh only guesses where the mouth and nostrils are: features are drawn as soft as that
# uncertainty (their expected look), not as crisp as a seen mouth would be.
_SOFTNESS = 2.0
_STRENGTH = 0.6


def _ellipse(
    size: tuple[int, int], centre: np.ndarray, axes: tuple[float, float], angle: float
) -> np.ndarray:
    import cv2

    canvas = np.zeros((size[1], size[0]), np.float32)
    cx, cy = (int(round(v * 4)) for v in centre)
    ax, ay = (max(1, int(round(v * 4))) for v in axes)
    cv2.ellipse(canvas, (cx, cy), (ax, ay), angle, 0, 360, 1.0, -1, cv2.LINE_AA, shift=2)
    return canvas


def _polygon(size: tuple[int, int], pts: np.ndarray) -> np.ndarray:
    import cv2

    canvas = np.zeros((size[1], size[0]), np.float32)
    cv2.fillPoly(canvas, [np.round(pts * 4).astype(np.int32)], 1.0, cv2.LINE_AA, shift=2)
    return canvas


def _polyline(size: tuple[int, int], pts: np.ndarray, thickness: float) -> np.ndarray:
    import cv2

    canvas = np.zeros((size[1], size[0]), np.float32)
    cv2.polylines(
        canvas,
        [np.round(pts * 4).astype(np.int32)],
        False,
        1.0,
        max(1, round(thickness)),
        cv2.LINE_AA,
        shift=2,
    )
    return canvas


@dataclass(frozen=True)
class Lips:
    """Outlines (N, 2), left to right: top of the upper lip, the mouth line, bottom of the lower lip."""

    upper: np.ndarray
    line: np.ndarray
    lower: np.ndarray


def closed_lips(landmarks: np.ndarray, samples: int = 21) -> Lips:
    """A closed mouth fitted to the mouth corners and lip landmarks. Under a mask the mesh guesses the mouth,
    sometimes open (a valve or a dark print reads as an open mouth), so lip heights are bounded by the mouth
    width and the mouth is always drawn closed."""
    left, right = landmarks[61], landmarks[291]
    width = max(float(np.linalg.norm(right - left)), 1e-3)
    along = (right - left) / width
    down = np.array([-along[1], along[0]], np.float32)
    middle = (left + right) / 2
    centre = (landmarks[13] + landmarks[14]) / 2
    bend = float(np.clip((centre - middle) @ down, -0.1 * width, 0.1 * width))
    upper_h = float(np.clip(-(landmarks[0] - centre) @ down, 0.08 * width, 0.18 * width))
    lower_h = float(np.clip((landmarks[17] - centre) @ down, 0.10 * width, 0.22 * width))
    t = np.linspace(-1.0, 1.0, samples, dtype=np.float32)[:, None]
    line = middle + t * (width / 2) * along + bend * (1 - t**2) * down
    profile = (1 - t**2) ** 0.6
    # A shallow dip in the middle of the upper lip (the cupid's bow).
    bow = 1.0 - 0.2 * np.exp(-((t / 0.15) ** 2))
    return Lips(
        upper=(line - upper_h * profile * bow * down).astype(np.float32),
        line=line.astype(np.float32),
        lower=(line + lower_h * profile * down).astype(np.float32),
    )


def lip_colour(tone: np.ndarray) -> tuple[float, float, float]:
    """Lab offset of the lips from the skin beside them, for skin of Lab colour ``tone``."""
    slope, intercept, low, high = _LIP_REDNESS
    return (_LIP_LIGHTNESS, float(np.clip(slope * float(tone[0]) + intercept, low, high)), _LIP_BLUE)


def features(landmarks: np.ndarray, size: tuple[int, int], unit: float, tone: np.ndarray) -> np.ndarray:
    """Lab offsets (H, W, 3) for nostrils, nose, lips, mouth line and chin; ``unit`` is the eye distance,
    ``tone`` the Lab colour of the face's skin."""
    import cv2

    out = np.zeros((size[1], size[0], 3), np.float32)

    def add(shape: np.ndarray, offset: tuple[float, float, float], blur: float) -> None:
        soft = cv2.GaussianBlur(shape, (0, 0), max(0.5, _SOFTNESS * blur * unit))
        out[...] += soft[..., None] * (_STRENGTH * np.asarray(offset, np.float32))

    lm = np.asarray(landmarks, np.float32)
    left, right = lm[fr.NOSTRILS[0]], lm[fr.NOSTRILS[1]]
    tilt = float(np.degrees(np.arctan2(right[1] - left[1], right[0] - left[0])))
    for nostril in (left, right):
        add(_ellipse(size, nostril, (0.045 * unit, 0.02 * unit), tilt), _NOSTRIL, 0.02)
    add(_ellipse(size, lm[2], (0.12 * unit, 0.035 * unit), tilt), _UNDER_NOSE, 0.03)
    for side in fr.NOSE_SIDES:
        add(_ellipse(size, lm[side], (0.035 * unit, 0.07 * unit), tilt), _NOSE_SIDE, 0.025)
    add(_ellipse(size, lm[fr.NOSE_TIP], (0.06 * unit, 0.05 * unit), tilt), _NOSE_TIP, 0.04)

    lips = closed_lips(lm)
    add(_polygon(size, np.vstack([lips.upper, lips.lower[::-1]])), lip_colour(tone), 0.015)
    add(_polygon(size, np.vstack([lips.upper, lips.line[::-1]])), _UPPER_LIP, 0.015)
    add(_polyline(size, lips.line, 0.015 * unit), _MOUTH_LINE, 0.01)

    lower_lip, chin = lm[17], lm[fr.CHIN]
    add(
        _ellipse(size, lower_lip + 0.25 * (chin - lower_lip), (0.13 * unit, 0.03 * unit), tilt),
        _UNDER_LIP,
        0.03,
    )
    add(_ellipse(size, lower_lip + 0.7 * (chin - lower_lip), (0.12 * unit, 0.07 * unit), tilt), _CHIN, 0.05)
    return out


def grain(rng: np.random.Generator, shape: tuple[int, ...], amplitude: float) -> np.ndarray:
    """Pore-scale texture for L*: slightly blurred noise of std ``amplitude``."""
    import cv2

    fine = cv2.GaussianBlur(rng.standard_normal(shape[:2]).astype(np.float32), (0, 0), 0.7)
    return np.asarray(fine * (amplitude / max(float(fine.std()), 1e-6)), dtype=np.float32)
