"""Synthetic masked faces with an exactly known mask: a face-mask template (RGBA, ../shared/data/
mask_templates) warped onto a real bare face by its six anchor points, the way the MaskTheFace project
places them, with the anchors found from MediaPipe face-mesh landmarks instead of dlib's 68 points.

Anchors (masks.cfg ``mask_a``..``mask_f``): a/c where a line under the eyes, one nose length below them,
meets the jaw on either side; b the middle of the nose bridge; d/f where the line through the bottom of the
lower lip meets the jaw; e where the face's vertical axis meets the jaw (the chin).
"""

from __future__ import annotations

import configparser
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from core.imaging.backends.offline import face_regions as fr

_BRIDGE_TOP, _BRIDGE_BOTTOM = 168, 4
_LOWER_LIP = (146, 91, 181, 84, 17, 314, 405, 321, 375)
_SIDE_VIEWS = ("_left", "_right")
# Front-facing templates whose outline hugs the face (gas masks stick out far beyond it).
FRONT_TEMPLATES = ("surgical", "surgical_blue", "surgical_green", "N95", "KN95", "cloth")


@dataclass(frozen=True)
class Template:
    name: str
    rgba: np.ndarray
    # mask_a, mask_b, mask_c, mask_d, mask_e, mask_f in template pixels.
    anchors: np.ndarray


@dataclass(frozen=True)
class MaskedFace:
    image: Image.Image
    # The template's footprint: True where the mask covers the face.
    truth: np.ndarray


def load_templates(templates_dir: Path) -> dict[str, Template]:
    parser = configparser.ConfigParser()
    parser.read(templates_dir / "masks.cfg")
    templates = {}
    for name in parser.sections():
        section = parser[name]
        if "template" not in section:
            continue  # the "empty" / "inpaint" placeholders
        path = templates_dir / "templates" / Path(section["template"]).name
        anchors = [[float(v) for v in section[f"mask_{key}"].split(",")] for key in "abcdef"]
        rgba = np.asarray(Image.open(path).convert("RGBA"))
        templates[name] = Template(name, rgba, np.array(anchors, np.float32))
    return templates


def kind_of(name: str) -> str:
    """The mask a template shows, whatever the view: ``surgical_blue_left`` -> ``surgical_blue``."""
    for view in _SIDE_VIEWS:
        if name.endswith(view):
            return name[: -len(view)]
    return name


def mask_kinds(templates: dict[str, Template]) -> list[str]:
    """Every mask in ``templates`` once (its front view's name)."""
    return sorted({kind_of(name) for name in templates})


def view_for_face(templates: dict[str, Template], kind: str, landmarks: np.ndarray) -> Template:
    """The view of mask ``kind`` (front, ``_left`` or ``_right``) drawn for a head turned as this face is.

    A side view is drawn for a turned head: its nose-bridge anchor sits near one jaw anchor. Warped onto a
    face turned the other way (or onto a frontal one) it stretches into a shape no worn mask takes, flying
    off the face. So, as MaskTheFace picks the view from the head's turn, the view here is the one whose
    bridge anchor sits between its jaw anchors where this face's bridge sits between its own."""
    views = [templates[kind + view] for view in ("", *_SIDE_VIEWS) if kind + view in templates]
    here = _bridge_position(face_anchors(landmarks))
    return min(views, key=lambda template: abs(_bridge_position(template.anchors) - here))


def _bridge_position(anchors: np.ndarray) -> float:
    """Where the nose bridge (b) sits along the line from jaw anchor a to jaw anchor c: 0 at a, 1 at c."""
    a, b, c = anchors[:3].astype(np.float64)
    return float((b - a) @ (c - a) / max(float((c - a) @ (c - a)), 1e-9))


def _line_meets_jaw(jaw: np.ndarray, point: np.ndarray, direction: np.ndarray) -> list[np.ndarray]:
    """Intersections of the infinite line point + t*direction with the jaw polyline, in jaw order."""
    hits = []
    for p, q in zip(jaw[:-1], jaw[1:], strict=True):
        segment = q - p
        matrix = np.array([direction, -segment]).T
        if abs(np.linalg.det(matrix)) < 1e-9:
            continue
        t, s = np.linalg.solve(matrix, p - point)
        if -1e-6 <= s <= 1 + 1e-6:
            hits.append(point + t * direction)
    return hits


def face_anchors(landmarks: np.ndarray) -> np.ndarray:
    """The six anchor points (a..f) on a face, from its 478 face-mesh landmarks."""
    jaw = fr.points(landmarks, fr.JAW).astype(np.float64)
    left_eye = fr.points(landmarks, fr.LEFT_EYE).mean(axis=0).astype(np.float64)
    right_eye = fr.points(landmarks, fr.RIGHT_EYE).mean(axis=0).astype(np.float64)
    along = right_eye - left_eye
    top, bottom = landmarks[_BRIDGE_TOP].astype(np.float64), landmarks[_BRIDGE_BOTTOM].astype(np.float64)
    nose_length = bottom[1] - top[1]
    b = (top + bottom) / 2

    def sides(y_shift: float) -> tuple[np.ndarray, np.ndarray]:
        hits = _line_meets_jaw(jaw, left_eye + [0.0, y_shift], along)
        if len(hits) < 2:
            raise ValueError("the line does not cross the jaw twice")
        return hits[0], hits[-1]

    a, c = sides(nose_length)
    lip = fr.points(landmarks, _LOWER_LIP).astype(np.float64)
    d, f = sides(lip[:, 1].max() - (left_eye[1] + right_eye[1]) / 2)
    chin_hits = _line_meets_jaw(jaw, top, lip.mean(axis=0) - top)
    e = max(chin_hits, key=lambda p: p[1]) if chin_hits else landmarks[fr.CHIN].astype(np.float64)
    return np.array([a, b, c, d, e, f], np.float32)


def put_on_mask(image: Image.Image, landmarks: np.ndarray, template: Template) -> MaskedFace:
    """Warp ``template`` onto the face; returns the masked photo and the mask's exact footprint."""
    homography, _ = cv2.findHomography(template.anchors, face_anchors(landmarks))
    warped = cv2.warpPerspective(template.rgba, homography, image.size, flags=cv2.INTER_LINEAR)
    alpha = warped[..., 3:4].astype(np.float32) / 255.0
    base = np.asarray(image.convert("RGB")).astype(np.float32)
    composed = np.round(warped[..., :3] * alpha + base * (1 - alpha)).astype(np.uint8)
    return MaskedFace(Image.fromarray(composed, "RGB"), warped[..., 3] > 127)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0
