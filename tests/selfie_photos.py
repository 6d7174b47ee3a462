"""Selfies for the /train checks, made from the shared photos (one bare photo per person there).

``selfie_set`` turns one bare photo into several *different* selfies of that person, the way a phone would
take them: about 1 megapixel, the face at another place and size in a wider frame, mirrored (front cameras
mirror), lit from one side or the other, warmer or cooler, the head tilted. Each changes the aligned face
itself (not only its framing), so none is a copy of another. The bad examples each break exactly one rule.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps

# Phone-like photo size (long side) for the generated selfies.
PHOTO_SIDE = 1152


@dataclass(frozen=True)
class Look:
    """One selfie's differences from the source photo."""

    mirror: bool = False
    # Light from the left (< 0) or the right (> 0): a brightness ramp across the face, 0..1 strength.
    light: float = 0.0
    # Colour temperature: > 0 warmer, < 0 cooler.
    warmth: float = 0.0
    # A hard side light: one half of the face (< 0 the image's left, > 0 its right) in shadow, 0..1 deep.
    shadow: float = 0.0
    # The head turned a little (perspective; < 0 towards the image's left), as a share of the width.
    turn: float = 0.0
    # Head tilt in degrees, and the face's size and place in the frame.
    tilt: float = 0.0
    zoom: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)


LOOKS = (
    Look(),
    Look(mirror=True, light=0.3, tilt=-6.0, zoom=0.85, shift=(0.08, 0.02)),
    Look(shadow=-0.45, turn=0.08, warmth=0.2, tilt=5.0, zoom=0.75, shift=(-0.1, 0.05)),
    Look(mirror=True, shadow=0.45, turn=-0.08, warmth=-0.15, zoom=0.95, shift=(0.0, -0.04)),
    Look(shadow=0.4, turn=-0.1, light=0.2, tilt=-3.0, zoom=0.8, shift=(0.06, 0.06)),
    Look(mirror=True, shadow=-0.4, turn=0.1, warmth=0.25, tilt=8.0, zoom=0.9, shift=(-0.05, 0.0)),
)


def relit(image: Image.Image, light: float, warmth: float, shadow: float = 0.0) -> Image.Image:
    """Directional light as a brightness ramp across the photo, a side shadow with a soft edge down the
    middle (where the nose is in a portrait), and a colour cast."""
    rgb = np.asarray(image.convert("RGB")).astype(np.float32)
    width = rgb.shape[1]
    ramp = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :, None]
    side = 1.0 / (1.0 + np.exp(-ramp * 25.0 * np.sign(shadow))) if shadow else np.zeros_like(ramp)
    gain = (1.0 + light * ramp) * (1.0 - abs(shadow) * side)
    cast = np.array([1.0 + 0.3 * warmth, 1.0, 1.0 - 0.3 * warmth], np.float32)
    return Image.fromarray(np.clip(rgb * gain * cast, 0, 255).astype(np.uint8), "RGB")


def take(bare: Image.Image, look: Look, side: int = PHOTO_SIDE) -> Image.Image:
    """The selfie ``look`` of the person in ``bare``: a 4:3 portrait photo with ``side`` as its long side."""
    image = bare.convert("RGB")
    if look.mirror:
        image = ImageOps.mirror(image)
    image = relit(image, look.light, look.warmth, look.shadow)
    if look.turn:
        image = turned(image, look.turn)
    if look.tilt:
        image = image.rotate(look.tilt, Image.Resampling.BICUBIC, expand=False, fillcolor=_edge_colour(image))
    width, height = round(side * 3 / 4), side
    # The source photo fills ``zoom`` of the frame's height, on a wall of its own edge colour.
    scale = look.zoom * height / image.height
    face = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    frame = _wall(_edge_colour(image), width, height)
    x = (width - face.width) // 2 + round(look.shift[0] * width)
    y = (height - face.height) // 2 + round(look.shift[1] * height)
    frame.paste(face, (x, y))
    return frame


