"""Fixtures shared by every test folder."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Real face photos and mask templates (``../shared/data`` beside the checkout)."""
    path = SHARED_DIR / "data"
    assert path.is_dir(), f"test data not found at {path}"
    return path


@pytest.fixture(autouse=True)
def _no_ambient_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests build their settings explicitly; an operator's ATELIER_* variables must not leak in."""
    import os

    for name in list(os.environ):
        if name.startswith("ATELIER_"):
            monkeypatch.delenv(name)
