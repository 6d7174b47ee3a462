"""Outlines a worn face mask from the face-mesh landmarks, refined by the photo itself.

The landmarks say where a mask can be (the lower face under the eyes and over the nose bridge, hanging a
little over the jaw); GrabCut then finds the mask's real outline from colour: inside that polygon what is
not coloured like this face's skin is probably mask, the mouth and chin core is surely mask, a band around
it (and the skin inside it) probably not, and the eyes, brows and forehead (skin the mask never covers,
which teaches GrabCut the skin colour) and everything far from the face surely not. MediaPipe's selfie
segmentation adds what colour alone cannot tell: what is not part of the person (a white wall beside a white
mask) is surely not mask, and beside both cheeks, part of the person in a colour found nowhere else on them
(not skin, hair or clothes: a respirator's filters) is probably mask. It runs on the face crop scaled down to
a fixed size, which bounds its cost whatever the photo's resolution.
"""

from __future__ import annotations

import threading

import numpy as np
from PIL import Image

from core.config import ModelSettings
from core.imaging.backends.base import Face
from core.imaging.backends.offline import face_regions as fr
from core.imaging.backends.offline import skin
from core.imaging.backends.offline.mediapipe_graphs import selfie_segmentation_graph

# GrabCut works on the face crop scaled so that the eye distance is this many pixels.
_WORK_EYE_DISTANCE = 80.0
_ITERATIONS = 4
# Colour distance (Lab, lightness down-weighted) under which a pixel counts as the face's own skin.
_SKIN_DISTANCE = 10.0
_SKIN_LIGHTNESS_WEIGHT = 0.3
# How far beyond the jaw the mask may reach, as a fraction of the jaw's distance from the face centre:
# probably-mask up to the first, possibly-mask up to the second (N95s and gaiters hang well below the chin).
_PROBABLE_OVERHANG = 0.08
_POSSIBLE_OVERHANG = 0.6
# Beyond the cheeks, how far out (from the ear, along the eye line) and down (from there) a mask may reach,
# in eye distances.
_SIDE_REACH = 0.8
_SIDE_DEPTH = 1.2
# When the outline runs into that edge beside the face over more than this share of an eye distance, a
# second pass reaches this many times further out and down.
_SIDE_CONTACT = 0.25
_WIDER_REACH = 2.0
# A GrabCut result smaller than this fraction of the landmark polygon means the colours could not be told
# apart (a skin-coloured mask, flat lighting): the polygon itself is the better answer then.
_MIN_AREA_RATIO = 0.25
# Selfie segmentation: above the first, surely part of the person; below the second, surely not. It looks at
# the working crop grown by this factor (context: shoulders, hair) at its own 256 px.
_PERSON = 0.8
_NOT_PERSON = 0.1
_PERSON_CONTEXT = 1.6
_PERSON_SIDE = 256
# A colour counts as found nowhere else on the person when it is this many times more common beside the
# cheeks than on the rest of the person (colour histogram of 8 bins per channel).
_RARITY = 5.0
# Each of the two filters covers at least this many square eye distances.
_PAIR_AREA = 0.02


