"""Super-resolution for small faces with Swin2SR (transformers), Lanczos for what the model does not cover.

The model has one fixed scale (x4 for the default checkpoint). One model pass is made whenever the factor is
at least 2; the exact target size is then reached with Lanczos (down from x4 for a factor of 2, which still
beats Lanczos up; further up for factors above 4, where a second pass would cost 16x the pixels).
Inputs larger than ``max_input_side`` skip the model: they are no longer "small faces", and Swin2SR's memory
grows with the output area.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from core.config import ModelSettings
from core.imaging.backends.standard.weights import WeightsRef

if TYPE_CHECKING:
    from core.imaging.backends.torch_device import Placement


class Swin2SRUpscaler:
    def __init__(
        self, model: Any, processor: Any, placement: Placement, *, max_input_side: int = 512
    ) -> None:
        self._model = model.to(device=placement.device, dtype=placement.dtype).eval()
        self._processor = processor
        self._placement = placement
        self.scale = int(model.config.upscale)
        self.max_input_side = max_input_side

    def upscale(self, image: Image.Image, factor: int) -> Image.Image:
        if factor < 1:
            raise ValueError(f"upscale factor must be >= 1, got {factor}")
        image = image.convert("RGB")
        target = (image.width * factor, image.height * factor)
        if factor == 1:
            return image.copy()
        if max(image.size) > self.max_input_side or self.scale < 2:
            return image.resize(target, Image.Resampling.LANCZOS)
        upscaled = self._run(image)
        return upscaled if upscaled.size == target else upscaled.resize(target, Image.Resampling.LANCZOS)

    def _run(self, image: Image.Image) -> Image.Image:
        import torch

        pixels = self._processor(image, return_tensors="pt")["pixel_values"]
        pixels = pixels.to(self._placement.device, self._placement.dtype)
        with torch.inference_mode():
            out = self._model(pixel_values=pixels).reconstruction
        # The processor pads to the window size; cut the padding's share off the output.
        out = out[0, :, : image.height * self.scale, : image.width * self.scale]
        array = (out.float().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()
        return Image.fromarray(np.ascontiguousarray(array))


# --- weights and factory --------------------------------------------------------------------------------
def weights(models: ModelSettings) -> WeightsRef:
    return WeightsRef(
        models.upscaler,
        required=(
            ("config.json",),
            ("preprocessor_config.json",),
            ("model.safetensors", "pytorch_model.bin"),
        ),
        cache_dir=models.cache_dir,
    )


def build_upscaler(models: ModelSettings) -> Swin2SRUpscaler:
    from transformers import AutoImageProcessor, Swin2SRForImageSuperResolution

    from core.imaging.backends.torch_device import resolve_placement

    path = weights(models).materialize()
    return Swin2SRUpscaler(
        Swin2SRForImageSuperResolution.from_pretrained(path),
        AutoImageProcessor.from_pretrained(path),
        resolve_placement(models.device),
    )
