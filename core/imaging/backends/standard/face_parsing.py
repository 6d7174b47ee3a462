"""Portrait parsing with a SegFormer face parser trained on CelebAMask-HQ (``jonathandinu/face-parsing``).

- The parser runs on a square crop around the face, 2.6 face boxes wide and centred a little below the face:
  CelebAMask-HQ photos frame a head with some hair above and shoulders below, and the model reads faces best
  at that scale. Parts of the square outside the photo are padded grey and ignored afterwards.
- Class ids come from ``model.config.id2label`` by name (``skin``, ``hair``, ``l_eye``...); exports of this
  model disagree on the ids, and some name the classes after the dataset's mask files (``hair.png``).
- Every landmark has a fallback from the face box for when its class is missing or lies where that part
  cannot be (a hand taken for skin, a random test model): the /suit pipeline then still gets a usable head.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image, ImageDraw

from core.config import ModelSettings
from core.imaging.backends.base import Box, Face, Point, Portrait
from core.imaging.backends.standard.weights import WeightsRef

if TYPE_CHECKING:
    from core.imaging.backends.torch_device import Placement

CROP_SCALE = 2.6  # crop side / the face box's longer side
CROP_DROP = 0.2  # crop centre below the face centre, in face heights (more shoulders, enough hair)
PAD_RGB = (128, 128, 128)
# Class scores are upsampled to at most this side; larger crops get the label map resized (nearest).
MAX_WORK_SIDE = 1024
JAW_POINTS = 9
MIN_PART = 0.002  # the smallest eye or nose, as a fraction of the face box area
# What the suit pipeline returns untouched: these face parts down to a little under the chin (none of them
# hangs lower), hair wherever it reaches, and the neck above the chin line. Not "neck_l" (a necklace), not
# "cloth".
FACE_PARTS = "skin nose eye_g l_eye r_eye l_brow r_brow l_ear r_ear mouth u_lip l_lip hat ear_r".split()
BELOW_CHIN = 0.15  # face heights
HEAD = ("skin", "hair", "hat")
# Pixels between two kept parts (an eye's rim, the hairline) that the parser gave to neither would be
# repainted: cracks up to CRACK face widths are closed, holes up to HOLE face box areas filled.
CRACK = 0.03
HOLE = 0.05
MAX_ROLL = 0.5  # |dy| / dx of the eye line (about 27 degrees); steeper is taken as a misreading


@dataclass(frozen=True)
class _Parsing:
    """Class ids and person alpha of the crop's part inside the image, which starts at (x0, y0) there."""

    labels: np.ndarray  # (h, w) uint8
    person: np.ndarray  # (h, w) uint8, 255 * (1 - p(background))
    x0: int
    y0: int

    def window(self, box: Box) -> tuple[slice, slice]:
        """Array rows and columns of ``box`` (image coordinates), clipped to the parsed region."""
        h, w = self.labels.shape
        r0 = min(h, max(0, math.floor(box.y0) - self.y0))
        c0 = min(w, max(0, math.floor(box.x0) - self.x0))
        r1 = min(h, max(r0, math.ceil(box.y1) - self.y0))
        c1 = min(w, max(c0, math.ceil(box.x1) - self.x0))
        return slice(r0, r1), slice(c0, c1)


