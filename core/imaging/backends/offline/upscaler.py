"""Lanczos upscaling: the offline stand-in for a super-resolution model."""

from __future__ import annotations

from PIL import Image

from core.config import ModelSettings


class LanczosUpscaler:
    def upscale(self, image: Image.Image, factor: int) -> Image.Image:
        if factor < 1:
            raise ValueError(f"upscale factor must be >= 1, got {factor}")
        if factor == 1:
            return image.copy()
        return image.resize((image.width * factor, image.height * factor), Image.Resampling.LANCZOS)


def build_upscaler(models: ModelSettings) -> LanczosUpscaler:
    return LanczosUpscaler()
