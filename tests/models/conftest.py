"""Fixtures for the model-backend tests: the tiny tier on the CPU and a real masked photo, downscaled."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image

from core.config import ModelSettings

PHOTO_SIDE = 192


@pytest.fixture(scope="session")
def tiny_models() -> ModelSettings:
    return ModelSettings(tier="tiny", device="cpu", steps=2)


@pytest.fixture(scope="session")
def masked_photos(shared_data: Path) -> Callable[[str], Image.Image]:
    """Loads a real photo of a person wearing a face mask by file name, longest side 192 px."""

    def load(name: str) -> Image.Image:
        image = Image.open(shared_data / "faces" / "with_mask" / name).convert("RGB")
        image.thumbnail((PHOTO_SIDE, PHOTO_SIDE), Image.Resampling.LANCZOS)
        return image

    return load


@pytest.fixture(scope="session")
def masked_photo(masked_photos: Callable[[str], Image.Image]) -> Image.Image:
    return masked_photos("wm_001.jpg")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Loading weights from a local folder must not touch the network."""

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise OSError("network access during a local-weights test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    yield
