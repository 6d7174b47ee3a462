"""Landmarks of a top laid flat, front up, read off its silhouette (a product shot's garment mask).

The collar is the notch at the top's middle, the shoulders the outer ends of the top edge above the body's
sides, the armpits where the sides stop being straight, the sleeve ends the sleeve's points farthest from
the shoulder, the hem the body's bottom corners. Long sleeves that hang down along the body join it in the
silhouette; they are told apart by the garment being far wider than its shoulders, with a sleeve ending
apart from the hem.
"""

from __future__ import annotations

import numpy as np

from core.imaging.backends.base import GarmentPoints

# Silhouette measures, in shares of the garment's height (h) or of its chest width (w):
_SIDE_ROWS = (0.45, 0.8)  # rows (h) where the body's sides are measured
_SIDE_JUMP = 0.06  # a side that moves this much (w) is no longer the body's side: the armpit
_SHOULDER_DROP = 0.2  # the top edge is still the shoulder down to this far (h) below the collar
_COLLAR_REACH = (0.03, 0.35)  # the collar's corners lie this far (w) from the middle
_MIN_SLEEVE_AREA = 0.02  # of the garment's area: less beside the body's sides is no sleeve
_SLEEVE_SEAM = 0.05  # (w) a sleeve reaches this close to the line from the shoulder to the armpit
_JOINED_SLEEVES = 1.25  # sides this much wider than the shoulders are sleeves hanging along the body,
_END_INSIDE = 0.3  # when, out from this far (spans) inside the shoulders' tips, the bottom edge has a
_NOTCH = 0.03  # notch this deep (h) between the hem and a sleeve's end;
_SLOPE_STEP = 0.06  # (h) the top edge's slope is measured over this run,
_STEEP = 1.0  # and it falls along a sleeve when it drops more than this per pixel across
_JOINED_ARMPIT = 0.4  # then the armpits lie this far (w) below the shoulders
_HEM_RISE = 0.03  # (h) the hem's width is measured this far above its lowest row
_HEM_WIDTH = 0.5  # the hem is the lowest row at least this wide (w)


def silhouette_points(mask: np.ndarray) -> GarmentPoints | None:
    """Landmarks of a top laid flat, front up, read off its silhouette; None when it has no body."""
    ys, xs = np.nonzero(mask)
    top, bottom = int(ys.min()), int(ys.max())
    tall = max(1, bottom - top)
    centre = int(round(float(xs[ys < top + 0.4 * tall].mean())))
    start = top + int(_SIDE_ROWS[0] * tall)
    rows = range(start, top + int(_SIDE_ROWS[1] * tall))
    runs = [run for run in (_run_around(mask[y], centre) for y in rows) if run is not None]
    if not runs:
        return None
    sides = [float(np.median([run[0] for run in runs])), float(np.median([run[1] for run in runs]))]
    chest = max(1.0, sides[1] - sides[0])
    centre = int(round((sides[0] + sides[1]) / 2))
    column_top = np.where(mask.any(axis=0), np.argmax(mask, axis=0), mask.shape[0])
    collars = [_collar(column_top, centre, direction, chest) for direction in (-1, 1)]
    collar_y = min(float(column_top[collars[0]]), float(column_top[collars[1]]))
    shoulders = [_shoulder(column_top, collars[i], (-1, 1)[i], sides[i], collar_y, tall) for i in (0, 1)]
    # Long sleeves that hang down along the body join it in the silhouette, which is then far wider than
    # the shoulders, and a sleeve ends apart from the hem (a muscle tank top also widens from its straps,
    # but down to its hem): then the body is as wide as the shoulders, and the armpits lie where they lie
    # on a person of that chest.
    span = shoulders[1][0] - shoulders[0][0]
    hem = _hem(mask, centre, top, bottom, chest, None)
    joined = chest > _JOINED_SLEEVES * span and any(
        _own_end(mask, shoulders[i], (-1, 1)[i], span, tall) for i in (0, 1)
    )
    if joined:
        sides = [shoulders[0][0], shoulders[1][0]]
        chest = max(1.0, span)
        armpits = [(sides[i], shoulders[i][1] + _JOINED_ARMPIT * chest) for i in (0, 1)]
    else:
        armpits = [_armpit(mask, centre, start, i, sides[i], chest) for i in (0, 1)]
    if joined:
        hem = _hem(mask, centre, top, bottom, chest, sides)
    sleeves = [_sleeve_end(mask, shoulders[i], armpits[i], (-1, 1)[i], chest) for i in (0, 1)]
    return {
        "collar_right": (float(collars[0]), float(column_top[collars[0]])),
        "collar_left": (float(collars[1]), float(column_top[collars[1]])),
        "shoulder_right": shoulders[0],
        "shoulder_left": shoulders[1],
        "armpit_right": armpits[0],
        "armpit_left": armpits[1],
        "sleeve_right": sleeves[0],
        "sleeve_left": sleeves[1],
        "hem_right": hem[0],
        "hem_left": hem[1],
    }


