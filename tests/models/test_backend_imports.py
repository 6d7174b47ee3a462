"""Importing the standard and tiny backends, the weights helpers and the download module loads no heavy
library: those are imported inside the functions that need them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MODULES = [
    "core.imaging.backends.torch_device",
    "core.imaging.backends.standard.yolo",
    "core.imaging.backends.standard.mask_classifier",
    "core.imaging.backends.standard.sam",
    "core.imaging.backends.standard.superres",
    "core.imaging.backends.standard.sd_inpaint",
    "core.imaging.backends.standard.face_parsing",
    "core.imaging.backends.standard.paint_by_example",
    "core.imaging.backends.standard.suit_painter",
    "core.imaging.backends.standard.ip_adapter",
    "core.imaging.backends.standard.tryon_painter",
    "core.imaging.backends.tiny",
    "core.imaging.backends.tiny.models",
    "core.imaging.backends.tiny.suit_models",
    "core.imaging.backends.tiny.tryon_models",
    "core.imaging.pipelines.suit",
    "core.imaging.idphoto.catalog",
    "core.imaging.backends.tiny.clip_vocab",
    "core.imaging.models_download",
]
HEAVY = ["torch", "transformers", "diffusers", "ultralytics", "huggingface_hub", "open_clip", "cv2"]


def test_backend_modules_import_no_heavy_library() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in {MODULES!r}:\n"
        "    importlib.import_module(name)\n"
        f"loaded = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2], timeout=120
    )
