"""/unmask on photos the offline tier was not tuned on: held-out faces (tests/pipeline/eval_set.py) wearing
mask templates in other colours, sizes and light, re-encoded as Telegram does; small, cut-off and tilted
faces; bare faces, and mouths covered by something that is not a mask.

The full figures are bench/bench_unmask_quality.py's; these few cases guard the properties behind them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from core.errors import UserError
from core.imaging.backends.offline import face_regions as fr
from core.imaging.pipelines.unmask import UnmaskPipeline
from tests.pipeline import eval_set
from tests.pipeline.mask_templates import Template, iou, put_on_mask

# Held-out faces x templates, with one fixed variant each (colour, size, light, blur, Telegram JPEG).
V = eval_set.Variant
CASES = [
    ("nm_004.jpg", "surgical", V("surgical", "black", False, 240.0, 0.8, 0.0, True)),
    ("nm_016.jpg", "KN95", V("KN95", "white", True, 180.0, 1.2, 0.0, True)),
    ("nm_024.jpg", "cloth", V("cloth", "pattern:floral_3.jpg", False, 420.0, 1.0, 1.0, True)),
    ("nm_036.jpg", "N95", V("N95", "navy", False, 120.0, 0.7, 0.0, True)),
    ("nm_040.jpg", "surgical_blue_left", V("surgical_blue_left", "as-is", True, 300.0, 1.0, 0.0, True)),
    ("nm_008.jpg", "cloth_right", V("cloth_right", "as-is", False, 700.0, 1.1, 0.0, True)),
]


@pytest.fixture(scope="module")
def textures(shared_dir: Path) -> dict[str, np.ndarray]:
    return eval_set.load_textures(shared_dir / "data" / "mask_templates")


def bare_face(
    pipeline: UnmaskPipeline, photo: Callable[[str], Image.Image], name: str
) -> tuple[Image.Image, np.ndarray]:
    """A held-out bare face and its face-mesh landmarks."""
    bare = photo(f"without_mask/{name}")
    landmarks = pipeline.detector.detect(bare)[0].landmarks
    assert landmarks is not None
    return bare, landmarks


@pytest.fixture(scope="module")
def cases(
    photo: Callable[[str], Image.Image],
    templates: dict[str, Template],
    textures: dict[str, np.ndarray],
    offline_pipeline: UnmaskPipeline,
) -> list[eval_set.EvalCase]:
    built = []
    for name, template, variant in CASES:
        assert name in eval_set.HELD_OUT_BARE
        bare, landmarks = bare_face(offline_pipeline, photo, name)
        masked = put_on_mask(
            bare, landmarks, eval_set.recoloured(templates[template], variant.colour, textures)
        )
        (image, original), truth, points = eval_set.augment(
            [masked.image, bare], masked.truth, landmarks, variant
        )
        built.append(
            eval_set.EvalCase(name, variant, image, original, truth, eval_set.face_from_landmarks(points))
        )
    return built


def test_every_held_out_case_is_found_segmented_and_repainted_only_where_the_mask_is(
    offline_pipeline: UnmaskPipeline, cases: list[eval_set.EvalCase]
) -> None:
    mask_ious, edit_ious, recalls = [], [], []
    for case in cases:
        result = offline_pipeline.run(case.image)
        edit = np.asarray(result.edit_mask) > 0
        mask_ious.append(iou(np.asarray(result.mask) > 0, case.truth))
        edit_ious.append(iou(edit, case.truth))
        recalls.append((edit & case.truth).sum() / case.truth.sum())
        unchanged = ~edit
        assert np.array_equal(np.asarray(result.image)[unchanged], np.asarray(case.image)[unchanged])
    print(
        f"mask IoU {np.round(mask_ious, 3)}, edit IoU {np.round(edit_ious, 3)}, recall {np.round(recalls, 3)}"
    )
    # The bench's targets are medians over hundreds of cases (0.88 / 0.80 / 0.98); six cases get a margin.
    assert np.median(mask_ious) >= 0.85 and min(mask_ious) >= 0.6
    assert np.median(edit_ious) >= 0.75
    assert np.median(recalls) >= 0.97


def test_the_fill_is_at_least_as_close_to_the_real_face_as_telea_given_the_true_mask(
    offline_pipeline: UnmaskPipeline, cases: list[eval_set.EvalCase]
) -> None:
    def psnr(image: Image.Image, case: eval_set.EvalCase) -> float:
        ys, xs = np.nonzero(case.truth)
        box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
        error = np.asarray(image, np.float64)[box] - np.asarray(case.original, np.float64)[box]
        return float(10 * np.log10(255.0**2 / max(1e-9, (error**2).mean())))

    ours, telea = [], []
    for case in cases:
        ours.append(psnr(offline_pipeline.run(case.image).image, case))
        hole = cv2.dilate(case.truth.astype(np.uint8), np.ones((3, 3), np.uint8))
        telea.append(
            psnr(Image.fromarray(cv2.inpaint(np.asarray(case.image), hole, 3, cv2.INPAINT_TELEA)), case)
        )
    print(f"PSNR in the mask box: Atelier {np.round(ours, 2)}, Telea {np.round(telea, 2)}")
    # Paired, case by case: over the whole held-out set the fill is ahead (medians 19.0 and 18.4 dB, behind
    # on respirators); six cases must not show the fill falling behind.
    assert np.median(np.subtract(ours, telea)) > -0.5


@pytest.mark.parametrize("template", ["surgical_right", "surgical_blue_left"])
def test_a_mask_seen_from_the_side_is_removed_with_its_flap_beyond_the_cheek(
    offline_pipeline: UnmaskPipeline,
    photo: Callable[[str], Image.Image],
    templates: dict[str, Template],
    textures: dict[str, np.ndarray],
    template: str,
) -> None:
    # The far side of a mask photographed at an angle sticks out past the cheek and the jaw: no fabric
    # may be left there.
    bare, landmarks = bare_face(offline_pipeline, photo, "nm_036.jpg")
    masked = put_on_mask(bare, landmarks, eval_set.recoloured(templates[template], "navy", textures))
    result = offline_pipeline.run(masked.image)
    edit = np.asarray(result.edit_mask) > 0
    recall = (edit & masked.truth).sum() / masked.truth.sum()
    assert recall >= 0.97, f"{recall:.3f} of the mask repainted"


@pytest.mark.parametrize(
    ("template", "least"),
    [
        # The white cartridges of a half-face respirator stick out beside both cheeks, in another colour
        # than its blue face piece (the outline of the face piece alone has an IoU of about 0.5).
        ("gas", 0.75),
        # Long dark hair hangs beside the cheeks, where filters would be: it must not be taken for them.
        ("cloth", 0.95),
    ],
)
def test_a_respirators_filters_are_part_of_the_mask_and_hair_beside_the_face_is_not(
    offline_pipeline: UnmaskPipeline,
    photo: Callable[[str], Image.Image],
    templates: dict[str, Template],
    template: str,
    least: float,
) -> None:
    bare, landmarks = bare_face(offline_pipeline, photo, "nm_004.jpg")
    masked = put_on_mask(bare, landmarks, templates[template])
    found = np.asarray(offline_pipeline.run(masked.image).mask) > 0
    assert iou(found, masked.truth) >= least


def test_a_small_face_in_a_large_photo_is_found(
    offline_pipeline: UnmaskPipeline, cases: list[eval_set.EvalCase]
) -> None:
    # A 70 px masked face in a 2400 x 1800 photo: a few pixels at the detectors' input size.
    case = cases[0]
    scale = 70.0 / case.face.box.width
    small = case.image.resize(
        (round(case.image.width * scale), round(case.image.height * scale)), Image.LANCZOS
    )
    photo = Image.new("RGB", (2400, 1800), (128, 120, 110))
    photo.paste(small, (1500, 900))
    faces = offline_pipeline.detector.detect(photo)
    assert len(faces) == 1
    box = faces[0].box
    assert (
        1500 <= (box.x0 + box.x1) / 2 <= 1500 + small.width
        and 900 <= (box.y0 + box.y1) / 2 <= 900 + small.height
    )


def test_a_face_filling_the_frame_with_its_chin_cut_off_is_found(
    offline_pipeline: UnmaskPipeline, cases: list[eval_set.EvalCase]
) -> None:
    case = cases[2]
    box = case.face.box
    side = 1.1 * max(box.width, box.height)
    cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
    tight = case.image.crop(
        (int(cx - side / 2), int(cy - 0.55 * side), int(cx + side / 2), int(cy + 0.4 * side))
    )
    result = offline_pipeline.run(tight.resize((1000, round(1000 * tight.height / tight.width))))
    assert len(result.faces) == 1


def test_a_tilted_head_is_found(offline_pipeline: UnmaskPipeline, cases: list[eval_set.EvalCase]) -> None:
    case = cases[1]
    assert offline_pipeline.detector.detect(case.image.rotate(35, resample=Image.BICUBIC, expand=True))


def test_a_photo_and_the_same_photo_sent_as_a_file_get_the_same_answer(
    offline_pipeline: UnmaskPipeline, photo: Callable[[str], Image.Image]
) -> None:
    # Telegram recompresses a photo (longest side <= 1280 for a normal photo, JPEG) and keeps a file as is.
    for name in ("with_mask/wm_008.jpg", "with_mask/wm_020.jpg", "without_mask/nm_012.jpg"):
        as_file = photo(name)
        as_photo = as_file.copy()
        as_photo.thumbnail((1280, 1280), Image.LANCZOS)
        as_photo = eval_set.telegram_reencode(as_photo)
        answers = []
        for image in (as_file, as_photo):
            try:
                answers.append(len(offline_pipeline.run(image).faces))
            except UserError as error:
                answers.append(error.key)
        assert answers[0] == answers[1], f"{name}: {answers}"


@pytest.mark.parametrize("name", ["nm_004.jpg", "nm_012.jpg", "nm_020.jpg", "nm_036.jpg"])
def test_a_bare_face_is_answered_no_mask(
    offline_pipeline: UnmaskPipeline, photo: Callable[[str], Image.Image], name: str
) -> None:
    with pytest.raises(UserError) as raised:
        offline_pipeline.run(eval_set.telegram_reencode(photo(f"without_mask/{name}")))
    assert raised.value.key == "unmask.no_mask"


def hand_over_mouth(image: Image.Image, landmarks: np.ndarray) -> Image.Image:
    """A hand held flat over the mouth and chin: skin of the person's own colour (from the forehead),
    fingers across the mouth with shaded creases between them."""
    rgb = np.asarray(image.convert("RGB")).astype(np.float32)
    unit = fr.eye_distance(landmarks)
    x, y = landmarks[151]
    r = max(2, int(0.08 * unit))
    tone = np.median(rgb[int(y) - r : int(y) + r, int(x) - r : int(x) + r].reshape(-1, 3), axis=0)
    centre = (landmarks[13] + landmarks[14]) / 2
    hand = np.zeros(rgb.shape[:2], np.float32)
    shade = np.ones(rgb.shape[:2], np.float32)
    axes = (int(0.75 * unit), int(0.45 * unit))
    cv2.ellipse(hand, (int(centre[0]), int(centre[1] + 0.1 * unit)), axes, 0, 0, 360, 1.0, -1)
    for k in range(4):
        top = int(centre[1] - 0.3 * unit + k * 0.22 * unit)
        cv2.rectangle(
            hand, (int(centre[0] - unit), top), (int(centre[0] + 0.6 * unit), top + int(0.18 * unit)), 1.0, -1
        )
        shade[top : top + max(1, int(0.03 * unit))] = 0.8
    # Light falls off across the hand from the fingertips to the palm.
    shade *= np.linspace(1.05, 0.92, rgb.shape[1], dtype=np.float32)[None, :]
    alpha = cv2.GaussianBlur(hand, (0, 0), max(1.0, 0.02 * unit))[..., None]
    out = rgb * (1 - alpha) + np.clip(tone * shade[..., None], 0, 255) * alpha
    return Image.fromarray(np.round(out).astype(np.uint8))


def bandana(image: Image.Image, landmarks: np.ndarray, texture: np.ndarray) -> Image.Image:
    """A printed scarf tied over the nose and hanging below the chin in a point."""
    rgb = np.asarray(image.convert("RGB")).copy()
    unit = fr.eye_distance(landmarks)
    jaw = fr.points(landmarks, fr.JAW)
    bridge = landmarks[197]
    outline = np.vstack(
        [
            jaw[:1],
            [jaw[0][0], bridge[1]],
            [jaw[-1][0], bridge[1]],
            jaw[-1:],
            [landmarks[fr.CHIN] + [0, 0.9 * unit]],
        ]
    )
    cloth = np.zeros(rgb.shape[:2], np.uint8)
    cv2.fillPoly(cloth, [np.round(outline).astype(np.int32)], 1)
    reps = (-(-rgb.shape[0] // texture.shape[0]), -(-rgb.shape[1] // texture.shape[1]), 1)
    pattern = np.tile(texture, reps)[: rgb.shape[0], : rgb.shape[1]]
    rgb[cloth > 0] = pattern[cloth > 0]
    return Image.fromarray(rgb)


@pytest.mark.parametrize("name", ["nm_004.jpg", "nm_024.jpg", "nm_040.jpg"])
def test_a_hand_or_a_bandana_over_the_mouth_counts_as_covered(
    offline_pipeline: UnmaskPipeline,
    photo: Callable[[str], Image.Image],
    textures: dict[str, np.ndarray],
    name: str,
) -> None:
    bare, landmarks = bare_face(offline_pipeline, photo, name)
    texture = textures["check_2.jpg"]
    threshold = offline_pipeline.params.mask_threshold
    for covered in (hand_over_mouth(bare, landmarks), bandana(bare, landmarks, texture)):
        faces = offline_pipeline.detector.detect(covered)
        assert faces
        assert offline_pipeline.mask_classifier.mask_probabilities(covered, faces[:1])[0] >= threshold
