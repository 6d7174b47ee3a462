"""A manifold of generated faces for /sketch on the offline tier: DeepFaceDrawing's method on the face prior.

That method projects a drawing onto a manifold of known faces: it finds the drawings nearest to the user's
among the drawings of its faces (k nearest neighbours in a descriptor space), blends their latent codes and
decodes the blend. Here the faces are MobileStyleGAN's (the face prior's generator, whose style
``w`` is the latent code): a bank of N styles, each with the lines an edge extractor draws from its face
(``core.imaging.drawing.line_drawing``) and a HOG descriptor of those lines in a frame fixed by the face
(the bank's mean face-mesh landmarks). The bank is made once and cached beside the face prior's donors.

Generator weights are NOT for commercial use (``face_prior.LICENCE``): the bank exists only with
``ATELIER_MODELS__FACE_PRIOR=stylegan``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from core.imaging.backends.offline import face_prior
from core.imaging.drawing import line_drawing

# Bump whenever anything below changes what the bank holds (it is part of the cache key).
_RECIPE = "sketch-v1"
# The frame descriptors are computed in: faces at this side, aligned to the bank's mean landmarks.
CANON = 256
# The part of the frame the descriptor sees (x0, y0, x1, y1 as shares of CANON): the face with its hair
# and jaw, little background.
_REGION = (0.14, 0.12, 0.86, 0.94)
_HOG_SIDE = 128
# Lines are blurred before HOG so a pencil stroke and an extracted edge of another width compare alike.
_BLUR = 2.0
# The generated faces are synthesized at this side for the bank (the network makes 1024; lines need less).
_BANK_SIDE = 512


@dataclass(frozen=True)
class FaceBank:
    styles: np.ndarray  # (N, 512) float32, the mapping network's truncated output w
    descriptors: np.ndarray  # (N, D) float32, unit length
    landmarks: np.ndarray  # (N, 478, 2) float32, face-mesh points in the CANON frame of the raw face
    mean_landmarks: np.ndarray  # (478, 2) float32
    loaded_from_cache: bool = False

    def __len__(self) -> int:
        return len(self.styles)

    def nearest(self, descriptor: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
        """The ``count`` faces nearest to ``descriptor``: indices and cosine distances, nearest first."""
        distances = 1.0 - self.descriptors @ descriptor
        order = np.argsort(distances)[: max(1, min(count, len(distances)))]
        return order, distances[order]


def descriptor(lines: np.ndarray) -> np.ndarray:
    """HOG of ``lines`` ((CANON, CANON), True or 1.0 = line, in the aligned frame), unit length."""
    import cv2

    x0, y0, x1, y1 = (round(share * CANON) for share in _REGION)
    ink = cv2.GaussianBlur(np.asarray(lines, np.float32)[y0:y1, x0:x1], (0, 0), _BLUR)
    patch = cv2.resize(ink, (_HOG_SIDE, _HOG_SIDE), interpolation=cv2.INTER_AREA)
    values = hog(patch / max(1e-6, float(patch.max(initial=0.0))))
    values -= values.mean()
    return np.asarray(values / max(1e-6, float(np.linalg.norm(values))), np.float32)


def hog(patch: np.ndarray, cell: int = 16, bins: int = 9) -> np.ndarray:
    """Histograms of oriented gradients (Dalal and Triggs): unsigned orientations in ``bins`` per
    ``cell``-pixel cell, blocks of 2x2 cells at a stride of one cell, each block L2-normalised."""
    import cv2

    gx = cv2.Sobel(patch, cv2.CV_32F, 1, 0, ksize=1)
    gy = cv2.Sobel(patch, cv2.CV_32F, 0, 1, ksize=1)
    magnitude = np.hypot(gx, gy)
    orientation = np.floor(np.mod(np.arctan2(gy, gx), np.pi) / np.pi * bins).astype(np.int64) % bins
    rows, cols = patch.shape[0] // cell, patch.shape[1] // cell
    ys, xs = np.mgrid[0 : rows * cell, 0 : cols * cell]
    index = ((ys // cell) * cols + xs // cell) * bins + orientation[: rows * cell, : cols * cell]
    weights = magnitude[: rows * cell, : cols * cell].ravel()
    cells = np.bincount(index.ravel(), weights, rows * cols * bins).reshape(rows, cols, bins)
    blocks = np.concatenate(
        [cells[:-1, :-1], cells[1:, :-1], cells[:-1, 1:], cells[1:, 1:]], axis=-1
    ).reshape(-1, 4 * bins)
    blocks /= np.sqrt((blocks**2).sum(axis=1, keepdims=True) + 1e-6)
    return np.asarray(blocks.ravel(), np.float32)


def similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 2x3 similarity (rotation, uniform scale, shift) taking ``source`` points onto ``target``."""
    import cv2

    matrix, _ = cv2.estimateAffinePartial2D(
        np.asarray(source, np.float32), np.asarray(target, np.float32), method=cv2.LMEDS
    )
    if matrix is None:
        raise ValueError("could not align the face's landmarks")
    return np.asarray(matrix, np.float64)


