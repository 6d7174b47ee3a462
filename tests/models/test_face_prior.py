"""The offline tier's face prior with the real generator (MobileStyleGAN on OpenVINO), a bank of two faces
cached in a temporary folder: built once, loaded from disk the second time, and a donor chosen by pose."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.config import ModelSettings
from core.imaging.backends.base import ReferenceFace
from core.imaging.backends.offline import face_regions as fr
from core.imaging.backends.offline import face_transplant
from core.imaging.backends.offline.detector import MediaPipeFaceDetector
from core.imaging.backends.offline.face_prior import MAX_DONOR_POSE_ERROR, StyleGanFacePrior, build_face_prior

BANK = 2


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Where build_face_prior puts the bank for ModelSettings(cache_dir=<its parent>).
    return tmp_path_factory.mktemp("models") / "face-prior"


@pytest.fixture(scope="module")
def built(cache_dir: Path) -> tuple[StyleGanFacePrior, float]:
    started = time.perf_counter()
    prior = build_face_prior(ModelSettings(face_prior="stylegan", face_prior_bank=BANK), cache_dir)
    assert prior is not None
    return prior, time.perf_counter() - started


def test_unmask_with_the_prior_paints_a_donor_face_and_touches_nothing_else(
    built: tuple[StyleGanFacePrior, float], cache_dir: Path, shared_data: Path
) -> None:
    from core.imaging.pipelines.unmask import build_unmask_pipeline

    # A frontal face: both donors of the test bank are posed closely enough for it.
    photo = Image.open(shared_data / "faces" / "with_mask" / "wm_028.jpg").convert("RGB")
    plain = build_unmask_pipeline(ModelSettings(tier="offline")).run(photo)
    models = ModelSettings(
        tier="offline", face_prior="stylegan", face_prior_bank=BANK, cache_dir=cache_dir.parent
    )
    with_prior = build_unmask_pipeline(models).run(photo)
    outside = np.asarray(with_prior.edit_mask) == 0
    assert np.array_equal(np.asarray(with_prior.image)[outside], np.asarray(photo)[outside])
    inside = ~outside
    changed = np.abs(np.asarray(with_prior.image, np.int16) - np.asarray(plain.image, np.int16)).max(axis=-1)
    # The donor's mouth and chin replace the plain fill over much of the mask.
    assert (changed[inside] > 8).mean() > 0.2


def below_the_nose(donor: ReferenceFace) -> np.ndarray:
    assert donor.image is not None
    hole = np.zeros((donor.image.height, donor.image.width), bool)
    hole[int(donor.landmarks[fr.NOSE_TIP][1]) :] = True
    return hole


def test_the_prior_is_off_by_default(tmp_path: Path) -> None:
    assert build_face_prior(ModelSettings(), tmp_path) is None
    assert not any(tmp_path.iterdir())


def test_the_bank_holds_generated_faces_with_their_mesh_and_embedding(
    built: tuple[StyleGanFacePrior, float],
) -> None:
    prior, _ = built
    assert not prior.loaded_from_cache
    assert len(prior.donors) == BANK
    for donor in prior.donors:
        assert donor.image is not None and donor.image.mode == "RGB"
        assert donor.image.size == (512, 512)
        assert donor.landmarks.shape == (478, 2)
        # The face is inside the picture, and its mesh is not degenerate.
        assert (donor.landmarks >= 0).all() and (donor.landmarks <= 512).all()
        assert fr.eye_distance(donor.landmarks) > 60
        assert donor.embedding.shape == (128,) and np.isfinite(donor.embedding).all()
    # Different seeds, different people.
    embeddings = [donor.embedding for donor in prior.donors]
    distances = [float(np.linalg.norm(a - b)) for i, a in enumerate(embeddings) for b in embeddings[i + 1 :]]
    assert min(distances) > 0.3


def test_a_second_start_loads_the_same_bank_from_disk(
    built: tuple[StyleGanFacePrior, float], cache_dir: Path
) -> None:
    prior, _ = built
    again = build_face_prior(ModelSettings(face_prior="stylegan", face_prior_bank=BANK), cache_dir)
    assert again is not None and again.loaded_from_cache
    for first, second in zip(prior.donors, again.donors, strict=True):
        assert first.image is not None and second.image is not None
        assert np.array_equal(np.asarray(first.image), np.asarray(second.image))
        np.testing.assert_array_equal(first.landmarks, second.landmarks)
        np.testing.assert_array_equal(first.embedding, second.embedding)
    # Loading wrote nothing new.
    assert len(list(cache_dir.glob("stylegan-*"))) == 1


def test_a_face_is_its_own_best_donor(built: tuple[StyleGanFacePrior, float]) -> None:
    prior, _ = built
    for donor in prior.donors:
        assert donor.image is not None
        assert prior.donor(donor.image, donor.landmarks, below_the_nose(donor)) is donor


def test_a_covered_frontal_photo_gets_a_donor_posed_like_it(
    built: tuple[StyleGanFacePrior, float], shared_data: Path
) -> None:
    prior, _ = built
    photo = Image.open(shared_data / "faces" / "without_mask" / "nm_002.jpg").convert("RGB")
    landmarks = MediaPipeFaceDetector().detect(photo)[0].landmarks
    assert landmarks is not None
    # Everything below the nose painted over in mask blue, as a mask would hide it.
    hole = np.zeros((photo.height, photo.width), bool)
    hole[int(landmarks[fr.NOSE_TIP][1]) :] = True
    covered = np.asarray(photo).copy()
    covered[hole] = (90, 150, 200)
    donor = prior.donor(Image.fromarray(covered), landmarks, hole)
    assert donor is not None
    assert face_transplant.pose_error(landmarks, donor.landmarks) <= MAX_DONOR_POSE_ERROR


def test_no_donor_for_a_pose_none_of_them_has(built: tuple[StyleGanFacePrior, float]) -> None:
    prior, _ = built
    donor = prior.donors[0]
    assert donor.image is not None
    # The same face squeezed to 40 % of its width: as if turned far beyond any bank face.
    squeezed = donor.landmarks.copy()
    centre = squeezed[:, 0].mean()
    squeezed[:, 0] = centre + 0.4 * (squeezed[:, 0] - centre)
    assert prior.donor(donor.image, squeezed, below_the_nose(donor)) is None


def test_a_hole_of_the_wrong_size_is_refused(built: tuple[StyleGanFacePrior, float]) -> None:
    prior, _ = built
    donor = prior.donors[0]
    assert donor.image is not None
    with pytest.raises(ValueError, match="hole"):
        prior.donor(donor.image, donor.landmarks, np.zeros((10, 10), bool))
