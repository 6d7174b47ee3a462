"""The production mask classifier class around a tiny random Swin image classifier."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from PIL import Image

from core.config import ModelSettings
from core.imaging.backends import registry
from core.imaging.backends.base import Box, Face
from core.imaging.backends.standard.mask_classifier import FaceMaskClassifier
from core.imaging.backends.tiny import models as tiny
from core.imaging.backends.torch_device import resolve_placement

FACES = [Face(Box(20, 30, 120, 150), 0.9), Face(Box(60, 10, 150, 100), 0.8)]


def _classifier_leaning_to(label: str, masked_labels: tuple[str, ...] = ()) -> FaceMaskClassifier:
    model, processor = tiny.tiny_classifier()
    with torch.no_grad():  # a head that always answers ``label``
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(
            torch.tensor([10.0 if name == label else -10.0 for name in tiny.CLASSIFIER_LABELS.values()])
        )
    return FaceMaskClassifier(model, processor, resolve_placement("cpu"), masked_labels=masked_labels)


def test_detector_scores_are_used_as_they_are(tiny_models: ModelSettings, masked_photo: Image.Image) -> None:
    classifier = registry.build("mask_classifier", tiny_models)
    faces = [replace(FACES[0], mask_score=0.97), replace(FACES[1], mask_score=0.02)]
    assert classifier.mask_probabilities(masked_photo, faces) == [0.97, 0.02]


def test_crops_are_classified_when_the_detector_has_no_opinion(
    tiny_models: ModelSettings, masked_photo: Image.Image
) -> None:
    classifier = registry.build("mask_classifier", tiny_models)
    mixed = [FACES[0], replace(FACES[1], mask_score=0.9)]
    probabilities = classifier.mask_probabilities(masked_photo, mixed)
    assert len(probabilities) == 2 and probabilities[1] == 0.9
    assert 0.0 <= probabilities[0] <= 1.0
    assert classifier.mask_probabilities(masked_photo, mixed) == probabilities
    assert classifier.mask_probabilities(masked_photo, []) == []


def test_label_mapping_reads_the_model_labels(masked_photo: Image.Image) -> None:
    assert _classifier_leaning_to("WithMask").mask_probabilities(masked_photo, FACES) == pytest.approx(
        [1.0, 1.0], abs=1e-6
    )
    assert _classifier_leaning_to("WithoutMask").mask_probabilities(masked_photo, FACES) == pytest.approx(
        [0.0, 0.0], abs=1e-6
    )
    # Explicit configuration wins over the naming rule.
    inverted = _classifier_leaning_to("WithMask", masked_labels=("WithoutMask",))
    assert inverted.mask_probabilities(masked_photo, FACES) == pytest.approx([0.0, 0.0], abs=1e-6)


def test_models_with_unrecognisable_labels_are_refused() -> None:
    model, processor = tiny.tiny_classifier()
    model.config.id2label = {0: "cat", 1: "dog"}
    with pytest.raises(ValueError, match="masked_labels"):
        FaceMaskClassifier(model, processor, resolve_placement("cpu"))


def test_a_face_outside_the_image_is_an_error(tiny_models: ModelSettings, masked_photo: Image.Image) -> None:
    classifier = registry.build("mask_classifier", tiny_models)
    with pytest.raises(ValueError, match="empty"):
        classifier.mask_probabilities(masked_photo, [Face(Box(500, 500, 600, 600), 0.9)])
