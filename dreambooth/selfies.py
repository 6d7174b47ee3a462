"""Is this selfie good training material? Checks one photo for /train and turns it into an aligned face crop.

A personal model learns whatever the selfies have in common, so each must show exactly one face, large and
sharp enough to carry detail, unmasked (a mask would become part of "the person"), not a copy of a selfie
already accepted (copies teach nothing new and overweight one photo), and the same person as the others.
The checks run in that order, cheapest and most actionable first, and each failure is a ``UserError`` the
user can act on.

Everything runs on the offline (CPU) components, whatever the model tier: MediaPipe detection and face mesh,
the landmark mask classifier and dlib's identity embedding: 0.15 s (p95 0.16 s) for a 1-megapixel photo on
two cores (``bench/bench_selfie_checks.py``).

Measures, all taken in a face-normalised frame so that they mean the same for a small photo and a
12-megapixel one:

- ``face_px``: the face's length in the photo, from the top of the forehead to the chin (face mesh 10-152).
- ``sharpness``: variance of the Laplacian of the inner face, resampled so the face is 128 px long (always
  a reduction for an accepted face). The 40 bare photos of the shared set, as 1-megapixel selfies, score
  50-3760 (median ~600), except a 113 px face blown up to 1 MP (28, refused); a blur of 1 % of the face's
  length brings them to 10-54 (median 30), 2 % below 10. The default threshold of 40 sits between.
- ``dhash``: a 64-bit difference hash of the face in the aligned crop. Re-sending, re-encoding, rescaling,
  re-cropping or slightly rotating one photo keeps it within a few bits (the crop is aligned on the face).
  It is coarse (another photo of the same face can land close too), so a duplicate needs the embedding to
  agree as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from core.config import ModelSettings, TrainSettings
from core.errors import UserError
from core.imaging.backends.base import FaceDetector, FaceEmbedder, MaskClassifier
from core.imaging.backends.offline import face_regions as fr
from core.imaging.backends.offline.face_embedding import face_distance, identity_distance

_FOREHEAD_TOP = 10
# Faces shorter than this share of the largest face are bystanders in the background, not a second sitter.
_BYSTANDER_SHARE = 0.4
# Aligned crop: its side as a multiple of the face length (forehead to chin), and where the face's centre
# sits (a little above the crop's centre: hair needs more room than the neck).
_CROP_FACE_LENGTHS = 1.7
_CROP_CENTRE_RAISE = 0.06
# Sharpness frame: the face is resampled to this length and the inner face (brows to chin, cheek to cheek)
# is measured.
_SHARPNESS_FACE_PX = 128
# Duplicates (see ``_is_duplicate``). Measured on 1-megapixel selfies made from the shared photos: the same
# photo re-encoded (JPEG 60, 0.7x), reframed or tilted by up to 9 degrees lies at 0-7 bits and 0.02-0.10 in
# embedding distance; another selfie of the same person (mirrored, relit, turned) at 0.13-0.30, its hash
# anywhere from 3 to 32 bits away.
_DHASH_SAME_BITS = 8
_HASHED_SLACK = 1.5


@dataclass(frozen=True)
class SelfieParams:
    min_face_px: int = 160
    min_sharpness: float = 40.0
    same_person_distance: float = 0.6
    duplicate_distance: float = 0.08
    resolution: int = 512
    detection_threshold: float = 0.5
    mask_threshold: float = 0.5

    @classmethod
    def from_settings(cls, train: TrainSettings, models: ModelSettings | None = None) -> SelfieParams:
        models = models or ModelSettings(tier="offline")
        return cls(
            min_face_px=train.min_face_px,
            min_sharpness=train.min_sharpness,
            same_person_distance=train.same_person_distance,
            duplicate_distance=train.duplicate_distance,
            resolution=train.resolution,
            detection_threshold=models.detection_threshold,
            mask_threshold=models.mask_threshold,
        )


@dataclass(frozen=True)
class CheckedSelfie:
    """An accepted selfie: the aligned ``resolution``-square face crop (eyes level), its 478 face-mesh
    landmarks in crop pixels, its identity embedding, and the measures it passed."""

    aligned: Image.Image
    landmarks: np.ndarray
    embedding: np.ndarray
    face_px: int
    sharpness: float
    dhash: int


class SelfieChecker:
    def __init__(
        self,
        detector: FaceDetector,
        mask_classifier: MaskClassifier,
        embedder: FaceEmbedder,
        params: SelfieParams | None = None,
    ) -> None:
        self.detector = detector
        self.mask_classifier = mask_classifier
        self.embedder = embedder
        self.params = params or SelfieParams()

    def check(
        self,
        image: Image.Image,
        accepted: Sequence[np.ndarray],
        accepted_hashes: Sequence[int] | None = None,
    ) -> CheckedSelfie:
        """Checks ``image`` against the rules and against the user's ``accepted`` selfies (their embeddings,
        and, when known, their dhashes in the same order: with them a duplicate must match both).

        Raises ``UserError`` (``train.selfie.*``) for the first rule the photo breaks."""
        p = self.params
        image = image.convert("RGB")

        # 1. Exactly one face (bystanders far smaller than the sitter do not count).
        faces = [f for f in self.detector.detect(image) if f.score >= p.detection_threshold]
        faces = [f for f in faces if f.landmarks is not None]
        if not faces:
            raise UserError("train.selfie.no_face")
        lengths = [face_length(f.landmarks) for f in faces if f.landmarks is not None]
        sitters = [f for f, n in zip(faces, lengths, strict=True) if n >= _BYSTANDER_SHARE * max(lengths)]
        if len(sitters) > 1:
            raise UserError("train.selfie.several_faces", count=len(sitters))
        face = sitters[0]
        landmarks = np.asarray(face.landmarks, np.float32)

        # 2. Large enough.
        face_px = round(face_length(landmarks))
        if face_px < p.min_face_px:
            raise UserError("train.selfie.too_small", face_px=face_px, min_px=p.min_face_px)

        # 3. Sharp enough.
        rgb = np.asarray(image)
        sharpness = face_sharpness(rgb, landmarks)
        if sharpness < p.min_sharpness:
            raise UserError("train.selfie.blurry")

        # 4. Not masked.
        if self.mask_classifier.mask_probabilities(image, [face])[0] >= p.mask_threshold:
            raise UserError("train.selfie.masked")

        # 5. Not a copy of an accepted selfie.
        aligned, aligned_landmarks = align_face(rgb, landmarks, p.resolution)
        dhash = difference_hash(aligned)
        embedding = self.embedder.embed(image, face)
        if self._is_duplicate(embedding, dhash, accepted, accepted_hashes):
            raise UserError("train.selfie.duplicate")

        # 6. The same person as the accepted selfies.
        if accepted:
            distance = identity_distance(embedding, accepted)
            if distance > p.same_person_distance:
                raise UserError("train.selfie.different_person", distance=round(distance, 2))

        return CheckedSelfie(
            aligned=Image.fromarray(aligned, "RGB"),
            landmarks=aligned_landmarks,
            embedding=embedding,
            face_px=face_px,
            sharpness=sharpness,
            dhash=dhash,
        )

    def _is_duplicate(
        self,
        embedding: np.ndarray,
        dhash: int,
        accepted: Sequence[np.ndarray],
        accepted_hashes: Sequence[int] | None,
    ) -> bool:
        """The same picture again. Without hashes: the embedding within ``duplicate_distance``. With them:
        the aligned faces hash alike *and* the embeddings are close (within 1.5x ``duplicate_distance``,
        which absorbs the embedding's jitter on a re-encoded copy); a new photo that only embeds close
        (another shot a second later, relit) has a different hash and passes."""
        if accepted_hashes is not None and len(accepted_hashes) != len(accepted):
            raise ValueError("accepted_hashes must match accepted, one hash per embedding")
        limit = self.params.duplicate_distance
        for index, reference in enumerate(accepted):
            distance = face_distance(embedding, reference)
            if accepted_hashes is None:
                if distance < limit:
                    return True
            elif (
                hamming(dhash, accepted_hashes[index]) <= _DHASH_SAME_BITS
                and distance < _HASHED_SLACK * limit
            ):
                return True
        return False


def face_length(landmarks: np.ndarray) -> float:
    """The face's length in pixels: top of the forehead to the chin (head roll does not change it)."""
    return float(np.linalg.norm(landmarks[_FOREHEAD_TOP] - landmarks[fr.CHIN]))


def _face_frame(landmarks: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Centre of the face, its roll (radians, eyes levelled at 0) and its length."""
    left = fr.points(landmarks, fr.LEFT_EYE).mean(axis=0)
    right = fr.points(landmarks, fr.RIGHT_EYE).mean(axis=0)
    angle = float(np.arctan2(right[1] - left[1], right[0] - left[0]))
    top, chin = landmarks[_FOREHEAD_TOP].astype(np.float64), landmarks[fr.CHIN].astype(np.float64)
    return (top + chin) / 2, angle, float(np.linalg.norm(chin - top))


def _similarity(centre: np.ndarray, angle: float, scale: float, out_centre: np.ndarray) -> np.ndarray:
    """2x3 matrix: rotate by -angle and scale about ``centre``, which lands on ``out_centre``."""
    cos, sin = np.cos(-angle) * scale, np.sin(-angle) * scale
    linear = np.array([[cos, -sin], [sin, cos]])
    return np.hstack([linear, (out_centre - linear @ centre)[:, None]])


def _warp_face(
    rgb: np.ndarray, landmarks: np.ndarray, size: int, face_lengths: float, raise_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """A ``size``-square crop around the face, eyes level, ``face_lengths`` face lengths wide. Large
    reductions are done by area averaging first (a plain warp would alias and fake sharpness)."""
    import cv2

    centre, angle, length = _face_frame(landmarks)
    # Raise the crop centre along the face's own vertical axis.
    up = np.array([np.sin(angle), -np.cos(angle)])
    centre = centre + up * raise_share * length
    scale = size / (face_lengths * max(length, 1.0))
    source, points = rgb, landmarks.astype(np.float64)
    if scale < 0.5:
        # Shrink a region around the crop (its diagonal covers any rotation) to about the target scale.
        half = 0.75 * size / scale
        x0, y0 = max(0, int(centre[0] - half)), max(0, int(centre[1] - half))
        x1, y1 = min(rgb.shape[1], int(centre[0] + half) + 1), min(rgb.shape[0], int(centre[1] + half) + 1)
        pre = 2.0 * scale
        width, height = max(1, round((x1 - x0) * pre)), max(1, round((y1 - y0) * pre))
        source = cv2.resize(rgb[y0:y1, x0:x1], (width, height), interpolation=cv2.INTER_AREA)
        factor = np.array([width / (x1 - x0), height / (y1 - y0)])
        points, centre = (points - [x0, y0]) * factor, (centre - [x0, y0]) * factor
        scale = scale / float(factor.mean())
    matrix = _similarity(centre, angle, scale, np.array([size / 2, size / 2]))
    warped = cv2.warpAffine(
        np.ascontiguousarray(source),
        matrix,
        (size, size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    mapped = points @ matrix[:, :2].T + matrix[:, 2]
    return warped, mapped.astype(np.float32)


def align_face(rgb: np.ndarray, landmarks: np.ndarray, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """The training crop: ``resolution`` square, eyes level, the face centred with room for hair and chin
    (the image edge is repeated where the photo ends). Returns the crop and the landmarks in its pixels."""
    return _warp_face(rgb, landmarks, resolution, _CROP_FACE_LENGTHS, _CROP_CENTRE_RAISE)


def face_sharpness(rgb: np.ndarray, landmarks: np.ndarray) -> float:
    """Variance of the Laplacian over the inner face, at a fixed face length of 128 px."""
    import cv2

    size = _SHARPNESS_FACE_PX
    face, _ = _warp_face(rgb, landmarks, size, 1.0, 0.0)
    grey = cv2.cvtColor(face, cv2.COLOR_RGB2GRAY).astype(np.float32)
    # Brows to chin, cheek to cheek: the middle of the frame (the corners hold hair and background).
    inner = cv2.Laplacian(grey, cv2.CV_32F, ksize=1)[size // 5 : size - 4, size // 5 : size - size // 5]
    return float(inner.var())


def difference_hash(aligned: np.ndarray) -> int:
    """64-bit dHash of the face in an aligned crop (its framing, hair and background left out): is each cell
    of a 9x8 reduction brighter than its right neighbour?"""
    import cv2

    size = aligned.shape[0]
    half = size / (2 * _CROP_FACE_LENGTHS)
    cx, cy = size / 2, size / 2 + _CROP_CENTRE_RAISE * size / _CROP_FACE_LENGTHS
    face = aligned[max(0, round(cy - half)) : round(cy + half), max(0, round(cx - half)) : round(cx + half)]
    grey = cv2.cvtColor(np.ascontiguousarray(face), cv2.COLOR_RGB2GRAY)
    small = cv2.resize(grey, (9, 8), interpolation=cv2.INTER_AREA).astype(np.int16)
    bits = (small[:, 1:] > small[:, :-1]).flatten()
    return int(sum(1 << index for index, bit in enumerate(bits) if bit))


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def build_selfie_checker(train: TrainSettings) -> SelfieChecker:
    """The checker on the offline components (the checks run on the CPU queue, whatever the tier)."""
    from core.imaging.backends import registry
    from core.imaging.backends.offline.face_embedding import build_face_embedder

    models = ModelSettings(tier="offline")
    return SelfieChecker(
        detector=registry.shared("detector", models),
        mask_classifier=registry.shared("mask_classifier", models),
        embedder=build_face_embedder(models),
        params=SelfieParams.from_settings(train, models),
    )
