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
)

BACKENDS: dict[str, dict[Tier, str]] = {
    "detector": {
        "offline": "core.backends.offline.detector:build_detector",
        "standard": "core.backends.standard.yolo:build_detector",
        "tiny": "core.backends.tiny:build_detector",
    },
    "mask_classifier": {
        "offline": "core.backends.offline.mask_classifier:build_mask_classifier",
        "standard": "core.backends.standard.mask_classifier:build_mask_classifier",
        "tiny": "core.backends.tiny:build_mask_classifier",
    },
    "segmenter": {
        "offline": "core.backends.offline.segmenter:build_segmenter",
        "standard": "core.backends.standard.sam:build_segmenter",
        "tiny": "core.backends.tiny:build_segmenter",
    },
    "upscaler": {
        "offline": "core.backends.offline.upscaler:build_upscaler",
        "standard": "core.backends.standard.superres:build_upscaler",
        "tiny": "core.backends.tiny:build_upscaler",
    },
    "inpainter": {
        "offline": "core.backends.offline.inpainter:build_inpainter",
        "standard": "core.backends.standard.sd_inpaint:build_inpainter",
        "tiny": "core.backends.tiny:build_inpainter",
    },
    # /suit
    "portrait_parser": {
        "offline": "core.backends.offline.portrait:build_portrait_parser",
        "standard": "core.backends.standard.face_parsing:build_portrait_parser",
        "tiny": "core.backends.tiny:build_portrait_parser",
    },
    "clothes_painter": {
        "offline": "core.backends.offline.suit_painter:build_clothes_painter",
        "standard": "core.backends.standard.suit_painter:build_clothes_painter",
        "tiny": "core.backends.tiny:build_clothes_painter",
    },
    # Identity: dlib's face embedding (its weights ship in a pip package) on every tier; it is small, runs on
    # the CPU, and likeness scores must mean the same thing whichever tier painted the face.
    "face_embedder": {
        "offline": "core.backends.offline.face_embedding:build_face_embedder",
        "standard": "core.backends.offline.face_embedding:build_face_embedder",
        "tiny": "core.backends.offline.face_embedding:build_face_embedder",
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
