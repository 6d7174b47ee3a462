"""The content check of every result before it is stored or delivered.

NudeNet's detector (a YOLOv8-n fine-tuned on 18 body-part classes, 12 MB of ONNX inside the ``nudenet``
wheel) runs on the result, and on its mirror image: a detection of an exposed intimate part at
``ModerationSettings.threshold`` or above withholds it. The worker fails such a job with a neutral sentence,
logs the label and score for the operator, and never writes the image anywhere (``jobs.runtime``).

The wheel's own wrapper is not used: it reads with OpenCV and drops every score under 0.2 before we see it.
Here the raw class scores of all anchors are read directly (the model's output is ``[batch, 4 + 18,
anchors]``: box, then one score per class), and the best score per class is the verdict's evidence.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps

from core.config import ModerationSettings

log = logging.getLogger(__name__)

# The detector's classes, in the order of its output rows.
LABELS = (
    "FEMALE_GENITALIA_COVERED",
    "FACE_FEMALE",
    "BUTTOCKS_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_BREAST_EXPOSED",
    "ANUS_EXPOSED",
    "FEET_EXPOSED",
    "BELLY_COVERED",
    "FEET_COVERED",
    "ARMPITS_COVERED",
    "ARMPITS_EXPOSED",
    "FACE_MALE",
    "BELLY_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "ANUS_COVERED",
    "FEMALE_BREAST_COVERED",
    "BUTTOCKS_COVERED",
)
INPUT_SIDE = 320  # the resolution the shipped model was exported for


@dataclass(frozen=True)
class Verdict:
    flagged: bool
    label: str  # the watched label with the highest score
    score: float


def bundled_model() -> Path:
    """The ONNX file inside the nudenet wheel (found without importing its OpenCV-based module)."""
    spec = importlib.util.find_spec("nudenet")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the content check needs the nudenet package (pip install nudenet)")
    return Path(next(iter(spec.submodule_search_locations))) / "320n.onnx"


class ContentCheck:
    """One ONNX session per worker process; thread-safe (onnxruntime sessions are)."""

    def __init__(self, settings: ModerationSettings) -> None:
        unknown = set(settings.labels) - set(LABELS)
        if unknown:
            raise ValueError(f"unknown moderation labels {sorted(unknown)}; known: {', '.join(LABELS)}")
        self.settings = settings
        self._rows = [LABELS.index(label) for label in settings.labels]
        self._session: Any = None
        self._lock = threading.Lock()

    def _loaded(self) -> Any:
        with self._lock:
            if self._session is None:
                import onnxruntime

                path = self.settings.model_path or bundled_model()
                self._session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            return self._session

    def scores(self, image: Image.Image) -> dict[str, float]:
        """The best score of every class over the image and its mirror."""
        session = self._loaded()
        batch = np.stack([_tensor(image), _tensor(ImageOps.mirror(image))])
        output = session.run(None, {session.get_inputs()[0].name: batch})[0]  # [2, 22, anchors]
        best = output[:, 4:, :].max(axis=(0, 2))
        return {label: float(best[row]) for row, label in enumerate(LABELS)}

    def check(self, image: Image.Image) -> Verdict:
        scores = self.scores(image)
        label = max(self.settings.labels, key=lambda name: scores[name])
        return Verdict(scores[label] >= self.settings.threshold, label, scores[label])


def _tensor(image: Image.Image) -> np.ndarray:
    """Letterboxed as the model was trained: top-left on a black square, resized, RGB in [0, 1], CHW."""
    rgb = image.convert("RGB")
    side = max(rgb.size)
    square = Image.new("RGB", (side, side))
    square.paste(rgb, (0, 0))
    pixels = np.asarray(square.resize((INPUT_SIDE, INPUT_SIDE), Image.Resampling.BILINEAR), np.float32)
    return (pixels / 255.0).transpose(2, 0, 1)
