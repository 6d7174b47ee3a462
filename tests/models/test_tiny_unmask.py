"""/unmask end to end on the tiny tier: real pipeline, real backend classes, tiny random models, real photo.

The tiny models paint noise, so this checks invariants only: size, bit-identical pixels outside the edit
mask, determinism for a seed, progress reporting.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from core.config import ModelSettings
from core.imaging.pipelines.jobio import JobInputs
from core.imaging.pipelines.unmask import UnmaskPipeline, build_unmask_pipeline


@pytest.fixture(scope="module")
def pipeline(tiny_models: ModelSettings) -> UnmaskPipeline:
    return build_unmask_pipeline(tiny_models)


def test_unmask_changes_only_the_edit_mask(pipeline: UnmaskPipeline, masked_photo: Image.Image) -> None:
    events: list[tuple[str, float]] = []
    result = pipeline.run(masked_photo, progress=lambda stage, fraction: events.append((stage, fraction)))

    assert result.image.mode == "RGB" and result.image.size == masked_photo.size
    assert result.edit_mask.mode == "L" and result.edit_mask.size == masked_photo.size
    before, after = np.asarray(masked_photo), np.asarray(result.image)
    edited = np.asarray(result.edit_mask) > 0
    assert 0 < edited.mean() < 1
    assert np.array_equal(before[~edited], after[~edited])
    assert not np.array_equal(before[edited], after[edited])

    assert result.faces and all(face.mask_probability >= 0.5 for face in result.faces)
    assert {"detect", "classify", "segment", "inpaint", "composite"} <= set(result.timings)
    fractions = [fraction for _, fraction in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    # The inpainter's steps show up as progress inside the "inpaint" stage.
    assert sum(stage == "inpaint" for stage, _ in events) > len(result.faces)


def test_same_seed_same_result_other_seed_other_pixels(
    pipeline: UnmaskPipeline, masked_photos: Callable[[str], Image.Image]
) -> None:
    photo = masked_photos("wm_002.jpg")
    request = pipeline.params.request
    first = pipeline.run(photo, request=replace(request, seed=11))
    again = pipeline.run(photo, request=replace(request, seed=11))
    other = pipeline.run(photo, request=replace(request, seed=12))
    assert np.array_equal(np.asarray(first.image), np.asarray(again.image))
    assert np.array_equal(np.asarray(first.edit_mask), np.asarray(again.edit_mask))
    assert not np.array_equal(np.asarray(first.image), np.asarray(other.image))


def test_a_job_asking_for_another_seed_gets_other_pixels(
    pipeline: UnmaskPipeline, masked_photos: Callable[[str], Image.Image]
) -> None:
    """ "Try again" queues the same photo with ``options.seed``: the job path must honour it."""
    photo = masked_photos("wm_002.jpg")

    def painted(options: dict[str, object]) -> np.ndarray:
        return np.asarray(pipeline.run_job(JobInputs(image=photo, options=options)).image)

    default, seeded = painted({}), painted({"seed": pipeline.params.request.seed + 7})
    assert np.array_equal(default, painted({"seed": pipeline.params.request.seed}))
    assert not np.array_equal(default, seeded)
