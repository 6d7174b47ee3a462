"""The person in a /tryon photo, from the MediaPipe models inside the wheel.

Pose gives the joints (shoulders, elbows, wrists, hips, and the hand points), selfie segmentation the person
against the background. The regions the try-on needs are drawn from the joints and cut by the person mask:
the old top is the quadrilateral from the shoulders to the hips, the arms are capsules along
shoulder-elbow-wrist, and what must come back unchanged (``keep``) is everything of the person above the
collar line (face, hair, neck), the hands, and a forearm that lies across the torso (it is in front of the
new top). There is no clothes parser that works offline, so the old top is where a top is, not what it is.

MediaPipe pose follows one person; the others are counted with the offline face detector, and each comes
back as a body with only its ``nose`` (the pipeline refuses a photo with more than one person, so nothing
else of them is needed). A photo where pose finds nobody but the detector finds a face is a headshot: its
body has no shoulders and hips, which the pipeline refuses as "no upper body", not as "no person"; so is a
photo that is mostly a person neither model can follow (a head in profile behind sunglasses and a mask).
Shoulders and hips without a head (no nose, no face) are a shirt laid flat: no person.
"""

from __future__ import annotations

import threading

import numpy as np
from PIL import Image

from core.config import ModelSettings
from core.errors import UserError
from core.imaging.backends.base import Body, BodyPoints, Face
from core.imaging.backends.offline.detector import MediaPipeFaceDetector
from core.imaging.backends.offline.mediapipe_graphs import pose_graph, selfie_segmentation_graph
from core.imaging.backends.torso import ARMPIT_DROP, TorsoFrame, fill

# Pose and segmentation look at 256 px; they run on a copy whose long side is at most this.
_WORK_MAX_SIDE = 512
# A joint counts when MediaPipe is this sure it is visible and it lies inside the photo.
_VISIBLE = 0.5
_LANDMARKS = {
    "nose": 0,
    "left_shoulder": 11,
    "right_shoulder": 12,
    "left_elbow": 13,
    "right_elbow": 14,
    "left_wrist": 15,
    "right_wrist": 16,
    "left_hip": 23,
    "right_hip": 24,
}
# Pinky, index and thumb of each hand: they outline the hand beyond the wrist.
_HAND = {"left": (17, 19, 21), "right": (18, 20, 22)}
# Less of the photo than this is a person: nobody is there (a landscape, a plain wall).
_MIN_PERSON_SHARE = 0.01
# With no face either, a person is only believed when they fill this share of the photo.
_MIN_FIGURE_SHARE = 0.1
# A face at least this share of the main person's face area is another person in the photo (a small face
# far behind them is a passer-by, not a second subject).
_SECOND_FACE_AREA = 0.2
# The arms are this thick (radius, in shoulder widths) from shoulder to elbow and from elbow to wrist, and
# the hands this much larger than the outline of their pose points.
_UPPER_ARM = 0.14
_FOREARM = 0.1
_HAND_GROWTH = 0.07


class MediaPipeBodyParser:
    """Thread-safe: one lock around the MediaPipe graphs, which keep state between calls."""

    def __init__(self, detector: MediaPipeFaceDetector) -> None:
        self._detector = detector
        self._pose = pose_graph()
        self._segmentation = selfie_segmentation_graph()
        self._lock = threading.Lock()

    def parse(self, image: Image.Image) -> list[Body]:
        body, person_share = self._look(image)
        if body is None:
            # Nobody the pose model can follow: a headshot (a face, no body) or no person at all.
            if person_share < _MIN_PERSON_SHARE:
                raise UserError("tryon.no_person")
            faces = self._detector.detect(image)
            if faces:
                return [_head_only(face, image.size) for face in _subjects(faces, faces[0])]
            if person_share < _MIN_FIGURE_SHARE:
                raise UserError("tryon.no_person")
            # A good part of the photo is a person whose face and body the models cannot follow (a head in
            # profile behind sunglasses and a mask): someone is there, just not seen from the hips up.
            empty = Image.new("L", image.size, 0)
            return [Body({}, empty, empty, empty, empty, score=0.0)]
        faces = self._detector.detect(image)
        own = _own_face(faces, body.points.get("nose"))
        if own is None and "nose" not in body.points:
            # Pose sees shoulders and hips in a product shot of a shirt; a person has a head.
            raise UserError("tryon.no_person")
        others = [] if own is None else [f for f in _subjects(faces, own) if f is not own]
        return [body, *(_head_only(face, image.size) for face in others)]

    def parse_one(self, image: Image.Image) -> Body | None:
        """The one person pose follows, without counting the others; None when it finds nobody."""
        return self._look(image)[0]

    def _look(self, image: Image.Image) -> tuple[Body | None, float]:
        """The body pose follows (None: nobody), and the share of the photo the segmentation calls person."""
        import cv2

        rgb = np.asarray(image.convert("RGB"))
        height, width = rgb.shape[:2]
        scale = min(1.0, _WORK_MAX_SIDE / max(width, height))
        small = rgb
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            small = np.ascontiguousarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))
        with self._lock:
            pose = self._pose.process(small).pose_landmarks
            alpha_small = self._segmentation.process(small).segmentation_mask
        alpha_small = np.clip(np.nan_to_num(alpha_small), 0.0, 1.0).astype(np.float32)
        share = float((alpha_small > 0.5).mean())
        if pose is None:
            return None, share
        alpha = cv2.resize(alpha_small, (width, height), interpolation=cv2.INTER_LINEAR)
        person = np.round(alpha * 255).astype(np.uint8)
        landmarks = [(float(p.x) * width, float(p.y) * height, float(p.visibility)) for p in pose.landmark]
        return _body(person, _visible_points(landmarks, width, height), landmarks), share