class SegformerPortraitParser:
    def __init__(self, model: Any, processor: Any, placement: Placement) -> None:
        self._model = model.to(device=placement.device, dtype=placement.dtype).eval()
        self._processor = processor
        self._placement = placement
        self._ids = label_ids(model.config.id2label)
        if "background" not in self._ids:
            raise ValueError(f"face parser without a background class: {sorted(self._ids)}")

    def parse(self, image: Image.Image, face: Face) -> Portrait:
        box = face.box
        # 1. Segment a square crop around the face.
        parsing = self._segment(image, box)
        window = parsing.window(box)

        # 2. Landmarks, each checked against where that part can be in the face box.
        skin = _components(self._mask(parsing, "skin"), window, largest=True)
        eyes = self._eyes(parsing, box)
        nose_region = _rel(box, 0.15, 0.3, 0.85, 0.85)
        nose = _centroid(self._mask(parsing, "nose"), parsing, nose_region) or _rel_point(box, 0.5, 0.5)
        chin = _chin(skin, parsing, box)
        crown = _crown(_components(self._mask(parsing, *HEAD), window, largest=False), parsing, box)
        jaw = _jaw(skin, parsing, box, chin)

        # 3. Keep (face, hair, neck above the chin) and the person, as masks of the whole image.
        rows = np.arange(parsing.labels.shape[0])[:, None] + parsing.y0
        face_parts = self._mask(parsing, *FACE_PARTS) & (rows <= chin[1] + BELOW_CHIN * box.height)
        neck = self._mask(parsing, "neck") & (rows <= chin[1])
        grown = parsing.window(_rel(box, -0.1, -0.1, 1.1, 1.1))
        kept = _components(face_parts | neck | self._mask(parsing, "hair"), grown, largest=False)
        kept = _solid(kept, box)
        keep = np.zeros((image.height, image.width), np.uint8)
        h, w = parsing.labels.shape
        keep[parsing.y0 : parsing.y0 + h, parsing.x0 : parsing.x0 + w][kept] = 255
        if np.count_nonzero(kept[window]) < 0.25 * box.width * box.height:
            keep = _head_ellipse(image.size, box, crown, chin)
        person = np.zeros_like(keep)
        person[parsing.y0 : parsing.y0 + h, parsing.x0 : parsing.x0 + w] = parsing.person
        # The body goes on below the crop: continue its last row down to the bottom of the photo.
        person[parsing.y0 + h :, parsing.x0 : parsing.x0 + w] = parsing.person[-1]
        person = np.maximum(person, keep)

        shoulders = _shoulders(parsing, self._mask(parsing, "cloth"), box, chin)
        return Portrait(
            keep=Image.fromarray(keep),
            person=Image.fromarray(person),
            eyes=eyes,
            nose=nose,
            chin=chin,
            crown=crown,
            jaw=jaw,
            shoulders=shoulders,
        )

    def _segment(self, image: Image.Image, box: Box) -> _Parsing:
        import torch

        side = max(8, round(CROP_SCALE * max(box.width, box.height)))
        left = round((box.x0 + box.x1 - side) / 2)
        top = round((box.y0 + box.y1 - side) / 2 + CROP_DROP * box.height)
        x0, y0 = max(0, left), max(0, top)
        x1, y1 = min(image.width, left + side), min(image.height, top + side)
        if x1 - x0 < 2 or y1 - y0 < 2:
            raise ValueError(f"face box {box} lies outside the {image.width}x{image.height} image")
        square = Image.new("RGB", (side, side), PAD_RGB)
        square.paste(image.crop((x0, y0, x1, y1)).convert("RGB"), (x0 - left, y0 - top))

        inputs = self._processor(images=square, return_tensors="pt")
        pixels = inputs["pixel_values"].to(self._placement.device, self._placement.dtype)
        work = min(side, MAX_WORK_SIDE)
        with torch.inference_mode():
            logits = self._model(pixel_values=pixels).logits.float()
            scores = torch.nn.functional.interpolate(
                logits, size=(work, work), mode="bilinear", align_corners=False
            )[0].softmax(dim=0)
            labels = scores.argmax(dim=0).to(torch.uint8).cpu().numpy()
            person = ((1.0 - scores[self._ids["background"]]) * 255).round().to(torch.uint8).cpu().numpy()
        if work != side:
            labels = np.asarray(Image.fromarray(labels).resize((side, side), Image.Resampling.NEAREST))
            person = np.asarray(Image.fromarray(person).resize((side, side), Image.Resampling.BILINEAR))
        inside = (slice(y0 - top, y1 - top), slice(x0 - left, x1 - left))
        return _Parsing(labels[inside], person[inside], x0, y0)

    def _mask(self, parsing: _Parsing, *names: str) -> np.ndarray:
        return np.isin(parsing.labels, [self._ids[name] for name in names if name in self._ids])

    def _eyes(self, parsing: _Parsing, box: Box) -> tuple[Point, Point]:
        # CelebAMask-HQ names the eyes from the person's side: "r_eye" is on the image's left.
        region = _rel(box, 0.0, 0.0, 1.0, 0.65)
        fallback = (_rel_point(box, 0.3, 0.4), _rel_point(box, 0.7, 0.4))
        found = [_centroid(self._mask(parsing, name), parsing, region) for name in ("r_eye", "l_eye")]
        left, right = sorted(point or default for point, default in zip(found, fallback, strict=True))
        dx, dy = right[0] - left[0], right[1] - left[1]
        if dx < 0.15 * box.width or abs(dy) > MAX_ROLL * dx:
            return fallback
        return left, right


