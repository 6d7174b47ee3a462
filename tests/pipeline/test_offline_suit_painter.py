"""The vector suit painter on a passport-sized canvas: what it paints, where, and what it leaves alone.

The canvas is a real photo resized to 413x531 (35x45 mm at 300 dpi) with a body geometry laid out the way
the /suit pipeline lays it out: a jaw arc, the chin line along it and level beyond its ends, the collar line
a fifth of the head below the chin.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw

from core.config import ModelSettings
from core.imaging.backends.base import BodyGeometry, SuitRequest
from core.imaging.backends.offline.suit_painter import (
    VectorSuitPainter,
    build_clothes_painter,
    exemplar_colour,
)

SIZE = (413, 531)
CENTRE, CHIN_Y, COLLAR_Y, HALF_NECK = 206.0, 330.0, 400.0, 70.0
NAVY = (34, 45, 74)
WHITE = (255, 255, 255)


def _geometry() -> BodyGeometry:
    angles = np.linspace(np.pi, 0.0, 21)
    jaw = np.stack([CENTRE + 120 * np.cos(angles), CHIN_Y - 130 + 130 * np.sin(angles)], axis=1)
    line = np.vstack([[-1.0, jaw[0, 1]], jaw, [SIZE[0] + 1.0, jaw[-1, 1]]]).astype(np.float32)
    return BodyGeometry(
        chin=(CENTRE, CHIN_Y),
        neck=((CENTRE - HALF_NECK, COLLAR_Y), (CENTRE + HALF_NECK, COLLAR_Y)),
        shoulders=((CENTRE - 260, 520.0), (CENTRE + 260, 520.0)),
        chin_line=line,
    )


def _below(line: np.ndarray) -> np.ndarray:
    canvas = Image.new("L", SIZE, 0)
    points = [(float(x), float(y)) for x, y in line] + [(SIZE[0] + 1.0, SIZE[1] + 1.0), (-1.0, SIZE[1] + 1.0)]
    ImageDraw.Draw(canvas).polygon(points, fill=255)
    return np.asarray(canvas) > 0


@pytest.fixture(scope="module")
def canvas(photo: Callable[[str], Image.Image]) -> Image.Image:
    return photo("without_mask/nm_001.jpg").resize(SIZE, Image.Resampling.BICUBIC)


@pytest.fixture(scope="module")
def painter() -> VectorSuitPainter:
    return build_clothes_painter(ModelSettings(tier="offline"))


def _request(**changes: object) -> SuitRequest:
    fields: dict[str, object] = {
        "colour": NAVY,
        "tie": True,
        "cut": "classic",
        "background": WHITE,
        "geometry": _geometry(),
        "seed": 3,
    }
    fields.update(changes)
    return SuitRequest(**fields)  # type: ignore[arg-type]


def _repaint_mask() -> Image.Image:
    """Below the chin line, less a kept neck (a rectangle under the chin, as the pipeline keeps it)."""
    mask = _below(_geometry().chin_line)
    mask[: int(COLLAR_Y) - 10, int(CENTRE - 60) : int(CENTRE + 60)] = False
    return Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), "L")


def _dark_red(pixels: np.ndarray) -> bool:
    r, g, b = pixels.reshape(-1, 3).mean(axis=0)
    return bool(r > g + 40 and r > b + 30 and r < 150)


def _paint(painter: VectorSuitPainter, canvas: Image.Image, **changes: object) -> np.ndarray:
    calls: list[float] = []
    out = painter.paint(canvas, _repaint_mask(), _request(**changes), calls.append)
    assert out.size == canvas.size and out.mode == "RGB"
    assert calls and calls[-1] == 1.0 and all(0.0 <= f <= 1.0 for f in calls)
    return np.asarray(out)


def test_clothes_fill_the_mask_and_nothing_else_changes(
    painter: VectorSuitPainter, canvas: Image.Image
) -> None:
    out = _paint(painter, canvas)
    mask = np.asarray(_repaint_mask()) > 0
    assert np.array_equal(out[~mask], np.asarray(canvas)[~mask])
    lower = mask.copy()
    lower[: int(COLLAR_Y)] = False
    # Below the collar line the canvas is clothes from edge to edge, none of it the plain background.
    assert (np.abs(out[lower].astype(int) - WHITE).sum(axis=1) > 30).mean() > 0.95
    # Beside the neck, above the shoulders, lies the plain background.
    assert tuple(out[int(COLLAR_Y) - 60, 20]) == WHITE


def test_nothing_above_the_chin_line_changes_even_inside_the_mask(
    painter: VectorSuitPainter, canvas: Image.Image
) -> None:
    everything = Image.new("L", SIZE, 255)
    out = np.asarray(painter.paint(canvas, everything, _request(), lambda _: None))
    # One pixel of slack for the anti-aliased edge.
    above = ~cv2.dilate(_below(_geometry().chin_line).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(
        bool
    )
    assert np.array_equal(out[above], np.asarray(canvas)[above])
    assert not np.array_equal(out, np.asarray(canvas))


def test_a_tie_shows_in_the_v(painter: VectorSuitPainter, canvas: Image.Image) -> None:
    tie = _paint(painter, canvas, tie=True).astype(int)
    open_neck = _paint(painter, canvas, tie=False).astype(int)
    v = (slice(int(COLLAR_Y) + 10, int(COLLAR_Y) + 30), slice(int(CENTRE) - 5, int(CENTRE) + 5))
    assert _dark_red(tie[v]), "the tie is a dark red one"
    assert np.abs(tie[v] - open_neck[v]).mean() > 30


def test_the_womens_cut_has_no_tie_and_other_shoulders(
    painter: VectorSuitPainter, canvas: Image.Image
) -> None:
    classic = _paint(painter, canvas, tie=False).astype(int)
    women = _paint(painter, canvas, tie=True, cut="women").astype(int)
    v = (slice(int(COLLAR_Y) + 10, int(COLLAR_Y) + 30), slice(int(CENTRE) - 5, int(CENTRE) + 5))
    assert not _dark_red(women[v]), "no tie with the women's cut"
    assert np.abs(classic - women).mean() > 2


def test_the_colour_is_the_requested_one(painter: VectorSuitPainter, canvas: Image.Image) -> None:
    out = _paint(painter, canvas, colour=(58, 60, 65))
    shoulder = out[int(COLLAR_Y) + 60 :, 10:60].reshape(-1, 3).astype(float)
    assert np.abs(np.median(shoulder, axis=0) - (58, 60, 65)).max() < 20


def test_an_exemplars_colour_wins_over_the_requested_one(
    painter: VectorSuitPainter, canvas: Image.Image
) -> None:
    exemplar = Image.new("RGB", (300, 400), (250, 250, 250))
    draw = ImageDraw.Draw(exemplar)
    draw.polygon([(40, 120), (260, 120), (290, 400), (10, 400)], fill=(170, 30, 35))
    draw.polygon([(125, 120), (175, 120), (150, 240)], fill=(255, 255, 255))
    assert exemplar_colour(exemplar) == pytest.approx((170, 30, 35), abs=3)

    out = _paint(painter, canvas, exemplar=exemplar)
    r, g, b = np.median(out[int(COLLAR_Y) + 60 :, 10:60].reshape(-1, 3), axis=0)
    assert r > 100 and r > g + 60 and r > b + 60


def test_an_exemplar_of_plain_background_is_ignored() -> None:
    assert exemplar_colour(Image.new("RGB", (64, 64), (255, 255, 255))) is None


def test_the_same_seed_paints_the_same_suit(painter: VectorSuitPainter, canvas: Image.Image) -> None:
    first = _paint(painter, canvas, seed=11)
    assert np.array_equal(first, _paint(painter, canvas, seed=11))
    # The fabric grain follows the seed.
    assert not np.array_equal(first, _paint(painter, canvas, seed=12))


def test_any_size_is_painted(painter: VectorSuitPainter, canvas: Image.Image) -> None:
    scale = 2.5
    big = canvas.resize((round(SIZE[0] * scale), round(SIZE[1] * scale)))
    mask = _repaint_mask().resize(big.size, Image.Resampling.NEAREST)
    out = painter.paint(big, mask, _request(geometry=_geometry().mapped(scale)), lambda _: None)
    assert out.size == big.size
    outside = np.asarray(mask) == 0
    assert np.array_equal(np.asarray(out)[outside], np.asarray(big)[outside])
