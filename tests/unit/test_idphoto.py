"""The ID-photo catalogue, the head-placement solver, the output transform and the print sheet."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
from PIL import Image

from core.errors import UserError
from core.imaging.backends.base import Portrait
from core.imaging.idphoto.catalog import MM_PER_INCH, SuitOptions, catalog, parse_suit_options
from core.imaging.idphoto.layout import LayoutLimits, plan_layout, solve_placement
from core.imaging.idphoto.sheet import encode_png_at, print_sheet


def test_every_format_has_consistent_rules_and_a_label() -> None:
    from core.messages import LANGUAGES, t

    for fmt in catalog().formats.values():
        assert fmt.head_mm[0] < fmt.head_mm[1] < fmt.height_mm
        for lang in LANGUAGES:
            assert t(f"suit.format.{fmt.id}", lang) != f"suit.format.{fmt.id}"
    passport = catalog().formats["passport-35x45"]
    assert passport.pixels(300) == (413, 531) and passport.pixels(600) == (827, 1063)
    # The rule of thumb: 32-36 mm of 45 is about 71-80% of the height.
    assert 0.70 < passport.head_mm[0] / passport.height_mm < passport.head_mm[1] / passport.height_mm < 0.81


def test_options_parse_in_any_order_with_aliases_in_both_languages() -> None:
    options = parse_suit_options(["GREY", "3x4", "no-tie", "charcoal", "600"])
    assert (options.style, options.tie, options.background, options.format, options.dpi) == (
        "charcoal",
        False,
        "grey",
        "kr-resume-30x40",
        600,
    )
    assert parse_suit_options(["여권", "네이비"]).format == "kr-passport-35x45"
    assert parse_suit_options(["women"]).tie is False  # a women's cut has no tie
    assert parse_suit_options([]) == SuitOptions.defaults()
    assert SuitOptions.from_params(options.as_params()) == options


@pytest.mark.parametrize(
    ("words", "key"),
    [(["purple"], "suit.unknown_option"), (["kr-passport", "blue"], "suit.background_not_allowed")],
)
def test_bad_options_are_user_errors(words: list[str], key: str) -> None:
    with pytest.raises(UserError) as refused:
        parse_suit_options(words)
    assert refused.value.key == key


@pytest.mark.parametrize("fmt_id", sorted(catalog().formats))
@pytest.mark.parametrize("eye_depth", [0.38, 0.45, 0.52])
def test_placement_obeys_every_rule_of_the_format(fmt_id: str, eye_depth: float) -> None:
    fmt = catalog().formats[fmt_id]
    placed = solve_placement(fmt, eye_depth)
    assert fmt.head_mm[0] <= placed.head_mm <= fmt.head_mm[1]
    assert fmt.crown_margin_mm[0] <= placed.crown_margin_mm <= fmt.crown_margin_mm[1]
    if fmt.eyes_from_bottom_mm is not None:
        assert fmt.eyes_from_bottom_mm[0] <= placed.eyes_from_bottom_mm <= fmt.eyes_from_bottom_mm[1]
    expected_eyes = fmt.height_mm - placed.crown_margin_mm - eye_depth * placed.head_mm
    assert placed.eyes_from_bottom_mm == pytest.approx(expected_eyes)


def portrait(
    eyes: tuple[tuple[float, float], tuple[float, float]] = ((160, 200), (240, 200)),
    crown: tuple[float, float] = (200, 100),
    chin: tuple[float, float] = (200, 330),
    nose: tuple[float, float] = (200, 260),
) -> Portrait:
    blank = Image.new("L", (400, 500))
    jaw = np.array([(130, 250), (200, chin[1]), (270, 250)], np.float32)
    return Portrait(keep=blank, person=blank, eyes=eyes, nose=nose, chin=chin, crown=crown, jaw=jaw)


def test_the_layout_puts_crown_chin_and_eyes_where_the_format_says() -> None:
    fmt = catalog().formats["us-2x2in"]
    layout = plan_layout(portrait(), (400, 500), fmt, 300, LayoutLimits())
    px = 300 / MM_PER_INCH
    t = layout.transform
    assert t.size == (600, 600)
    crown, chin = t.point((200, 100)), t.point((200, 330))
    assert (chin[1] - crown[1]) / px == pytest.approx(layout.placement.head_mm, abs=0.01)
    assert crown[1] / px == pytest.approx(layout.placement.crown_margin_mm, abs=0.01)
    assert crown[0] == pytest.approx(300, abs=0.01)  # centred
    eyes_from_bottom = (600 - t.point((160, 200))[1]) / px
    assert fmt.eyes_from_bottom_mm is not None
    assert fmt.eyes_from_bottom_mm[0] <= eyes_from_bottom <= fmt.eyes_from_bottom_mm[1]


def test_a_slightly_rolled_head_is_levelled_and_a_tilted_one_refused() -> None:
    fmt = catalog().formats["passport-35x45"]
    angle = math.radians(6)
    c, s = math.cos(angle), math.sin(angle)
    left, right = (200 - 40 * c, 200 - 40 * s), (200 + 40 * c, 200 + 40 * s)
    layout = plan_layout(portrait(eyes=(left, right)), (400, 500), fmt, 300, LayoutLimits())
    (_, ly), (_, ry) = layout.transform.point(left), layout.transform.point(right)
    assert layout.roll_deg == pytest.approx(6.0, abs=0.01) and ly == pytest.approx(ry, abs=1e-6)
    with pytest.raises(UserError) as refused:
        plan_layout(portrait(eyes=((160, 180), (240, 220))), (400, 500), fmt, 300, LayoutLimits())
    assert refused.value.key == "suit.head_tilted" and refused.value.params["degrees"] == 27


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"crown": (200, 0)}, "suit.head_cut_off"),
        ({"nose": (250, 260)}, "suit.head_turned"),
    ],
)
def test_impossible_poses_are_refused(changes: dict, key: str) -> None:
    with pytest.raises(UserError) as refused:
        plan_layout(portrait(**changes), (400, 500), catalog().formats["passport-35x45"], 300, LayoutLimits())
    assert refused.value.key == key


def test_a_head_too_small_for_the_resolution_is_refused() -> None:
    small = portrait(eyes=((195, 200), (205, 200)), crown=(200, 185), chin=(200, 230), nose=(200, 215))
    with pytest.raises(UserError) as refused:
        plan_layout(small, (400, 500), catalog().formats["passport-35x45"], 600, LayoutLimits())
    assert refused.value.key == "suit.low_resolution"
    assert refused.value.params["head_px"] == 45


def test_the_transform_shrinks_without_aliasing_and_masks_stay_masks() -> None:
    big = portrait(
        eyes=((1600, 2000), (2400, 2000)), crown=(2000, 1000), chin=(2000, 3300), nose=(2000, 2600)
    )
    layout = plan_layout(big, (4000, 5000), catalog().formats["passport-35x45"], 300, LayoutLimits())
    assert layout.transform.reduce >= 2  # box-reduced first, then resampled
    stripes = Image.fromarray(np.tile(np.array([0, 255], np.uint8), (5000, 2000)), "L")
    out = np.asarray(layout.transform.apply(stripes, mask=True))
    centre = out[100:400, 100:300]
    assert abs(float(centre.mean()) - 127.5) < 10 and centre.std() < 40  # averaged, not moiré


def test_the_print_sheet_holds_six_passport_photos_with_cut_marks_and_its_dpi() -> None:
    options = SuitOptions.defaults()
    photo = Image.new("RGB", options.id_format.pixels(300), (40, 60, 90))
    sheet = print_sheet(photo, options.paper_record, 300)
    assert sheet.size in ((1200, 1800), (1800, 1200))
    pixels = np.asarray(sheet)
    copies = np.all(pixels == (40, 60, 90), axis=-1).sum() // (photo.width * photo.height)
    assert copies == 6
    assert (np.abs(pixels.astype(int) - 150).max(axis=-1) == 0).any()  # grey crop marks
    reread = Image.open(io.BytesIO(encode_png_at(sheet, 300)))
    assert reread.info["dpi"] == pytest.approx((300, 300), abs=0.01)
