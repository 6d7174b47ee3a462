"""The offline tier's garment painter: the garment photo itself, warped onto the person and lit like them.

There is no generative model offline, so the top is not painted but moved: its body by a thin-plate spline
through the point pairs ``garment_fit`` gives (neck, shoulders, armpits, sides, hem), each sleeve by its own
spline onto the arm (one spline for the whole top would fold the armpits: a product shot's sleeves stand
out at 45°, a person's arms hang down), drawn over the body. Warping resamples the photo once, bilinearly,
so a printed logo stays as sharp as the garment photo was.

A flat product shot on a person looks pasted on; what makes it look worn is the person's own light: the
folds and shading of the old top (its lightness, band-passed so that neither its colour nor its fine
print comes along) multiply the new one. Where the old top shows no fabric (an outlier in colour, e.g.
its own printed logo), the shading is taken from around it.

Where the new top is narrower than the old one, a strip of the old top would show beside it: within a short
reach of the new top's edge the old top is covered with the new top's fabric, spread outwards from it.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from PIL import Image

from core.config import ModelSettings
from core.imaging.backends.base import Garment, StepProgress, TryOnRequest
from core.imaging.backends.garment_fit import GarmentFit, fit_garment
from core.imaging.backends.torso import fill

# Pixels of the garment's outline dropped as fringe, and how far (px, a Gaussian's sigma) its colours are
# spread beyond it.
_FRINGE = 3
_BLEED = 4.0
# The body and a sleeve overlap this much (px of the garment photo) across the seam between them.
_SEAM_KERNEL = np.ones((9, 9), np.uint8)
# The splines are evaluated on a grid this coarse (px) and interpolated between: they are smooth.
_GRID = 8
# Spline smoothing (in shoulder widths squared): a little slack for side points measured a few px off.
_SMOOTHING = 0.002
# Shading: the lightness is smoothed at the small scale (drops the fabric's texture and thin print) and
# divided by itself smoothed at the large one (drops the light's overall level), both in shoulder widths;
# the ratio is clipped and softened so a dark crease darkens the new top, but never blackens it.
_FOLD_SCALE = 0.02
_LIGHT_SCALE = 0.15
_SHADE_RANGE = (0.75, 1.2)
_SHADE_STRENGTH = 0.6
# An old-top pixel more than this far (Lab) from the top's median colour is print, not fabric; the shading
# is trusted where at least this share of the fold scale's neighbourhood is old fabric.
_PRINT_DISTANCE = 25.0
_SHADE_SUPPORT = 0.5
# An old top darker than the first lightness (Lab L) gives no shading, one lighter than the second all of it.
_DARK = (15.0, 45.0)
# Old top the new one does not reach (a strip at the side, a tighter cut) is covered by the new top's fabric,
# spread from its nearest edge, up to this far (shoulder widths); an old top reaching further stays (a long
# shirt under a crop top: the fabric would be invented, not moved).
_REACH = 0.12
# Spreading the fabric: normalised blurs, finest first; a pixel takes the finest that sees enough fabric.
_SPREAD_SIGMAS = (2.0, 4.0, 8.0, 16.0, 32.0)
_SPREAD_SUPPORT = 0.05


class WarpGarmentPainter:
    resolution: ClassVar[int | None] = None

    def paint(self, request: TryOnRequest, progress: StepProgress) -> Image.Image:
        person = np.asarray(request.person.convert("RGB"))
        height, width = person.shape[:2]
        fit = fit_garment(request.body, request.garment)
        colour, alpha = _warped(request.garment, fit, (height, width))
        progress(0.6)
        # Only inside the mask: scale the (premultiplied) colour with the coverage.
        inside = np.asarray(request.mask.convert("L"), np.float32) / 255.0
        alpha *= inside
        colour *= inside[..., None]
        torso = np.asarray(request.body.torso) > 127
        colour, alpha = _cover_old_top(colour, alpha, torso & (inside > 0.5), _REACH * _unit(request))
        shade = _shading(person, torso, alpha > 0, _unit(request))
        out = person.astype(np.float32) * (1.0 - alpha[..., None]) + colour * shade[..., None]
        result = np.clip(np.round(out), 0, 255).astype(np.uint8)
        # Bit-identical wherever nothing was painted.
        np.copyto(result, person, where=(alpha <= 0)[..., None])
        progress(1.0)
        return Image.fromarray(result, "RGB")


def _unit(request: TryOnRequest) -> float:
    points = request.body.points
    return max(1.0, float(np.hypot(*np.subtract(points["left_shoulder"], points["right_shoulder"]))))


def _warped(garment: Garment, fit: GarmentFit, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The garment's colour (float RGB, premultiplied by the coverage) and coverage (0..1) on the person:
    the body, then the sleeves over it."""
    import cv2

    source = np.asarray(garment.image.convert("RGB")).astype(np.float32)
    # The outline's last pixels mix in the photo's background (a white fringe around a dark top): they are
    # dropped, and the garment's colours spread over the background just outside, so that resampling at the
    # edge blends garment with garment, not with the background.
    mask = cv2.erode(np.asarray(garment.mask.convert("L")), np.ones((3, 3), np.uint8), iterations=_FRINGE)
    mask = np.asarray(mask, np.float32) / 255.0
    spread = cv2.GaussianBlur(source * mask[..., None], (0, 0), _BLEED)
    weight = cv2.GaussianBlur(mask, (0, 0), _BLEED)[..., None]
    source = np.where(mask[..., None] > 0.5, source, spread / np.maximum(weight, 1e-3))
    parts = _parts(garment, fit, mask)
    colour = np.zeros((*shape, 3), np.float32)
    alpha = np.zeros(shape, np.float32)
    layers = [(fit.body_pairs, fit.body_outline, parts["body"])]
    layers += [(fit.sleeve_pairs[side], fit.sleeve_outlines[side], parts[side]) for side in fit.sleeve_pairs]
    unit = float(np.ptp(fit.body_pairs[0][:, 0])) or 1.0
    for (person_points, garment_points), outline, part in layers:
        box = _box(outline, shape, margin=0.1 * unit)
        if box is None:
            continue
        x0, y0, x1, y1 = box
        map_x, map_y = _spline_map(person_points, garment_points, box, unit)
        layer = cv2.remap(source, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        cover = cv2.remap(part, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        window = (slice(y0, y1), slice(x0, x1))
        cover = np.clip(cover, 0.0, 1.0)
        colour[window] = layer * cover[..., None] + colour[window] * (1.0 - cover[..., None])
        alpha[window] = cover + alpha[window] * (1.0 - cover)
    return colour, alpha


def _cover_old_top(
    colour: np.ndarray, alpha: np.ndarray, old_top: np.ndarray, reach: float
) -> tuple[np.ndarray, np.ndarray]:
    """``colour`` and ``alpha`` with the old top's pixels within ``reach`` px of the new top's edge covered
    by the new top's fabric, spread outwards from it (coarser the further from the edge)."""
    import cv2

    covered = alpha >= 0.5
    bare = old_top & ~covered
    if not bare.any() or not covered.any():
        return colour, alpha
    distance = cv2.distanceTransform((~covered).astype(np.uint8), cv2.DIST_L2, 5)
    bare &= distance <= reach
    if not bare.any():
        return colour, alpha
    # Straight (not premultiplied) fabric colour where the new top is solid; spread from there only.
    solid = covered.astype(np.float32)
    fabric = colour / np.maximum(alpha, 1e-3)[..., None] * solid[..., None]
    spread = np.zeros_like(colour)
    todo = bare.copy()
    for sigma in _SPREAD_SIGMAS:
        weight = cv2.GaussianBlur(solid, (0, 0), sigma)
        take = todo & (weight >= _SPREAD_SUPPORT)
        if take.any():
            value = cv2.GaussianBlur(fabric, (0, 0), sigma) / np.maximum(weight, 1e-6)[..., None]
            spread[take] = value[take]
            todo &= ~take
        if not todo.any():
            break
    filled = bare & ~todo
    colour = colour.copy()
    alpha = alpha.copy()
    # Premultiplied: the spread fabric replaces whatever partial coverage the edge had there.
    colour[filled] = spread[filled]
    alpha[filled] = 1.0
    return colour, alpha


def _parts(garment: Garment, fit: GarmentFit, mask: np.ndarray) -> dict[str, np.ndarray]:
    """The garment's mask split at each sleeve's seam (the line from the shoulder to the armpit, then
    straight down the body's side) into the body and the sleeves the fit has."""
    import cv2

    height, width = mask.shape
    points = {name: np.asarray(xy, np.float32) for name, xy in garment.points.items()}
    parts = {"body": mask.copy()}
    for side, outward in (("right", -1.0), ("left", 1.0)):
        if side not in fit.sleeve_pairs:
            continue
        shoulder = points[f"shoulder_{side}"]
        armpit = points.get(f"armpit_{side}", shoulder + (points[f"hem_{side}"] - shoulder) * 0.3)
        far = outward * 10.0 * max(height, width)
        beyond = fill(
            (height, width),
            [
                np.array(
                    [
                        [shoulder[0], -1.0],
                        [shoulder[0] + far, -1.0],
                        [shoulder[0] + far, height + 1.0],
                        [armpit[0], height + 1.0],
                        armpit,
                        shoulder,
                    ],
                    np.float32,
                )
            ],
        )
        # The two overlap across the seam (the sleeve is drawn over the body): resampled on their own, two
        # parts cut along one line would each fade there and let the photo show through a hairline.
        grown = cv2.dilate(beyond.astype(np.uint8), _SEAM_KERNEL) > 0
        parts[side] = np.where(grown, mask, 0.0).astype(np.float32)
        parts["body"][cv2.erode(beyond.astype(np.uint8), _SEAM_KERNEL) > 0] = 0.0
    return parts


def _box(outline: np.ndarray, shape: tuple[int, int], margin: float) -> tuple[int, int, int, int] | None:
    height, width = shape
    x0 = max(0, int(np.floor(outline[:, 0].min() - margin)))
    y0 = max(0, int(np.floor(outline[:, 1].min() - margin)))
    x1 = min(width, int(np.ceil(outline[:, 0].max() + margin)) + 1)
    y1 = min(height, int(np.ceil(outline[:, 1].max() + margin)) + 1)
    return None if x1 <= x0 or y1 <= y0 else (x0, y0, x1, y1)


def _spline_map(
    person: np.ndarray, garment: np.ndarray, box: tuple[int, int, int, int], unit: float
) -> tuple[np.ndarray, np.ndarray]:
    """For every pixel of ``box`` on the person, where in the garment photo it comes from: a thin-plate
    spline through the pairs, evaluated on a coarse grid and interpolated."""
    import cv2

    x0, y0, x1, y1 = box
    xs = np.linspace(x0, x1 - 1, max(2, (x1 - x0) // _GRID + 2), dtype=np.float32)
    ys = np.linspace(y0, y1 - 1, max(2, (y1 - y0) // _GRID + 2), dtype=np.float32)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    mapped = thin_plate_spline(person, garment, grid, _SMOOTHING * unit**2).reshape(len(ys), len(xs), 2)
    size = (x1 - x0, y1 - y0)
    map_x = cv2.resize(np.ascontiguousarray(mapped[..., 0]), size, interpolation=cv2.INTER_LINEAR)
    map_y = cv2.resize(np.ascontiguousarray(mapped[..., 1]), size, interpolation=cv2.INTER_LINEAR)
    return np.asarray(map_x, np.float32), np.asarray(map_y, np.float32)


def thin_plate_spline(
    source: np.ndarray, target: np.ndarray, points: np.ndarray, smoothing: float
) -> np.ndarray:
    """The thin-plate spline that takes ``source`` (n, 2) to ``target`` (n, 2) (exactly when ``smoothing``
    is 0, in px²), applied to ``points`` (m, 2)."""
    source, target, points = (np.asarray(a, np.float64) for a in (source, target, points))
    centre = source.mean(axis=0)
    scale = max(1e-6, float(source.std()))
    a, b = (source - centre) / scale, (points - centre) / scale
    count = len(a)

    def kernel(p: np.ndarray, q: np.ndarray) -> np.ndarray:
        squared = ((p[:, None, :] - q[None, :, :]) ** 2).sum(axis=-1)
        return np.where(squared > 0, squared * np.log(np.maximum(squared, 1e-12)), 0.0)

    system = np.zeros((count + 3, count + 3))
    system[:count, :count] = kernel(a, a) + smoothing / scale**2 * np.eye(count)
    system[:count, count] = 1.0
    system[:count, count + 1 :] = a
    system[count, :count] = 1.0
    system[count + 1 :, :count] = a.T
    right = np.zeros((count + 3, 2))
    right[:count] = target
    weights = np.linalg.lstsq(system, right, rcond=None)[0]
    return np.asarray(kernel(b, a) @ weights[:count] + weights[count] + b @ weights[count + 1 :], np.float32)


def _shading(person: np.ndarray, torso: np.ndarray, painted: np.ndarray, unit: float) -> np.ndarray:
    """(H, W) multiplier: the person's folds and shading, from the old top's lightness."""
    import cv2

    if not painted.any():
        return np.ones(painted.shape, np.float32)
    lab = cv2.cvtColor(person.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab)
    fabric = painted.copy()
    if torso.any():
        median = np.median(lab[torso], axis=0)
        fabric &= np.linalg.norm(lab - median, axis=-1) <= _PRINT_DISTANCE
    lightness = lab[..., 0]
    # A dark top hides its folds in the sensor's noise: its shading is trusted less, down to none.
    level = float(np.median(lightness[fabric])) if fabric.any() else 0.0
    darkness = float(np.clip((level - _DARK[0]) / (_DARK[1] - _DARK[0]), 0.0, 1.0))

    def smoothed(sigma: float) -> tuple[np.ndarray, np.ndarray]:
        weight = cv2.GaussianBlur(fabric.astype(np.float32), (0, 0), sigma)
        value = cv2.GaussianBlur(lightness * fabric, (0, 0), sigma)
        return np.asarray(value / np.maximum(weight, 1e-3)), np.asarray(weight)

    folds, seen = smoothed(max(0.5, _FOLD_SCALE * unit))
    light, _ = smoothed(max(1.0, _LIGHT_SCALE * unit))
    ratio = np.clip(folds / np.maximum(light, 1.0), *_SHADE_RANGE) ** _SHADE_STRENGTH
    # Where no old fabric lies near (new ground: below the old hem, over an arm), no shading is known.
    trust = np.clip(seen / _SHADE_SUPPORT, 0.0, 1.0) * darkness
    return np.asarray(np.where(painted, 1.0 + (ratio - 1.0) * trust, 1.0), np.float32)


def build_garment_painter(models: ModelSettings) -> WarpGarmentPainter:
    return WarpGarmentPainter()
