"""Each offline step on real photos, and the /unmask pipeline's user errors, progress and timings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.config import ModelSettings
from core.errors import UserError
from core.imaging.backends.base import Box, Face, InpaintRequest
from core.imaging.backends.offline import face_regions as fr
from core.imaging.backends.offline.detector import MediaPipeFaceDetector
from core.imaging.backends.offline.inpainter import ClassicalInpainter
from core.imaging.backends.offline.mask_classifier import LandmarkMaskClassifier
from core.imaging.backends.offline.segmenter import LandmarkGrabCutSegmenter
from core.imaging.backends.offline.upscaler import LanczosUpscaler
from core.imaging.pipelines.unmask import STAGES, UnmaskPipeline, build_unmask_pipeline
from core.messages import t


@pytest.fixture(scope="module")
def photo(shared_data: Path) -> Callable[[str], Image.Image]:
    return lambda name: Image.open(shared_data / "faces" / name).convert("RGB")


@pytest.fixture(scope="module")
def detector() -> MediaPipeFaceDetector:
    return MediaPipeFaceDetector()


@pytest.fixture(scope="module")
def pipeline() -> UnmaskPipeline:
    return build_unmask_pipeline(ModelSettings(tier="offline"))


@pytest.fixture(scope="module")
def masked(photo: Callable[[str], Image.Image], detector: MediaPipeFaceDetector) -> tuple[Image.Image, Face]:
    image = photo("with_mask/wm_019.jpg")
    return image, detector.detect(image)[0]


def test_detector_returns_the_face_with_478_landmarks_inside_its_box(
    photo: Callable[[str], Image.Image], detector: MediaPipeFaceDetector
) -> None:
    image = photo("with_mask/wm_003.jpg")
    faces = detector.detect(image)

    assert len(faces) == 1
    face = faces[0]
    assert face.score >= 0.5 and face.landmarks is not None and face.landmarks.shape == (478, 2)
    centre = face.landmarks.mean(axis=0)
    assert face.box.x0 < centre[0] < face.box.x1 and face.box.y0 < centre[1] < face.box.y1
    # Anatomy, not noise: the eyes above the nose tip, the nose tip above the chin.
    assert face.landmarks[fr.LEFT_EYE_OUTER][1] < face.landmarks[fr.NOSE_TIP][1] < face.landmarks[fr.CHIN][1]


def test_detector_finds_nothing_on_a_landscape(detector: MediaPipeFaceDetector) -> None:
    assert detector.detect(landscape()) == []


def test_classifier_tells_a_masked_face_from_a_bare_one(
    photo: Callable[[str], Image.Image], detector: MediaPipeFaceDetector
) -> None:
    classifier = LandmarkMaskClassifier()
    scores = {}
    for name in (
        "with_mask/wm_016.jpg",
        "with_mask/wm_039.jpg",
        "without_mask/nm_001.jpg",
        "without_mask/nm_020.jpg",
    ):
        image = photo(name)
        scores[name] = classifier.mask_probabilities(image, detector.detect(image)[:1])[0]
    assert scores["with_mask/wm_016.jpg"] > 0.8 and scores["with_mask/wm_039.jpg"] > 0.8
    assert scores["without_mask/nm_001.jpg"] < 0.2 and scores["without_mask/nm_020.jpg"] < 0.2


def test_classifier_gives_zero_for_a_face_without_landmarks(photo: Callable[[str], Image.Image]) -> None:
    face = Face(box=Box(0, 0, 50, 50), score=0.9)
    assert LandmarkMaskClassifier().mask_probabilities(photo("with_mask/wm_016.jpg"), [face]) == [0.0]


def test_segmenter_covers_mouth_and_chin_but_not_the_eyes(masked: tuple[Image.Image, Face]) -> None:
    image, face = masked
    assert face.landmarks is not None
    mask = LandmarkGrabCutSegmenter().segment(image, face)

    assert mask.mode == "L" and mask.size == image.size
    covered = np.asarray(mask) > 127

    def at(index: int) -> bool:
        x, y = face.landmarks[index]
        return bool(covered[int(y), int(x)])

    assert all(at(i) for i in (0, 17, 61, 291, fr.NOSE_TIP))
    assert not any(at(i) for i in (*fr.LEFT_EYE, *fr.RIGHT_EYE, 9, 151))
    face_area = face.box.width * face.box.height
    assert 0.2 * face_area < covered.sum() < 1.2 * face_area


def test_inpainter_repaints_only_the_hole_and_is_seeded(masked: tuple[Image.Image, Face]) -> None:
    image, face = masked
    hole = LandmarkGrabCutSegmenter().segment(image, face)
    inpainter = ClassicalInpainter()
    calls: list[float] = []

    def paint(seed: int) -> np.ndarray:
        calls.clear()
        request = InpaintRequest(seed=seed, landmarks=face.landmarks)
        return np.asarray(inpainter.inpaint(image, hole, request, calls.append))

    first, again, other = paint(1), paint(1), paint(2)
    inside = np.asarray(hole) > 127
    assert np.array_equal(first[~inside], np.asarray(image)[~inside])
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)  # the skin grain follows the seed
    assert calls == sorted(calls) and calls[-1] == 1.0
    # The light-blue surgical mask is gone: the hole is now warm (skin), not blue.
    hue_before = np.asarray(image)[inside].mean(axis=0)
    hue_after = first[inside].mean(axis=0)
    assert hue_before[2] > hue_before[0] and hue_after[0] > hue_after[2] + 15


def test_inpainter_works_without_landmarks(masked: tuple[Image.Image, Face]) -> None:
    image, face = masked
    hole = LandmarkGrabCutSegmenter().segment(image, face)
    painted = np.asarray(ClassicalInpainter().inpaint(image, hole, InpaintRequest(), lambda _: None))
    inside = np.asarray(hole) > 127
    assert np.array_equal(painted[~inside], np.asarray(image)[~inside])
    assert painted[inside].mean(axis=0)[0] > painted[inside].mean(axis=0)[2]


def test_upscaler_multiplies_the_size() -> None:
    image = Image.new("RGB", (30, 20), (10, 20, 30))
    assert LanczosUpscaler().upscale(image, 3).size == (90, 60)
    assert LanczosUpscaler().upscale(image, 1).size == (30, 20)
    with pytest.raises(ValueError):
        LanczosUpscaler().upscale(image, 0)


def landscape() -> Image.Image:
    """Sky, hills and grass with a little noise: a photo with no face in it."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:360, 0:480].astype(np.float32)
    horizon = 200 + 25 * np.sin(xx / 60.0)
    sky = np.dstack([110 + yy / 3, 160 + yy / 4, 235 - yy / 8])
    grass = np.dstack([60 + 0 * yy, 120 - (yy - 200) / 4, 40 + 0 * yy])
    rgb = np.where((yy < horizon)[..., None], sky, grass) + rng.normal(0, 4, (360, 480, 3))
    return Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), "RGB")


