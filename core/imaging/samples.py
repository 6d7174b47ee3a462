"""A sample masked portrait for the demo, made on the spot so nothing has to be downloaded or shipped.

The portrait is Grace Hopper's public-domain photo that ships inside matplotlib; a light-blue surgical mask is
drawn over the lower face along the offline tier's face landmarks (MediaPipe face mesh indices).
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from core.config import ModelSettings

# Face-mesh indices along the jaw from one cheek to the other, under the ears.
_JAW = [234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454]
_NOSE_BRIDGE = 195
_MASK_BLUE = (150, 192, 226)


def sample_portrait() -> Image.Image:
    from pathlib import Path

    import matplotlib

    path = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    with Image.open(path) as portrait:
        return portrait.convert("RGB")


def draw_surgical_mask(image: Image.Image, landmarks: np.ndarray) -> Image.Image:
    """Draw a pleated surgical mask over the lower face given 478 face-mesh landmarks (pixels)."""
    jaw = landmarks[_JAW].astype(np.float64)
    centre = jaw.mean(axis=0)
    # Masks overhang the jaw line a little.
    jaw = centre + (jaw - centre) * 1.08
    top = landmarks[_NOSE_BRIDGE]
    polygon = [tuple(p) for p in jaw] + [tuple(top)]
    overlay = image.copy()
    draw = ImageDraw.Draw(overlay)
    draw.polygon([(float(x), float(y)) for x, y in polygon], fill=_MASK_BLUE)
    # Three horizontal pleats between the nose and the chin.
    chin_y = float(landmarks[152][1])
    left_x, right_x = float(jaw[:, 0].min()), float(jaw[:, 0].max())
    for k in (1, 2, 3):
        y = float(top[1]) + (chin_y - float(top[1])) * k / 4.5
        draw.line([(left_x + 6, y), (right_x - 6, y)], fill=(118, 160, 196), width=max(2, image.width // 250))
    mask = Image.new("L", image.size, 0)
    ImageDraw.Draw(mask).polygon([(float(x), float(y)) for x, y in polygon], fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(1.5))
    return Image.composite(overlay, image, mask)


def masked_sample(models: ModelSettings | None = None) -> Image.Image:
    """Grace Hopper wearing a drawn surgical mask."""
    from core.imaging.backends import registry

    portrait = sample_portrait()
    detector = registry.build("detector", models or ModelSettings(tier="offline"))
    faces = detector.detect(portrait)
    if not faces or faces[0].landmarks is None:
        raise RuntimeError("the offline face detector found no landmarks on the sample portrait")
    return draw_surgical_mask(portrait, faces[0].landmarks)
