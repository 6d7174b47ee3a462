"""Clothes for /suit with diffusion: Stable Diffusion inpainting from the pipeline's prompt, or
Paint-by-Example when the request carries a picture of the suit to follow.

- The SD inpainting model is the one /unmask uses (``registry.shared``): one copy of its weights per worker.
- Paint-by-Example (another UNet, VAE and a CLIP ViT-L image encoder, ~2.5 GB in fp16) loads on the first
  request with an exemplar, not at start-up, since most requests have none. A lock makes concurrent first
  requests load it once.
- Both paint the whole mask at strength 1; the prompt asks for a plain background around the clothes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import ClassVar

from PIL import Image

from core.config import ModelSettings
from core.imaging.backends.base import Inpainter, InpaintRequest, StepProgress, SuitRequest
from core.imaging.backends.standard.paint_by_example import PaintByExampleInpainter


class DiffusionClothesPainter:
    resolution: ClassVar[int | None] = 512

    def __init__(
        self, inpainter: Inpainter, load_exemplar_inpainter: Callable[[], PaintByExampleInpainter]
    ) -> None:
        self._inpainter = inpainter
        self._load_exemplar_inpainter = load_exemplar_inpainter
        self._exemplar_inpainter: PaintByExampleInpainter | None = None
        self._lock = threading.Lock()

    def paint(
        self, image: Image.Image, mask: Image.Image, request: SuitRequest, progress: StepProgress
    ) -> Image.Image:
        if image.size != mask.size:
            raise ValueError(f"image {image.size} and mask {mask.size} differ in size")
        inpaint = InpaintRequest(
            seed=request.seed,
            steps=request.steps,
            guidance_scale=request.guidance_scale,
            strength=1.0,
            prompt=request.prompt,
            negative_prompt=request.negative_prompt,
            identity=request.identity,
        )
        if request.exemplar is None:
            return self._inpainter.inpaint(image, mask, inpaint, progress)
        return self.exemplar_inpainter().inpaint(image, mask, request.exemplar, inpaint, progress)

    @property
    def inpainter(self) -> Inpainter:
        """The SD inpainter (shared with /unmask): where identity adapters are loaded."""
        return self._inpainter

    def exemplar_inpainter(self) -> PaintByExampleInpainter:
        """The Paint-by-Example model, loaded on first use."""
        with self._lock:
            if self._exemplar_inpainter is None:
                self._exemplar_inpainter = self._load_exemplar_inpainter()
            return self._exemplar_inpainter


def build_clothes_painter(models: ModelSettings) -> DiffusionClothesPainter:
    from core.imaging.backends import registry
    from core.imaging.backends.standard.paint_by_example import build_exemplar_inpainter

    return DiffusionClothesPainter(
        registry.shared("inpainter", models), lambda: build_exemplar_inpainter(models)
    )
