"""The explicit registry of model backends: step -> tier -> "module:factory".

Resolved lazily with importlib, so importing this module imports no torch. Each factory takes the
``ModelSettings`` and returns a ready component (weights loaded). Grep here to find every backend.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any

from core.config import ModelSettings, Tier

STEPS = (
    "detector",
    "mask_classifier",
    "segmenter",
    "upscaler",
    "inpainter",
    "portrait_parser",
    "clothes_painter",
    "face_embedder",
    "body_parser",
    "garment_extractor",
    "garment_painter",
    "sketch_face_finder",
    "sketch_painter",
)

BACKENDS: dict[str, dict[Tier, str]] = {
    "detector": {
        "offline": "core.imaging.backends.offline.detector:build_detector",
        "standard": "core.imaging.backends.standard.yolo:build_detector",
        "tiny": "core.imaging.backends.tiny:build_detector",
    },
    "mask_classifier": {
        "offline": "core.imaging.backends.offline.mask_classifier:build_mask_classifier",
        "standard": "core.imaging.backends.standard.mask_classifier:build_mask_classifier",
        "tiny": "core.imaging.backends.tiny:build_mask_classifier",
    },
    "segmenter": {
        "offline": "core.imaging.backends.offline.segmenter:build_segmenter",
        "standard": "core.imaging.backends.standard.sam:build_segmenter",
        "tiny": "core.imaging.backends.tiny:build_segmenter",
    },
    "upscaler": {
        "offline": "core.imaging.backends.offline.upscaler:build_upscaler",
        "standard": "core.imaging.backends.standard.superres:build_upscaler",
        "tiny": "core.imaging.backends.tiny:build_upscaler",
    },
    "inpainter": {
        "offline": "core.imaging.backends.offline.inpainter:build_inpainter",
        "standard": "core.imaging.backends.standard.sd_inpaint:build_inpainter",
        "tiny": "core.imaging.backends.tiny:build_inpainter",
    },
    # /suit
    "portrait_parser": {
        "offline": "core.imaging.backends.offline.portrait:build_portrait_parser",
        "standard": "core.imaging.backends.standard.face_parsing:build_portrait_parser",
        "tiny": "core.imaging.backends.tiny:build_portrait_parser",
    },
    "clothes_painter": {
        "offline": "core.imaging.backends.offline.suit_painter:build_clothes_painter",
        "standard": "core.imaging.backends.standard.suit_painter:build_clothes_painter",
        "tiny": "core.imaging.backends.tiny:build_clothes_painter",
    },
    # /tryon. The person and the garment are found with MediaPipe (Apache-2.0, weights in its wheel) on every
    # tier; the standard tier paints with SD 1.5 inpainting and IP-Adapter Plus.
    "body_parser": {
        "offline": "core.imaging.backends.offline.tryon_body:build_body_parser",
        "standard": "core.imaging.backends.offline.tryon_body:build_body_parser",
        "tiny": "core.imaging.backends.offline.tryon_body:build_body_parser",
    },
    "garment_extractor": {
        "offline": "core.imaging.backends.offline.tryon_garment:build_garment_extractor",
        "standard": "core.imaging.backends.offline.tryon_garment:build_garment_extractor",
        "tiny": "core.imaging.backends.offline.tryon_garment:build_garment_extractor",
    },
    "garment_painter": {
        "offline": "core.imaging.backends.offline.tryon_painter:build_garment_painter",
        "standard": "core.imaging.backends.standard.tryon_painter:build_garment_painter",
        "tiny": "core.imaging.backends.tiny.tryon_models:build_garment_painter",
    },
    # /sketch. Faces are found in drawings with MediaPipe on every tier (it finds drawn faces; YOLO was never
    # shown one). Painting: SD 1.5 + ControlNet scribble (+ LCM-LoRA) on the standard tier, the face prior's
    # manifold of generated faces offline (None without the face prior: the tier cannot draw faces).
    "sketch_face_finder": {
        "offline": "core.imaging.backends.offline.detector:build_detector",
        "standard": "core.imaging.backends.offline.detector:build_detector",
        "tiny": "core.imaging.backends.offline.detector:build_detector",
    },
    "sketch_painter": {
        "offline": "core.imaging.backends.offline.sketch_painter:build_sketch_painter",
        "standard": "core.imaging.backends.standard.sketch_painter:build_sketch_painter",
        "tiny": "core.imaging.backends.tiny.sketch_models:build_sketch_painter",
    },
    # Identity: dlib's face embedding (its weights ship in a pip package) on every tier; it is small, runs on
    # the CPU, and likeness scores must mean the same thing whichever tier painted the face.
    "face_embedder": {
        "offline": "core.imaging.backends.offline.face_embedding:build_face_embedder",
        "standard": "core.imaging.backends.offline.face_embedding:build_face_embedder",
        "tiny": "core.imaging.backends.offline.face_embedding:build_face_embedder",
    },
}


def resolve(step: str, tier: Tier) -> Callable[[ModelSettings], Any]:
    """The factory for ``step`` in ``tier`` (imports its module on first use)."""
    try:
        target = BACKENDS[step][tier]
    except KeyError as exc:
        raise ValueError(f"no {step} backend for tier {tier!r}") from exc
    module_name, _, attr = target.partition(":")
    factory: Callable[[ModelSettings], Any] = getattr(importlib.import_module(module_name), attr)
    return factory


def build(step: str, models: ModelSettings) -> Any:
    return resolve(step, models.tier)(models)


_shared: dict[tuple[str, str], Any] = {}
_shared_lock = threading.Lock()


def shared(step: str, models: ModelSettings) -> Any:
    """``build(step, models)`` once per process for equal settings: pipelines that need the same component
    (the SD inpainting model serves /unmask and /suit) hold one copy of its weights, not two."""
    key = (step, models.model_dump_json())
    with _shared_lock:
        if key not in _shared:
            _shared[key] = build(step, models)
        return _shared[key]