def turned(image: Image.Image, turn: float) -> Image.Image:
    """A small head turn, faked by a perspective warp: one side of the photo shrinks towards the middle."""
    width, height = image.size
    near, far = 0.0, abs(turn) * height / 2
    shrink = [[0, near], [width, far], [width, height - far], [0, height - near]]
    if turn < 0:
        shrink = [[0, far], [width, near], [width, height - near], [0, height - far]]
    source = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    matrix = cv2.getPerspectiveTransform(source, np.array(shrink, np.float32))
    rgb = cv2.warpPerspective(
        np.asarray(image), matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
    return Image.fromarray(rgb, "RGB")


def selfie_set(bare: Image.Image, count: int = 5) -> list[Image.Image]:
    return [take(bare, look) for look in LOOKS[:count]]


def _wall(colour: tuple[int, int, int], width: int, height: int) -> Image.Image:
    """A plain wall with a little light falloff and grain (a flat border would be unlike any photo)."""
    rng = np.random.default_rng(sum(colour))
    y = np.linspace(1.08, 0.92, height, dtype=np.float32)[:, None, None]
    wall = np.array(colour, np.float32) * y + rng.normal(0, 3, (height, width, 3)).astype(np.float32)
    return Image.fromarray(np.clip(wall, 0, 255).astype(np.uint8), "RGB")


def _edge_colour(image: Image.Image) -> tuple[int, int, int]:
    rgb = np.asarray(image)
    edge = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
    median = np.median(edge, axis=0)
    return (int(median[0]), int(median[1]), int(median[2]))


# --- bad examples ---------------------------------------------------------------------------------------
def re_encoded(image: Image.Image, quality: int = 60, scale: float = 0.7) -> Image.Image:
    """The same photo sent again: rescaled and JPEG-compressed."""
    smaller = image.resize(
        (round(image.width * scale), round(image.height * scale)), Image.Resampling.BILINEAR
    )
    buffer = io.BytesIO()
    smaller.save(buffer, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")


def no_face(side: int = 800, seed: int = 0) -> Image.Image:
    """A landscape-like picture: sky, hills and texture, no person."""
    rng = np.random.default_rng(seed)
    height, width = side * 3 // 4, side
    y = np.linspace(0, 1, height, dtype=np.float32)[:, None, None]
    sky = np.array([110, 160, 230], np.float32) * (1 - y) + np.array([200, 220, 240], np.float32) * y
    image = np.broadcast_to(sky, (height, width, 3)).copy()
    xs = np.arange(width)
    hill = (0.55 + 0.1 * np.sin(xs / 90.0) + 0.05 * np.sin(xs / 23.0)) * height
    ground = np.arange(height)[:, None] > hill[None, :]
    image[ground] = np.array([70, 120, 60], np.float32)
    image += rng.normal(0, 8, image.shape).astype(np.float32)
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8), "RGB")


def side_by_side(left: Image.Image, right: Image.Image) -> Image.Image:
    """Two people in one photo, at the same height."""
    height = max(left.height, right.height)
    a = left.resize((round(left.width * height / left.height), height), Image.Resampling.LANCZOS)
    b = right.resize((round(right.width * height / right.height), height), Image.Resampling.LANCZOS)
    pair = Image.new("RGB", (a.width + b.width, height))
    pair.paste(a, (0, 0))
    pair.paste(b, (a.width, 0))
    return pair


def tiny_face(bare: Image.Image, face_share: float = 0.11) -> Image.Image:
    """A 1-megapixel photo taken from afar: the person fills ``face_share`` of its height."""
    return take(bare, Look(zoom=face_share))


def blurred(image: Image.Image, share: float = 0.01) -> Image.Image:
    """Out of focus (or shaken): a Gaussian blur of ``share`` of the photo's height (about 2 % of the face's
    length in a selfie)."""
    rgb = np.asarray(image.convert("RGB"))
    return Image.fromarray(cv2.GaussianBlur(rgb, (0, 0), share * image.height), "RGB")