class LandmarkGrabCutSegmenter:
    """Thread-safe: one lock around the selfie segmentation graph, which keeps state between calls."""

    def __init__(self) -> None:
        self._selfie = selfie_segmentation_graph()
        self._lock = threading.Lock()

    def segment(self, image: Image.Image, face: Face) -> Image.Image:
        if face.landmarks is None:
            raise ValueError("the offline segmenter needs face-mesh landmarks")
        landmarks = face.landmarks.astype(np.float32)
        found = self._outline(image, landmarks, _reach_polygon(landmarks, 1.0))
        if found is None:
            return Image.new("L", image.size, 0)
        outline, runs_into_the_side = found
        if runs_into_the_side:
            # The outline runs into the edge of where a mask may reach at the side: a flap or a mask seen
            # from an angle goes on beyond it. Once more, with the sides reaching further.
            wider = self._outline(image, landmarks, _reach_polygon(landmarks, _WIDER_REACH))
            if wider is not None:
                outline = wider[0]
        return Image.fromarray(outline, "L")

    def _outline(
        self, image: Image.Image, landmarks: np.ndarray, reach: np.ndarray
    ) -> tuple[np.ndarray, bool] | None:
        """The mask's outline (uint8 0/255, full resolution) within ``reach``, and whether it runs into
        the edge of ``reach`` beside the face; None when the crop is empty."""
        import cv2

        scale = _WORK_EYE_DISTANCE / max(fr.eye_distance(landmarks), 1.0)
        # The working crop: where a mask can reach plus the eyes and brows, with a margin.
        region = np.vstack([reach, fr.points(landmarks, fr.LEFT_BROW + fr.RIGHT_BROW)])
        margin = 0.25 * fr.eye_distance(landmarks)
        x0 = max(0, int(region[:, 0].min() - margin))
        y0 = max(0, int(region[:, 1].min() - margin))
        x1 = min(image.width, int(np.ceil(region[:, 0].max() + margin)))
        y1 = min(image.height, int(np.ceil(region[:, 1].max() + margin)))
        if x1 - x0 < 4 or y1 - y0 < 4:
            return None
        width, height = max(8, round((x1 - x0) * scale)), max(8, round((y1 - y0) * scale))
        sx, sy = width / (x1 - x0), height / (y1 - y0)
        crop = image.crop((x0, y0, x1, y1)).convert("RGB").resize((width, height), Image.Resampling.BILINEAR)
        bgr = np.ascontiguousarray(np.asarray(crop)[:, :, ::-1])

        def to_work(pts: np.ndarray) -> np.ndarray:
            return np.round((pts - [x0, y0]) * [sx, sy]).astype(np.int32)

        prior = np.zeros((height, width), np.uint8)
        cv2.fillPoly(prior, [to_work(fr.lower_face_polygon(landmarks, _PROBABLE_OVERHANG))], 1)

        trimap = np.full((height, width), cv2.GC_BGD, np.uint8)
        cv2.fillPoly(trimap, [to_work(reach)], cv2.GC_PR_BGD)
        # Start GrabCut's mask model from the non-skin part of the polygon only: seeded with the whole
        # polygon, it keeps a "skin" component in its mask model and never lets go of the cheeks and neck.
        skin_coloured = _skin_like_face(bgr, to_work(landmarks[list(skin.SKIN_POINTS)]))
        trimap[(prior > 0) & ~skin_coloured] = cv2.GC_PR_FGD
        # The mouth and the chin under it are covered by any mask worth the name.
        core = np.vstack(
            [fr.points(landmarks, fr.LIPS_OUTER), landmarks[[fr.CHIN]] * 0.35 + landmarks[[0]] * 0.65]
        )
        core_mask = np.zeros((height, width), np.uint8)
        cv2.fillPoly(core_mask, [cv2.convexHull(to_work(core))], 1)
        trimap[core_mask > 0] = cv2.GC_FGD
        upper = _upper_face(landmarks)
        cv2.fillPoly(trimap, [to_work(upper)], cv2.GC_BGD)
        for eye in (fr.LEFT_EYE, fr.RIGHT_EYE):
            cv2.fillPoly(trimap, [to_work(fr.points(landmarks, eye))], cv2.GC_BGD)
        person = self._person(image, (x0, y0, x1, y1), (width, height))
        trimap[_side_parts(bgr, trimap, skin_coloured, person, to_work(landmarks))] = cv2.GC_PR_FGD
        trimap[(person < _NOT_PERSON) & (trimap != cv2.GC_FGD)] = cv2.GC_BGD

        found = self._grabcut(bgr, trimap)
        prior_area = int(prior.sum())
        if found is None or found.sum() < _MIN_AREA_RATIO * prior_area:
            found = prior.astype(bool)
        cleaned = _clean(found, core_mask > 0, kernel=max(3, round(_WORK_EYE_DISTANCE / 12)))
        # Back to full resolution through a blurred edge so the outline is smooth, not blocky.
        soft = cv2.resize(cleaned.astype(np.float32), (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
        full = np.zeros((image.height, image.width), np.uint8)
        full[y0:y1, x0:x1] = np.where(soft >= 0.5, 255, 0).astype(np.uint8)
        return full, _runs_into_the_side(cleaned, to_work(reach), to_work(landmarks))

    def _person(
        self, image: Image.Image, box: tuple[int, int, int, int], size: tuple[int, int]
    ) -> np.ndarray:
        """The probability that each pixel of the working crop ``box`` (scaled to ``size``) is part of a
        person, from the selfie segmentation of the crop grown by _PERSON_CONTEXT."""
        import cv2

        x0, y0, x1, y1 = box
        cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, _PERSON_CONTEXT * max(x1 - x0, y1 - y0) / 2
        bx0, by0 = int(max(0, cx - half)), int(max(0, cy - half))
        bx1, by1 = int(min(image.width, cx + half)), int(min(image.height, cy + half))
        context = image.crop((bx0, by0, bx1, by1)).convert("RGB")
        small = context.resize(
            (_PERSON_SIDE, max(8, round(_PERSON_SIDE * context.height / max(context.width, 1)))),
            Image.Resampling.BILINEAR,
        )
        with self._lock:
            found = self._selfie.process(np.asarray(small)).segmentation_mask
        probability = cv2.resize(np.asarray(found, np.float32), context.size, interpolation=cv2.INTER_LINEAR)
        # The working crop lies inside the context crop (both are clipped to the photo).
        inside = probability[y0 - by0 : y1 - by0, x0 - bx0 : x1 - bx0]
        return np.asarray(cv2.resize(inside, size, interpolation=cv2.INTER_LINEAR), np.float32)

    @staticmethod
    def _grabcut(bgr: np.ndarray, trimap: np.ndarray) -> np.ndarray | None:
        import cv2

        labels = trimap.copy()
        if not (labels == cv2.GC_BGD).any() or not np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)).any():
            return None
        bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        # GrabCut seeds its colour models with k-means from OpenCV's (per-thread) random generator: reset
        # it so that one photo always gets one outline.
        cv2.setRNGSeed(0)
        try:
            # The rectangle is ignored when initialising from a mask.
            cv2.grabCut(bgr, labels, (0, 0, 0, 0), bgd, fgd, _ITERATIONS, cv2.GC_INIT_WITH_MASK)
        except cv2.error:
            # Raised when one side has too few distinct colours to fit its model (a flat synthetic image).
            return None
        return np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD))


