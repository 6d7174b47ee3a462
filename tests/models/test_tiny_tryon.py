"""/tryon end to end on the tiny tier: the production pipeline with the standard painter's classes (SD
inpainting with IP-Adapter Plus) around tiny random models, on a real person and a real shop photo. The
painted pixels are noise; this checks that every stage runs through ``run_job`` and the invariants hold:
the result has the photo's size, pixels outside the edit mask are the input's, the same seed repeats."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core.config import ModelSettings
from core.imaging.pipelines.jobio import JobInputs
from core.imaging.pipelines.tryon import STAGES, TryOnPipeline, build_tryon_pipeline
from tests.pipeline.tryon_data import garment, person


@pytest.fixture(scope="module")
def pipeline(tiny_models: ModelSettings) -> TryOnPipeline:
    return build_tryon_pipeline(tiny_models)


def test_the_tiny_tier_runs_every_stage_and_keeps_what_it_does_not_paint(pipeline: TryOnPipeline) -> None:
    photo, shop = person("00035_00.jpg", 0.3), garment("09236_00.jpg", 0.3)
    stages: list[str] = []
    inputs = JobInputs(image=photo, extras={"garment": shop}, options={"seed": 3})
    first = pipeline.run_job(inputs, lambda stage, _fraction: stages.append(stage))
    assert first.image.size == photo.size and first.edit_mask.size == photo.size
    assert list(dict.fromkeys(stages)) == list(STAGES)

    outside = np.asarray(first.edit_mask) == 0
    assert outside.mean() > 0.3 and (np.asarray(first.edit_mask) == 255).mean() > 0.05
    assert (np.asarray(first.image)[outside] == np.asarray(photo)[outside]).all()

    again = pipeline.run_job(inputs)
    assert np.array_equal(np.asarray(again.image), np.asarray(first.image))
    assert not np.array_equal(np.asarray(first.image), np.asarray(photo))


def test_another_seed_paints_differently(pipeline: TryOnPipeline) -> None:
    photo, shop = person("00035_00.jpg", 0.3), garment("09236_00.jpg", 0.3)
    one = pipeline.run_job(JobInputs(image=photo, extras={"garment": shop}, options={"seed": 1})).image
    two = pipeline.run_job(JobInputs(image=photo, extras={"garment": shop}, options={"seed": 2})).image
    assert not np.array_equal(np.asarray(one), np.asarray(two))
    assert isinstance(one, Image.Image)
