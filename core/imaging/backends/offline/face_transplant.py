"""The offline tier's identity path: the hidden lower face is taken from the user's own selfies.

A classical fill can only guess a generic mouth and chin; a user who trained an identity has shown us the
real ones. The reference selfie whose head pose best matches the photo (judged on the upper face, which a
mask never hides) is warped onto the face with a piecewise-affine warp over a Delaunay triangulation of the
face-mesh landmarks, its colours are matched to the photo's visible skin (Lab mean and spread), and it is
blended in with OpenCV's Poisson ``seamlessClone`` so that its edges take on the photo's lighting. Only the
part of the mask inside the face outline is replaced; below the jaw (neck, collar) the classical fill stays.

When no reference is posed closely enough (a profile photo against frontal selfies) the caller keeps the
classical fill: a wrongly turned mouth is worse than a plain one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image

from core.imaging.backends.base import ReferenceFace
from core.imaging.backends.offline import face_regions as fr

# The upper face: eyes, brows, forehead and the top of the nose bridge.
UPPER_FACE = (
    fr.LEFT_EYE + fr.RIGHT_EYE + fr.LEFT_BROW + fr.RIGHT_BROW + (10, 151, 9, 8, 168, 6, 127, 356, 162, 389)
)
# Pose error: RMS distance of the upper-face points after the best similarity fit, in eye distances.
# Mirrored and re-lit selfies of one photo fit within 0.02-0.04; a head turned by ~30 degrees gives 0.1.
MAX_POSE_ERROR = 0.07
# Face-mesh points used for the warp (the 468 mesh points; the 10 iris points would only add slivers).
_MESH_POINTS = 468
# Colour statistics come from the visible skin within this many eye distances of the mask.
_SKIN_BAND = 0.35
_SPREAD_RANGE = (0.6, 1.6)
# Under the mask, the share of each mesh point's position taken from the mesh (the rest from the reference).
# Measured on 5 faces x templates: 0 gives the lowest L1 to the real face and identity distance; 0.25 and
# 0.5 are worse on every face but one.
_HIDDEN_TRUST = 0.0
# Width of the face outline's rim left to the classical fill, in eye distances.
_OUTLINE_MARGIN = 0.05
# The blend region reaches this many pixels (kernel side) past the mask onto the photo's real skin.
_RIM = 7


def pose_error(target: np.ndarray, reference: np.ndarray) -> float:
    """How differently two faces are posed: the residual of a similarity fit of their upper faces."""
    a = np.asarray(reference, np.float64)[list(UPPER_FACE)]
    b = np.asarray(target, np.float64)[list(UPPER_FACE)]
    matrix = _similarity_fit(a, b)
    fitted = a @ matrix[:, :2].T + matrix[:, 2]
    return float(np.sqrt(((fitted - b) ** 2).sum(axis=1).mean()) / max(fr.eye_distance(target), 1.0))


def choose_reference(
    landmarks: np.ndarray, references: Sequence[ReferenceFace], max_error: float = MAX_POSE_ERROR
) -> ReferenceFace | None:
    """The reference posed most like the face, or None when none is close enough."""
    scored = [
        (pose_error(landmarks, r.landmarks), i) for i, r in enumerate(references) if r.image is not None
    ]
    if not scored:
        return None
    error, index = min(scored)
    return references[index] if error <= max_error else None


def transplant(
    image: Image.Image,
    mask: Image.Image,
    landmarks: np.ndarray,
    reference: ReferenceFace,
    base: Image.Image,
) -> Image.Image:
    """``base`` (the classical fill of ``image``) with the face part of ``mask`` replaced by ``reference``'s
    lower face. Pixels outside the mask are ``base``'s."""
    import cv2

    target = np.asarray(landmarks, np.float32)[:_MESH_POINTS]
    rgb = np.asarray(image.convert("RGB"))
    filled = np.asarray(base.convert("RGB"))
    hole = np.asarray(mask.convert("L")) > 127
    height, width = hole.shape

    # 1. Warp the reference onto the face: one affine map per triangle of the target's mesh. The mesh is
    # a guess under a mask (a KN95 lifts its mouth and widens its jaw): there the points come from the
    # reference's own bare face instead, placed by the fit of the two upper faces (same person, same pose).
    if reference.image is None:
        raise ValueError("a reference without its image cannot be transplanted")
    target = _settle_hidden_points(target, reference.landmarks, hole)
    warped, inside = _warp(
        np.asarray(reference.image.convert("RGB")), reference.landmarks, target, (width, height)
    )
    # The mesh's outline is least sure at the jaw and the cheeks' edge, and the reference's own background
    # lies just beyond it: the outer rim of the face keeps the classical fill.
    unit = max(fr.eye_distance(target), 2.0)
    rim = 2 * round(_OUTLINE_MARGIN * unit) + 1
    inside = cv2.erode(inside.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (rim, rim))) > 0
    face = inside & hole
    if face.sum() < 16:
        return base.convert("RGB").copy()

    # 2. Match the reference's colours to the photo's visible skin around the mask.
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * round(_SKIN_BAND * unit) + 1,) * 2)
    band = cv2.dilate(hole.astype(np.uint8), kernel).astype(bool) & ~hole & inside
    matched = _match_colours(warped, rgb, band) if band.sum() >= 16 else warped

    # 3. Poisson blend over the face part of the mask and a few pixels beyond it, so that the boundary the
    # blend matches is the photo's real skin. Where the region ends at the jaw, its boundary is the
    # reference itself (so the chin keeps its own colour rather than the background's).
    destination = filled.copy()
    outside_face = hole & ~inside
    destination[outside_face] = _extend(matched, inside)[outside_face]
    region = cv2.dilate(face.astype(np.uint8), np.ones((_RIM, _RIM), np.uint8)).astype(bool) & inside
    # seamlessClone wants its region clear of the image's edge.
    region[:2], region[-2:], region[:, :2], region[:, -2:] = False, False, False, False
    face &= region
    x, y, w, h = cv2.boundingRect(region.astype(np.uint8))
    cloned = cv2.seamlessClone(
        np.ascontiguousarray(matched),
        np.ascontiguousarray(destination),
        region.astype(np.uint8) * 255,
        (x + w // 2, y + h // 2),
        cv2.NORMAL_CLONE,
    )
    out = filled.copy()
    out[face] = cloned[face]
    return Image.fromarray(out, "RGB")


def _settle_hidden_points(target: np.ndarray, reference: np.ndarray, hole: np.ndarray) -> np.ndarray:
    source = np.asarray(reference, np.float64)[:_MESH_POINTS]
    matrix = _similarity_fit(source[list(UPPER_FACE)], target.astype(np.float64)[list(UPPER_FACE)])
    placed = source @ matrix[:, :2].T + matrix[:, 2]
    xs = np.clip(np.round(target[:, 0]).astype(int), 0, hole.shape[1] - 1)
    ys = np.clip(np.round(target[:, 1]).astype(int), 0, hole.shape[0] - 1)
    hidden = hole[ys, xs][:, None]
    return np.where(hidden, _HIDDEN_TRUST * target + (1 - _HIDDEN_TRUST) * placed, target).astype(np.float32)


def _similarity_fit(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Least-squares rotation + uniform scale + translation taking ``source`` onto ``target`` (Umeyama)."""
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    s, t = source - mu_s, target - mu_t
    u, sigma, vt = np.linalg.svd(t.T @ s / len(source))
    d = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ d @ vt
    scale = float(np.trace(np.diag(sigma) @ d) / max((s**2).sum() / len(source), 1e-9))
    return np.hstack([scale * rotation, (mu_t - scale * rotation @ mu_s)[:, None]])


def _triangles(points: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Delaunay triangles over ``points`` as (T, 3) indices."""
    import cv2

    width, height = size
    lo = np.minimum(points.min(axis=0), 0.0) - 1.0
    hi = np.maximum(points.max(axis=0), [width, height]) + 1.0
    subdiv = cv2.Subdiv2D((int(lo[0]), int(lo[1]), int(hi[0] - lo[0]) + 1, int(hi[1] - lo[1]) + 1))
    index: dict[tuple[float, float], int] = {}
    for i, (x, y) in enumerate(points):
        key = (float(np.float32(x)), float(np.float32(y)))
        if key not in index:
            index[key] = i
            subdiv.insert(key)
    triangles = []
    for x1, y1, x2, y2, x3, y3 in subdiv.getTriangleList():
        corners = [
            index.get((float(np.float32(x)), float(np.float32(y)))) for x, y in ((x1, y1), (x2, y2), (x3, y3))
        ]
        if all(c is not None for c in corners):
            triangles.append(corners)
    return np.array(triangles, np.int32).reshape(-1, 3)


def _warp(
    source: np.ndarray, source_points: np.ndarray, target_points: np.ndarray, size: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Piecewise-affine warp of ``source`` so that its landmarks land on ``target_points``: a map of which
    triangle covers each output pixel, then one ``remap`` through each triangle's inverse affine map."""
    import cv2

    width, height = size
    src = np.asarray(source_points, np.float32)[:_MESH_POINTS]
    triangles = _triangles(target_points, size)
    labels = np.full((height, width), -1, np.int32)
    inverse = np.zeros((len(triangles), 2, 3), np.float32)
    for t, corners in enumerate(triangles):
        inverse[t] = cv2.getAffineTransform(target_points[corners], src[corners])
        cv2.fillConvexPoly(labels, np.round(target_points[corners]).astype(np.int32), t)
    inside = labels >= 0
    ys, xs = np.nonzero(inside)
    affine = inverse[labels[ys, xs]]
    map_x = np.full((height, width), -1.0, np.float32)
    map_y = np.full((height, width), -1.0, np.float32)
    map_x[ys, xs] = affine[:, 0, 0] * xs + affine[:, 0, 1] * ys + affine[:, 0, 2]
    map_y[ys, xs] = affine[:, 1, 0] * xs + affine[:, 1, 1] * ys + affine[:, 1, 2]
    warped = cv2.remap(source, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return warped, inside


def _match_colours(warped: np.ndarray, photo: np.ndarray, region: np.ndarray) -> np.ndarray:
    """``warped`` with its Lab mean and spread over ``region`` moved to the photo's over the same pixels."""
    import cv2

    def lab(rgb: np.ndarray) -> np.ndarray:
        return np.asarray(cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab))

    source, target = lab(warped), lab(photo)
    mu_s, mu_t = source[region].mean(axis=0), target[region].mean(axis=0)
    spread = np.clip(target[region].std(axis=0) / (source[region].std(axis=0) + 1e-3), *_SPREAD_RANGE)
    moved = (source - mu_s) * spread + mu_t
    back = cv2.cvtColor(moved.astype(np.float32), cv2.COLOR_Lab2RGB)
    return np.clip(np.round(back * 255.0), 0, 255).astype(np.uint8)


def _extend(image: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``image`` with every invalid pixel replaced by its nearest valid one."""
    import cv2

    _, labels = cv2.distanceTransformWithLabels(
        (~valid).astype(np.uint8), cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL
    )
    ys, xs = np.nonzero(valid)
    # Labels number the zero (valid) pixels in scan order, from 1.
    lookup = np.zeros((len(ys) + 1, 3), np.uint8)
    lookup[1:] = image[ys, xs]
    return lookup[labels]
