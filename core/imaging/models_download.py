"""Pre-fetch and check the standard tier's weights (``atelier models download`` / ``atelier models check``).

Each standard backend module names its own files (``weights(models)``); this file only walks them.
Hub ids are downloaded into the Hugging Face cache (``ModelSettings.cache_dir`` when set); local paths are
checked, never copied. ``missing_models`` never touches the network.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from core.config import ModelSettings
from core.imaging.backends.standard.weights import WeightsRef

# step -> module with weights(models) -> WeightsRef; the standard column of the registry.
STANDARD_BACKENDS: dict[str, str] = {
    "detector": "core.imaging.backends.standard.yolo",
    "mask_classifier": "core.imaging.backends.standard.mask_classifier",
    "segmenter": "core.imaging.backends.standard.sam",
    "upscaler": "core.imaging.backends.standard.superres",
    "inpainter": "core.imaging.backends.standard.sd_inpaint",
    "portrait_parser": "core.imaging.backends.standard.face_parsing",
    "exemplar_painter": "core.imaging.backends.standard.paint_by_example",
    # /tryon: IP-Adapter Plus and its image encoder (the garment painter's SD model is the inpainter's).
    "ip_adapter": "core.imaging.backends.standard.ip_adapter",
}


def _backend(step: str) -> ModuleType:
    return importlib.import_module(STANDARD_BACKENDS[step])


def _weights(step: str, models: ModelSettings) -> WeightsRef:
    return _backend(step).weights(models)  # type: ignore[no-any-return]


def _reference(step: str, models: ModelSettings) -> str:
    return _weights(step, models).describe()


def _prefixed(say: Callable[[str], None], step: str) -> Callable[[str], None]:
    return lambda line: say(f"{step}: {line}")


def download_models(models: ModelSettings, progress: Callable[[str], None] | None = None) -> dict[str, Path]:
    """Fetch every standard backend's weights; returns step -> local folder (or file). Raises on the first
    backend that cannot be fetched, naming it."""
    say = progress or (lambda _line: None)
    paths: dict[str, Path] = {}
    for step in STANDARD_BACKENDS:
        say(f"{step}: {_reference(step, models)}")
        try:
            paths[step] = _weights(step, models).fetch(_prefixed(say, step))
        except Exception as exc:
            raise RuntimeError(f"{step}: could not fetch {_reference(step, models)}: {exc}") from exc
    return paths


def missing_models(models: ModelSettings) -> list[str]:
    """``"<step>: <where>"`` for every standard backend whose weights are not available locally."""
    return [
        f"{step}: {_reference(step, models)}"
        for step in STANDARD_BACKENDS
        if not _weights(step, models).is_present()
    ]
