"""Face detection with the MediaPipe models that ship inside the mediapipe wheel, plus 478 face-mesh
landmarks per face (the offline classifier and segmenter work from those landmarks).

Both MediaPipe face detectors run and their boxes are merged: the short-range model finds close-up selfies
(and masked faces) far more reliably than the full-range one, which in turn finds the small, distant faces
the short-range model misses. Each detection is then confirmed by the face mesh run on a crop around it; a
detection the mesh cannot confirm is dropped as a false positive.

When that first pass finds nothing, fallbacks run in turn until one does: overlapping tiles at a finer
scale (a 60 px face in a 12-megapixel photo is a few pixels wide at the detectors' input sizes), a border
around the photo (a face that fills the frame, or is cut by its edge, looks unlike the faces the detectors
learnt), and copies turned by ±35° (a tilted head). Photos with a face pay for none of them.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from PIL import Image

from core.config import ModelSettings
from core.imaging.backends.base import Box, Face

# MediaPipe resizes to 128 px (short range) / 192 px (full range) internally, so detecting on a copy whose
# long side is at most this loses nothing and saves converting a 12-megapixel photo.
_DETECT_MAX_SIDE = 640
# Fallback for small faces (down to ~60 px) in large photos: overlapping tiles over a copy at most this
# large, so such a face fills enough of each detector's input (128 / 192 px) to be found.
_TILED_MAX_SIDE = 1920
_TILE = 384
_TILE_OVERLAP = 96
# Fallback for faces that fill the frame or are cut by its edge: a border of this share of the long side.
_BORDER = 0.25
# Fallback for tilted heads: copies turned by these angles (degrees).
_TURNS = (-35.0, 35.0)
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
        with self._lock:
            faces = self._confirm(rgb, self._boxes(rgb, _DETECT_MAX_SIDE))
            # Fallbacks, each only when everything before it found nothing: a small face in a large photo
            # (tiles at a finer scale), a face that fills the frame or is cut by its edge (a border around
            # it), a tilted head (turned copies).
            for fallback in (self._tiled, self._bordered, self._turned):
                if faces:
                    break
                faces = self._confirm(rgb, fallback(rgb))
        faces.sort(key=lambda face: face.box.width * face.box.height, reverse=True)
        return faces

    def _confirm(self, rgb: np.ndarray, boxes: list[tuple[Box, float]]) -> list[Face]:
        """Faces whose detection the face mesh confirms, with its landmarks; duplicates merged first."""
        faces = []
        for box, score in _merge(boxes):
            mesh = self._landmarks(rgb, box)
            if mesh is not None:
                faces.append(
                    Face(
                        box=box,
                        score=score,
                        landmarks=np.ascontiguousarray(mesh[:, :2]),
                        depth=np.ascontiguousarray(mesh[:, 2]),
                    )
                )
        return faces

    def _boxes(self, rgb: np.ndarray, max_side: int) -> list[tuple[Box, float]]:
        """Both detectors on a copy of ``rgb`` shrunk to ``max_side``; boxes in ``rgb``'s pixels."""
        small, scale = _shrunk(rgb, max_side)
        return self._detect_boxes(small, scale, (rgb.shape[1], rgb.shape[0]))

    def _tiled(self, rgb: np.ndarray) -> list[tuple[Box, float]]:
        height, width = rgb.shape[:2]
        small, scale = _shrunk(rgb, _TILED_MAX_SIDE)
        if max(small.shape[:2]) <= _TILE:
            return []
        found = []
        step = _TILE - _TILE_OVERLAP
        for y in range(0, max(1, small.shape[0] - _TILE_OVERLAP), step):
            for x in range(0, max(1, small.shape[1] - _TILE_OVERLAP), step):
                tile = np.ascontiguousarray(small[y : y + _TILE, x : x + _TILE])
                for box, score in self._boxes(tile, _TILE):
                    moved = Box(box.x0 + x, box.y0 + y, box.x1 + x, box.y1 + y)
                    found.append((_scaled(moved, 1 / scale).clipped(width, height), score))
        return found

    def _bordered(self, rgb: np.ndarray) -> list[tuple[Box, float]]:
        height, width = rgb.shape[:2]
        pad = round(_BORDER * max(height, width))
        padded = np.pad(rgb, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
        return [
            (Box(b.x0 - pad, b.y0 - pad, b.x1 - pad, b.y1 - pad).clipped(width, height), score)
            for b, score in self._boxes(padded, _DETECT_MAX_SIDE)
        ]

    def _turned(self, rgb: np.ndarray) -> list[tuple[Box, float]]:
        import cv2

        height, width = rgb.shape[:2]
        small, scale = _shrunk(rgb, _DETECT_MAX_SIDE)
        h, w = small.shape[:2]
        found = []
        for angle in _TURNS:
            matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
            turned = cv2.warpAffine(small, matrix, (w, h), borderMode=cv2.BORDER_REPLICATE)
            back = cv2.invertAffineTransform(matrix)
            for box, score in self._detect_boxes(turned, 1.0, (w, h)):
                corners = np.array(
                    [[box.x0, box.y0, 1], [box.x1, box.y0, 1], [box.x0, box.y1, 1], [box.x1, box.y1, 1]]
                )
                xy = corners @ back.T / scale
                found.append((Box(*xy.min(axis=0), *xy.max(axis=0)).clipped(width, height), score))
        return found

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


def _shrunk(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """``rgb`` shrunk so its long side is at most ``max_side`` (as it is when already small enough), and
    the scale it was shrunk by."""
    height, width = rgb.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale == 1.0:
        return rgb, scale
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR)), scale


def _scaled(box: Box, factor: float) -> Box:
    return Box(box.x0 * factor, box.y0 * factor, box.x1 * factor, box.y1 * factor)


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
