"""Where a top lies on a body: its landmarks' places on the person, and the region it covers there.

The pipeline needs the region (the edit mask is the old top plus where the new one will lie) before any
painter runs, and the offline painter warps the garment from the same point pairs, so both come from here.
Everything is drawn in the torso's own frame (``TorsoFrame``), in shoulder widths: the distance between the
shoulder joints is the one length pose finds reliably on every photo.

The garment's body follows the person's torso (its armpits to theirs, its sides down their sides, its hem
as far below the shoulders as the garment is long, scaled by the chest widths, within reason). Each sleeve
is a quadrilateral laid flat (armhole seam, cuff, upper and lower edge) that goes onto the arm as it hangs:
the seam down from the shoulder's tip to the armpit, the cuff across the arm where the sleeve ends, both
edges along the arm between, bending at the elbow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.imaging.backends.base import Body, BodyPoints, Garment, GarmentPoints, Point
from core.imaging.backends.torso import (
    NECK_HALF_WIDTH,
    SHOULDER_OUT,
    TorsoFrame,
    TorsoSides,
    along,
    fill,
    projected,
)

# Where the garment's sides are matched to the torso's, from the armpits (0) to the hem (1).
_SIDE_STEPS = np.linspace(0.0, 1.0, 5)
# A sleeve is matched to its arm at these fractions of its length.
_SLEEVE_STEPS = (0.0, 1 / 3, 2 / 3, 1.0)
# Without a measurable cuff, a cuff is this share of the sleeve's width at the shoulder; a sleeve on an arm
# is between these two half widths (shoulder widths) at its cuff.
_CUFF_SHARE = 0.8
_SLEEVE_HALF_WIDTH = 0.2
_ARM_HALF_WIDTH = 0.13
# The cuff's width is measured this share of the sleeve's length inside its end.
_CUFF_INSET = 0.08
# A sleeve reaches at least this far (shoulder widths) below the armpit. Pose puts the shoulder and elbow
# joints this far (shoulder widths) inside the arm's middle, toward the body (the bone, not the flesh and
# cloth around it): the sleeve runs that much further out.
_MIN_TUBE = 0.12
_ARM_OUT = 0.05
# A sleeve shorter than this share of the chest width is no sleeve (a tank top's armhole seam).
_MIN_SLEEVE = 0.2
# The hem lies between these multiples of the shoulders-to-hips distance below the shoulders, however long
# the garment is: a crop top still covers the old top's chest, a dress-length shirt is cut at the thighs.
_HEM_RANGE = (0.85, 1.05)


@dataclass(frozen=True)
class GarmentFit:
    """Point pairs (person, garment; (n, 2) each, pixels of the person photo and of ``Garment.image``) for
    the garment's body and for each sleeve that has one, and the outlines they make on the person."""

    body_pairs: tuple[np.ndarray, np.ndarray]
    # By side ("right", "left"; as worn), only for the sleeves the garment has.
    sleeve_pairs: dict[str, tuple[np.ndarray, np.ndarray]]
    body_outline: np.ndarray
    sleeve_outlines: dict[str, np.ndarray]

    def footprint(self, shape: tuple[int, int]) -> np.ndarray:
        """(H, W) bool: where the garment will lie on the person."""
        return fill(shape, [self.body_outline, *self.sleeve_outlines.values()])


