"""The standard tier's factories load weights from local folders (as written by ``save_pretrained``) with
the network refused: the production loading code, exercised with the tiny models saved to disk."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from core.config import ModelSettings
from core.imaging.backends.base import Box, Face, InpaintRequest
from core.imaging.backends.standard import mask_classifier, sam, sd_inpaint, superres, yolo
from core.imaging.backends.tiny import models as tiny
from core.imaging.backends.torch_device import resolve_placement
from core.imaging.models_download import missing_models


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> ModelSettings:
    root = tmp_path_factory.mktemp("weights")
    tiny.tiny_yolo().save(root / "face.pt")
    for name, (model, processor) in {
        "classifier": tiny.tiny_classifier(),
        "sam": tiny.tiny_sam(),
        "swin2sr": tiny.tiny_swin2sr(),
    }.items():
        model.save_pretrained(root / name)
        processor.save_pretrained(root / name)
    # Saved as the hub publishes it: fp16-variant safetensors.
    tiny.tiny_sd_inpaint_pipeline().save_pretrained(root / "sd", variant="fp16")
    return ModelSettings(
        tier="standard",
        device="cpu",
        detector=str(root / "face.pt"),
        mask_classifier=str(root / "classifier"),
        segmenter=str(root / "sam"),
        upscaler=str(root / "swin2sr"),
        inpainter=str(root / "sd"),
    )


def test_saved_folders_hold_every_required_file(saved: ModelSettings) -> None:
    # The /suit, /tryon and /sketch models are saved and checked in test_tiny_suit_backends.py,
    # test_tiny_tryon_painter.py and tests/pipeline/test_sketch_tiny.py.
    elsewhere = ("portrait_parser:", "exemplar_painter:", "ip_adapter:", "sketch_painter:")
    assert [line for line in missing_models(saved) if not line.startswith(elsewhere)] == []


def test_detector_loads_a_local_checkpoint(
    saved: ModelSettings, masked_photo: Image.Image, no_network: None
) -> None:
    detector = yolo.build_detector(saved.model_copy(update={"detection_threshold": 0.5}))
    assert detector.class_names == tiny.DETECTOR_CLASSES and detector.knows_masks
    faces = detector.detect(masked_photo)
    assert faces and all(f.score >= 0.5 and (f.mask_score or 0) > 0.5 for f in faces)


def test_transformers_backends_load_and_match_the_in_memory_models(
    saved: ModelSettings, masked_photo: Image.Image, no_network: None
) -> None:
    face = Face(Box(20, 30, 120, 150), 0.9)
    loaded = mask_classifier.build_mask_classifier(saved).mask_probabilities(masked_photo, [face])
    model, processor = tiny.tiny_classifier()
    fresh = mask_classifier.FaceMaskClassifier(model, processor, resolve_placement("cpu"))
    assert loaded == pytest.approx(fresh.mask_probabilities(masked_photo, [face]), abs=1e-6)

    mask = sam.build_segmenter(saved).segment(masked_photo, face)
    assert mask.mode == "L" and mask.size == masked_photo.size

    upscaled = superres.build_upscaler(saved).upscale(masked_photo.crop((0, 0, 40, 40)), 4)
    assert upscaled.size == (160, 160)


def test_inpainter_loads_the_fp16_variant_on_the_cpu_as_fp32(
    saved: ModelSettings, masked_photo: Image.Image, no_network: None
) -> None:
    inpainter = sd_inpaint.build_inpainter(saved)
    assert inpainter._pipe.unet.dtype == torch.float32
    assert inpainter._pipe.safety_checker is None
    image = masked_photo.crop((0, 0, 64, 64))
    steps: list[float] = []
    out = inpainter.inpaint(
        image, Image.new("L", (64, 64), 255), InpaintRequest(steps=2, seed=3), steps.append
    )
    assert out.size == (64, 64) and steps == [0.5, 1.0]
    assert np.asarray(out).std() > 0
