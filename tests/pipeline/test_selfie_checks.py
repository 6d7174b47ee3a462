"""/train's selfie checks on real photos: a set of five different selfies of one person passes, and each
kind of bad photo is refused with its own message key.

The selfies are made from single photos of the shared set (``tests/selfie_photos.py``): mirrored, relit,
turned and reframed at about 1 megapixel. Distances measured here (printed with ``-s``): the five selfies of
nm_010 lie 0.17-0.28 apart; nm_002, another person, lies 0.81 from them; a re-encoded copy (JPEG 60, 0.7x) of
any of 18 photos lies 0.02-0.10 from its original, its face hash 0-3 bits away.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image

from core.config import TrainSettings
from core.errors import UserError
from core.imaging.backends.offline import face_regions as fr
from core.imaging.backends.offline.detector import MediaPipeFaceDetector
from dreambooth.selfies import CheckedSelfie, SelfieChecker, build_selfie_checker
from tests import selfie_photos as sp

PERSON, OTHER_PERSON = "without_mask/nm_010.jpg", "without_mask/nm_002.jpg"


@pytest.fixture(scope="module")
def checker() -> SelfieChecker:
    return build_selfie_checker(TrainSettings())


@pytest.fixture(scope="module")
def person(photo: Callable[[str], Image.Image]) -> Image.Image:
    return photo(PERSON)


def accept_all(checker: SelfieChecker, images: list[Image.Image], hashes: bool) -> list[CheckedSelfie]:
    accepted: list[CheckedSelfie] = []
    for image in images:
        accepted.append(
            checker.check(
                image,
                [a.embedding for a in accepted],
                [a.dhash for a in accepted] if hashes else None,
            )
        )
    return accepted


@pytest.mark.parametrize("hashes", [True, False], ids=["with-hashes", "embeddings-only"])
def test_five_different_selfies_of_one_person_are_accepted(
    checker: SelfieChecker, person: Image.Image, hashes: bool
) -> None:
    selfies = accept_all(checker, sp.selfie_set(person, 5), hashes)

    resolution = checker.params.resolution
    for selfie in selfies:
        assert selfie.aligned.size == (resolution, resolution) and selfie.aligned.mode == "RGB"
        assert selfie.landmarks.shape == (478, 2) and selfie.embedding.shape == (128,)
        assert selfie.face_px >= checker.params.min_face_px
        assert selfie.sharpness >= checker.params.min_sharpness
        # Eyes level, face centred, the whole face inside the crop.
        left = fr.points(selfie.landmarks, fr.LEFT_EYE).mean(axis=0)
        right = fr.points(selfie.landmarks, fr.RIGHT_EYE).mean(axis=0)
        assert abs(left[1] - right[1]) < 0.01 * resolution
        assert abs((left[0] + right[0]) / 2 - resolution / 2) < 0.08 * resolution
        assert selfie.landmarks.min() > 0 and selfie.landmarks.max() < resolution
    distances = [
        float(np.linalg.norm(a.embedding - b.embedding))
        for i, a in enumerate(selfies)
        for b in selfies[i + 1 :]
    ]
    print(f"pairwise distances of the set: {min(distances):.2f}-{max(distances):.2f}")


def test_the_crop_does_not_depend_on_the_photo_size(checker: SelfieChecker, person: Image.Image) -> None:
    large = sp.take(person, sp.LOOKS[0])
    small = large.resize((large.width // 2, large.height // 2), Image.Resampling.LANCZOS)
    a, b = checker.check(large, []), checker.check(small, [])
    assert abs(a.face_px - 2 * b.face_px) <= 0.03 * a.face_px
    assert np.abs(a.landmarks - b.landmarks).max() < 0.02 * checker.params.resolution


def rejection(
    checker: SelfieChecker, image: Image.Image, accepted: list[CheckedSelfie] | None = None
) -> UserError:
    accepted = accepted or []
    with pytest.raises(UserError) as caught:
        checker.check(image, [a.embedding for a in accepted], [a.dhash for a in accepted])
    return caught.value


def test_a_photo_without_a_face_is_refused(checker: SelfieChecker) -> None:
    assert rejection(checker, sp.no_face()).key == "train.selfie.no_face"


def test_two_people_are_refused(checker: SelfieChecker, photo: Callable[[str], Image.Image]) -> None:
    error = rejection(checker, sp.side_by_side(photo(PERSON), photo(OTHER_PERSON)))
    assert error.key == "train.selfie.several_faces" and error.params == {"count": 2}


def test_a_face_far_away_is_refused(checker: SelfieChecker, person: Image.Image) -> None:
    error = rejection(checker, sp.tiny_face(person))
    assert error.key == "train.selfie.too_small"
    assert error.params["min_px"] == 160 and 0 < error.params["face_px"] < 160


def test_a_blurred_photo_is_refused(checker: SelfieChecker, person: Image.Image) -> None:
    assert rejection(checker, sp.blurred(sp.take(person, sp.LOOKS[0]))).key == "train.selfie.blurry"


def test_a_masked_face_is_refused(checker: SelfieChecker, photo: Callable[[str], Image.Image]) -> None:
    assert rejection(checker, photo("with_mask/wm_016.jpg")).key == "train.selfie.masked"


def test_small_comes_before_blurry(checker: SelfieChecker, person: Image.Image) -> None:
    assert rejection(checker, sp.blurred(sp.tiny_face(person, 0.2), 0.004)).key == "train.selfie.too_small"


@pytest.mark.parametrize("name", [PERSON, OTHER_PERSON, "without_mask/nm_035.jpg"])
def test_the_same_photo_sent_again_is_a_duplicate(
    checker: SelfieChecker, photo: Callable[[str], Image.Image], name: str
) -> None:
    first = sp.take(photo(name), sp.LOOKS[1])
    accepted = checker.check(first, [])
    # Re-encoded and rescaled, as a messenger does: the embedding moves by up to ~0.1, the face hash by a
    # few bits.
    error = rejection(checker, sp.re_encoded(first), [accepted])
    assert error.key == "train.selfie.duplicate"


def test_without_hashes_a_resent_photo_is_a_duplicate_by_its_embedding(
    checker: SelfieChecker, person: Image.Image
) -> None:
    first = sp.take(person, sp.LOOKS[1])
    accepted = checker.check(first, [])
    with pytest.raises(UserError) as caught:
        checker.check(first.copy(), [accepted.embedding])
    assert caught.value.key == "train.selfie.duplicate"


def test_another_person_is_refused(
    checker: SelfieChecker, person: Image.Image, photo: Callable[[str], Image.Image]
) -> None:
    accepted = accept_all(checker, sp.selfie_set(person, 3), hashes=True)
    error = rejection(checker, sp.take(photo(OTHER_PERSON), sp.LOOKS[1]), accepted)
    assert error.key == "train.selfie.different_person"
    print(f"distance to the other person: {error.params['distance']}")
    assert error.params["distance"] > checker.params.same_person_distance


def test_checks_use_the_offline_components_whatever_the_tier(checker: SelfieChecker) -> None:
    assert isinstance(checker.detector, MediaPipeFaceDetector)