def _visible_points(landmarks: list[tuple[float, float, float]], width: int, height: int) -> BodyPoints:
    points: BodyPoints = {}
    for name, index in _LANDMARKS.items():
        x, y, visibility = landmarks[index]
        if visibility >= _VISIBLE and 0.0 <= x < width and 0.0 <= y < height:
            points[name] = (x, y)
    return points


def _subjects(faces: list[Face], main: Face) -> list[Face]:
    """The faces large enough, next to ``main``, to be people in the photo rather than passers-by."""
    area = main.box.width * main.box.height
    return [f for f in faces if f.box.width * f.box.height >= _SECOND_FACE_AREA * area]


def _own_face(faces: list[Face], nose: tuple[float, float] | None) -> Face | None:
    """The face of the person pose followed: the one around their nose (or the largest, when pose could
    not see the nose)."""
    if not faces:
        return None
    if nose is None:
        return faces[0]

    def distance(face: Face) -> float:
        cx, cy = (face.box.x0 + face.box.x1) / 2, (face.box.y0 + face.box.y1) / 2
        return float(np.hypot(cx - nose[0], cy - nose[1]) / max(1.0, face.box.short_side))

    nearest = min(faces, key=distance)
    return nearest if distance(nearest) < 1.0 else faces[0]


def _head_only(face: Face, size: tuple[int, int]) -> Body:
    empty = Image.new("L", size, 0)
    centre = ((face.box.x0 + face.box.x1) / 2, (face.box.y0 + face.box.y1) / 2)
    return Body({"nose": centre}, empty, empty, empty, empty, score=0.0)


def _body(person: np.ndarray, points: BodyPoints, landmarks: list[tuple[float, float, float]]) -> Body:
    height, width = person.shape
    upper = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
    if not all(name in points for name in upper):
        empty = Image.new("L", (width, height), 0)
        return Body(points, Image.fromarray(person, "L"), empty, empty, empty, score=0.0)
    shape = (height, width)
    inside = person > 127
    frame = TorsoFrame(points)
    torso_area = fill(shape, [frame.torso_polygon()])
    arms, hands, forearms = _arms(shape, points, landmarks, frame.unit)
    arms &= inside
    # Below the armpits an arm hangs beside the torso (or crosses it): not the old top.
    torso = torso_area & inside & ~(arms & frame.below(ARMPIT_DROP, shape))
    head = inside & ~frame.below_collar(shape)
    # A forearm across the torso is in front of the top; an arm beside it is where a sleeve goes.
    keep = head | (hands & inside) | (forearms & inside & fill(shape, [frame.core_polygon()]))
    return Body(
        points=points,
        person=Image.fromarray(person, "L"),
        torso=_image(torso & ~keep),
        arms=_image(arms),
        keep=_image(keep),
        score=float(min(landmarks[_LANDMARKS[name]][2] for name in upper)),
    )


def _arms(
    shape: tuple[int, int],
    points: BodyPoints,
    landmarks: list[tuple[float, float, float]],
    u: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both arms, the hands alone, and the forearms alone (unclipped by the person mask); ``u`` is the
    shoulder width."""
    import cv2

    arms = np.zeros(shape, np.uint8)
    hands = np.zeros(shape, np.uint8)
    forearms = np.zeros(shape, np.uint8)
    for side in ("left", "right"):
        chain = [points.get(f"{side}_{joint}") for joint in ("shoulder", "elbow", "wrist")]
        if chain[0] is not None and chain[1] is not None:
            _capsule(arms, chain[0], chain[1], _UPPER_ARM * u)
        if chain[1] is not None and chain[2] is not None:
            _capsule(forearms, chain[1], chain[2], _FOREARM * u)
        wrist = chain[2]
        if wrist is not None:
            tips = [landmarks[i][:2] for i in _HAND[side]]
            outline = np.array([wrist, *tips], np.float32)
            hull = cv2.convexHull(np.round(outline).astype(np.int32))
            # Filled and outlined with a round pen: the hull grown by the pen's radius, at the cost of
            # drawing it (a dilation of the whole photo costs a hundred times more).
            cv2.fillConvexPoly(hands, hull, 1)
            cv2.polylines(hands, [hull], True, 1, thickness=max(1, round(2 * _HAND_GROWTH * u)))
    arms |= forearms | hands
    return arms > 0, hands > 0, forearms > 0


def _capsule(canvas: np.ndarray, start: tuple[float, float], end: tuple[float, float], radius: float) -> None:
    import cv2

    a = (round(start[0]), round(start[1]))
    b = (round(end[0]), round(end[1]))
    cv2.line(canvas, a, b, 1, thickness=max(1, round(2 * radius)), lineType=cv2.LINE_8)


def _image(mask: np.ndarray) -> Image.Image:
    return Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), "L")


def build_body_parser(models: ModelSettings) -> MediaPipeBodyParser:
    """The offline face detector counts the people (on every tier: it is what the parser was tuned with)."""
    return MediaPipeBodyParser(MediaPipeFaceDetector(threshold=models.detection_threshold))