def aligned(lines: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``lines`` (H, W) warped by ``matrix`` into the CANON frame, as 0..1 floats."""
    import cv2

    return np.asarray(
        cv2.warpAffine(np.asarray(lines, np.float32), matrix, (CANON, CANON), flags=cv2.INTER_AREA),
        np.float32,
    )


def around_face(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """The part of a picture whose lines are compared: the face's box (x0, y0, x1, y1) grown by a third
    of its longer side on every side (the hair, the jaw and the ears)."""
    x0, y0, x1, y1 = box
    grow = max(x1 - x0, y1 - y0) / 3
    return (x0 - grow, y0 - grow, x1 + grow, y1 + grow)


def drawing_descriptor(drawing: Image.Image, region: tuple[float, float, float, float]) -> np.ndarray:
    """The descriptor of the strokes of ``drawing`` (black on white) in ``region``, at CANON side."""
    patch = drawing.convert("L").crop(region).resize((CANON, CANON), Image.Resampling.BOX)
    return descriptor(np.asarray(patch) < 200)


def picture_descriptor(picture: Image.Image, region: tuple[float, float, float, float]) -> np.ndarray:
    """The descriptor of the edge extractor's lines of ``picture`` in ``region``, at CANON side. With
    ``drawing_descriptor`` of the same region, their dot product is how well a result's lines agree with
    a drawing's (the measure the benchmark reports)."""
    return descriptor(line_drawing(picture.crop(region).resize((CANON, CANON), Image.Resampling.BICUBIC)))


def face_lines(face: Image.Image) -> np.ndarray:
    """The edge extractor's lines of a generated face, at CANON side."""
    return line_drawing(face.resize((CANON, CANON), Image.Resampling.LANCZOS))


# --- the bank on disk ---
def load_bank(size: int, cache_dir: Path, networks: face_prior.StyleGanNetworks | None = None) -> FaceBank:
    """The bank of ``size`` faces from ``cache_dir``, made (and cached) on first use."""
    data = face_prior.model_files()
    digest = hashlib.sha256(f"{_RECIPE} {size}".encode())
    digest.update(face_prior._bank_key(data, size).encode())
    folder = cache_dir / f"sketch-{digest.hexdigest()[:16]}"
    cached = _read(folder)
    if cached is not None:
        return cached
    shutil.rmtree(folder, ignore_errors=True)
    bank = make_bank(networks or face_prior.StyleGanNetworks(data), size)
    _write(folder, bank)
    return bank


def make_bank(networks: face_prior.StyleGanNetworks, size: int) -> FaceBank:
    """``size`` faces from seeds 0, 1, ...: their styles, landmarks and line descriptors."""
    import mediapipe as mp

    solutions: Any = mp.solutions
    styles: list[np.ndarray] = []
    landmarks: list[np.ndarray] = []
    lines: list[np.ndarray] = []
    with solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=1) as mesh:
        seed = 0
        while len(styles) < size:
            if seed >= 4 * size:
                raise RuntimeError(f"only {len(styles)} of {size} generated faces had a face mesh")
            style = networks.style(seed)
            seed += 1
            face = networks.synthesize(style, _BANK_SIDE)
            found = mesh.process(np.asarray(face)).multi_face_landmarks
            if not found:
                continue
            styles.append(style.astype(np.float32))
            landmarks.append(np.array([(p.x, p.y) for p in found[0].landmark], np.float32) * CANON)
            lines.append(face_lines(face))
    points = np.stack(landmarks)
    mean = points.mean(axis=0)
    descriptors = np.stack(
        [descriptor(aligned(ink, similarity(own, mean))) for ink, own in zip(lines, points, strict=True)]
    )
    return FaceBank(np.stack(styles), descriptors.astype(np.float32), points, mean.astype(np.float32))


def _read(folder: Path) -> FaceBank | None:
    try:
        with np.load(folder / "bank.npz") as stored:
            return FaceBank(
                stored["styles"],
                stored["descriptors"],
                stored["landmarks"],
                stored["mean_landmarks"],
                loaded_from_cache=True,
            )
    except (OSError, KeyError, ValueError):
        return None


def _write(folder: Path, bank: FaceBank) -> None:
    """Written beside ``folder`` and renamed into place, so a reader never sees half a bank; when another
    process got there first, its bank stays."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".sketch-", dir=folder.parent))
    try:
        np.savez(
            staging / "bank.npz",
            styles=bank.styles,
            descriptors=bank.descriptors,
            landmarks=bank.landmarks,
            mean_landmarks=bank.mean_landmarks,
        )
        os.rename(staging, folder)
    except OSError:
        if not folder.is_dir():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
