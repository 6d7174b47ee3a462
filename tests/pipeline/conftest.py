"""Fixtures for the pipeline tests: the shared photos and templates, and one offline pipeline per session
(building it loads the MediaPipe graphs, about a second)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from core.config import ModelSettings
from core.imaging.pipelines.unmask import UnmaskPipeline, build_unmask_pipeline
from tests.pipeline.mask_templates import Template, load_templates


@pytest.fixture(scope="session")
def shared_dir(repo_root: Path) -> Path:
    """``../shared`` beside the checkout: real face photos and mask templates (present in CI too)."""
    path = repo_root.parent / "shared"
    assert (path / "data" / "faces").is_dir(), f"shared test data not found under {path}"
    return path


@pytest.fixture(scope="session")
def photo(shared_dir: Path) -> Callable[[str], Image.Image]:
    """``photo("with_mask/wm_020.jpg")`` -> RGB image."""

    def load(name: str) -> Image.Image:
        return Image.open(shared_dir / "data" / "faces" / name).convert("RGB")

    return load


@pytest.fixture(scope="session")
def templates(shared_dir: Path) -> dict[str, Template]:
    return load_templates(shared_dir / "data" / "mask_templates")


@pytest.fixture(scope="session")
def offline_pipeline() -> UnmaskPipeline:
    return build_unmask_pipeline(ModelSettings(tier="offline"))
