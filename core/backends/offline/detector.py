"""Face detection with the MediaPipe models that ship inside the mediapipe wheel, plus 478 face-mesh
landmarks per face (the offline classifier and segmenter work from those landmarks).

Both MediaPipe face detectors run and their boxes are merged: the short-range model finds close-up selfies
(and masked faces) far more reliably than the full-range one, which in turn finds the small, distant faces
the short-range model misses. Each detection is then confirmed by the face mesh run on a crop around it; a
detection the mesh cannot confirm is dropped as a false positive.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from PIL import Image

from core.backends.base import Box, Face
from core.config import ModelSettings

# MediaPipe resizes to 128 px (short range) / 192 px (full range) internally, so detecting on a copy whose
# long side is at most this loses nothing and saves converting a 12-megapixel photo.
_DETECT_MAX_SIDE = 640
# The face mesh looks at 192 px; crops larger than this are shrunk first.
_MESH_MAX_SIDE = 384
# Crop around a detection for the mesh, as a multiple of the box side; retried wider when the mesh's own
# face finder misses at the first size.
_MESH_CROP_SCALES = (1.8, 2.6)
_MERGE_IOU = 0.3
_NESTED = 0.6


class MediaPipeFaceDetector:
    """Thread-safe: one lock around the MediaPipe graphs, which keep state between calls."""

    def __init__(self, threshold: float = 0.5, mesh_threshold: float = 0.3) -> None:
        import mediapipe as mp

        self.threshold = threshold
        solutions: Any = mp.solutions
        self._detectors = [
            solutions.face_detection.FaceDetection(model_selection=0, min_detection_confidence=threshold),
            solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=threshold),
        ]
        # static_image_mode: every photo is unrelated to the previous one, so never track landmarks.
        self._mesh = solutions.face_mesh.FaceMesh(
            static_image_mode=True,
            max_num_faces=1,
            refine_landmarks=True,
            min_detection_confidence=mesh_threshold,
            min_tracking_confidence=mesh_threshold,
        )
        self._lock = threading.Lock()

    def detect(self, image: Image.Image) -> list[Face]:
        rgb = np.asarray(image.convert("RGB"))
        scale = min(1.0, _DETECT_MAX_SIDE / max(image.size))
        small = (
            rgb
            if scale == 1.0
            else np.asarray(
                image.convert("RGB").resize(
                    (max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                    Image.Resampling.BILINEAR,
                )
            )
        )
        with self._lock:
            boxes = self._detect_boxes(small, scale, image.size)
            faces = []
            for box, score in _merge(boxes):
                mesh = self._landmarks(rgb, box)
                if mesh is not None:
                    faces.append(Face(box=box, score=score, landmarks=mesh[:, :2], depth=mesh[:, 2]))
        faces.sort(key=lambda face: face.box.width * face.box.height, reverse=True)
        return faces

    def _detect_boxes(
        self, small: np.ndarray, scale: float, size: tuple[int, int]
    ) -> list[tuple[Box, float]]:
        h, w = small.shape[:2]
        found: list[tuple[Box, float]] = []
        for detector in self._detectors:
            for detection in detector.process(small).detections or []:
                rel = detection.location_data.relative_bounding_box
                box = Box(
                    rel.xmin * w / scale,
                    rel.ymin * h / scale,
                    (rel.xmin + rel.width) * w / scale,
                    (rel.ymin + rel.height) * h / scale,
                ).clipped(*size)
                if box.width > 1 and box.height > 1:
                    found.append((box, float(detection.score[0])))
        return found

    def _landmarks(self, rgb: np.ndarray, box: Box) -> np.ndarray | None:
        height, width = rgb.shape[:2]
        cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
        for crop_scale in _MESH_CROP_SCALES:
            half = max(box.width, box.height) * crop_scale / 2
            x0, y0 = max(0, int(cx - half)), max(0, int(cy - half))
            x1, y1 = min(width, int(cx + half)), min(height, int(cy + half))
            crop = rgb[y0:y1, x0:x1]
            shrink = min(1.0, _MESH_MAX_SIDE / max(crop.shape[:2]))
            if shrink < 1.0:
                crop = np.asarray(
                    Image.fromarray(crop).resize(
                        (max(1, round(crop.shape[1] * shrink)), max(1, round(crop.shape[0] * shrink))),
                        Image.Resampling.BILINEAR,
                    )
                )
            result = self._mesh.process(np.ascontiguousarray(crop))
            if not result.multi_face_landmarks:
                continue
            points = np.array(
                [(p.x, p.y, p.z) for p in result.multi_face_landmarks[0].landmark], dtype=np.float32
            )
            points[:, 0] = x0 + points[:, 0] * crop.shape[1] / shrink
            points[:, 1] = y0 + points[:, 1] * crop.shape[0] / shrink
            # MediaPipe's z is on the scale of x (relative to the crop's width).
            points[:, 2] = points[:, 2] * crop.shape[1] / shrink
            # The mesh must describe the detected face, not a neighbour that happens to be in the crop.
            mx, my = points[:, 0].mean(), points[:, 1].mean()
            if box.x0 <= mx <= box.x1 and box.y0 <= my <= box.y1:
                return points
        return None


def _overlaps(a: Box, b: Box) -> bool:
    """Same face: the boxes overlap (IoU), or one lies mostly inside the other (the two models disagree a
    lot on box size, so a plain IoU misses nested duplicates)."""
    ix = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
    iy = max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    inter = ix * iy
    area_a, area_b = a.width * a.height, b.width * b.height
    union = area_a + area_b - inter
    return inter >= _MERGE_IOU * union or inter >= _NESTED * min(area_a, area_b)


def _merge(boxes: list[tuple[Box, float]]) -> list[tuple[Box, float]]:
    """Non-maximum suppression across the two detectors' boxes."""
    kept: list[tuple[Box, float]] = []
    for box, score in sorted(boxes, key=lambda item: item[1], reverse=True):
        if not any(_overlaps(box, other) for other, _ in kept):
            kept.append((box, score))
    return kept


def build_detector(models: ModelSettings) -> MediaPipeFaceDetector:
    return MediaPipeFaceDetector(threshold=models.detection_threshold)
