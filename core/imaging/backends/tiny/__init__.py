"""The ``tiny`` tier: the standard tier's backend classes around miniature random models (see ``models``).

For tests only: outputs are noise, but the code path is production's. Each factory builds its model once
per process and device; later calls return the same component, as a worker's factories would.
"""

from __future__ import annotations

from functools import cache, partial
from typing import ClassVar

from core.config import ModelSettings
from core.imaging.backends.standard.face_parsing import SegformerPortraitParser
from core.imaging.backends.standard.mask_classifier import FaceMaskClassifier
from core.imaging.backends.standard.paint_by_example import PaintByExampleInpainter
from core.imaging.backends.standard.sam import SamMaskSegmenter
from core.imaging.backends.standard.sd_inpaint import StableDiffusionInpainter
from core.imaging.backends.standard.suit_painter import DiffusionClothesPainter
from core.imaging.backends.standard.superres import Swin2SRUpscaler
from core.imaging.backends.standard.yolo import YoloFaceDetector
from core.imaging.backends.tiny import models as tiny
from core.imaging.backends.tiny import suit_models

__all__ = [
    "TinyDiffusionClothesPainter",
    "TinyStableDiffusionInpainter",
    "build_clothes_painter",
    "build_detector",
    "build_inpainter",
    "build_mask_classifier",
    "build_portrait_parser",
    "build_segmenter",
    "build_upscaler",
]

# Random detector heads give no confident boxes: keep everything above ~0 and only the best few.
TINY_CONFIDENCE = 0.01
TINY_MAX_DET = 2
TINY_IMAGE_SIZE = 256


class TinyStableDiffusionInpainter(StableDiffusionInpainter):
    resolution: ClassVar[int | None] = tiny.SD_RESOLUTION


class TinyDiffusionClothesPainter(DiffusionClothesPainter):
    resolution: ClassVar[int | None] = tiny.SD_RESOLUTION


def build_detector(models: ModelSettings) -> YoloFaceDetector:
    return _detector(models.device)


def build_mask_classifier(models: ModelSettings) -> FaceMaskClassifier:
    return _mask_classifier(models.device)


def build_segmenter(models: ModelSettings) -> SamMaskSegmenter:
    return _segmenter(models.device)


def build_upscaler(models: ModelSettings) -> Swin2SRUpscaler:
    return _upscaler(models.device)


def build_inpainter(models: ModelSettings) -> TinyStableDiffusionInpainter:
    return _inpainter(models.device)


def build_portrait_parser(models: ModelSettings) -> SegformerPortraitParser:
    return _portrait_parser(models.device)


def build_clothes_painter(models: ModelSettings) -> TinyDiffusionClothesPainter:
    return _clothes_painter(models.device)


@cache
def _detector(device: str) -> YoloFaceDetector:
    from core.imaging.backends.torch_device import resolve_placement

    placement = resolve_placement(device)
    return YoloFaceDetector(
        tiny.tiny_yolo(),
        device=str(placement.device),
        half=placement.is_cuda,
        confidence=TINY_CONFIDENCE,
        max_det=TINY_MAX_DET,
        image_size=TINY_IMAGE_SIZE,
    )


@cache
def _mask_classifier(device: str) -> FaceMaskClassifier:
    from core.imaging.backends.torch_device import resolve_placement

    model, processor = tiny.tiny_classifier()
    return FaceMaskClassifier(model, processor, resolve_placement(device))


@cache
def _segmenter(device: str) -> SamMaskSegmenter:
    from core.imaging.backends.torch_device import resolve_placement

    model, processor = tiny.tiny_sam()
    return SamMaskSegmenter(model, processor, resolve_placement(device))


@cache
def _upscaler(device: str) -> Swin2SRUpscaler:
    from core.imaging.backends.torch_device import resolve_placement

    model, processor = tiny.tiny_swin2sr()
    return Swin2SRUpscaler(model, processor, resolve_placement(device))


@cache
def _inpainter(device: str) -> TinyStableDiffusionInpainter:
    from core.imaging.backends.torch_device import resolve_placement

    return TinyStableDiffusionInpainter(tiny.tiny_sd_inpaint_pipeline(), resolve_placement(device))


@cache
def _portrait_parser(device: str) -> SegformerPortraitParser:
    from core.imaging.backends.torch_device import resolve_placement

    model, processor = suit_models.tiny_face_parser()
    return SegformerPortraitParser(model, processor, resolve_placement(device))


@cache
def _clothes_painter(device: str) -> TinyDiffusionClothesPainter:
    # Paint-by-Example is built on the first request with an exemplar, as the standard tier loads it.
    return TinyDiffusionClothesPainter(_inpainter(device), partial(_exemplar_inpainter, device))


@cache
def _exemplar_inpainter(device: str) -> PaintByExampleInpainter:
    from core.imaging.backends.torch_device import resolve_placement

    return PaintByExampleInpainter(suit_models.tiny_paint_by_example_pipeline(), resolve_placement(device))
