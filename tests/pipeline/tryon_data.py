"""The /tryon photos, their held-out split, product shots drawn in code, and the measures the tests and the
benchmark report.

The split is fixed here, once, before any try-on figure was measured: the two people whose file names sort
last and five of the eighteen garments are never used to tune anything; figures on them are reported on
their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from core.imaging.backends.garment_fit import fit_garment
from core.imaging.backends.torso import fill
from core.imaging.pipelines.tryon import TryOnResult

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "tryon"
PEOPLE = sorted(p.name for p in (DATA / "people").iterdir())
GARMENTS = sorted(p.name for p in (DATA / "garments").iterdir())
HELD_OUT_PEOPLE = tuple(PEOPLE[-2:])
HELD_OUT_GARMENTS = (
    "09163_00.jpg",
    "09236_00.jpg",
    "09266_00.jpg",
    "14673_00.jpg",
    "22790049_53294275_1000.jpg",
)


def person(name: str, megapixels: float | None = None) -> Image.Image:
    return _sized(Image.open(DATA / "people" / name).convert("RGB"), megapixels)


def garment(name: str, megapixels: float | None = None) -> Image.Image:
    return _sized(Image.open(DATA / "garments" / name).convert("RGB"), megapixels)


def _sized(image: Image.Image, megapixels: float | None) -> Image.Image:
    if megapixels is None:
        return image
    scale = (megapixels * 1e6 / (image.width * image.height)) ** 0.5
    return image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)


def held_out(person_name: str, garment_name: str) -> bool:
    """A pair with a held-out person or a held-out garment (worn garments: the wearer's name)."""
    return (
        person_name in HELD_OUT_PEOPLE or garment_name in HELD_OUT_GARMENTS or garment_name in HELD_OUT_PEOPLE
    )


@dataclass(frozen=True)
class Drawn:
    """A product shot drawn in code, and where its printed logo lies in it (x0, y0, x1, y1), if any."""

    image: Image.Image
    logo: tuple[int, int, int, int] | None


def product_shot(pattern: str, background: int = 255, size: tuple[int, int] = (640, 720)) -> Drawn:
    """A T-shirt laid flat on a plain background (255 white, ~235 light grey): ``pattern`` is "stripes",
    "checks" or "logo" (a plain colour with dark printed text)."""
    width, height = size
    shirt = np.array(
        [
            (0.38, 0.05), (0.45, 0.09), (0.55, 0.09), (0.62, 0.05), (0.80, 0.12), (0.97, 0.36),
            (0.85, 0.44), (0.77, 0.34), (0.77, 0.95), (0.23, 0.95), (0.23, 0.34), (0.15, 0.44),
            (0.03, 0.36), (0.20, 0.12),
        ]
    ) * (width, height)  # fmt: skip
    ys, xs = np.mgrid[0:height, 0:width]
    if pattern == "stripes":
        cloth = np.where(((ys // 28) % 2 == 0)[..., None], (30, 60, 150), (235, 200, 40))
    elif pattern == "checks":
        cloth = np.where((((ys // 40) + (xs // 40)) % 2 == 0)[..., None], (200, 30, 40), (40, 120, 60))
    else:
        cloth = np.broadcast_to(np.array((90, 170, 200)), (height, width, 3))
    canvas = Image.new("RGB", size, (background,) * 3)
    fabric = Image.fromarray(np.asarray(cloth, np.uint8), "RGB")
    silhouette = Image.new("L", size, 0)
    ImageDraw.Draw(silhouette).polygon([tuple(p) for p in shirt], fill=255)
    canvas.paste(fabric, (0, 0), silhouette)
    logo = None
    if pattern == "logo":
        draw = ImageDraw.Draw(canvas)
        font = ImageFont.load_default(size=round(0.09 * height))
        box = draw.textbbox((0, 0), "ATELIER", font=font)
        left = round((width - (box[2] - box[0])) / 2)
        top = round(0.4 * height)
        draw.text((left - box[0], top - box[1]), "ATELIER", fill=(20, 20, 30), font=font)
        draw.rectangle(
            (left - 8, top + box[3] - box[1] + 10, left + box[2] - box[0] + 8, top + box[3] - box[1] + 18),
            fill=(20, 20, 30),
        )
        logo = (left - 10, top - 8, left + box[2] - box[0] + 10, top + box[3] - box[1] + 22)
    # A faint shadow line along the outline, as product photos have: white on white still has an edge.
    ImageDraw.Draw(canvas).line(
        [tuple(p) for p in shirt] + [tuple(shirt[0])], fill=(background - 25,) * 3, width=2
    )
    return Drawn(canvas, logo)


def side_by_side(left: Image.Image, right: Image.Image) -> Image.Image:
    """Two photos next to each other, at the same height: two people in one photo."""
    height = min(left.height, right.height)
    a = left.resize((round(left.width * height / left.height), height))
    b = right.resize((round(right.width * height / right.height), height))
    both = Image.new("RGB", (a.width + b.width, height))
    both.paste(a, (0, 0))
    both.paste(b, (a.width, 0))
    return both


def torso_iou(result: TryOnResult, photo: Image.Image) -> float:
    """IoU of where the new top was painted with the old top's region, both off the arms and off where
    the new sleeves lie (a sleeve on an arm, however loose, is not torso)."""
    painted = np.any(np.asarray(photo) != np.asarray(result.image), axis=-1)
    torso = np.asarray(result.body.torso) > 127
    sleeves = fit_garment(result.body, result.garment).sleeve_outlines.values()
    off = (np.asarray(result.body.arms) > 127) | fill(torso.shape, list(sleeves))
    a, b = painted & ~off, torso & ~off
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 0.0


def colour_distance(pixels: np.ndarray, reference: np.ndarray) -> float:
    """Hellinger distance (0 same, 1 disjoint) of the RGB histograms (8 bins a channel) of two pixel sets
    ((n, 3) uint8 each)."""

    def histogram(values: np.ndarray) -> np.ndarray:
        bins = (values // 32).astype(np.int64)
        counts = np.bincount((bins[:, 0] * 8 + bins[:, 1]) * 8 + bins[:, 2], minlength=512).astype(np.float64)
        return counts / max(1.0, counts.sum())

    p, q = histogram(pixels), histogram(reference)
    return float(np.sqrt(max(0.0, 1.0 - np.sqrt(p * q).sum())))


def logo_correlation(result: Image.Image, region: np.ndarray, logo: Image.Image) -> float:
    """How well the printed logo can still be found on the result: the best normalised correlation of the
    logo (grey), over a range of horizontal and vertical scales, inside ``region``'s bounding box."""
    import cv2

    ys, xs = np.nonzero(region)
    crop = np.asarray(result.convert("L"))[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(
        np.float32
    )
    template = np.asarray(logo.convert("L"), np.float32)
    best = -1.0
    for sx in np.linspace(0.3, 1.3, 21):
        for sy in np.linspace(0.3, 1.3, 21):
            w, h = round(template.shape[1] * sx), round(template.shape[0] * sy)
            if w < 8 or h < 8 or w >= crop.shape[1] or h >= crop.shape[0]:
                continue
            scaled = cv2.resize(template, (w, h), interpolation=cv2.INTER_AREA)
            best = max(best, float(cv2.matchTemplate(crop, scaled, cv2.TM_CCOEFF_NORMED).max()))
    return best