def label_ids(id2label: Mapping[Any, str]) -> dict[str, int]:
    """Class name -> id, names normalised ("Hair.png" -> "hair")."""
    return {str(name).strip().lower().removesuffix(".png"): int(i) for i, name in id2label.items()}


# --- geometry -------------------------------------------------------------------------------------------
def _rel(box: Box, fx0: float, fy0: float, fx1: float, fy1: float) -> Box:
    """A box given in fractions of ``box`` (0, 0 = its top left; 1, 1 = its bottom right)."""
    return Box(*_rel_point(box, fx0, fy0), *_rel_point(box, fx1, fy1))


def _rel_point(box: Box, fx: float, fy: float) -> Point:
    return (box.x0 + fx * box.width, box.y0 + fy * box.height)


def _components(mask: np.ndarray, window: tuple[slice, slice], *, largest: bool) -> np.ndarray:
    """The connected parts of ``mask`` reaching into ``window`` (or only the one with most pixels there):
    drops what the parser finds elsewhere (another person, a hand)."""
    import cv2

    count, parts = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    inside = np.bincount(parts[window].ravel(), minlength=count)
    inside[0] = 0
    if largest:
        return parts == int(inside.argmax()) if inside.max() > 0 else np.zeros_like(mask)
    return np.isin(parts, np.flatnonzero(inside))


def _solid(mask: np.ndarray, box: Box) -> np.ndarray:
    import cv2

    side = max(3, round(CRACK * box.width)) | 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))
    mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, kernel) > 0
    _, parts, stats, _ = cv2.connectedComponentsWithStats((~mask).astype(np.uint8), connectivity=4)
    h, w = mask.shape
    x, y, width, height, area = stats.T
    enclosed = (x > 0) & (y > 0) & (x + width < w) & (y + height < h)
    enclosed &= area <= HOLE * box.width * box.height
    enclosed[0] = False  # component 0: the mask itself
    return mask | enclosed[parts]


def _centroid(mask: np.ndarray, parsing: _Parsing, region: Box) -> Point | None:
    rows, cols = parsing.window(region)
    ys, xs = np.nonzero(mask[rows, cols])
    if len(xs) < max(4.0, MIN_PART * region.width * region.height):
        return None
    return (parsing.x0 + cols.start + float(xs.mean()), parsing.y0 + rows.start + float(ys.mean()))


def _chin(skin: np.ndarray, parsing: _Parsing, box: Box) -> Point:
    """The lowest face-skin pixel in the middle of the face, between 0.6 and 1.45 face heights down."""
    _, cols = parsing.window(_rel(box, 0.3, 0.0, 0.7, 1.0))
    band = skin[:, cols]
    rows = np.flatnonzero(band.any(axis=1))
    if rows.size:
        y = parsing.y0 + int(rows[-1])
        if box.y0 + 0.6 * box.height <= y <= box.y1 + 0.45 * box.height:
            x = parsing.x0 + cols.start + float(np.flatnonzero(band[rows[-1]]).mean())
            return (x, float(y))
    return _rel_point(box, 0.5, 1.0)


