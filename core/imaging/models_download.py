"""Pre-fetch and check the standard tier's weights (``atelier models download`` / ``atelier models check``).

Each standard backend module names its own files (``weights(models)``: one reference, or several for a
backend that loads several models); this file only walks them.
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
    # /sketch: the SD 1.5 UNet, ControlNet scribble and LCM-LoRA (text encoder and VAE: the inpainter's).
    "sketch_painter": "core.imaging.backends.standard.sketch_painter",
}


def _backend(step: str) -> ModuleType:
    return importlib.import_module(STANDARD_BACKENDS[step])


def _weights(step: str, models: ModelSettings) -> list[WeightsRef]:
    found = _backend(step).weights(models)
    return list(found) if isinstance(found, tuple) else [found]


def _prefixed(say: Callable[[str], None], step: str) -> Callable[[str], None]:
    return lambda line: say(f"{step}: {line}")


def download_models(models: ModelSettings, progress: Callable[[str], None] | None = None) -> dict[str, Path]:
    """Fetch every standard backend's weights; returns step -> local folder (or file); a backend with
    several models gives ``step``, ``step.2``, ``step.3``... Raises on the first reference that cannot be
    fetched, naming its step."""
    say = progress or (lambda _line: None)
    paths: dict[str, Path] = {}
    for step in STANDARD_BACKENDS:
        for index, ref in enumerate(_weights(step, models), start=1):
            say(f"{step}: {ref.describe()}")
            try:
                paths[step if index == 1 else f"{step}.{index}"] = ref.fetch(_prefixed(say, step))
            except Exception as exc:
                raise RuntimeError(f"{step}: could not fetch {ref.describe()}: {exc}") from exc
    return paths


def missing_models(models: ModelSettings) -> list[str]:
    """``"<step>: <where>"`` for every standard backend's weights not available locally."""
    return [
        f"{step}: {ref.describe()}"
        for step in STANDARD_BACKENDS
        for ref in _weights(step, models)
        if not ref.is_present()
    ]