def _shoulder(
    column_top: np.ndarray, collar: int, direction: int, side: float, collar_y: float, tall: int
) -> tuple[float, float]:
    """The shoulder's tip: out from the collar as long as the top edge stays near the collar's height and
    does not turn steeply down for good (there it falls away along a sleeve), never beyond the body's
    side."""
    step = max(2, round(_SLOPE_STEP * tall))
    reach = collar

    def steep(start: int) -> bool:
        end = int(np.clip(start + direction * step, 0, len(column_top) - 1))
        return bool(column_top[end] - column_top[start] > _STEEP * step)

    # One steep step is a standing collar's edge; a sleeve's edge stays steep.
    while 0 <= reach + 2 * direction * step < len(column_top):
        if column_top[reach + direction * step] > collar_y + _SHOULDER_DROP * tall:
            break
        if steep(reach) and steep(reach + direction * step):
            break
        reach += direction
    inner = max(reach, int(side)) if direction < 0 else min(reach, int(side))
    return (float(inner), float(column_top[inner]))


def _own_end(mask: np.ndarray, shoulder: tuple[float, float], direction: int, span: float, tall: int) -> bool:
    """Whether something beyond the body ends apart from its hem: out from inside the shoulder's tip, the
    garment's lowest points rise into a notch and fall again (where a sleeve's cuff meets the hem), where
    a tank top's hem only curves up to its side."""
    present = mask.any(axis=0)
    bottom_row = np.where(present, mask.shape[0] - 1 - np.argmax(mask[::-1], axis=0), -1).astype(np.float32)
    columns = np.flatnonzero(present)
    outer = int(columns.min() if direction < 0 else columns.max())
    xs = np.arange(round(shoulder[0] - direction * _END_INSIDE * span), outer, direction)
    xs = xs[(xs >= 0) & (xs < mask.shape[1])]
    if xs.size < 3:
        return False
    depth = bottom_row[xs]
    # The notch's depth at each column: how far it lies above the lowest points on both sides of it.
    before, after = np.maximum.accumulate(depth), np.maximum.accumulate(depth[::-1])[::-1]
    return bool((np.minimum(before, after) - depth).max() >= _NOTCH * tall)


def _run_around(row: np.ndarray, x: int) -> tuple[int, int] | None:
    """First and last index of the run of True around ``row[x]``; None when ``row[x]`` is False."""
    if not row[x]:
        return None
    gaps = np.flatnonzero(~row)
    before, after = gaps[gaps < x], gaps[gaps > x]
    return (int(before.max()) + 1 if before.size else 0, int(after.min()) - 1 if after.size else len(row) - 1)