def _crown(head: np.ndarray, parsing: _Parsing, box: Box) -> Point:
    """The top of skin, hair and hat; y is 0 when the head touches the top of the photo."""
    rows = np.flatnonzero(head.any(axis=1))
    if rows.size:
        y = parsing.y0 + int(rows[0])
        if box.y0 - 1.5 * box.height <= y <= box.y0 + 0.2 * box.height:
            return (parsing.x0 + float(np.flatnonzero(head[rows[0]]).mean()), float(y))
    return (box.x0 + 0.5 * box.width, max(0.0, box.y0 - 0.1 * box.height))


def _jaw(skin: np.ndarray, parsing: _Parsing, box: Box, chin: Point) -> np.ndarray:
    """The lower edge of the face skin at JAW_POINTS columns across the face, left to right."""
    cols = np.flatnonzero(skin.any(axis=0)) + parsing.x0
    points: list[Point] = []
    if cols.size:
        left = max(float(cols[0]), box.x0 - 0.1 * box.width)
        right = min(float(cols[-1]), box.x1 + 0.1 * box.width)
        for x in np.linspace(left, right, JAW_POINTS) if right > left else ():
            ys = np.flatnonzero(skin[:, min(skin.shape[1] - 1, int(x) - parsing.x0)])
            y = parsing.y0 + int(ys[-1]) if ys.size else -1
            if box.y0 + 0.3 * box.height <= y <= chin[1] + 0.1 * box.height:
                points.append((float(x), float(y)))
    if len(points) >= 5:
        return np.array(points, np.float32)
    # Half an ellipse in the face box's lower half, ear to ear through the bottom.
    angles = np.linspace(math.pi, 0.0, JAW_POINTS)
    cx, cy = _rel_point(box, 0.5, 0.5)
    arc = np.stack([cx + 0.5 * box.width * np.cos(angles), cy + 0.5 * box.height * np.sin(angles)], axis=1)
    return arc.astype(np.float32)


def _shoulders(parsing: _Parsing, cloth: np.ndarray, box: Box, chin: Point) -> tuple[Point, Point] | None:
    """Ends of the person's row 0.75 face heights under the chin, when that row is clearly wider than the
    face (shoulders, not just a neck)."""
    row = round(chin[1] + 0.75 * box.height) - parsing.y0
    h, w = parsing.labels.shape
    if not 0 <= row < h:
        return None
    body = (parsing.person[row] >= 128) | cloth[row]
    centre = min(w - 1, max(0, round(chin[0]) - parsing.x0))
    if not body[centre]:
        return None
    gaps_left = np.flatnonzero(~body[:centre])
    gaps_right = np.flatnonzero(~body[centre:])
    left = int(gaps_left[-1]) + 1 if gaps_left.size else 0
    right = centre + int(gaps_right[0]) - 1 if gaps_right.size else w - 1
    if right - left < 1.4 * box.width:
        return None
    y = float(parsing.y0 + row)
    return ((float(parsing.x0 + left), y), (float(parsing.x0 + right), y))


def _head_ellipse(size: tuple[int, int], box: Box, crown: Point, chin: Point) -> np.ndarray:
    """Keep mask when the parser finds no face in the box: an ellipse from crown to chin."""
    mask = Image.new("L", size, 0)
    pad = 0.05 * box.width
    ImageDraw.Draw(mask).ellipse((box.x0 - pad, crown[1], box.x1 + pad, chin[1]), fill=255)
    return np.asarray(mask).copy()


# --- weights and factory --------------------------------------------------------------------------------
def weights(models: ModelSettings) -> WeightsRef:
    return WeightsRef(
        models.face_parser,
        # The hub repo has model.safetensors and the older pytorch_model.bin (and onnx/, not needed).
        required=(
            ("config.json",),
            ("preprocessor_config.json",),
            ("model.safetensors", "pytorch_model.bin"),
        ),
        cache_dir=models.cache_dir,
    )


def build_portrait_parser(models: ModelSettings) -> SegformerPortraitParser:
    from transformers import SegformerForSemanticSegmentation, SegformerImageProcessor

    from core.imaging.backends.torch_device import resolve_placement

    path = weights(models).materialize()
    return SegformerPortraitParser(
        SegformerForSemanticSegmentation.from_pretrained(path),
        SegformerImageProcessor.from_pretrained(path),
        resolve_placement(models.device),
    )
