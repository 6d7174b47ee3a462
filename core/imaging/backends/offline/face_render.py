"""The hidden lower face, rendered from the face mesh and the light that falls on the visible skin.

MediaPipe's face mesh predicts the whole face in 3D even where a mask hides it: its nose, lips and chin are a
plausible shape for this head in this pose. Each mesh triangle has a normal; the visible skin (forehead,
cheeks, the bridge of the nose) shows how bright skin facing each direction is in this photo, so a
first-order lighting model (a constant plus a term along each axis of the normal, per colour channel, in
linear light) is fitted to it and evaluated on the hidden normals. That shades the nose, the hollow under
it, the lips' roll and the chin the way the rest of the face is shaded. Lips and nostrils then get their own
colour on top (``shading``).

Everything here works on the small working copy the inpainter uses; nothing is drawn at full resolution.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from core.imaging.backends.offline import face_regions as fr

_MESH_POINTS = 468
# Regions whose colour is not skin's: excluded from the lighting fit.
_NOT_SKIN = (fr.LEFT_EYE, fr.RIGHT_EYE, fr.LEFT_BROW, fr.RIGHT_BROW, fr.LIPS_OUTER)
# Lighting fit: skin pixels within this many eye distances of the hole count most (the light on the
# forehead can differ from the light on the cheeks next to the mask), and the worst-fitting share of them
# (a strand of hair, a shadow the mask casts) is dropped before the final fit.
_NEAR = 0.6
_TRIM = 0.25
# Normals' components are bounded by what the visible skin covers: a lighting model fitted on cheeks that
# face sideways is not trusted far outside that range (the underside of the nose, the chin's bottom).
_EXTRAPOLATE = 0.25
# Ambient occlusion: recesses deeper than this share of the eye distance below their surroundings
# (smoothed over the second share) lose up to _OCCLUSION of their light.
_CAVITY_DEPTH = 0.04
_CAVITY_SCALE = 0.12
_OCCLUSION = 0.2
# Rec. 709 luminance of linear RGB.
_LUMINANCE = np.array([0.2126, 0.7152, 0.0722], np.float32)


@functools.cache
def triangles() -> np.ndarray:
    """The face mesh's triangles (T, 3), from MediaPipe's tessellation edges."""
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    neighbours: dict[int, set[int]] = {}
    for a, b in FACEMESH_TESSELATION:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    found = {tuple(sorted((a, b, c))) for a, b in FACEMESH_TESSELATION for c in neighbours[a] & neighbours[b]}
    return np.array(sorted(found), np.int32)


def vertex_normals(points: np.ndarray) -> np.ndarray:
    """Unit normals (N, 3) of the mesh at each vertex, pointing toward the camera (+z = toward it; the
    mesh's own z grows away from the camera)."""
    p = np.asarray(points, np.float64)[:_MESH_POINTS] * [1.0, 1.0, -1.0]
    tri = triangles()
    a, b, c = p[tri[:, 0]], p[tri[:, 1]], p[tri[:, 2]]
    face_normals = np.cross(b - a, c - a)
    # Orient every triangle toward the camera side: the mesh is a height field seen from the front.
    face_normals *= np.where(face_normals[:, 2:3] < 0, -1.0, 1.0)
    normals = np.zeros_like(p)
    for k in range(3):
        np.add.at(normals, tri[:, k], face_normals)
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-9)
    return normals


@dataclass(frozen=True)
class Raster:
    """Per-pixel normals (H, W, 3) and depth (H, W) over the mesh, and where the mesh covers the image
    (H, W; the mouth's gap between the lips included)."""

    normals: np.ndarray
    depth: np.ndarray
    covered: np.ndarray


def rasterise(points: np.ndarray, depth: np.ndarray, size: tuple[int, int]) -> Raster:
    """Interpolate the vertex normals over the mesh's triangles, nearest triangle in front."""
    import cv2

    width, height = size
    xy = np.asarray(points, np.float32)[:_MESH_POINTS]
    z = np.asarray(depth, np.float32)[:_MESH_POINTS]
    normals = vertex_normals(np.column_stack([xy, z]))
    tri = triangles()
    # Painter's order: the farthest triangles first, so the nearer ones overwrite them.
    order = np.argsort(-z[tri].mean(axis=1))
    labels = np.full((height, width), -1, np.int32)
    for t in order:
        cv2.fillConvexPoly(labels, np.round(xy[tri[t]] * 16).astype(np.int32), int(t), cv2.LINE_8, 4)
    covered = labels >= 0
    ys, xs = np.nonzero(covered)
    corners = xy[tri[labels[ys, xs]]].astype(np.float64)  # (P, 3, 2)
    # Barycentric coordinates of each covered pixel in its triangle.
    v0, v1 = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    v2 = np.column_stack([xs, ys]) - corners[:, 0]
    det = v0[:, 0] * v1[:, 1] - v0[:, 1] * v1[:, 0]
    det = np.where(np.abs(det) < 1e-9, 1e-9, det)
    w1 = (v2[:, 0] * v1[:, 1] - v2[:, 1] * v1[:, 0]) / det
    w2 = (v0[:, 0] * v2[:, 1] - v0[:, 1] * v2[:, 0]) / det
    weights = np.clip(np.column_stack([1 - w1 - w2, w1, w2]), 0.0, 1.0)
    weights /= np.maximum(weights.sum(axis=1, keepdims=True), 1e-9)
    corner_ids = tri[labels[ys, xs]]
    n = (normals[corner_ids] * weights[:, :, None]).sum(axis=1)
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)
    fields = np.zeros((height, width, 4), np.float32)
    fields[ys, xs, :3] = n
    fields[ys, xs, 3] = (z[corner_ids] * weights).sum(axis=1)
    # The mesh has no triangles between the lips: close the gap from its surroundings.
    lips = np.zeros((height, width), np.uint8)
    cv2.fillPoly(lips, [np.round(fr.points(xy, fr.LIPS_OUTER) * 16).astype(np.int32)], 1, cv2.LINE_8, 4)
    gap = (lips > 0) & ~covered
    if gap.any():
        for k in range(4):
            fields[..., k] = cv2.inpaint(fields[..., k], gap.astype(np.uint8), 3, cv2.INPAINT_TELEA)
        covered = covered | gap
    normals_field = fields[..., :3] / np.maximum(
        np.linalg.norm(fields[..., :3], axis=-1, keepdims=True), 1e-9
    )
    return Raster(normals_field * covered[..., None], fields[..., 3], covered)


