"""The production SAM segmenter class around a tiny random SAM."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.config import ModelSettings
from core.imaging.backends import registry
from core.imaging.backends.base import Box, Face
from core.imaging.backends.standard.sam import CLIP_MARGIN, SamMaskSegmenter, lower_face_box, prompt_points

FACE = Face(Box(30, 40, 130, 170), 0.9)
# YOLO-face order: left eye, right eye, nose, left mouth corner, right mouth corner.
FIVE_POINTS = np.array([[60, 80], [100, 80], [80, 110], [65, 140], [95, 140]], np.float32)


def test_mask_is_an_l_image_of_the_photo_size(tiny_models: ModelSettings, masked_photo: Image.Image) -> None:
    segmenter = registry.build("segmenter", tiny_models)
    assert isinstance(segmenter, SamMaskSegmenter)
    mask = segmenter.segment(masked_photo, FACE)
    assert mask.mode == "L" and mask.size == masked_photo.size
    values = np.unique(np.asarray(mask))
    assert set(values.tolist()) <= {0, 255}


def test_mask_stays_near_the_lower_face(tiny_models: ModelSettings, masked_photo: Image.Image) -> None:
    mask = np.asarray(registry.build("segmenter", tiny_models).segment(masked_photo, FACE))
    prompt = lower_face_box(FACE.box)
    ys, xs = np.nonzero(mask)
    assert len(xs) > 0
    dx, dy = CLIP_MARGIN * FACE.box.width, CLIP_MARGIN * FACE.box.height
    assert xs.min() >= prompt.x0 - dx - 1 and xs.max() <= prompt.x1 + dx + 1
    assert ys.min() >= prompt.y0 - dy - 1
    # Nothing above the eyes, whatever a random SAM answers.
    assert ys.min() > FACE.box.y0 + 0.25 * FACE.box.height


def test_segmentation_is_deterministic_and_uses_landmarks(
    tiny_models: ModelSettings, masked_photo: Image.Image
) -> None:
    segmenter = registry.build("segmenter", tiny_models)
    with_points = Face(FACE.box, FACE.score, landmarks=FIVE_POINTS)
    first = np.asarray(segmenter.segment(masked_photo, with_points))
    assert np.array_equal(first, np.asarray(segmenter.segment(masked_photo, with_points)))
    assert first.shape == (masked_photo.height, masked_photo.width)


def test_prompt_points_below_the_nose() -> None:
    points = prompt_points(Face(FACE.box, 0.9, landmarks=FIVE_POINTS))
    assert len(points) == 2
    (nose_x, nose_y), (mouth_x, mouth_y) = points
    assert nose_y > 110 and (mouth_x, mouth_y) == (80.0, 140.0)
    # BlazeFace's six points: eyes, nose tip, mouth centre, ears.
    six = np.array([[60, 80], [100, 80], [80, 110], [80, 140], [30, 90], [130, 90]], np.float32)
    assert prompt_points(Face(FACE.box, 0.9, landmarks=six))[1] == (80.0, 140.0)
    # Layouts without an agreed nose index add no points; neither do points outside the face.
    assert prompt_points(Face(FACE.box, 0.9, landmarks=np.zeros((68, 2), np.float32))) == []
    assert prompt_points(Face(FACE.box, 0.9, landmarks=FIVE_POINTS + 500)) == []


def test_a_face_outside_the_photo_is_an_error(tiny_models: ModelSettings, masked_photo: Image.Image) -> None:
    with pytest.raises(ValueError, match="outside"):
        registry.build("segmenter", tiny_models).segment(masked_photo, Face(Box(900, 900, 990, 990), 0.9))
