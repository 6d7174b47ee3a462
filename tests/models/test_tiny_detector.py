"""The production YOLO face detector class around the tiny random YOLOv8n."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from PIL import Image

from core.config import ModelSettings
from core.imaging.backends import registry
from core.imaging.backends.base import Face
from core.imaging.backends.standard.yolo import YoloFaceDetector
from core.imaging.backends.tiny import models as tiny


def test_tiny_detector_finds_masked_faces_inside_the_photo(
    tiny_models: ModelSettings, masked_photo: Image.Image
) -> None:
    detector = registry.build("detector", tiny_models)
    assert isinstance(detector, YoloFaceDetector)
    faces = detector.detect(masked_photo)
    assert 1 <= len(faces) <= detector.max_det
    assert [f.score for f in faces] == sorted((f.score for f in faces), reverse=True)
    for face in faces:
        assert isinstance(face, Face)
        assert 0 <= face.box.x0 < face.box.x1 <= masked_photo.width
        assert 0 <= face.box.y0 < face.box.y1 <= masked_photo.height
        # face_mask is a masked class, so the detector answers the mask question itself.
        assert face.mask_score is not None and face.mask_score > 0.5
        assert face.landmarks is None  # a detect model, not a pose model
    assert detector.detect(masked_photo) == faces


def test_tiny_detector_is_built_once_per_process(tiny_models: ModelSettings) -> None:
    assert registry.build("detector", tiny_models) is registry.build("detector", tiny_models)


def test_tiny_builds_are_seeded() -> None:
    networks: list[Any] = [tiny.tiny_yolo().model, tiny.tiny_yolo().model]
    first, second = (network.state_dict() for network in networks)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[key], second[key]) for key in first)


def test_production_threshold_keeps_only_confident_boxes(masked_photo: Image.Image) -> None:
    model = tiny.tiny_yolo()
    detector = YoloFaceDetector(model, confidence=0.99, image_size=256)
    assert detector.detect(masked_photo) == []


def test_unmasked_class_gives_a_mask_score_below_one_half(masked_photo: Image.Image) -> None:
    model = tiny.tiny_yolo()
    network: Any = model.model
    with torch.no_grad():  # make "face" win instead of "face_mask"
        for branch in network.model[-1].cv3:
            branch[-1].bias.copy_(torch.tensor([3.0, -10.0]))
    faces = YoloFaceDetector(model, confidence=0.01, max_det=2, image_size=256).detect(masked_photo)
    assert faces and all(f.mask_score is not None and f.mask_score < 0.5 for f in faces)


def test_a_detector_without_a_mask_class_leaves_the_question_open(masked_photo: Image.Image) -> None:
    model = tiny.tiny_yolo()
    network: Any = model.model
    network.names = {0: "face", 1: "head"}
    detector = YoloFaceDetector(model, confidence=0.01, max_det=1, image_size=256)
    assert not detector.knows_masks
    assert [f.mask_score for f in detector.detect(masked_photo)] == [None]


def test_grey_and_rgba_inputs_are_accepted(tiny_models: ModelSettings, masked_photo: Image.Image) -> None:
    detector = registry.build("detector", tiny_models)
    for mode in ("L", "RGBA"):
        faces = detector.detect(masked_photo.convert(mode))
        assert faces and all(np.isfinite([f.box.x0, f.box.y1]).all() for f in faces)