def fit_garment(body: Body, garment: Garment) -> GarmentFit:
    """Where ``garment`` lies on ``body`` (whose points must hold both shoulders and both hips)."""
    frame = TorsoFrame(body.points)
    sides = TorsoSides(body, frame)
    g = {name: np.asarray(point, np.float32) for name, point in garment.points.items()}
    g_armpits = (_garment_armpit(g, "right"), _garment_armpit(g, "left"))
    g_chest = max(1.0, float(np.hypot(*(g_armpits[1] - g_armpits[0]))))
    g_mask = np.asarray(garment.mask.convert("L")) > 127
    armpits = sides.at(sides.armpit_drop)
    scale = float(np.hypot(*(armpits[1] - armpits[0]))) / g_chest

    # The hem: as far below the shoulders as the garment is long (scaled by the chests), within reason.
    g_length = float(
        np.hypot(*((g["hem_right"] + g["hem_left"] - g["shoulder_right"] - g["shoulder_left"]) / 2))
    )
    hem_drop = float(
        np.clip(scale * g_length, _HEM_RANGE[0] * sides.hips_drop, _HEM_RANGE[1] * sides.hips_drop)
    )
    right_side, left_side = sides.between(sides.armpit_drop, hem_drop, _SIDE_STEPS)

    # The top edge: shoulders and neckline as wide as the garment's (a tank top's straps stay narrow).
    g_middle = (g["collar_right"][0] + g["collar_left"][0]) / 2
    tip = (0.5 + SHOULDER_OUT) * frame.unit
    shoulder = min(
        tip, scale * max(abs(g["shoulder_right"][0] - g_middle), abs(g["shoulder_left"][0] - g_middle))
    )
    shoulder = max(shoulder, 0.3 * frame.unit)
    collar = scale * max(abs(g["collar_right"][0] - g_middle), abs(g["collar_left"][0] - g_middle))
    collar = float(np.clip(collar, 0.1 * frame.unit, shoulder - 0.1 * frame.unit))
    person_top = np.array([frame.on_shoulder_line(o) for o in (-shoulder, -collar, collar, shoulder)])
    garment_top = np.array([g["shoulder_right"], g["collar_right"], g["collar_left"], g["shoulder_left"]])
    steps = _SIDE_STEPS[:, None]
    g_right = g_armpits[0] + (g["hem_right"] - g_armpits[0]) * steps
    g_left = g_armpits[1] + (g["hem_left"] - g_armpits[1]) * steps
    body_pairs = (
        np.concatenate([person_top, right_side, left_side, ((right_side + left_side) / 2)[1:-1]]),
        np.concatenate([garment_top, g_right, g_left, ((g_right + g_left) / 2)[1:-1]]),
    )
    outline = np.concatenate([person_top, left_side, right_side[::-1]])

    sleeves, sleeve_outlines = {}, {}
    for side, root, g_armpit in (
        ("right", (person_top[0], right_side[0]), g_armpits[0]),
        ("left", (person_top[3], left_side[0]), g_armpits[1]),
    ):
        g_root = (g[f"shoulder_{side}"], g_armpit)
        fitted = _sleeve(frame, body.points, side, root, g_root, g[f"sleeve_{side}"], scale, g_chest, g_mask)
        if fitted is not None:
            sleeves[side], sleeve_outlines[side] = fitted
    return GarmentFit((_f32(body_pairs[0]), _f32(body_pairs[1])), sleeves, _f32(outline), sleeve_outlines)


def wearer_points(body: Body, worn: np.ndarray) -> GarmentPoints:
    """The landmarks of the top this person wears (``worn``: (H, W) bool, the top in their photo): the
    neck's sides, the shoulders' tips, the armpits, the torso's sides where the top ends down its middle,
    and the ends of its sleeves down the arms (at the shoulders' tips when it has none)."""
    frame = TorsoFrame(body.points)
    sides = TorsoSides(body, frame)
    height, width = worn.shape
    drops = np.arange(sides.armpit_drop, 1.4 * sides.hips_drop, 1.0, dtype=np.float32)
    xy = np.round(sides.top - drops[:, None] * frame.up).astype(int)
    valid = (xy[:, 0] >= 0) & (xy[:, 0] < width) & (xy[:, 1] >= 0) & (xy[:, 1] < height)
    on = np.zeros(len(drops), bool)
    on[valid] = worn[xy[valid, 1], xy[valid, 0]]
    hem_drop = (
        sides.hips_drop
        if not on.any() or not on[0]
        else float(drops[np.argmin(on) - 1 if not on.all() else -1])
    )
    armpits = sides.at(sides.armpit_drop)
    hems = sides.at(max(hem_drop, sides.armpit_drop + 0.2 * frame.unit))
    tips = frame.shoulder_tips()
    neck = [frame.on_shoulder_line(side * NECK_HALF_WIDTH * frame.unit) for side in (-1, 1)]
    sleeves = _worn_sleeves(body, worn & (np.asarray(body.arms) > 127), tips, frame.unit)
    return {
        "collar_right": _point(neck[0]),
        "collar_left": _point(neck[1]),
        "shoulder_right": _point(tips[0]),
        "shoulder_left": _point(tips[1]),
        "armpit_right": _point(armpits[0]),
        "armpit_left": _point(armpits[1]),
        "sleeve_right": _point(sleeves[0]),
        "sleeve_left": _point(sleeves[1]),
        "hem_right": _point(hems[0]),
        "hem_left": _point(hems[1]),
    }


