"""The offline portrait parser on real photos, with the real MediaPipe models: what /suit keeps (face, hair)
and where the face's landmarks, the top of the head and the shoulders are."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from core.config import ModelSettings
from core.imaging.backends.base import Box, Face, Portrait
from core.imaging.backends.offline.detector import MediaPipeFaceDetector
from core.imaging.backends.offline.portrait import MediaPipePortraitParser, build_portrait_parser

PHOTOS = ["nm_001.jpg", "nm_003.jpg", "nm_010.jpg", "nm_024.jpg", "nm_027.jpg"]


@pytest.fixture(scope="module")
def detector() -> MediaPipeFaceDetector:
    return MediaPipeFaceDetector()


@pytest.fixture(scope="module")
def parser() -> MediaPipePortraitParser:
    return build_portrait_parser(ModelSettings(tier="offline"))


@pytest.fixture(scope="module")
def parsed(
    photo: Callable[[str], Image.Image], detector: MediaPipeFaceDetector, parser: MediaPipePortraitParser
) -> Callable[[str], tuple[Image.Image, Face, Portrait]]:
    cache: dict[str, tuple[Image.Image, Face, Portrait]] = {}

    def parse(name: str) -> tuple[Image.Image, Face, Portrait]:
        if name not in cache:
            image = photo(f"without_mask/{name}")
            faces = detector.detect(image)
            assert faces, f"no face found in {name}"
            cache[name] = (image, faces[0], parser.parse(image, faces[0]))
        return cache[name]

    return parse


def _at(mask: Image.Image, point: np.ndarray | tuple[float, float]) -> int:
    x, y = (int(round(float(v))) for v in point)
    return int(np.asarray(mask)[y, x])


@pytest.mark.parametrize("name", PHOTOS)
def test_keep_holds_the_face_and_not_the_chest(
    parsed: Callable[[str], tuple[Image.Image, Face, Portrait]], name: str
) -> None:
    image, face, portrait = parsed(name)
    assert face.landmarks is not None
    lm = face.landmarks
    assert portrait.keep.size == image.size and portrait.keep.mode == "L"
    assert portrait.person.size == image.size and portrait.person.mode == "L"
    for index in (468, 473, 1, 152, 10):  # irises, nose tip, chin, forehead
        assert _at(portrait.keep, lm[index]) == 255, f"landmark {index} not kept"
    # The clothes at the chest's centre under the chin are repainted, never kept.
    chin, forehead = lm[152], lm[10]
    below = min(chin[1] + 0.35 * (chin[1] - forehead[1]), image.height - 4)
    keep = np.asarray(portrait.keep)
    patch = keep[int(below) - 3 : int(below) + 4, int(chin[0]) - 3 : int(chin[0]) + 4]
    assert below > chin[1] + 10 and not patch.any()


@pytest.mark.parametrize("name", PHOTOS)
def test_the_person_covers_the_face(
    parsed: Callable[[str], tuple[Image.Image, Face, Portrait]], name: str
) -> None:
    _, face, portrait = parsed(name)
    assert face.landmarks is not None
    person = np.asarray(portrait.person)
    box = face.box
    centre = person[
        int(box.y0 + 0.3 * box.height) : int(box.y1 - 0.2 * box.height), int(box.x0) : int(box.x1)
    ]
    assert centre.mean() > 200
    assert person.min() < 50, "the background is not told from the person"


@pytest.mark.parametrize("name", PHOTOS)
def test_points_run_from_the_crown_down_to_the_chin(
    parsed: Callable[[str], tuple[Image.Image, Face, Portrait]], name: str
) -> None:
    _, _, p = parsed(name)
    left, right = p.eyes
    assert left[0] < right[0]
    eyes_y = (left[1] + right[1]) / 2
    assert p.crown[1] < eyes_y < p.nose[1] < p.chin[1]
    assert left[0] < p.nose[0] < right[0]


@pytest.mark.parametrize("name", PHOTOS)
def test_jaw_runs_left_to_right_through_the_chin(
    parsed: Callable[[str], tuple[Image.Image, Face, Portrait]], name: str
) -> None:
    _, _, p = parsed(name)
    jaw = np.asarray(p.jaw)
    assert jaw.ndim == 2 and jaw.shape[1] == 2 and len(jaw) >= 3
    assert jaw[0, 0] < p.chin[0] < jaw[-1, 0]
    assert np.min(np.linalg.norm(jaw - np.asarray(p.chin), axis=1)) < 1.0
    # Its ends (the ears) lie well above the chin.
    assert max(jaw[0, 1], jaw[-1, 1]) < p.chin[1] - 0.2 * (p.chin[1] - p.crown[1])


def test_a_head_cut_by_the_top_edge_has_its_crown_at_row_0(
    photo: Callable[[str], Image.Image], detector: MediaPipeFaceDetector, parser: MediaPipePortraitParser
) -> None:
    image = photo("without_mask/nm_001.jpg")
    face = detector.detect(image)[0]
    whole = parser.parse(image, face)
    assert whole.crown[1] > 5, "the uncut photo shows the top of the head"
    # Cut through the hair, halfway between the crown and the eyes.
    top = int(whole.crown[1] + 0.5 * (whole.eyes[0][1] - whole.crown[1]))
    cut = image.crop((0, top, image.width, image.height))
    cut_face = detector.detect(cut)[0]
    assert parser.parse(cut, cut_face).crown[1] == 0


def test_shoulders_are_found_when_the_photo_shows_them(
    parsed: Callable[[str], tuple[Image.Image, Face, Portrait]],
) -> None:
    _, _, p = parsed("nm_001.jpg")
    assert p.shoulders is not None
    (lx, ly), (rx, ry) = p.shoulders
    assert lx < p.chin[0] < rx
    assert ly > p.chin[1] and ry > p.chin[1]


def test_long_hair_below_the_chin_is_kept(
    parsed: Callable[[str], tuple[Image.Image, Face, Portrait]],
) -> None:
    """nm_027: long dark hair falls past the chin on both sides, over a light top."""
    image, face, p = parsed("nm_027.jpg")
    assert face.landmarks is not None
    keep = np.asarray(p.keep) > 0
    chin_y = int(p.chin[1])
    below = keep[chin_y + 5 : image.height]
    jaw = np.asarray(p.jaw)
    outside = np.zeros_like(below)
    outside[:, : int(jaw[0, 0])] = True
    outside[:, int(jaw[-1, 0]) :] = True
    assert (below & outside).sum() > 0.02 * outside.sum()


def test_a_face_without_landmarks_is_refused(
    photo: Callable[[str], Image.Image], parser: MediaPipePortraitParser
) -> None:
    image = photo("without_mask/nm_001.jpg")
    face = Face(box=Box(0, 0, image.width, image.height), score=1.0, landmarks=None)
    with pytest.raises(ValueError, match="landmarks"):
        parser.parse(image, face)