def _armpit(
    mask: np.ndarray, centre: int, start: int, side: int, edge: float, chest: float
) -> tuple[float, float]:
    """Going up the body's side from row ``start``, the first row where it leaves the straight side (out
    into a sleeve, or in along an armhole)."""
    top = int(np.argmax(mask.any(axis=1)))
    for y in range(start, top, -1):
        run = _run_around(mask[y], centre)
        if run is None or abs(run[side] - edge) > _SIDE_JUMP * chest:
            return (edge, float(y + 1))
    return (edge, float(top + 0.3 * (start - top)))


def _collar(column_top: np.ndarray, centre: int, direction: int, chest: float) -> int:
    """The column of one corner of the neckline: the highest point of the top edge near the middle, or,
    when the top edge has no notch (a high neck), a typical neck's width from the middle."""
    near, far = (round(r * chest) for r in _COLLAR_REACH)
    columns = np.clip(
        centre + direction * np.arange(max(1, near), max(near + 2, far)), 0, len(column_top) - 1
    )
    tops = column_top[columns]
    if column_top[centre] - tops.min() < 0.03 * chest:
        return int(np.clip(centre + direction * round(0.17 * chest), 0, len(column_top) - 1))
    return int(columns[int(np.argmin(tops))])


def _hem(
    mask: np.ndarray, centre: int, top: int, bottom: int, chest: float, sides: list[float] | None
) -> list[tuple[float, float]]:
    """The bottom corners of the body: the lowest row still half a chest wide (a hanging tie or a
    bodysuit's crotch is narrower), measured a little above it (a rounded hem's last rows are short), or
    straight below the body's ``sides`` when sleeves hang beside it."""
    for y in range(bottom, top, -1):
        run = _run_around(mask[y], centre)
        if run is not None and run[1] - run[0] >= _HEM_WIDTH * chest:
            above = _run_around(mask[max(top, y - round(_HEM_RISE * (bottom - top)))], centre) or run
            if sides is not None:
                return [(sides[0], float(y)), (sides[1], float(y))]
            return [(float(above[0]), float(y)), (float(above[1]), float(y))]
    return [(centre - chest / 2, float(bottom)), (centre + chest / 2, float(bottom))]


def _sleeve_end(
    mask: np.ndarray,
    shoulder: tuple[float, float],
    armpit: tuple[float, float],
    direction: int,
    chest: float,
) -> tuple[float, float]:
    """The middle of the cuff: the end of the garment beyond the line from the shoulder to the armpit and
    on down the body's side, farthest from where the sleeve starts; the shoulder itself when nothing
    worth a sleeve lies there. A sleeve starts at that line: a strap or a tie hanging beside the hem does
    not."""
    import cv2

    height, width = mask.shape
    rows = np.arange(height, dtype=np.float32)
    line = np.interp(rows, [shoulder[1], armpit[1]], [shoulder[0], armpit[0]])
    beyond = mask & (direction * (np.arange(width)[None, :] - line[:, None]) > 2)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(beyond.astype(np.uint8), connectivity=8)
    root = np.array([(shoulder[0] + armpit[0]) / 2, (shoulder[1] + armpit[1]) / 2])
    seam = np.array(shoulder) + np.linspace(0.0, 1.0, 16)[:, None] * np.subtract(armpit, shoulder)
    best, best_distance = 0, _SLEEVE_SEAM * chest
    for label in range(1, count):
        if stats[label, cv2.CC_STAT_AREA] < _MIN_SLEEVE_AREA * mask.sum():
            continue
        ys, xs = np.nonzero(labels == label)
        distance = float(np.min(np.hypot(xs[:, None] - seam[:, 0], ys[:, None] - seam[:, 1])))
        if distance < best_distance:
            best, best_distance = label, distance
    if best == 0:
        return shoulder
    ys, xs = np.nonzero(labels == best)
    reach = np.hypot(xs - root[0], ys - root[1])
    cuff = reach >= reach.max() - 0.05 * max(1.0, float(np.ptp(reach)))
    return (float(xs[cuff].mean()), float(ys[cuff].mean()))