def _worn_sleeves(
    body: Body, sleeves: np.ndarray, tips: tuple[np.ndarray, np.ndarray], unit: float
) -> tuple[np.ndarray, np.ndarray]:
    """Where each sleeve ends down its arm: the farthest point along shoulder-elbow-wrist that the top
    reaches on that arm (the shoulder's tip for a sleeve too short to count)."""
    ys, xs = np.nonzero(sleeves[::2, ::2])
    pixels = np.stack([xs, ys], axis=1).astype(np.float32) * 2
    ends = []
    chains = []
    for side, tip in (("right", tips[0]), ("left", tips[1])):
        joints = [
            body.points[f"{side}_{joint}"] for joint in ("elbow", "wrist") if f"{side}_{joint}" in body.points
        ]
        chains.append(np.array([tip, *joints], np.float32))
    reach = [projected(chain, pixels) for chain in chains]
    for index, chain in enumerate(chains):
        mine = reach[index][1] <= reach[1 - index][1]
        arc = reach[index][0][mine]
        if len(chain) < 2 or arc.size == 0 or float(arc.max()) < _MIN_SLEEVE * unit:
            ends.append(chain[0])
        else:
            ends.append(along(chain, float(np.percentile(arc, 98)))[0])
    return ends[0], ends[1]


def _sleeve(
    frame: TorsoFrame,
    points: BodyPoints,
    side: str,
    root: tuple[np.ndarray, np.ndarray],
    g_root: tuple[np.ndarray, np.ndarray],
    g_end: np.ndarray,
    scale: float,
    g_chest: float,
    g_mask: np.ndarray,
) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray] | None:
    """The point pairs of one sleeve and its outline on the person; None for a top without this sleeve.
    ``root``/``g_root``: (shoulder's tip, armpit) on the person and on the garment; ``g_mask``: the
    garment's silhouette."""
    g_middle = (g_root[0] + g_root[1]) / 2
    g_length = float(np.hypot(*(g_end - g_middle)))
    if g_length < _MIN_SLEEVE * g_chest:
        return None
    # Down the arm's middle: from the shoulder joint through the elbow to the wrist.
    joint = np.asarray(points[f"{side}_shoulder"], np.float32)
    chain = [joint] + [
        np.asarray(points[f"{side}_{j}"], np.float32) for j in ("elbow", "wrist") if f"{side}_{j}" in points
    ]
    if len(chain) == 1:
        chain.append(joint - frame.up * 1.5 * frame.unit)
    outward = frame.across * (-1.0 if side == "right" else 1.0)
    path = np.array(chain, np.float32) + outward * _ARM_OUT * frame.unit
    reach = float(np.hypot(*np.diff(path, axis=0).T).sum())
    # As far down the arm as the sleeve is long, and a little below the armpit however short it is.
    below = float(projected(path, root[1][None, :])[0][0]) + _MIN_TUBE * frame.unit
    length = float(np.clip(scale * g_length, below, max(reach, below)))
    g_axis = (g_end - g_middle) / g_length
    # The sleeve's shoulder edge is its outer one: on the garment, the side its shoulder lies on; on the
    # person, the side away from the body and toward the shoulder's tip.
    g_normal = _handedness(g_axis, g_root[0] - g_middle) * np.array([-g_axis[1], g_axis[0]], np.float32)
    away = (root[0] + root[1]) / 2 - frame.middle
    up = root[0] - root[1]
    hand = _handedness(
        along(path, 1.0)[1], away / max(1e-6, float(np.hypot(*away))) + up / max(1e-6, float(np.hypot(*up)))
    )
    # The sleeve laid flat is a quadrilateral: its armhole seam (shoulder to armpit), its cuff, the upper
    # edge between the shoulder and the cuff's outer end, the lower one between the armpit and its inner end.
    # On a hanging arm the seam runs down from the shoulder's tip to the armpit, the cuff lies across the arm
    # where the sleeve ends, and both edges follow the arm between (bending at the elbow).
    # The cuff is as wide as the sleeve's fabric just above it (a sleeve hanging in a product shot is
    # narrow, one standing out is wide), and on the person at least as wide as an arm.
    inside = g_end - g_axis * _CUFF_INSET * g_length
    low, high = _cross_section(
        g_mask, inside, g_normal, _CUFF_SHARE * float(np.hypot(*(g_root[0] - g_root[1])))
    )
    g_cuff = (g_end + g_normal * high, g_end + g_normal * low)
    centre, direction = along(path, length)
    normal = hand * np.array([-direction[1], direction[0]], np.float32)
    half = float(
        np.clip(scale * (high - low) / 2, _ARM_HALF_WIDTH * frame.unit, _SLEEVE_HALF_WIDTH * frame.unit)
    )
    cuff = (centre + normal * half, centre - normal * half)
    start = path[0]
    person: list[np.ndarray] = []
    garment: list[np.ndarray] = []
    outer: list[np.ndarray] = []
    inner: list[np.ndarray] = []
    for t in _SLEEVE_STEPS:
        # Where the arm bends away from the straight line to the cuff, both edges bend with it.
        bend = along(path, t * length)[0] - (start + (centre - start) * t)
        edges = (
            root[0] + (cuff[0] - root[0]) * t + bend,
            root[1] + (cuff[1] - root[1]) * t + bend,
        )
        g_edges = (g_root[0] + (g_cuff[0] - g_root[0]) * t, g_root[1] + (g_cuff[1] - g_root[1]) * t)
        person += [edges[0], edges[1], (edges[0] + edges[1]) / 2]
        garment += [g_edges[0], g_edges[1], (g_edges[0] + g_edges[1]) / 2]
        outer.append(edges[0])
        inner.append(edges[1])
    outline = np.array(outer + inner[::-1], np.float32)
    return (_f32(np.array(person)), _f32(np.array(garment))), outline