def _skin_like_face(bgr: np.ndarray, reference_points: np.ndarray) -> np.ndarray:
    """Pixels whose colour is close to this face's own skin (sampled where masks never reach). Lightness
    counts for little, so shaded cheeks and the neck in the shadow of the jaw still count as skin."""
    lab = skin.lab_image(np.ascontiguousarray(bgr[:, :, ::-1]))
    reference = skin.dominant_colour(np.array(skin.sample_skin(lab, reference_points, radius=1)))
    if reference is None:
        return np.zeros(lab.shape[:2], bool)
    difference = (lab - reference) * np.array([_SKIN_LIGHTNESS_WEIGHT, 1.0, 1.0], np.float32)
    return np.asarray(np.linalg.norm(difference, axis=-1) < _SKIN_DISTANCE)


def _side_parts(
    bgr: np.ndarray, trimap: np.ndarray, skin: np.ndarray, person: np.ndarray, landmarks: np.ndarray
) -> np.ndarray:
    """Where a respirator's filters stick out beside the cheeks (outside the face oval, between the nose
    tip and the chin): pixels of the person, not skin, in a colour that is rare on the rest of the person
    (hair, brows, shoulders, clothes: the surely-not-mask part of the crop), on both sides of the face.
    Without the rarity test long hair beside the face would be taken for a filter."""
    import cv2

    rows = np.arange(trimap.shape[0])[:, None]
    band = (rows >= landmarks[fr.NOSE_TIP, 1]) & (rows <= landmarks[fr.CHIN, 1])
    beside = ~_inside_the_oval(landmarks, trimap.shape) & band
    candidates = (trimap == cv2.GC_PR_BGD) & beside & ~skin & (person > _PERSON)
    elsewhere = (trimap == cv2.GC_BGD) & (person > _PERSON) & ~skin
    if not candidates.any() or elsewhere.sum() < 50:
        return np.zeros_like(candidates)
    bins = (bgr // 32).astype(np.int32)
    colour = (bins[..., 0] * 8 + bins[..., 1]) * 8 + bins[..., 2]

    def share(where: np.ndarray) -> np.ndarray:
        counts = np.bincount(colour[where], minlength=512).astype(np.float32)
        return counts / max(float(counts.sum()), 1.0)

    parts = candidates & (share(candidates)[colour] > _RARITY * (share(elsewhere)[colour] + 1e-4))
    # Filters come in pairs, one beside each cheek; something on one side only (a curl of hair in another
    # colour, a poster behind one shoulder) is not taken for them.
    eye_line = fr.points(landmarks, fr.EYE_LINE)
    along = (eye_line[-1] - eye_line[0]) / max(float(np.linalg.norm(eye_line[-1] - eye_line[0])), 1e-6)
    ys, xs = np.nonzero(parts)
    offset = (np.stack([xs, ys], axis=1) - fr.face_centre(landmarks)) @ along
    if min(int((offset < 0).sum()), int((offset >= 0).sum())) < _PAIR_AREA * fr.eye_distance(landmarks) ** 2:
        return np.zeros_like(parts)
    return np.asarray(parts)


def _reach_polygon(landmarks: np.ndarray, sides: float) -> np.ndarray:
    """Everything a mask could cover: below the eyes, over the lower face and the jaw (pushed outward as
    in ``below_eyes_polygon``), and out to the sides beyond the cheeks, where the flaps of a mask seen from
    an angle and the filters of a respirator stick out (``sides`` times _SIDE_REACH and _SIDE_DEPTH)."""
    import cv2

    below = fr.below_eyes_polygon(landmarks, _POSSIBLE_OVERHANG)
    centre = fr.face_centre(landmarks)
    eye_line = fr.points(landmarks, fr.EYE_LINE)
    unit = fr.eye_distance(landmarks)
    chin = landmarks[fr.CHIN]
    down = chin - centre
    down = down / max(float(np.linalg.norm(down)), 1e-6)
    side = np.array([down[1], -down[0]], np.float32)
    wings = []
    for sign in (-1.0, 1.0):
        ear = eye_line[0] if sign * ((eye_line[0] - centre) @ side) > 0 else eye_line[-1]
        out = ear + sign * side * sides * _SIDE_REACH * unit
        depth = down * sides * _SIDE_DEPTH * unit
        wings += [ear, out, out + depth, ear + depth]
    hull = cv2.convexHull(np.vstack([below, np.array(wings, np.float32)]).astype(np.float32))
    return np.asarray(hull, np.float32).reshape(-1, 2)


def _runs_into_the_side(outline: np.ndarray, reach: np.ndarray, landmarks: np.ndarray) -> bool:
    """Whether ``outline`` (working pixels) meets the edge of ``reach`` beside the face (outside the face
    oval, below the eyes) over more than _SIDE_CONTACT eye distances."""
    import cv2

    edge = np.zeros(outline.shape, np.uint8)
    cv2.polylines(edge, [reach.reshape(-1, 1, 2)], True, 1, thickness=3)
    edge[: max(0, int(_lower_eyelid_y(landmarks)))] = 0
    contact = int((outline & (edge > 0) & ~_inside_the_oval(landmarks, outline.shape)).sum()) / 3
    return contact > _SIDE_CONTACT * _WORK_EYE_DISTANCE


def _inside_the_oval(landmarks: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """True inside the convex hull of the face oval's landmarks (working pixels)."""
    import cv2

    oval = np.zeros(shape[:2], np.uint8)
    cv2.fillPoly(oval, [cv2.convexHull(landmarks[list(fr.FACE_OVAL)])], 1)
    return oval > 0


def _upper_face(landmarks: np.ndarray) -> np.ndarray:
    """Eyes, brows and forehead: the face oval above the line through the lower eyelids."""
    oval = fr.points(landmarks, fr.FACE_OVAL)
    eye_line_y = _lower_eyelid_y(landmarks)
    above = oval[oval[:, 1] <= eye_line_y]
    brows = fr.points(landmarks, fr.LEFT_BROW + fr.RIGHT_BROW)
    eyes = fr.points(landmarks, fr.LEFT_EYE + fr.RIGHT_EYE)
    import cv2

    return np.asarray(cv2.convexHull(np.vstack([above, brows, eyes]).astype(np.float32))).reshape(-1, 2)


def _lower_eyelid_y(landmarks: np.ndarray) -> float:
    """The height of the lower eyelids (mean of the two lids' lowest mesh points)."""
    return float(landmarks[[145, 374], 1].mean())


def _clean(mask: np.ndarray, core: np.ndarray, kernel: int) -> np.ndarray:
    """Keep the blob over the mouth and chin (the largest when none is), close pleats and strap gaps, fill
    holes (a valve, a printed logo)."""
    import cv2

    shape = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kernel, kernel))
    m = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, shape)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, shape)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    if count <= 1:
        return mask.astype(bool)
    over_core = np.bincount(labels[core], minlength=count)[1:]
    best = over_core if over_core.any() else stats[1:, cv2.CC_STAT_AREA]
    m = (labels == 1 + int(np.argmax(best))).astype(np.uint8)
    contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(m)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    return filled.astype(bool)


def build_segmenter(models: ModelSettings) -> LandmarkGrabCutSegmenter:
    return LandmarkGrabCutSegmenter()
