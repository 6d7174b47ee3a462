"""The evaluation set's masks sit on the face the way a worn mask does: each face wears the view of a mask
(front, left, right) that its head's turn calls for, and the mask covers its mouth."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
from PIL import Image, ImageOps

from core.imaging.backends.offline import face_regions as fr
from core.imaging.pipelines.unmask import UnmaskPipeline
from tests.pipeline.mask_templates import Template, mask_kinds, put_on_mask, view_for_face


def _covered_share_of_the_lips(image: Image.Image, landmarks: np.ndarray, template: Template) -> float:
    lips = np.zeros((image.height, image.width), np.uint8)
    cv2.fillPoly(lips, [np.round(fr.points(landmarks, fr.LIPS_OUTER)).astype(np.int32)], 1)
    truth = put_on_mask(image, landmarks, template).truth
    return float(truth[lips > 0].mean())


def test_each_face_wears_the_view_of_a_mask_its_turn_calls_for(
    photo: Callable[[str], Image.Image],
    templates: dict[str, Template],
    offline_pipeline: UnmaskPipeline,
) -> None:
    detect = offline_pipeline.detector.detect
    frontal_photo = photo("without_mask/nm_040.jpg")
    turned_photo = photo("without_mask/nm_024.jpg")  # the head turned well to one side
    mirrored_photo = ImageOps.mirror(turned_photo)
    faces = {}
    for name, image in (("frontal", frontal_photo), ("turned", turned_photo), ("mirrored", mirrored_photo)):
        landmarks = detect(image)[0].landmarks
        assert landmarks is not None
        faces[name] = (image, landmarks)

    kinds = mask_kinds(templates)
    assert kinds == ["KN95", "N95", "cloth", "gas", "surgical", "surgical_blue", "surgical_green"]
    for kind in kinds:
        assert view_for_face(templates, kind, faces["frontal"][1]).name == kind
        assert view_for_face(templates, kind, faces["turned"][1]).name == f"{kind}_right"
        assert view_for_face(templates, kind, faces["mirrored"][1]).name == f"{kind}_left"
        for image, landmarks in faces.values():
            view = view_for_face(templates, kind, landmarks)
            assert _covered_share_of_the_lips(image, landmarks, view) > 0.97, (kind, view.name)
