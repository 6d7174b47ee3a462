"""The outlines of a business suit, shirt and tie, fitted to a ``BodyGeometry``.

Everything is measured in neck widths from the collar line, the one size every photo has (the shoulders
are often outside the frame). Proportions follow a classic single-breasted suit: notch lapels about 0.7
neck widths wide, the notch a neck width below the collar, a spread shirt collar whose points lie under
the neck's edges, a four-in-hand knot narrower than the neck. Shapes are built for the image-left side
and mirrored about the neck's centre, each side keeping its own shoulder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from core.imaging.backends.base import BodyGeometry, Point

Polygon = np.ndarray  # (N, 2) float32, pixel coordinates
# (dx, dy) in neck widths from the collar line's centre -> pixels, mirrored for the side being built.
Place = Callable[[float, float], np.ndarray]


@dataclass(frozen=True)
class Cut:
    # The V of the jacket: half its width at the collar and its depth, in neck widths.
    v_half_width: float
    v_depth: float
    lapel_width: float
    notch_depth: float  # how far the notch cuts into the lapel
    # The jacket's shoulder: lifted above and pushed beyond the shoulder point, rounded with this radius.
    shoulder_lift: float
    shoulder_pad: float
    cap_radius: float
    # How far the open neckline (no tie) reaches below the collar line, and whether its collar is rounded.
    neckline_depth: float
    rounded_collar: bool


CLASSIC = Cut(0.72, 3.6, 0.78, 0.42, 0.4, 0.12, 0.55, 0.55, False)
# Slimmer shoulders, a slightly wider and deeper V, narrower lapels with a smaller notch, a blouse collar.
WOMEN = Cut(0.8, 3.0, 0.6, 0.3, 0.3, -0.05, 0.35, 1.0, True)


@dataclass(frozen=True)
class SuitShapes:
    unit: float  # neck width, px
    centre: float  # x of the neck's centre
    collar_y: float
    jacket: Polygon
    opening: Polygon  # the V between the lapels, where the shirt shows
    # Jacket collar and lapel of each side in one piece, with the notch between them.
    lapels: tuple[Polygon, Polygon]
    # Edges drawn dark: the collar's fall, the notch and the lapel's outer edge; the gorge seam.
    seams: tuple[Polygon, ...]
    band: tuple[Polygon, Polygon]  # the shirt collar's band, rising beside the neck
    collar: tuple[Polygon, Polygon]  # shirt (or blouse) collar leaves
    neckline: Polygon | None  # open neck: the skin between the collar leaves
    knot: Polygon | None
    blade: Polygon | None
    buttons: tuple[Point, ...]


def fit(geometry: BodyGeometry, tie: bool, cut: str, size: tuple[int, int]) -> SuitShapes:
    height = size[1]
    style = WOMEN if cut == "women" else CLASSIC
    (lx, ly), (rx, ry) = geometry.neck
    unit = max(4.0, rx - lx)
    centre = (lx + rx) / 2
    y0 = (ly + ry) / 2
    bottom = height + 2.0 * unit
    tie = tie and cut != "women"
    sides = [
        _side(_placer(centre, y0, unit, sign), sign, unit, shoulder, style, bottom, tie)
        for sign, shoulder in ((-1.0, geometry.shoulders[0]), (1.0, geometry.shoulders[1]))
    ]
    left, right = sides
    jacket = np.vstack([left["outline"][::-1], right["outline"]]).astype(np.float32)
    over = 0.6 * unit  # the V starts above the collar line; the chin line clips it
    opening = np.array(
        [left["top"] + [0.0, -over], right["top"] + [0.0, -over], right["tip"], left["tip"]], np.float32
    )
    at = _placer(centre, y0, unit, 1.0)
    knot = blade = neckline = None
    if tie:
        knot = np.array(
            [at(-0.26, -0.15), at(0.26, -0.15), at(0.16, 0.42), at(0.0, 0.47), at(-0.16, 0.42)], np.float32
        )
        blade = np.array(
            [
                at(-0.14, 0.4),
                at(0.14, 0.4),
                at(0.36, 4.0),
                at(0.36, bottom),
                at(-0.36, bottom),
                at(-0.36, 4.0),
            ],
            np.float32,
        )
    else:
        # Up to well above the collar line: the kept neck covers the top, whatever its outline.
        neckline = np.array(
            [at(-0.5, -0.6), at(0.5, -0.6), at(0.5, -0.1), at(0.0, style.neckline_depth), at(-0.5, -0.1)],
            np.float32,
        )
    button = at(0.0, style.v_depth + 0.25)
    return SuitShapes(
        unit=unit,
        centre=centre,
        collar_y=y0,
        jacket=jacket,
        opening=opening,
        lapels=(left["lapel"], right["lapel"]),
        seams=(left["edge"], right["edge"], left["gorge"], right["gorge"]),
        band=(left["band"], right["band"]),
        collar=(left["collar"], right["collar"]),
        neckline=neckline,
        knot=knot,
        blade=blade,
        buttons=((float(button[0]), float(button[1])),),
    )


def _side(
    at: Place, sign: float, unit: float, shoulder: Point, style: Cut, bottom: float, tie: bool
) -> dict[str, Polygon]:
    """One side's outlines; ``at`` mirrors them for the image-right side."""
    # The lapel's roll line runs from beside the shirt collar down to the top button.
    top = at(style.v_half_width, -0.2)
    tip = at(0.0, style.v_depth)
    along = (tip - top) / max(1e-3, float(np.linalg.norm(tip - top)))
    out = np.array([along[1], -along[0]], np.float32)
    out = out if out[0] * sign > 0 else -out

    def lapel_at(a: float, o: float) -> np.ndarray:
        return top + along * a * unit + out * o * unit

    # The jacket collar stands beside the neck, just outside the shirt collar's band.
    neck_corner = at(0.64, -0.4)
    # A shoulder point inside the collar or above it is no shoulder: keep the line going out and down.
    reach = max(sign * (shoulder[0] - at(0.0, 0.0)[0]) + style.shoulder_pad * unit, 1.2 * unit)
    drop = max(shoulder[1] - style.shoulder_lift * unit, float(neck_corner[1]) + 0.1 * unit)
    shoulder_top = np.array([at(0.0, 0.0)[0] + sign * reach, drop], np.float32)
    line = _shoulder_line(neck_corner, shoulder_top)
    # Where the collar's fall meets the shoulder line.
    fall = line[np.argmin(np.abs(np.linalg.norm(line - neck_corner, axis=1) - 0.45 * unit))]
    collar_tip = lapel_at(0.8, 0.5)
    notch = lapel_at(1.0, 0.5 - style.notch_depth)
    point = lapel_at(0.95, style.lapel_width + 0.02)
    belly = lapel_at(1.9, style.lapel_width)
    lapel = np.array([top, neck_corner, fall, collar_tip, notch, point, belly, tip], np.float32)
    cap = _cap(line, style.cap_radius * unit, sign, bottom)
    band = np.array(
        [at(0.5, 0.1), at(0.5, -0.42), at(0.56, -0.47), at(0.66, -0.43), at(0.7, 0.1)],
        np.float32,
    )
    return {
        "lapel": lapel,
        "edge": np.array([fall, collar_tip, notch, point, belly, tip], np.float32),
        "gorge": np.array([notch, lapel_at(1.05, 0.06)], np.float32),
        "outline": np.vstack([line, cap]).astype(np.float32),
        "top": top,
        "tip": tip,
        "band": band,
        "collar": _collar(at, tie, style),
    }


