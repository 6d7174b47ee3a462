"""What a worker hands a pipeline and gets back: the job's images and options in, images out.

Each pipeline has a ``run_job`` that reads its options from ``JobInputs`` (plain JSON, as stored with the
job) and returns ``JobOutputs``; the worker runtime only moves blobs and never knows a pipeline's options.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from PIL import Image

from core.imaging.backends.base import Identity
from core.imaging.pipelines.progress import ProgressCallback


@dataclass(frozen=True)
class JobInputs:
    image: Image.Image  # RGB, the clean input photo
    options: dict[str, Any] = field(default_factory=dict)
    # Further input images by name (e.g. "exemplar": a picture of the suit to follow).
    extras: dict[str, Image.Image] = field(default_factory=dict)
    # The requesting user's identity (their adapter and reference selfies), found by the worker from the
    # job's authenticated user; None when they have none or turned it off.
    identity: Identity | None = None


@dataclass
class JobOutputs:
    image: Image.Image  # the result, RGB
    edit_mask: Image.Image  # L, 255 where pixels may differ from the input (in the result's geometry)
    # Further results by name (e.g. "sheet": the print sheet), delivered as documents.
    extras: dict[str, Image.Image] = field(default_factory=dict)
    # Print resolution recorded in the files, when the result has a physical size.
    dpi: int | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage
    # Facts for the user besides the images, stored with the job (e.g. {"likeness": 0.42}).
    info: dict[str, Any] = field(default_factory=dict)


class JobRunner(Protocol):
    def run_job(self, inputs: JobInputs, progress: ProgressCallback | None = None) -> JobOutputs: ...


def loaded_identities(*components: object) -> set[str]:
    """Names of the identity adapters loaded in any of ``components`` (backends without adapters: none)."""
    names: set[str] = set()
    for component in components:
        loaded = getattr(component, "loaded_identities", None)
        if loaded is not None:
            names |= set(loaded())
    return names


def unload_identities(*components: object) -> None:
    for component in components:
        unload = getattr(component, "unload_identities", None)
        if unload is not None:
            unload()