def test_pipeline_refuses_a_photo_without_a_face(pipeline: UnmaskPipeline) -> None:
    with pytest.raises(UserError) as caught:
        pipeline.run(landscape())
    assert caught.value.key == "unmask.no_face"


def test_pipeline_refuses_a_face_without_a_mask(
    pipeline: UnmaskPipeline, photo: Callable[[str], Image.Image]
) -> None:
    with pytest.raises(UserError) as caught:
        pipeline.run(photo("without_mask/nm_002.jpg"))
    assert caught.value.key == "unmask.no_mask"


def test_pipeline_refuses_a_face_too_small_to_work_on(
    pipeline: UnmaskPipeline, photo: Callable[[str], Image.Image]
) -> None:
    image = photo("with_mask/wm_020.jpg")  # a 1500 px portrait, face about 630 px
    small = image.resize((70, 70), Image.Resampling.LANCZOS)  # face about 30 px

    with pytest.raises(UserError) as caught:
        pipeline.run(small)

    assert caught.value.key == "unmask.face_too_small"
    assert caught.value.params["min_px"] == 40 and 20 <= caught.value.params["face_px"] < 40
    assert "40" in caught.value.render("en")


def test_pipeline_reports_progress_and_timings_per_stage(
    pipeline: UnmaskPipeline, photo: Callable[[str], Image.Image]
) -> None:
    seen: list[tuple[str, float]] = []
    result = pipeline.run(photo("with_mask/wm_017.jpg"), progress=lambda key, done: seen.append((key, done)))

    fractions = [done for _, done in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert [key for key in dict.fromkeys(k for k, _ in seen)] == list(STAGES)
    assert all(t(f"stage.{key}", "en") != f"stage.{key}" for key in STAGES)
    assert set(result.timings) == set(STAGES) and all(v >= 0 for v in result.timings.values())
    # A 137 px face is enlarged before inpainting.
    assert result.faces[0].upscale == 2


def test_pipeline_rejects_a_non_rgb_image(pipeline: UnmaskPipeline) -> None:
    with pytest.raises(ValueError):
        pipeline.run(Image.new("L", (64, 64)))


def test_what_crosses_the_holes_edge_runs_on_into_it() -> None:
    # Skin with a dark stripe (a shadow, a strand of hair, the jaw's edge against a dark collar) that enters
    # the hole from above: just inside the edge the stripe goes on; deep inside, the painted skin takes over.
    rgb = np.zeros((240, 240, 3), np.uint8)
    rgb[:] = (200, 150, 125)
    rgb[:, 110:130] = (60, 40, 35)
    hole = np.zeros((240, 240), np.uint8)
    hole[80:200, 40:200] = 255
    painted = np.asarray(
        ClassicalInpainter().inpaint(
            Image.fromarray(rgb, "RGB"), Image.fromarray(hole, "L"), InpaintRequest(), lambda _: None
        )
    ).astype(np.float32)
    stripe_inside = painted[81:84, 114:126].mean(axis=(0, 1))
    skin_inside = painted[81:84, 60:80].mean(axis=(0, 1))
    centre = painted[130:150, 60:80].mean(axis=(0, 1))
    # Red channel: stripe 60, skin 200; just inside the edge each stays nearer its own colour.
    assert stripe_inside[0] < 130 < skin_inside[0]
    assert centre[0] > 160
