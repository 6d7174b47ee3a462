"""Face detection with an ultralytics YOLO checkpoint (detect or pose/keypoint models).

When the checkpoint's classes include a masked-face class (``face_mask``, ``with_mask``...), every face also
gets a ``mask_score`` and the mask classifier can skip its own model. NMS is class-agnostic so one face gives
one box, never a "face" box and a "face_mask" box on top of each other.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from core.config import ModelSettings
from core.imaging.backends.base import Box, Face
from core.imaging.backends.standard.mask_labels import masked_ids
from core.imaging.backends.standard.weights import Progress, WeightsRef

if TYPE_CHECKING:
    from ultralytics import YOLO


def import_yolo(config_dir: Path | None = None) -> type[YOLO]:
    """Import ultralytics with its network features off and its settings file in a writable place.

    Both must be set before the first import: ultralytics reads them at import time.
    """
    os.environ.setdefault("YOLO_OFFLINE", "1")
    if "YOLO_CONFIG_DIR" not in os.environ:
        base = config_dir or Path(tempfile.gettempdir()) / "atelier-ultralytics"
        base.mkdir(parents=True, exist_ok=True)
        os.environ["YOLO_CONFIG_DIR"] = str(base)
    import PIL.Image
    from ultralytics import YOLO
    from ultralytics.utils import patches

    # ultralytics swaps PIL.Image.open process-wide for a wrapper that pip-installs a HEIF plugin on the
    # first unidentified file (and raises ModuleNotFoundError offline). Intake must keep Pillow's own.
    if PIL.Image.open is patches.image_open:
        PIL.Image.open = patches._image_open
    return YOLO


class YoloFaceDetector:
    """Runs a YOLO face model; returns faces sorted by score, best first, in full-image pixels."""

    def __init__(
        self,
        model: YOLO,
        *,
        device: str = "cpu",
        half: bool = False,
        confidence: float = 0.5,
        iou: float = 0.5,
        max_det: int = 20,
        image_size: int = 640,
        masked_labels: Collection[str] = (),
    ) -> None:
        self._model: Any = model  # ultralytics' own annotations are too loose to type-check against
        self._device = device
        self._half = half
        self.confidence = confidence
        self.iou = iou
        self.max_det = max_det
        self.image_size = image_size
        names: dict[int, str] = dict(model.names)
        self.class_names = names
        self.masked_class_ids = masked_ids(names, masked_labels)
        if self.masked_class_ids and len(self.masked_class_ids) == len(names):
            raise ValueError(
                f"every detector class counts as masked ({sorted(names.values())}); check masked_labels"
            )

    @property
    def knows_masks(self) -> bool:
        return bool(self.masked_class_ids)

    def detect(self, image: Image.Image) -> list[Face]:
        # ultralytics converts a PIL image to its BGR array itself; handing it numpy RGB would swap channels.
        result = self._model.predict(
            image.convert("RGB"),
            conf=self.confidence,
            iou=self.iou,
            max_det=self.max_det,
            imgsz=self.image_size,
            agnostic_nms=True,
            device=self._device,
            # fp16 on CUDA; ultralytics computes in fp32 on the CPU whatever is asked.
            quantize=16 if self._half else 32,
            verbose=False,
        )[0]
        boxes = result.boxes
        if boxes is None or len(boxes) == 0:
            return []
        xyxy = _numpy(boxes.xyxy)
        scores = _numpy(boxes.conf)
        classes = _numpy(boxes.cls).astype(int)
        keypoints = _numpy(result.keypoints.xy) if result.keypoints is not None else None
        faces = []
        for i in range(len(scores)):
            x0, y0, x1, y1 = (float(v) for v in xyxy[i])
            faces.append(
                Face(
                    box=Box(x0, y0, x1, y1),
                    score=float(scores[i]),
                    landmarks=keypoints[i].astype(np.float32) if keypoints is not None else None,
                    mask_score=self._mask_score(int(classes[i]), float(scores[i])),
                )
            )
        return sorted(faces, key=lambda face: face.score, reverse=True)

    def _mask_score(self, class_id: int, confidence: float) -> float | None:
        """The detector's masked/unmasked decision as a probability: above 0.5 exactly when a masked class
        won, further from 0.5 the more confident the box. None when the model has no masked class."""
        if not self.knows_masks:
            return None
        return 0.5 + confidence / 2 if class_id in self.masked_class_ids else 0.5 - confidence / 2


def _numpy(tensor: Any) -> np.ndarray:
    return np.asarray(tensor.detach().float().cpu().numpy() if hasattr(tensor, "detach") else tensor)


# --- weights and factory --------------------------------------------------------------------------------
def weights(models: ModelSettings) -> WeightsRef:
    return WeightsRef(models.detector, required=((models.detector_file,),), cache_dir=models.cache_dir)


def prefetch(models: ModelSettings, progress: Progress | None = None) -> Path:
    return weights_file(weights(models).fetch(progress), models)


def weights_file(located: Path, models: ModelSettings) -> Path:
    return located if located.is_file() else located / models.detector_file


def build_detector(models: ModelSettings) -> YoloFaceDetector:
    from core.imaging.backends.torch_device import resolve_placement

    placement = resolve_placement(models.device)
    path = weights_file(weights(models).materialize(), models)
    yolo = import_yolo(models.cache_dir / "ultralytics" if models.cache_dir else None)
    return YoloFaceDetector(
        yolo(str(path)),
        device=str(placement.device),
        half=placement.is_cuda,
        confidence=models.detection_threshold,
        masked_labels=models.masked_labels,
    )