def skin_sample_mask(points: np.ndarray, raster: Raster, hole: np.ndarray) -> np.ndarray:
    """Pixels of visible skin to learn the lighting from: on the mesh, off the hole, off the eyes, brows and
    lips."""
    import cv2

    height, width = hole.shape
    excluded = np.zeros((height, width), np.uint8)
    for region in _NOT_SKIN:
        hull = cv2.convexHull(np.round(fr.points(points, region)).astype(np.int32))
        cv2.fillConvexPoly(excluded, hull, 1)
    unit = max(fr.eye_distance(points), 2.0)
    grown = cv2.dilate(excluded, np.ones((3, 3), np.uint8), iterations=max(1, round(0.04 * unit)))
    return np.asarray(raster.covered & ~hole & (grown == 0))


def fit_lighting(
    linear: np.ndarray, raster: Raster, sample: np.ndarray, hole: np.ndarray, unit: float
) -> np.ndarray | None:
    """Least-squares ``colour = c0 + c . normal`` per channel (linear RGB), weighted toward the hole and
    refitted without its worst-fitting pixels. Returns (4, 3) coefficients, or None with too little skin."""
    import cv2

    if sample.sum() < 30:
        return None
    distance = cv2.distanceTransform((~hole).astype(np.uint8), cv2.DIST_L2, 3)
    weight = np.exp(-distance[sample] / max(1.0, _NEAR * unit))
    design = np.column_stack([np.ones(int(sample.sum())), raster.normals[sample]])
    target = linear[sample]
    keep = np.ones(len(target), bool)
    coef = None
    for _ in range(2):
        w = np.sqrt(weight[keep])[:, None]
        coef, *_ = np.linalg.lstsq(design[keep] * w, target[keep] * w, rcond=None)
        residual = np.abs(design @ coef - target).sum(axis=1)
        keep = residual <= np.quantile(residual, 1.0 - _TRIM)
    return coef


def shade(raster: Raster, coef: np.ndarray, sample: np.ndarray) -> np.ndarray:
    """The fitted lighting evaluated on every pixel's normal (linear RGB, H x W x 3), with the normals
    clamped to a little beyond the range the fit saw."""
    seen = raster.normals[sample]
    low, high = seen.min(axis=0) - _EXTRAPOLATE, seen.max(axis=0) + _EXTRAPOLATE
    normals = np.clip(raster.normals, low, high)
    design = np.concatenate([np.ones(normals.shape[:2] + (1,), np.float32), normals], axis=-1)
    return np.clip(design @ coef.astype(np.float32), 0.0, 1.0)


def cavities(raster: Raster, unit: float) -> np.ndarray:
    """How recessed each pixel is relative to its surroundings (0 = not at all, up to 1): the hollow under
    the nose, the corners of the mouth, the fold under the lower lip. Less light reaches those."""
    import cv2

    depth = np.where(raster.covered, raster.depth, 0.0).astype(np.float32)
    weight = cv2.GaussianBlur(raster.covered.astype(np.float32), (0, 0), max(1.0, _CAVITY_SCALE * unit))
    smooth = cv2.GaussianBlur(depth, (0, 0), max(1.0, _CAVITY_SCALE * unit)) / np.maximum(weight, 1e-3)
    recess = np.clip((depth - smooth) / max(0.5, _CAVITY_DEPTH * unit), 0.0, 1.0)
    return np.asarray(recess * raster.covered, np.float32)


def render(
    rgb: np.ndarray,
    hole: np.ndarray,
    skin_coloured: np.ndarray,
    landmarks: np.ndarray,
    depth: np.ndarray,
    skin_rgb: np.ndarray,
) -> tuple[np.ndarray, np.ndarray] | None:
    """The face under ``hole`` as this photo's light would show bare skin of colour ``skin_rgb`` (0..255):
    RGB (H, W, 3, float 0..255) and where the mesh covers the image. Only the brightness is fitted to the
    visible skin; the colour stays the skin's, since a fitted per-channel model turns orange or grey
    wherever it extrapolates. None when too little skin shows to learn the light from."""
    height, width = hole.shape
    raster = rasterise(landmarks, depth, (width, height))
    unit = max(fr.eye_distance(landmarks), 2.0)
    luminance = ((rgb.astype(np.float32) / 255.0) ** 2.2) @ _LUMINANCE
    sample = skin_sample_mask(landmarks, raster, hole) & skin_coloured
    coef = fit_lighting(luminance[..., None], raster, sample, hole, unit)
    if coef is None:
        return None
    shaded = shade(raster, coef, sample)[..., 0] * (1.0 - _OCCLUSION * cavities(raster, unit))
    albedo = (np.clip(np.asarray(skin_rgb, np.float32), 1.0, 255.0) / 255.0) ** 2.2
    colours = albedo / max(float(albedo @ _LUMINANCE), 1e-4) * shaded[..., None]
    return np.clip(colours, 0.0, 1.0) ** (1 / 2.2) * 255.0, raster.covered
