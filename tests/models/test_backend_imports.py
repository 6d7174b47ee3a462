"""Importing the standard and tiny backends, the weights helpers and the download module loads no heavy
library: those are imported inside the functions that need them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MODULES = [
    "core.backends.torch_device",
    "core.backends.standard.yolo",
    "core.backends.standard.mask_classifier",
    "core.backends.standard.sam",
    "core.backends.standard.superres",
    "core.backends.standard.sd_inpaint",
    "core.backends.standard.face_parsing",
    "core.backends.standard.paint_by_example",
    "core.backends.standard.suit_painter",
    "core.backends.tiny",
    "core.backends.tiny.models",
    "core.backends.tiny.suit_models",
    "core.pipelines.suit",
    "core.idphoto.catalog",
    "core.backends.tiny.clip_vocab",
    "core.models_download",
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