def _cross_section(
    mask: np.ndarray, point: np.ndarray, normal: np.ndarray, fallback: float
) -> tuple[float, float]:
    """How far the silhouette reaches from ``point`` along ``-normal`` and ``normal`` (negative, positive
    px); +-``fallback``/2 where ``point`` is not on it."""
    height, width = mask.shape
    reach = np.arange(-2.0 * fallback, 2.0 * fallback + 1.0, 1.0, dtype=np.float32)
    xy = np.round(point + reach[:, None] * normal).astype(int)
    valid = (xy[:, 0] >= 0) & (xy[:, 0] < width) & (xy[:, 1] >= 0) & (xy[:, 1] < height)
    on = np.zeros(len(reach), bool)
    on[valid] = mask[xy[valid, 1], xy[valid, 0]]
    middle = len(reach) // 2
    if not on[middle]:
        return -fallback / 2, fallback / 2
    off = np.flatnonzero(~on)
    before, after = off[off < middle], off[off > middle]
    low = reach[before.max() + 1] if before.size else reach[0]
    high = reach[after.min() - 1] if after.size else reach[-1]
    return float(low), float(high)


def _handedness(axis: np.ndarray, outer: np.ndarray) -> float:
    """+1 when ``outer`` lies to the left of ``axis`` (its 90° turn), -1 when to the right."""
    return 1.0 if float(-axis[1] * outer[0] + axis[0] * outer[1]) >= 0 else -1.0


def _garment_armpit(g: dict[str, np.ndarray], side: str) -> np.ndarray:
    """The garment's armpit, or, when the extractor gave none, a third of the way from shoulder to hem."""
    if f"armpit_{side}" in g:
        return g[f"armpit_{side}"]
    return g[f"shoulder_{side}"] + (g[f"hem_{side}"] - g[f"shoulder_{side}"]) * 0.3


def _point(xy: np.ndarray) -> Point:
    return (float(xy[0]), float(xy[1]))


def _f32(array: np.ndarray) -> np.ndarray:
    return np.asarray(array, np.float32)
