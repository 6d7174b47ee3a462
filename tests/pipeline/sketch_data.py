"""Drawings for the /sketch tests and benchmarks, all made in code and seeded.

- Faces drawn from the shared bare-face photos by the edge extractor (``core.imaging.drawing.line_drawing``)
  on a square crop around the face, with the face's box (the offline detector's, on the photo) as truth.
  The held-out photos are /unmask's (``eval_set.HELD_OUT_BARE``): nothing is tuned on them.
- Hand-like drawings: an oval head, brows, eyes with pupils, a nose, a mouth and a hairline, with the head's
  box as truth; a house; a few scribbles; a blank canvas.
- ``paper_photo``: a drawing as a phone photo of paper: on a darker table, turned and in perspective, under
  uneven light, with sensor noise.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from core.imaging.backends.base import Box
from core.imaging.backends.offline.detector import MediaPipeFaceDetector
from core.imaging.drawing import line_drawing
from tests.pipeline.eval_set import HELD_OUT_BARE, split

FACES = Path(__file__).resolve().parents[3] / "shared" / "data" / "faces" / "without_mask"
DRAWING_SIDE = 512
# The crop around the face: this many face-box sides across.
CROP_SIDES = 2.4


def face_photos(part: str = "all") -> list[Path]:
    """``part``: "held-out", "tuning" or "all"."""
    names = sorted(path.name for path in FACES.iterdir())
    return [FACES / name for name in split(names, HELD_OUT_BARE, part)]


@cache
def _photo_face(path: Path) -> Box | None:
    faces = _detector().detect(Image.open(path).convert("RGB"))
    return max(faces, key=lambda f: f.box.width * f.box.height).box if faces else None


@cache
def _detector() -> MediaPipeFaceDetector:
    return MediaPipeFaceDetector()


def face_crop(path: Path) -> tuple[Image.Image, Box]:
    """A crop of the photo around its face (CROP_SIDES face sides across, as far as the photo goes), its
    longer side at DRAWING_SIDE, and the face's box in it."""
    photo = Image.open(path).convert("RGB")
    box = _photo_face(path)
    if box is None:
        raise ValueError(f"no face in {path.name}")
    cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
    half = CROP_SIDES * max(box.width, box.height) / 2
    region = (
        max(0, round(cx - half)),
        max(0, round(cy - half)),
        min(photo.width, round(cx + half)),
        min(photo.height, round(cy + half)),
    )
    scale = DRAWING_SIDE / max(region[2] - region[0], region[3] - region[1])
    size = (round((region[2] - region[0]) * scale), round((region[3] - region[1]) * scale))
    crop = photo.crop(region).resize(size, Image.Resampling.LANCZOS)
    return crop, Box(
        (box.x0 - region[0]) * scale,
        (box.y0 - region[1]) * scale,
        (box.x1 - region[0]) * scale,
        (box.y1 - region[1]) * scale,
    )


def drawn_face(path: Path) -> tuple[Image.Image, Box, Image.Image]:
    """The edge extractor's drawing of the face in ``path`` (RGB, black on white), its face box, and the
    photo crop it was drawn from."""
    crop, box = face_crop(path)
    lines = line_drawing(crop)
    return Image.fromarray(np.where(lines, 0, 255).astype(np.uint8)).convert("RGB"), box, crop


def hand_face(seed: int, side: int = 600, stroke: int = 3) -> tuple[Image.Image, Box]:
    """A face drawn as a child or a quick sketcher would, placed and sized at random; the head's box."""
    rng = np.random.default_rng(seed)
    canvas = np.full((side, side), 255, np.uint8)
    s = side / 600
    cx, cy = side / 2 + rng.uniform(-40, 40) * s, side / 2 + rng.uniform(-30, 30) * s
    w, h = rng.uniform(110, 150) * s, rng.uniform(150, 190) * s

    def pt(x: float, y: float) -> tuple[int, int]:
        return round(x), round(y)

    cv2.ellipse(canvas, pt(cx, cy), pt(w, h), 0, 0, 360, 0, stroke)
    eye_y, eye_x = cy - h / 5, w / 2
    for sign in (-1, 1):
        ex = cx + sign * eye_x
        cv2.ellipse(canvas, pt(ex, eye_y), pt(w / 5, w / 10), 0, 0, 360, 0, stroke)
        cv2.circle(canvas, pt(ex, eye_y), round(w / 20), 0, -1)
        cv2.line(canvas, pt(ex - w / 5, eye_y - w / 4), pt(ex + w / 5, eye_y - w / 4 - 5 * s), 0, stroke)
    cv2.line(canvas, pt(cx, eye_y + 10 * s), pt(cx - 10 * s, cy + h / 5), 0, stroke)
    cv2.line(canvas, pt(cx - 10 * s, cy + h / 5), pt(cx + 8 * s, cy + h / 5), 0, stroke)
    cv2.ellipse(canvas, pt(cx, cy + h / 2 - 10 * s), pt(w / 3, h / 12), 0, 0, 180, 0, stroke)
    cv2.ellipse(canvas, pt(cx, cy - h / 3), pt(w + 10 * s, h * 0.75), 0, 180, 360, 0, stroke)
    return Image.fromarray(canvas).convert("RGB"), Box(cx - w, cy - h, cx + w, cy + h)