def _placer(centre: float, y0: float, unit: float, sign: float) -> Place:
    def at(dx: float, dy: float) -> np.ndarray:
        return np.array([centre + sign * dx * unit, y0 + dy * unit], np.float32)

    return at


def _collar(at: Place, tie: bool, style: Cut) -> Polygon:
    """One collar leaf, image-left side (``at`` mirrors it). With a tie it closes around the knot; open, it
    spreads from the neck's edge along the neckline, pointed (shirt) or rounded (blouse)."""
    if tie:
        return np.array(
            [at(0.5, -0.15), at(0.22, -0.15), at(0.15, 0.32), at(0.5, 0.85), at(0.8, 0.1)], np.float32
        )
    depth = style.neckline_depth
    if style.rounded_collar:
        inner = [at(0.5, -0.1), at(0.05, depth)]
        # A rounded leaf: from the bottom of the neckline out and up, back to the collar band.
        t = np.linspace(0.0, 1.0, 9)[1:-1]
        bulge = [at(0.05 + 0.68 * np.sin(np.pi / 2 * v), depth - (depth + 0.05) * v**1.5) for v in t]
        return np.array([*inner, *bulge, at(0.74, -0.05)], np.float32)
    return np.array([at(0.5, -0.1), at(0.06, depth), at(0.5, depth + 0.3), at(0.8, 0.1)], np.float32)


def _shoulder_line(neck: np.ndarray, shoulder: np.ndarray, samples: int = 10) -> Polygon:
    """From the collar down to the shoulder: steep by the neck, flatter toward the shoulder."""
    t = np.linspace(0.0, 1.0, samples, dtype=np.float32)[:, None]
    x = neck[0] + (shoulder[0] - neck[0]) * t
    y = neck[1] + (shoulder[1] - neck[1]) * (1.0 - (1.0 - t) ** 1.4)
    return np.hstack([x, y]).astype(np.float32)


def _cap(line: Polygon, radius: float, sign: float, bottom: float, samples: int = 8) -> Polygon:
    """The sleeve head: the shoulder line turns down through a quarter circle-ish arc, then runs straight to
    below the image."""
    end = line[-1]
    direction = line[-1] - line[-2]
    start = float(np.arctan2(direction[1], direction[0] * sign))
    angles = np.linspace(start, np.pi / 2 * 0.92, samples)
    points = [end]
    for a0, a1 in zip(angles[:-1], angles[1:], strict=True):
        step = radius * (a1 - a0) if a1 > a0 else radius * 0.2
        mid = (a0 + a1) / 2
        points.append(points[-1] + np.array([sign * np.cos(mid), np.sin(mid)], np.float32) * step)
    last = points[-1]
    points.append(np.array([last[0] + sign * 0.08 * (bottom - last[1]), bottom], np.float32))
    return np.array(points[1:], np.float32)
