"""The colour of a face's own skin, sampled where a mask never reaches.

Shared by the offline segmenter (to tell skin from fabric) and the classical inpainter (to paint skin).
Samples come from the forehead, the brow gap, the top of the nose bridge and the cheeks under the eyes;
any of them can be hair (a fringe), a cap, a shadow or part of the mask, so the answer is the colour most
samples agree on, not a plain median.
"""

from __future__ import annotations

import numpy as np

# Forehead, glabella, top of the nose bridge, cheeks under the eyes, and beside the outer eye corners
# (face-mesh indices).
SKIN_POINTS = (
    151, 108, 337, 9, 8, 168, 6, 117, 118, 346, 347, 50, 280, 101, 330, 123, 352, 143, 372, 111, 340, 35, 265,
)  # fmt: skip
# Two samples are "the same skin" within this Lab distance, lightness counting half (shading varies).
_AGREEMENT = 9.0
# A group at least this fraction of the largest one's size competes with it (sunglasses and a fringe of
# hair can outnumber the skin samples between them).
_CONTENDER = 0.4


def lab_image(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return np.asarray(cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab))


def skin_like(lab: np.ndarray) -> np.ndarray:
    """Colours that can be human skin at all: warm hue, some chroma, neither black nor blown out."""
    hue = np.degrees(np.arctan2(lab[..., 2], lab[..., 1]))
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    return (hue > 0) & (hue < 85) & (chroma > 5) & (chroma < 60) & (lab[..., 0] > 12) & (lab[..., 0] < 97)


def dominant_colour(colours: np.ndarray) -> np.ndarray | None:
    """The median of the largest group of mutually agreeing colours (Lab, shape (N, 3)). When a second
    group is nearly as large, the lighter one wins: what competes with skin here is a dark fringe of hair
    or a shadow, both darker than the skin they border."""
    if len(colours) == 0:
        return None
    scaled = colours * np.array([0.5, 1.0, 1.0], np.float32)
    distances = np.linalg.norm(scaled[:, None, :] - scaled[None, :, :], axis=-1)
    agreeing = distances < _AGREEMENT
    support = agreeing.sum(axis=1)
    contenders = np.flatnonzero(support >= _CONTENDER * support.max())
    best = int(contenders[np.argmax(colours[contenders, 0])])
    return np.asarray(np.median(colours[agreeing[best]], axis=0), dtype=np.float32)


def sample_skin(
    lab: np.ndarray, points: np.ndarray, radius: int, exclude: np.ndarray | None = None
) -> list[np.ndarray]:
    """Median colours of the square patches around ``points`` that lie inside the image, avoid ``exclude``
    (the hole being repainted) and look like skin."""
    height, width = lab.shape[:2]
    found = []
    for x, y in points:
        x0, y0, x1, y1 = int(x) - radius, int(y) - radius, int(x) + radius + 1, int(y) + radius + 1
        if x0 < 0 or y0 < 0 or x1 > width or y1 > height:
            continue
        if exclude is not None and exclude[y0:y1, x0:x1].any():
            continue
        colour = np.median(lab[y0:y1, x0:x1].reshape(-1, 3), axis=0)
        if skin_like(colour):
            found.append(colour)
    return found