def house(side: int = 600) -> Image.Image:
    canvas = np.full((side, side), 255, np.uint8)
    cv2.rectangle(canvas, (150, 280), (450, 520), 0, 3)
    cv2.polylines(canvas, [np.array([[130, 280], [300, 120], [470, 280]])], False, 0, 3)
    for x in (190, 350):
        cv2.rectangle(canvas, (x, 320), (x + 60, 380), 0, 3)
        cv2.line(canvas, (x + 30, 320), (x + 30, 380), 0, 2)
        cv2.line(canvas, (x, 350), (x + 60, 350), 0, 2)
    cv2.rectangle(canvas, (270, 410), (330, 520), 0, 3)
    cv2.rectangle(canvas, (370, 150), (410, 230), 0, 3)
    cv2.line(canvas, (20, 520), (580, 520), 0, 3)
    return Image.fromarray(canvas).convert("RGB")


def scribbles(seed: int = 0, side: int = 600, count: int = 3) -> Image.Image:
    rng = np.random.default_rng(seed)
    canvas = np.full((side, side), 255, np.uint8)
    for _ in range(count):
        start = rng.uniform(100, side - 100, 2)
        points = np.cumsum(rng.normal(0, 12, (6, 2)), axis=0) + start
        cv2.polylines(canvas, [points.astype(np.int32)], False, 0, 3)
    return Image.fromarray(canvas).convert("RGB")


def blank(side: int = 600) -> Image.Image:
    return Image.new("RGB", (side, side), (255, 255, 255))


def paper_photo(drawing: Image.Image, seed: int = 0) -> Image.Image:
    """``drawing`` printed on paper and photographed: on a darker table, turned and in perspective, lit
    unevenly, pencil-grey strokes, with noise."""
    rng = np.random.default_rng(seed)
    ink = np.asarray(drawing.convert("L"), np.float32) / 255.0
    height, width = ink.shape
    paper = 0.62 + 0.33 * ink  # pencil grey on off-white
    out_w, out_h = round(width * 1.5), round(height * 1.5)
    corners = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    shift = np.array([out_w - width, out_h - height], np.float32) / 2
    target = corners + shift + rng.uniform(-0.06, 0.06, (4, 2)).astype(np.float32) * width
    matrix = cv2.getPerspectiveTransform(corners, target.astype(np.float32))
    sheet = cv2.warpPerspective(paper, matrix, (out_w, out_h), borderValue=-1.0)
    table = 0.3 + 0.05 * rng.standard_normal((out_h, out_w)).astype(np.float32)
    picture = np.where(sheet >= 0, sheet, table)
    yy, xx = np.mgrid[0:out_h, 0:out_w].astype(np.float32)
    light = 0.75 + 0.35 * (xx / out_w) - 0.15 * (yy / out_h)  # a window on the right
    picture = picture * light + rng.normal(0, 0.015, picture.shape).astype(np.float32)
    grey = np.clip(picture * 255, 0, 255).astype(np.uint8)
    tint = np.dstack([grey, np.clip(grey * 0.97, 0, 255), np.clip(grey * 0.9, 0, 255)]).astype(np.uint8)
    return Image.fromarray(tint, "RGB")


def iou(a: Box, b: Box) -> float:
    x0, y0, x1, y1 = max(a.x0, b.x0), max(a.y0, b.y0), min(a.x1, b.x1), min(a.y1, b.y1)
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    return inter / (a.width * a.height + b.width * b.height - inter)


def edge_agreement(drawing: Image.Image, result: Image.Image, face: Box) -> float:
    """How well the result's lines (the edge extractor's) agree with the drawing's in the face's box grown
    by a third: the cosine of their HOG descriptors, in the drawing's frame."""
    from core.imaging.backends.offline import sketch_manifold as sm

    grow = max(face.width, face.height) / 3
    region = (face.x0 - grow, face.y0 - grow, face.x1 + grow, face.y1 + grow)
    side = (sm.CANON, sm.CANON)
    ink = np.asarray(drawing.convert("L").crop(region).resize(side, Image.Resampling.BOX)) < 200
    painted = result.resize(drawing.size, Image.Resampling.LANCZOS).crop(region).resize(side)
    return float(sm.descriptor(ink) @ sm.descriptor(line_drawing(painted)))
