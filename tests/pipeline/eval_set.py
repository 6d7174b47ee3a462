"""The /unmask evaluation set: real bare faces wearing every mask template, as a chat user would send them.

A fixed part of the shared photos is held out (by file name, below) and never used to tune a threshold or
fit a constant; figures worth quoting are measured on it. Each held-out bare face gets every mask of
../shared/data/mask_templates warped onto it (``mask_templates.put_on_mask``), in the view (front, left or
right) its head's turn calls for (``mask_templates.view_for_face``), in its own colours or recoloured
black, white, navy or with a printed pattern, and then goes through what happens to photos on their way
to us: a mirror, a scale that puts the face anywhere between 60 and 1000 px, a change of brightness, a
blur, and Telegram's re-encoding (longest side at most 2560 px, JPEG quality 87). The bare photo goes
through exactly the same steps, so each case knows the true mask and the true face under it.

Everything is seeded: the same arguments always give the same cases.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from core.imaging.backends.base import Box, Face
from tests.pipeline.mask_templates import Template, mask_kinds, put_on_mask, view_for_face

# Held out from every tuning step. Every fourth photo, with near-duplicates kept on the same side of the
# split (nm_031/nm_032 are one photo at two crops; nm_013/nm_039 and nm_034/nm_035 are tuning photos).
HELD_OUT_BARE = (
    "nm_004.jpg", "nm_008.jpg", "nm_012.jpg", "nm_016.jpg", "nm_020.jpg", "nm_024.jpg",
    "nm_028.jpg", "nm_031.jpg", "nm_032.jpg", "nm_036.jpg", "nm_040.jpg",
)  # fmt: skip
HELD_OUT_MASKED = (
    "wm_004.jpg", "wm_008.jpg", "wm_012.png", "wm_016.jpg", "wm_020.jpg",
    "wm_024.jpg", "wm_028.jpg", "wm_032.jpg", "wm_036.jpg", "wm_040.jpg",
)  # fmt: skip

# Fabric colours for recoloured masks (RGB); the template's own shading (pleats, seams) is kept.
COLOURS = {"black": (30, 30, 34), "white": (236, 236, 232), "navy": (32, 42, 86)}
# Telegram's re-encoding of a photo sent in HD.
TELEGRAM_MAX_SIDE = 2560
TELEGRAM_QUALITY = 87
FACE_PX_RANGE = (60.0, 1000.0)


def split(names: list[str], held_out: tuple[str, ...], part: str) -> list[str]:
    """``part`` is "held-out", "tuning" or "all"."""
    if part == "all":
        return names
    keep = part == "held-out"
    return [name for name in names if (name in held_out) == keep]


@dataclass(frozen=True)
class Variant:
    template: str
    # "as-is", a key of COLOURS, or "pattern:<texture file name>".
    colour: str
    mirror: bool
    # Target width of the face (its landmarks' extent), px.
    face_px: float
    brightness: float
    blur_sigma: float
    telegram: bool

    def label(self) -> str:
        parts = [self.template, self.colour.split(":")[-1], f"{self.face_px:.0f}px"]
        parts += ["mirror"] * self.mirror + [f"x{self.brightness:.2f}"]
        parts += [f"blur{self.blur_sigma:.1f}"] * (self.blur_sigma > 0) + ["tg"] * self.telegram
        return " ".join(parts)


@dataclass(frozen=True)
class EvalCase:
    name: str
    variant: Variant
    # What the user sends (masked) and the truth behind it (the same photo without the mask), both RGB.
    image: Image.Image
    original: Image.Image
    # True where the mask covers the face.
    truth: np.ndarray
    # The face as the bare photo shows it (landmarks from the bare face, mapped through the same steps).
    face: Face


def recoloured(template: Template, colour: str, textures: dict[str, np.ndarray]) -> Template:
    """The template in another fabric: its lightness (pleats, seams, shadows) times a flat colour or a
    tiled print."""
    if colour == "as-is":
        return template
    rgba = template.rgba.astype(np.float32)
    grey = rgba[..., :3].mean(axis=-1, keepdims=True)
    # Normalise the shading around 1 so a white template and a blue one give the same fabric.
    shade = grey / max(float(np.median(grey[rgba[..., 3] > 127])), 1.0)
    if colour.startswith("pattern:"):
        texture = textures[colour.split(":", 1)[1]]
        reps = (
            -(-rgba.shape[0] // texture.shape[0]),
            -(-rgba.shape[1] // texture.shape[1]),
            1,
        )
        fabric = np.tile(texture, reps)[: rgba.shape[0], : rgba.shape[1]].astype(np.float32)
    else:
        fabric = np.broadcast_to(np.array(COLOURS[colour], np.float32), rgba.shape[:2] + (3,))
    rgb = np.clip(fabric * np.clip(shade, 0.0, 1.3), 0, 255)
    return Template(template.name, np.dstack([rgb, rgba[..., 3]]).astype(np.uint8), template.anchors)


def load_textures(templates_dir: Path, side: int = 160) -> dict[str, np.ndarray]:
    """Every texture under ``textures/``, scaled to tiles of ``side`` px."""
    found = {}
    for path in sorted((templates_dir / "textures").rglob("*")):
        if path.suffix.lower() in {".png", ".jpg", ".jpeg"}:
            image = Image.open(path).convert("RGB")
            image.thumbnail((side, side), Image.Resampling.LANCZOS)
            found[path.name] = np.asarray(image)
    return found


def draw_variant(template: str, key: str, textures: list[str], seed: int = 0) -> Variant:
    """A random but reproducible variant of ``template`` for the case named ``key``."""
    rng = np.random.default_rng([seed, zlib.crc32(f"{key}/{template}".encode())])
    colours = ["as-is", "as-is", *COLOURS, "pattern"]
    colour = str(rng.choice(colours))
    if colour == "pattern":
        colour = f"pattern:{rng.choice(textures)}"
    low, high = np.log(FACE_PX_RANGE[0]), np.log(FACE_PX_RANGE[1])
    return Variant(
        template=template,
        colour=colour,
        mirror=bool(rng.random() < 0.5),
        face_px=float(np.exp(rng.uniform(low, high))),
        brightness=float(rng.uniform(0.6, 1.4)),
        blur_sigma=float(rng.uniform(0.5, 2.0)) if rng.random() < 0.35 else 0.0,
        telegram=bool(rng.random() < 0.8),
    )


def _brighten(rgb: np.ndarray, factor: float) -> np.ndarray:
    # In (roughly) linear light, as an exposure change is.
    linear = (rgb.astype(np.float32) / 255.0) ** 2.2 * factor
    return np.clip(np.round(np.clip(linear, 0, 1) ** (1 / 2.2) * 255.0), 0, 255).astype(np.uint8)


def telegram_reencode(image: Image.Image) -> Image.Image:
    if max(image.size) > TELEGRAM_MAX_SIDE:
        image = image.copy()
        image.thumbnail((TELEGRAM_MAX_SIDE, TELEGRAM_MAX_SIDE), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=TELEGRAM_QUALITY)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def augment(
    images: list[Image.Image], truth: np.ndarray, landmarks: np.ndarray, variant: Variant
) -> tuple[list[Image.Image], np.ndarray, np.ndarray]:
    """The same photographic steps on every image of ``images`` (mask and landmarks follow the geometry)."""
    arrays = [np.asarray(image.convert("RGB")) for image in images]
    mask = truth.astype(np.uint8) * 255
    points = np.asarray(landmarks, np.float32).copy()
    width = arrays[0].shape[1]
    if variant.mirror:
        arrays = [a[:, ::-1] for a in arrays]
        mask = mask[:, ::-1]
        points[:, 0] = width - 1 - points[:, 0]
    face_width = float(np.ptp(points[:, 0]))
    scale = variant.face_px / max(face_width, 1.0)
    height, width = arrays[0].shape[:2]
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    arrays = [cv2.resize(np.ascontiguousarray(a), size, interpolation=interpolation) for a in arrays]
    mask = cv2.resize(np.ascontiguousarray(mask), size, interpolation=cv2.INTER_LINEAR)
    points = points * [size[0] / width, size[1] / height]
    # A face shrunk to a few dozen pixels stands in a larger photo, as it would in a real one.
    minimum = 480
    if max(size) < minimum:
        canvas_size = (max(minimum, size[0]), max(minimum, size[1]))
        ox, oy = (canvas_size[0] - size[0]) // 2, (canvas_size[1] - size[1]) // 2
        padded = []
        for a in arrays:
            border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]]).mean(axis=0)
            canvas = np.empty((canvas_size[1], canvas_size[0], 3), np.uint8)
            canvas[:] = np.round(border).astype(np.uint8)
            canvas[oy : oy + size[1], ox : ox + size[0]] = a
            padded.append(canvas)
        arrays = padded
        grown = np.zeros((canvas_size[1], canvas_size[0]), np.uint8)
        grown[oy : oy + size[1], ox : ox + size[0]] = mask
        mask = grown
        points = points + [ox, oy]
    arrays = [_brighten(a, variant.brightness) for a in arrays]
    if variant.blur_sigma > 0:
        arrays = [cv2.GaussianBlur(a, (0, 0), variant.blur_sigma) for a in arrays]
    out = [Image.fromarray(a, "RGB") for a in arrays]
    if variant.telegram:
        shrink = min(1.0, TELEGRAM_MAX_SIDE / max(out[0].size))
        out = [telegram_reencode(image) for image in out]
        if shrink < 1.0:
            mask = cv2.resize(mask, out[0].size, interpolation=cv2.INTER_LINEAR)
            points = points * [out[0].width / arrays[0].shape[1], out[0].height / arrays[0].shape[0]]
    return out, mask > 127, points


def face_from_landmarks(landmarks: np.ndarray) -> Face:
    x0, y0 = landmarks.min(axis=0)
    x1, y1 = landmarks.max(axis=0)
    return Face(Box(float(x0), float(y0), float(x1), float(y1)), 1.0, landmarks=landmarks)


def build_cases(
    bare_faces: list[tuple[str, Image.Image, np.ndarray]],
    templates: dict[str, Template],
    textures: dict[str, np.ndarray],
    variants_per_pair: int = 2,
    seed: int = 0,
    limit: int = 0,
) -> Iterator[EvalCase]:
    """Every mask in ``templates`` on every bare face (given with its face-mesh landmarks), in the view
    (front, left, right) that face's turn calls for, ``variants_per_pair`` random variants each; with
    ``limit``, an evenly spread subset of about that many."""
    texture_names = sorted(textures)
    kinds = mask_kinds(templates)
    total = len(bare_faces) * len(kinds) * variants_per_pair
    stride = max(1, -(-total // limit)) if limit else 1
    index = -1
    for name, bare, landmarks in bare_faces:
        for kind in kinds:
            view = view_for_face(templates, kind, landmarks)
            for k in range(variants_per_pair):
                index += 1
                if index % stride:
                    continue
                variant = draw_variant(view.name, f"{name}#{k}", texture_names, seed)
                template = recoloured(view, variant.colour, textures)
                masked = put_on_mask(bare, landmarks, template)
                (image, original), truth, points = augment(
                    [masked.image, bare], masked.truth, landmarks, variant
                )
                yield EvalCase(f"{name}#{k}", variant, image, original, truth, face_from_landmarks(points))
