"""What a worker hands a pipeline and gets back: the job's images and options in, images out.

Each pipeline has a ``run_job`` that reads its options from ``JobInputs`` (plain JSON, as stored with the
job) and returns ``JobOutputs``; the worker runtime only moves blobs and never knows a pipeline's options.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from PIL import Image

from core.pipelines.progress import ProgressCallback


@dataclass(frozen=True)
class JobInputs:
    image: Image.Image  # RGB, the clean input photo
    options: dict[str, Any] = field(default_factory=dict)
    # Further input images by name (e.g. "exemplar": a picture of the suit to follow).
    extras: dict[str, Image.Image] = field(default_factory=dict)


@dataclass
class JobOutputs:
    image: Image.Image  # the result, RGB
    edit_mask: Image.Image  # L, 255 where pixels may differ from the input (in the result's geometry)
    # Further results by name (e.g. "sheet": the print sheet), delivered as documents.
    extras: dict[str, Image.Image] = field(default_factory=dict)
    # Print resolution recorded in the files, when the result has a physical size.
    dpi: int | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage


class JobRunner(Protocol):
    def run_job(self, inputs: JobInputs, progress: ProgressCallback | None = None) -> JobOutputs: ...
