"""Invariants of core.imaging.compositing on small synthetic images (seeded)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFilter

from core.imaging import compositing


def noise_image(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB")


def disc_mask(size: tuple[int, int], centre: tuple[int, int], radius: int) -> Image.Image:
    mask = Image.new("L", size, 0)
    x, y = centre
    ImageDraw.Draw(mask).ellipse((x - radius, y - radius, x + radius, y + radius), fill=255)
    return mask


@pytest.mark.parametrize(
    ("centre", "radius"),
    [((100, 80), 20), ((5, 5), 12), ((195, 155), 15), ((100, 3), 30), ((100, 80), 79)],
)
def test_crop_box_holds_the_mask_and_stays_inside_the_image(centre: tuple[int, int], radius: int) -> None:
    mask = disc_mask((200, 160), centre, radius)
    box = compositing.crop_box_around(mask, margin=0.35)

    assert 0 <= box.x0 < box.x1 <= 200 and 0 <= box.y0 < box.y1 <= 160
    bx0, by0, bx1, by1 = mask.getbbox() or (0, 0, 0, 0)
    assert box.x0 <= bx0 and box.y0 <= by0 and box.x1 >= bx1 and box.y1 >= by1


def test_crop_box_is_square_with_the_margin_when_the_image_has_room() -> None:
    mask = disc_mask((400, 300), (150, 160), 20)  # bounding box 41 px
    box = compositing.crop_box_around(mask, margin=0.5)
    assert box.width == box.height == 41 + 2 * 21


def test_crop_box_takes_in_the_whole_face_when_asked() -> None:
    mask = disc_mask((400, 300), (150, 180), 20)
    box = compositing.crop_box_around(mask, margin=0.1, include=(120.0, 90.0, 180.5, 170.0))
    assert box.x0 <= 120 and box.y0 <= 90 and box.x1 >= 181 and box.y1 >= 201
    assert box.width == box.height


def test_crop_box_of_an_empty_mask_is_an_error() -> None:
    with pytest.raises(ValueError):
        compositing.crop_box_around(Image.new("L", (50, 50), 0))


def test_dilate_grows_the_mask_by_the_radius_in_every_direction() -> None:
    mask = disc_mask((120, 120), (60, 60), 20)
    grown = np.asarray(compositing.dilate(mask, 6)) > 0
    original = np.asarray(mask) > 0

    assert (grown | ~original).all()  # contains the original
    ys, xs = np.nonzero(grown)
    assert xs.min() == 60 - 26 and xs.max() == 60 + 26 and ys.min() == 60 - 26 and ys.max() == 60 + 26


def test_feather_is_zero_outside_and_rises_monotonically_inward() -> None:
    mask = disc_mask((120, 120), (60, 60), 40)
    alpha = compositing.feather(mask, 10)

    assert (alpha[np.asarray(mask) == 0] == 0).all()
    assert alpha[60, 60] == pytest.approx(1.0)
    ray = alpha[60, 10:61]  # from outside the disc to its centre
    assert (np.diff(ray) >= 0).all()
    assert 0 < alpha[60, 25] < 1  # inside the 10-pixel band the weight is partial


def test_paste_back_changes_nothing_outside_the_dilated_mask() -> None:
    base = noise_image(160, 120, seed=1)
    mask = disc_mask(base.size, (70, 60), 18)
    crop = compositing.cut_face_crop(base, mask, dilate_px=4)
    # A "model" that repaints the whole crop, ring included, with a colour cast.
    painted = noise_image(crop.box.width, crop.box.height, seed=2)

    result = compositing.paste_back(base, painted, crop.box, crop.mask, feather_px=4, ring_px=10)

    assert result.image.size == base.size and result.image.mode == "RGB"
    outside = np.asarray(result.edit_mask) == 0
    assert np.array_equal(np.asarray(result.image)[outside], np.asarray(base)[outside])
    expected = np.asarray(compositing.dilate(mask, 4)) > 0
    assert np.array_equal(np.asarray(result.edit_mask) > 0, expected)
    assert (np.asarray(result.image)[expected] != np.asarray(base)[expected]).any()


def test_cut_face_crop_equals_dilating_the_whole_mask_then_cropping() -> None:
    mask = disc_mask((200, 150), (30, 120), 25)
    crop = compositing.cut_face_crop(noise_image(200, 150), mask, dilate_px=7)
    whole = compositing.dilate(mask, 7).crop(crop.box.as_tuple())
    assert np.array_equal(np.asarray(crop.mask), np.asarray(whole))


def test_colour_match_pulls_a_colour_cast_back_toward_the_ring() -> None:
    yy, xx = np.mgrid[0:80, 0:80]
    original = np.dstack([120 + xx, 90 + yy // 2, 70 + (xx + yy) // 4]).astype(np.uint8)
    cast = np.clip(original.astype(int) * [1.0, 0.8, 1.3] + [25, -10, 30], 0, 255).astype(np.uint8)
    region = np.asarray(disc_mask((80, 80), (40, 40), 20)) > 0
    ring = compositing.ring_around(region, 8)

    matched = compositing.match_colour(cast, original, region, ring)

    def lab_mean(image: np.ndarray, where: np.ndarray) -> np.ndarray:
        return cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)[where].mean(axis=0)

    before = np.linalg.norm(lab_mean(cast, region) - lab_mean(original, region))
    after = np.linalg.norm(lab_mean(matched, region) - lab_mean(original, region))
    assert after < 0.25 * before
    assert np.array_equal(matched[~region], cast[~region])  # only the region is corrected


def test_colour_match_maps_the_painted_ring_onto_the_original_ring() -> None:
    rng = np.random.default_rng(3)
    original = rng.integers(60, 200, (60, 60, 3), dtype=np.uint8)
    painted = np.clip(original.astype(int) + [30, -20, 10], 0, 255).astype(np.uint8)
    ring = compositing.ring_around(np.asarray(disc_mask((60, 60), (30, 30), 15)) > 0, 6)

    # Correcting the ring itself must reproduce the original ring's Lab statistics.
    matched = compositing.match_colour(painted, original, ring, ring)

    lab = [cv2.cvtColor(a.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)[ring] for a in (matched, original)]
    assert np.allclose(lab[0].mean(axis=0), lab[1].mean(axis=0), atol=1.0)
    assert np.allclose(lab[0].std(axis=0), lab[1].std(axis=0), atol=1.0)


def test_colour_match_leaves_an_undrifted_paint_alone() -> None:
    original = np.asarray(noise_image(40, 40))
    painted = original.copy()
    region = np.asarray(disc_mask((40, 40), (20, 20), 8)) > 0
    painted[region] = 200
    matched = compositing.match_colour(painted, original, region, compositing.ring_around(region, 4))
    assert np.array_equal(matched, painted)


def test_fit_square_pads_without_stretching_and_restores_the_crop() -> None:
    crop = noise_image(90, 60, seed=4).filter(ImageFilter.GaussianBlur(2))
    square, fit = compositing.fit_square(crop, 64)

    assert square.size == (64, 64)
    assert fit.inner == (64, 43) and fit.offset == (0, 10)
    restored = fit.restore(square)
    assert restored.size == crop.size
    assert np.abs(np.asarray(restored).astype(int) - np.asarray(crop)).mean() < 4
    # A point in the crop lands on the same content in the square.
    assert np.allclose(fit.points(np.array([[45.0, 30.0]])), [[32.0, 31.5]], atol=0.5)


def test_fit_square_keeps_a_mask_binary() -> None:
    mask = disc_mask((50, 30), (25, 15), 10)
    square, _ = compositing.fit_square(mask, 40, mask=True)
    assert set(np.unique(np.asarray(square))) <= {0, 255}
