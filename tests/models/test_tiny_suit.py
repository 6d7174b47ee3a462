"""/suit end to end on the tiny tier: the production pipeline with the standard tier's classes around tiny
random models (SegFormer face parsing, SD inpainting, Paint-by-Example). Their pixels are noise; this checks
that every stage runs and the invariants hold: format size, keep pixels, determinism, progress.

The face comes from the offline detector: the tiny YOLO's random box sits in the photo's corner, which the
pipeline rightly refuses as a head cut off by the frame (shown below)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.config import ModelSettings
from core.errors import UserError
from core.imaging.backends import registry
from core.imaging.idphoto.catalog import parse_suit_options
from core.imaging.idphoto.layout import LayoutLimits
from core.imaging.pipelines.jobio import JobInputs
from core.imaging.pipelines.suit import SuitPipeline, build_suit_pipeline


@pytest.fixture(scope="module")
def pipeline(tiny_models: ModelSettings) -> SuitPipeline:
    built = build_suit_pipeline(tiny_models)
    # Random face parsing puts the eyes at any angle: do not refuse the pose (the pose checks are tested on
    # the offline tier, with real landmarks).
    anything = LayoutLimits(max_roll_deg=90.0, max_yaw=1e9, max_upscale=1e9)
    return SuitPipeline(
        detector=registry.shared("detector", ModelSettings(tier="offline")),
        parser=built.parser,
        painter=built.painter,
        params=dataclasses.replace(built.params, limits=anything),
    )


def test_the_tiny_detectors_corner_box_is_refused_as_cut_off(
    tiny_models: ModelSettings, selfie: Image.Image
) -> None:
    with pytest.raises(UserError) as refused:
        build_suit_pipeline(tiny_models).run(selfie)
    assert refused.value.key in ("suit.face_cut", "suit.several_faces", "suit.head_cut_off")


@pytest.fixture(scope="module")
def selfie(shared_data: Path) -> Image.Image:
    """A real selfie on a wider canvas: random face parsing marks "hair" anywhere in its crop around the
    face, and that crop must not reach the top of the photo."""
    photo = Image.open(shared_data / "faces" / "without_mask" / "nm_001.jpg").convert("RGB")
    framed = Image.new("RGB", (photo.width * 3, photo.height * 2), (235, 235, 235))
    framed.paste(photo, (photo.width, photo.height))
    return framed


def test_the_tiny_tier_runs_every_stage(pipeline: SuitPipeline, selfie: Image.Image) -> None:
    events: list[tuple[str, float]] = []
    options = parse_suit_options(["3x4"])
    result = pipeline.run(selfie, options=options, progress=lambda stage, f: events.append((stage, f)))
    assert result.image.size == options.id_format.pixels(300) and result.image.mode == "RGB"
    keep = np.asarray(result.keep_mask) > 0
    expected = np.asarray(result.layout.transform.apply(selfie, fill=options.background_rgb))
    assert np.array_equal(np.asarray(result.image)[keep], expected[keep])
    assert set(result.timings) == {"detect", "parse", "layout", "background", "paint", "composite", "sheet"}
    fractions = [f for _, f in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert sum(stage == "paint" for stage, _ in events) > 2  # diffusion steps report inside "paint"


def test_same_seed_same_suit_and_the_example_suit_path(pipeline: SuitPipeline, selfie: Image.Image) -> None:
    resume = parse_suit_options(["3x4"])  # no eye-line rule: random eyes can be anywhere
    first = pipeline.run(selfie, options=resume, seed=3)
    again = pipeline.run(selfie, options=resume, seed=3)
    other = pipeline.run(selfie, options=resume, seed=4)
    assert np.array_equal(np.asarray(first.image), np.asarray(again.image))
    assert not np.array_equal(np.asarray(first.image), np.asarray(other.image))

    example = Image.new("RGB", (96, 128), (150, 30, 40))
    outputs = pipeline.run_job(JobInputs(selfie, {"format": "kr-resume-30x40"}, {"exemplar": example}))
    assert outputs.dpi == 300 and set(outputs.extras) == {"sheet"}
    plain = pipeline.run_job(JobInputs(selfie, {"format": "kr-resume-30x40"}))
    assert not np.array_equal(np.asarray(outputs.image), np.asarray(plain.image))
