"""Small interfaces for the steps of an image pipeline. Backends of every tier implement them.

House convention: images are PIL RGB, masks are PIL mode ``L`` with 255 = "edit here". Backends convert to
numpy/BGR/tensors internally and never leak those types through these interfaces.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np
from PIL import Image

# fraction in [0, 1] of the current step, e.g. diffusion step 5 of 25 -> 0.2
StepProgress = Callable[[float], None]


@dataclass(frozen=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def short_side(self) -> float:
        return min(self.width, self.height)

    def clipped(self, width: int, height: int) -> Box:
        return Box(
            max(0.0, self.x0), max(0.0, self.y0), min(float(width), self.x1), min(float(height), self.y1)
        )


@dataclass(frozen=True)
class Face:
    box: Box
    score: float
    # (N, 2) pixel coordinates in the full image, or None when the detector gives none.
    landmarks: np.ndarray | None = field(default=None, compare=False)
    # Probability that the face wears a mask, when the detector itself knows (e.g. a YOLO mask class).
    mask_score: float | None = None


@dataclass(frozen=True)
class InpaintRequest:
    seed: int = 0
    steps: int = 25
    guidance_scale: float = 7.5
    strength: float = 1.0
    prompt: str = ""
    negative_prompt: str = ""
    # Face-mesh landmarks of the face being repainted, in pixel coordinates of the image handed to the
    # inpainter (the pipeline maps them through its crop and resizes). Classical backends use them to place
    # skin, lips and nostrils; generative backends may ignore them.
    landmarks: np.ndarray | None = field(default=None, compare=False)


@runtime_checkable
class FaceDetector(Protocol):
    def detect(self, image: Image.Image) -> list[Face]: ...


@runtime_checkable
class MaskClassifier(Protocol):
    """Decides which faces wear a mask: returns one probability per face."""

    def mask_probabilities(self, image: Image.Image, faces: list[Face]) -> list[float]: ...


@runtime_checkable
class MaskSegmenter(Protocol):
    """Outlines the face mask worn by ``face``: an ``L`` mask the size of ``image``."""

    def segment(self, image: Image.Image, face: Face) -> Image.Image: ...


@runtime_checkable
class Upscaler(Protocol):
    def upscale(self, image: Image.Image, factor: int) -> Image.Image: ...


@runtime_checkable
class Inpainter(Protocol):
    # Square working resolution the model wants (the pipeline resizes crops to it); None = any size.
    resolution: ClassVar[int | None]

    def inpaint(
        self, image: Image.Image, mask: Image.Image, request: InpaintRequest, progress: StepProgress
    ) -> Image.Image: ...
