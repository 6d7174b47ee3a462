"""The production Swin2SR upscaler class around a tiny random Swin2SR x4."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.config import ModelSettings
from core.imaging.backends import registry
from core.imaging.backends.standard.superres import Swin2SRUpscaler


@pytest.fixture(scope="module")
def face_crop(masked_photo: Image.Image) -> Image.Image:
    return masked_photo.crop((20, 30, 61, 80))  # 41 x 50: not a multiple of the window size


def test_exact_target_size_for_every_factor(tiny_models: ModelSettings, face_crop: Image.Image) -> None:
    upscaler = registry.build("upscaler", tiny_models)
    assert isinstance(upscaler, Swin2SRUpscaler) and upscaler.scale == 4
    for factor in (2, 3, 4, 6):
        out = upscaler.upscale(face_crop, factor)
        assert out.mode == "RGB" and out.size == (41 * factor, 50 * factor)


def test_model_output_is_deterministic(tiny_models: ModelSettings, face_crop: Image.Image) -> None:
    upscaler = registry.build("upscaler", tiny_models)
    first = np.asarray(upscaler.upscale(face_crop, 4))
    assert np.array_equal(first, np.asarray(upscaler.upscale(face_crop, 4)))
    # The (random) model ran: its output is not what Lanczos alone gives.
    lanczos = np.asarray(face_crop.resize((164, 200), Image.Resampling.LANCZOS))
    assert not np.array_equal(first, lanczos)


def test_factor_one_and_large_inputs_skip_the_model(
    tiny_models: ModelSettings, face_crop: Image.Image
) -> None:
    upscaler = registry.build("upscaler", tiny_models)
    assert np.array_equal(np.asarray(upscaler.upscale(face_crop, 1)), np.asarray(face_crop))
    big = face_crop.resize((upscaler.max_input_side + 8, 60))
    expected = big.resize((big.width * 2, 120), Image.Resampling.LANCZOS)
    assert np.array_equal(np.asarray(upscaler.upscale(big, 2)), np.asarray(expected))
    with pytest.raises(ValueError):
        upscaler.upscale(face_crop, 0)
