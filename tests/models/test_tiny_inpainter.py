"""The production SD inpainting class around a tiny random Stable Diffusion inpainting pipeline."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.config import ModelSettings
from core.imaging.backends import registry
from core.imaging.backends.base import Inpainter, InpaintRequest
from core.imaging.backends.standard.sd_inpaint import StableDiffusionInpainter


@pytest.fixture(scope="module")
def square(masked_photo: Image.Image) -> tuple[Image.Image, Image.Image]:
    image = masked_photo.crop((0, 40, 128, 168)).resize((64, 64))
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 32, 48, 60))
    return image, mask


def _run(
    inpainter: Inpainter, square: tuple[Image.Image, Image.Image], request: InpaintRequest
) -> tuple[np.ndarray, list[float]]:
    steps: list[float] = []
    image, mask = square
    out = inpainter.inpaint(image, mask, request, steps.append)
    assert out.mode == "RGB" and out.size == image.size
    return np.asarray(out), steps


def test_tiny_inpainter_is_the_production_class_at_64_px(tiny_models: ModelSettings) -> None:
    inpainter = registry.build("inpainter", tiny_models)
    assert isinstance(inpainter, StableDiffusionInpainter) and isinstance(inpainter, Inpainter)
    assert type(inpainter).resolution == 64
    assert StableDiffusionInpainter.resolution == 512


def test_progress_once_per_step(tiny_models: ModelSettings, square: tuple[Image.Image, Image.Image]) -> None:
    _, steps = _run(registry.build("inpainter", tiny_models), square, InpaintRequest(steps=3))
    assert steps == pytest.approx([1 / 3, 2 / 3, 1.0])
    _, steps = _run(registry.build("inpainter", tiny_models), square, InpaintRequest(steps=4, strength=0.5))
    assert steps == pytest.approx([0.5, 1.0])  # strength 0.5 runs half the schedule


def test_same_seed_same_pixels(tiny_models: ModelSettings, square: tuple[Image.Image, Image.Image]) -> None:
    inpainter = registry.build("inpainter", tiny_models)
    first, _ = _run(inpainter, square, InpaintRequest(steps=2, seed=7, prompt="a face"))
    again, _ = _run(inpainter, square, InpaintRequest(steps=2, seed=7, prompt="a face"))
    other, _ = _run(inpainter, square, InpaintRequest(steps=2, seed=8, prompt="a face"))
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_odd_sizes_come_back_at_their_own_size(tiny_models: ModelSettings, masked_photo: Image.Image) -> None:
    inpainter = registry.build("inpainter", tiny_models)
    image = masked_photo.crop((0, 0, 70, 61))
    out = inpainter.inpaint(image, Image.new("L", image.size, 255), InpaintRequest(steps=1), lambda _f: None)
    assert out.size == (70, 61)
    with pytest.raises(ValueError, match="differ"):
        inpainter.inpaint(image, Image.new("L", (64, 64)), InpaintRequest(steps=1), lambda _f: None)
