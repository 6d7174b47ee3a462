"""/sketch on the offline tier: a generated face projected onto the drawing (``sketch_manifold``).

1. The drawing's face (its face-mesh landmarks) is aligned to the bank's frame and described (HOG).
2. Its nearest faces in the bank are found. Three styles are made from them: the plain mean of the
   ``neighbours`` nearest (the drawing's kind of face: sex, hair, face shape), the nearest face itself, and
   the midpoint of the two. Each is pulled towards the bank's mean style by 1 - strength: at strength 0
   every candidate is the mean face (the drawing sets only where the face is), at 1 none is pulled.
3. The first candidate (the neighbours' mean) is synthesized. Above strength 0 a search follows, of
   ``round(strength * refine_rounds)`` further syntheses stopped by a time budget: the other two
   candidates, then random nudges around the best so far. Each face is placed in the drawing's frame and
   scored by how well its lines agree with the drawing's around the face (the HOG cosine the benchmark
   reports); the best is kept. So a higher strength both pulls less towards the mean and searches longer,
   and the drawing is followed more closely.
4. The face is placed onto the result canvas where the drawing's face is (the inverse of the alignment).

Measured on the benchmark's development drawings (200-face bank, scored as above, against the mean face):
the neighbours' mean +0.052 (21 of 27 better), the midpoint +0.051, the nearest face +0.030, the best of
all 200 bank faces +0.085; a plain average bank face -0.12. The mean face is a strong rival (its lines are
smooth and generic), which is why the neighbours are blended rather than one of them taken, and why each
candidate is scored rather than trusted.

Only with the face prior (non-commercial weights); ``build_sketch_painter`` returns None without it.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from core.config import ModelSettings
from core.imaging.backends.base import SketchRequest, StepProgress
from core.imaging.backends.offline import face_prior
from core.imaging.backends.offline import sketch_manifold as sm

# Search: each nudge adds this many spreads of the bank's styles (per dimension) in a random direction.
_NUDGE = 0.35
# Faces are synthesized at this side before being placed (the network makes 1024)...
_FACE_SIDE = 768
# ...and scored at this one (lines at the benchmark's scale need no more).
_SCORE_SIDE = 512
# The seam between the generated square and the backdrop beyond it: this share of the square's side.
_FEATHER = 0.03
# A synthesis (and its scoring) costs about this much on a busy core until the first one is timed.
_FIRST_GUESS_S = 0.6


class ManifoldSketchPainter:
    """Thread-safe: the generator runs under a lock (its compiled networks keep state)."""

    def __init__(
        self,
        networks: face_prior.StyleGanNetworks,
        bank: sm.FaceBank,
        *,
        neighbours: int = 24,
        refine_rounds: int = 3,
        time_budget_s: float = 2.5,
    ) -> None:
        self.networks = networks
        self.bank = bank
        self.neighbours = neighbours
        self.refine_rounds = refine_rounds
        self.time_budget_s = time_budget_s
        self._spread = bank.styles.std(axis=0)
        self._mean = bank.styles.mean(axis=0)
        self._lock = threading.Lock()
        self._round_s = _FIRST_GUESS_S

    def paint(self, request: SketchRequest, progress: StepProgress) -> Image.Image:
        started = time.perf_counter()
        if request.face.landmarks is None:
            raise ValueError("the offline sketch painter needs the face's landmarks")
        t = min(1.0, max(0.0, request.strength))
        ink = np.asarray(request.drawing.convert("L")) < 128

        # 1. Align and describe the drawing
        to_canon = sm.similarity(request.face.landmarks, self.bank.mean_landmarks)
        box = request.face.box
        region = sm.around_face((box.x0, box.y0, box.x1, box.y1))
        target = sm.drawing_descriptor(request.drawing, region)

        # 2. Candidate styles from the nearest faces, pulled towards the mean by 1 - strength
        order, _ = self.bank.nearest(sm.descriptor(sm.aligned(ink, to_canon)), self.neighbours)
        kind, nearest = self.bank.styles[order].mean(axis=0), self.bank.styles[order[0]]
        candidates = [
            self._mean + t * (style - self._mean) for style in (kind, (kind + nearest) / 2, nearest)
        ]

        def score(face: Image.Image) -> float:
            small = face.resize((_SCORE_SIDE, _SCORE_SIDE), Image.Resampling.BILINEAR)
            placed = _placed(small, to_canon, request.drawing.size, request.drawing.size)
            return float(sm.picture_descriptor(placed, region) @ target)

        # 3. Synthesize the first; search the others and nudges, keeping the face that agrees best
        rng = np.random.default_rng(request.seed)
        rounds = round(t * self.refine_rounds)
        with self._lock:
            style = candidates[0]
            best_face = self._synthesize(style)
            best_score = score(best_face) if rounds else 0.0
            progress(1.0 / (rounds + 1))
            for round_index in range(rounds):
                if time.perf_counter() - started + self._round_s > self.time_budget_s:
                    break
                began = time.perf_counter()
                if round_index + 1 < len(candidates):
                    candidate = candidates[round_index + 1]
                else:
                    nudge = rng.standard_normal(style.shape).astype(np.float32)
                    candidate = style + _NUDGE * self._spread * nudge
                face = self._synthesize(candidate)
                agreement = score(face)
                if agreement > best_score:
                    style, best_face, best_score = candidate, face, agreement
                self._round_s = time.perf_counter() - began
                progress((round_index + 2) / (rounds + 1))

        # 4. Place the face where the drawing's face is, on the result canvas
        return _placed(best_face, to_canon, request.drawing.size, request.size)

    def _synthesize(self, style: np.ndarray) -> Image.Image:
        return self.networks.synthesize(style, _FACE_SIDE)


def _placed(
    face: Image.Image, to_canon: np.ndarray, drawing_size: tuple[int, int], size: tuple[int, int]
) -> Image.Image:
    """``face`` (in the CANON frame, at any side) warped into a canvas of ``size`` whose frame is the
    drawing's scaled: canvas <- drawing <- CANON <- face pixels. Beyond the generated square the canvas is
    its edge colours spread out and blurred (a plain studio backdrop), with a feathered seam."""
    import cv2

    canon_from_face = np.diag([sm.CANON / face.width, sm.CANON / face.height, 1.0])
    drawing_from_canon = np.vstack([cv2.invertAffineTransform(to_canon), [0.0, 0.0, 1.0]])
    canvas_from_drawing = np.diag([size[0] / drawing_size[0], size[1] / drawing_size[1], 1.0])
    matrix = (canvas_from_drawing @ drawing_from_canon @ canon_from_face)[:2]
    rgb = np.asarray(face.convert("RGB"))
    sharp = cv2.warpAffine(rgb, matrix, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    feather = max(2.0, _FEATHER * face.width * scale)
    backdrop = cv2.GaussianBlur(sharp, (0, 0), 2 * feather)
    inside = cv2.warpAffine(np.full(rgb.shape[:2], 255, np.uint8), matrix, size, flags=cv2.INTER_LINEAR)
    inside = cv2.erode(inside, np.ones((3, 3), np.uint8), iterations=max(1, round(feather / 2)))
    alpha = cv2.GaussianBlur(inside.astype(np.float32) / 255.0, (0, 0), feather / 2)[..., None]
    placed = alpha * sharp.astype(np.float32) + (1.0 - alpha) * backdrop.astype(np.float32)
    return Image.fromarray(np.clip(placed + 0.5, 0, 255).astype(np.uint8), "RGB")


def build_sketch_painter(
    models: ModelSettings, cache_dir: Path | None = None
) -> ManifoldSketchPainter | None:
    """The offline painter, or None without the face prior (the tier then cannot draw faces). The bank is
    cached under ``cache_dir``: by default ``models.cache_dir``/face-prior, or ~/.cache/atelier/face-prior."""
    if models.face_prior != "stylegan":
        return None
    if cache_dir is None:
        root = models.cache_dir if models.cache_dir is not None else Path.home() / ".cache" / "atelier"
        cache_dir = root / "face-prior"
    networks = face_prior.StyleGanNetworks(face_prior.model_files())
    bank = sm.load_bank(models.sketch_bank, cache_dir, networks)
    return ManifoldSketchPainter(
        networks,
        bank,
        neighbours=models.sketch_neighbours,
        refine_rounds=models.sketch_refine_rounds,
        time_budget_s=models.sketch_time_budget_s,
    )
