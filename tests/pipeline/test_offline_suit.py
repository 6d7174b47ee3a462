"""/suit on the offline tier, on the real photos in ``../shared/data/faces/without_mask``.

Geometry is checked from the outside: the result is measured again with the offline detector and portrait
parser, and the head height and eye line must meet the format's rules. Face and hair pixels must be exactly
what the crop's own resampling makes of the input (``layout.transform.apply``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.config import ModelSettings
from core.errors import UserError
from core.imaging.backends import registry
from core.imaging.backends.base import FaceDetector, PortraitParser
from core.imaging.idphoto.catalog import MM_PER_INCH, SuitOptions, parse_suit_options
from core.imaging.pipelines.suit import SuitPipeline, build_suit_pipeline

OFFLINE = ModelSettings(tier="offline")
# What a photo of this set may legitimately be refused for (tilted heads, hair cut by the frame, ...).
FAIR_REFUSALS = {
    "suit.head_tilted",
    "suit.head_turned",
    "suit.head_cut_off",
    "suit.face_cut",
    "suit.low_resolution",
}
# Re-measuring a result with the landmark model is accurate to about a millimetre.
TOLERANCE_MM = 1.0


@pytest.fixture(scope="module")
def suit() -> SuitPipeline:
    return build_suit_pipeline(OFFLINE)


@pytest.fixture(scope="module")
def measure() -> tuple[FaceDetector, PortraitParser]:
    return registry.shared("detector", OFFLINE), registry.build("portrait_parser", OFFLINE)


def without_mask(shared_dir: Path) -> list[Path]:
    return sorted((shared_dir / "data" / "faces" / "without_mask").glob("*.jpg"))


@pytest.mark.parametrize("fmt", ["passport-35x45", "us-2x2in", "kr-resume-30x40"])
def test_results_meet_the_format_and_keep_face_and_hair_untouched(
    suit: SuitPipeline,
    measure: tuple[FaceDetector, PortraitParser],
    shared_dir: Path,
    fmt: str,
) -> None:
    detector, parser = measure
    options = parse_suit_options([fmt])
    rules = options.id_format
    px_per_mm = options.dpi / MM_PER_INCH
    made, refused = 0, {}
    for path in without_mask(shared_dir):
        photo = Image.open(path).convert("RGB")
        try:
            result = suit.run(photo, options=options)
        except UserError as error:
            refused[path.name] = error.key
            continue
        made += 1
        assert result.image.size == rules.pixels(options.dpi), path.name

        # Face and hair: exactly the input, through the crop's resampling.
        keep = np.asarray(result.keep_mask) > 0
        expected = np.asarray(result.layout.transform.apply(photo, fill=options.background_rgb))
        assert keep.mean() > 0.15, path.name
        assert np.array_equal(np.asarray(result.image)[keep], expected[keep]), path.name

        # Measured again from the result alone.
        faces = detector.detect(result.image)
        assert len(faces) == 1, path.name
        again = parser.parse(result.image, faces[0])
        head_mm = (again.chin[1] - again.crown[1]) / px_per_mm
        assert rules.head_mm[0] - TOLERANCE_MM <= head_mm <= rules.head_mm[1] + TOLERANCE_MM, path.name
        if rules.eyes_from_bottom_mm is not None:
            eyes_mm = (result.image.height - np.mean([y for _, y in again.eyes])) / px_per_mm
            low, high = rules.eyes_from_bottom_mm
            assert low - TOLERANCE_MM <= eyes_mm <= high + TOLERANCE_MM, path.name
    assert set(refused.values()) <= FAIR_REFUSALS, refused
    assert made >= 25, refused


def test_the_clothes_are_painted_and_the_background_is_plain(
    suit: SuitPipeline, photo: Callable[[str], Image.Image]
) -> None:
    options = parse_suit_options(["grey", "3x4"])
    result = suit.run(photo("without_mask/nm_001.jpg"), options=options)
    pixels = np.asarray(result.image).astype(int)
    grey = np.array(options.background_rgb)
    # Top corners: plain background; bottom centre-left: the navy jacket.
    assert np.abs(pixels[:20, :20] - grey).max() == 0 and np.abs(pixels[:20, -20:] - grey).max() == 0
    h, w = pixels.shape[:2]
    jacket = pixels[int(0.93 * h) :, int(0.1 * w) : int(0.3 * w)].reshape(-1, 3).mean(axis=0)
    assert np.abs(jacket - np.array(options.suit_style.rgb)).max() < 40
    assert result.sheet.size == (1200, 1800) or result.sheet.size == (1800, 1200)
    edited = np.asarray(result.edit_mask) > 0
    assert np.array_equal(edited, ~(np.asarray(result.keep_mask) > 0))


def test_600_dpi_and_every_format_give_their_pixel_size(
    suit: SuitPipeline, photo: Callable[[str], Image.Image]
) -> None:
    portrait = photo("without_mask/nm_003.jpg")
    for words in (["600"], ["kr-passport"], ["us"], ["3x4", "women", "blue"]):
        options = parse_suit_options(words)
        result = suit.run(portrait, options=options)
        assert result.image.size == options.id_format.pixels(options.dpi)


def two_people(photo: Callable[[str], Image.Image]) -> Image.Image:
    left, right = photo("without_mask/nm_001.jpg"), photo("without_mask/nm_003.jpg")
    both = Image.new("RGB", (left.width + right.width, max(left.height, right.height)), "white")
    both.paste(left, (0, 0))
    both.paste(right, (left.width, 0))
    return both


def cut_by_the_frame(photo: Callable[[str], Image.Image]) -> Image.Image:
    image = photo("without_mask/nm_001.jpg")
    return image.crop((image.width // 3, 0, image.width, image.height))


def tiny_face(photo: Callable[[str], Image.Image]) -> Image.Image:
    small = photo("without_mask/nm_001.jpg").resize((48, 64), Image.Resampling.LANCZOS)
    canvas = Image.new("RGB", (400, 400), (200, 200, 200))
    canvas.paste(small, (176, 168))
    return canvas


@pytest.mark.parametrize(
    ("make", "key"),
    [
        (lambda photo: Image.new("RGB", (320, 400), (120, 160, 90)), "suit.no_face"),
        (two_people, "suit.several_faces"),
        (cut_by_the_frame, "suit.face_cut"),
        (tiny_face, "suit.face_too_small"),
        (lambda photo: photo("without_mask/nm_015.jpg"), "suit.head_cut_off"),
        (lambda photo: photo("without_mask/nm_011.jpg"), "suit.head_tilted"),
    ],
    ids=["no-face", "two-faces", "cut-by-frame", "tiny-face", "top-cut-off", "tilted"],
)
def test_bad_photos_get_a_specific_reason(
    suit: SuitPipeline,
    photo: Callable[[str], Image.Image],
    make: Callable[[Callable[[str], Image.Image]], Image.Image],
    key: str,
) -> None:
    with pytest.raises(UserError) as refused:
        suit.run(make(photo), options=SuitOptions.defaults())
    assert refused.value.key == key
    refused.value.render("ko")  # every reason has its sentence in both languages
