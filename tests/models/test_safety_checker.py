"""With the safety checker switched on, a flagged result is refused with a user error, never sent black."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from core.errors import UserError
from core.imaging.backends.base import InpaintRequest
from core.imaging.backends.standard.sd_inpaint import StableDiffusionInpainter
from core.imaging.backends.tiny import models as tiny
from core.imaging.backends.torch_device import resolve_placement


def _inpainter(threshold: float) -> StableDiffusionInpainter:
    """The tiny pipeline plus a tiny CLIP safety checker whose every concept fires below ``threshold``."""
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPImageProcessor

    small = {"hidden_size": 32, "intermediate_size": 37, "num_hidden_layers": 2, "num_attention_heads": 4}
    config = CLIPConfig(
        text_config=small, vision_config=small | {"image_size": 32, "patch_size": 4}, projection_dim=32
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        checker = StableDiffusionSafetyChecker(config).eval()
    with torch.no_grad():
        checker.concept_embeds_weights.fill_(threshold)
        checker.special_care_embeds_weights.fill_(threshold)
    pipe = tiny.tiny_sd_inpaint_pipeline()
    pipe.register_modules(
        safety_checker=checker,
        feature_extractor=CLIPImageProcessor(
            size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
        ),
    )
    return StableDiffusionInpainter(pipe, resolve_placement("cpu"))


def test_flagged_result_raises_a_user_error(masked_photo: Image.Image) -> None:
    image, mask = masked_photo.crop((0, 0, 64, 64)), Image.new("L", (64, 64), 255)
    with pytest.raises(UserError) as caught:
        _inpainter(threshold=-10.0).inpaint(image, mask, InpaintRequest(steps=1), lambda _f: None)
    assert caught.value.key == "unmask.unsafe_result"
    # Cosine similarity never exceeds 1: with a threshold above it nothing fires and the image comes back.
    out = _inpainter(threshold=10.0).inpaint(image, mask, InpaintRequest(steps=1), lambda _f: None)
    assert out.size == (64, 64)
