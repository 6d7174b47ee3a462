"""/unmask: find the faces that wear a mask and paint the hidden lower face back.

The components come in through the constructor, so the same recipe runs the offline, standard and tiny
tiers; ``build_unmask_pipeline`` picks them from the registry. Compositing is done here, never by a model:
every pixel outside the (dilated) masks is returned bit-identical to the input.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from core.config import ModelSettings, Settings
from core.errors import UserError
from core.imaging import compositing
from core.imaging.backends.base import (
    Face,
    FaceDetector,
    FaceEmbedder,
    Identity,
    Inpainter,
    InpaintRequest,
    MaskClassifier,
    MaskSegmenter,
    Upscaler,
)
from core.imaging.pipelines.jobio import JobInputs, JobOutputs, loaded_identities, unload_identities
from core.imaging.pipelines.progress import ProgressCallback, StageTracker

# Each stage's share of the progress bar, in run order. Inpainting dominates on every tier.
STAGES = {
    "detect": 0.05,
    "classify": 0.03,
    "segment": 0.07,
    "upscale": 0.05,
    "inpaint": 0.75,
    "composite": 0.05,
    "likeness": 0.0,
}


@dataclass(frozen=True)
class UnmaskParams:
    min_face_px: int = 40
    upscale_below_px: int = 192
    max_upscale: int = 4
    detection_threshold: float = 0.5
    mask_threshold: float = 0.5
    # Crop margin around the face and its mask, as a fraction of their longer side.
    crop_margin: float = 0.2
    # Share of that margin the painter repaints (the rest is only blended).
    paint_share: float = 0.5
    # Mask dilation, which is also the feather width, as a fraction of the face's shorter side: the seam and
    # the shadow at the fabric's edge, and the outline's own uncertainty (measured on the tuning faces: 2 %
    # covers all of the true mask in the median case while repainting little beyond it).
    dilate_fraction: float = 0.02
    # Best-of-N: with the user's reference selfies, paint this many candidates (seeds seed, seed+1, ...) and
    # keep the one whose face is closest to them.
    candidates: int = 1
    request: InpaintRequest = field(default_factory=InpaintRequest)

    @classmethod
    def from_models(cls, models: ModelSettings) -> UnmaskParams:
        return cls(
            candidates=max(1, models.candidates),
            min_face_px=models.min_face_px,
            upscale_below_px=models.upscale_below_px,
            detection_threshold=models.detection_threshold,
            mask_threshold=1.0 - models.no_mask_certainty,
            request=InpaintRequest(
                seed=models.seed,
                steps=models.steps,
                guidance_scale=models.guidance_scale,
                strength=models.strength,
                prompt=models.prompt,
                negative_prompt=models.negative_prompt,
            ),
        )


@dataclass(frozen=True)
class UnmaskedFace:
    face: Face
    mask_probability: float
    # How much the face crop was enlarged before inpainting (1 = not at all).
    upscale: int


@dataclass
class UnmaskResult:
    image: Image.Image
    # 255 where pixels may differ from the input; 0 where they are bit-identical to it.
    edit_mask: Image.Image
    # 255 where the segmenter found a mask (every face's, before the margin the edit mask adds).
    mask: Image.Image
    faces: list[UnmaskedFace]
    # Seconds per stage key.
    timings: dict[str, float]
    # Identity distance of the result's faces to the user's reference selfies (lower = more alike); None
    # without references.
    likeness: float | None = None


@dataclass
class _FaceWork:
    """One masked face on its way through steps 4 to 7."""

    face: Face
    probability: float
    crop: compositing.FaceCrop
    # What the inpainter gets: the crop, enlarged by ``upscale`` for small faces, and the landmarks mapped
    # into it.
    image: Image.Image
    mask: Image.Image
    landmarks: np.ndarray | None
    depth: np.ndarray | None = None
    upscale: int = 1
    painted: Image.Image | None = None


class UnmaskPipeline:
    def __init__(
        self,
        detector: FaceDetector,
        mask_classifier: MaskClassifier,
        segmenter: MaskSegmenter,
        upscaler: Upscaler,
        inpainter: Inpainter,
        params: UnmaskParams | None = None,
        embedder: FaceEmbedder | None = None,
    ) -> None:
        self.detector = detector
        self.mask_classifier = mask_classifier
        self.segmenter = segmenter
        self.upscaler = upscaler
        self.inpainter = inpainter
        self.params = params or UnmaskParams()
        self.embedder = embedder

    def run(
        self,
        image: Image.Image,
        *,
        request: InpaintRequest | None = None,
        identity: Identity | None = None,
        progress: ProgressCallback | None = None,
    ) -> UnmaskResult:
        p = self.params
        tracker = StageTracker(STAGES, progress)

        # 1. Check inputs
        if image.mode != "RGB":
            raise ValueError(f"expected an RGB image, got mode {image.mode}")
        request = dataclasses.replace(request or p.request, identity=identity)
        scored = identity is not None and bool(identity.references) and self.embedder is not None
        candidates = p.candidates if scored else 1

        # 2. Detect faces
        with tracker.stage("detect"):
            faces = [f for f in self.detector.detect(image) if f.score >= p.detection_threshold]
        if not faces:
            raise UserError("unmask.no_face")
        usable = [f for f in faces if f.box.short_side >= p.min_face_px]
        if not usable:
            largest = max(f.box.short_side for f in faces)
            raise UserError("unmask.face_too_small", face_px=int(largest), min_px=p.min_face_px)

        # 3. Find which wear a mask
        with tracker.stage("classify"):
            probabilities = self.mask_classifier.mask_probabilities(image, usable)
        masked = [
            (f, prob) for f, prob in zip(usable, probabilities, strict=True) if prob >= p.mask_threshold
        ]
        if not masked:
            raise UserError("unmask.no_mask")

        # 4. Segment each mask
        work: list[_FaceWork] = []
        found = np.zeros((image.height, image.width), bool)
        with tracker.stage("segment"):
            for face, prob in masked:
                mask = self.segmenter.segment(image, face)
                if mask.getbbox() is None:
                    continue
                found |= np.asarray(mask) > 127
                dilate_px = max(2, round(p.dilate_fraction * face.box.short_side))
                crop = compositing.cut_face_crop(
                    image, mask, dilate_px=dilate_px, margin=p.crop_margin, face=_box_tuple(face)
                )
                landmarks = None
                if face.landmarks is not None:
                    landmarks = np.asarray(face.landmarks, np.float32) - [crop.box.x0, crop.box.y0]
                depth = None if face.depth is None else np.asarray(face.depth, np.float32)
                # The painter repaints the mask and a little more; the rest of the margin only blends its edge
                # into the photo, so real skin just outside the fabric stays as it was.
                hole = compositing.dilate(mask.crop(crop.box.as_tuple()), _painted_px(p, crop.dilate_px))
                work.append(_FaceWork(face, prob, crop, crop.image, hole, landmarks, depth))
        if not work:
            raise UserError("unmask.no_mask")

        # 5. Upscale faces too small to inpaint well
        with tracker.stage("upscale"):
            for item in work:
                if item.face.box.short_side < p.upscale_below_px:
                    factor = min(p.max_upscale, math.ceil(p.upscale_below_px / item.face.box.short_side))
                    item.image = self.upscaler.upscale(item.image, factor)
                    item.mask = item.mask.resize(item.image.size, Image.Resampling.NEAREST)
                    item.landmarks = None if item.landmarks is None else item.landmarks * factor
                    item.depth = None if item.depth is None else item.depth * factor
                    item.upscale = factor

        best: tuple[float, Image.Image, np.ndarray] | None = None
        for candidate in range(candidates):
            seeded = dataclasses.replace(request, seed=request.seed + candidate)

            # 6. Inpaint
            with tracker.stage("inpaint"):
                for index, item in enumerate(work):
                    steps = tracker.steps("inpaint", candidate * len(work) + index, candidates * len(work))
                    item.painted = self._inpaint(item, seeded, steps)

            # 7. Composite
            with tracker.stage("composite"):
                result, edit_mask = self._composite(image, work)

            # 8. Score the likeness to the user's selfies; keep the closest candidate
            with tracker.stage("likeness"):
                distance = self._likeness(result, [w.face for w in work], identity) if scored else math.nan
            if best is None or distance < best[0]:
                best = (distance, result, edit_mask)
        assert best is not None
        distance, result, edit_mask = best
        tracker.finish()
        return UnmaskResult(
            image=result,
            edit_mask=Image.fromarray(np.where(edit_mask, 255, 0).astype(np.uint8), "L"),
            mask=Image.fromarray(np.where(found, 255, 0).astype(np.uint8), "L"),
            faces=[UnmaskedFace(w.face, w.probability, w.upscale) for w in work],
            timings=tracker.timings,
            likeness=None if math.isnan(distance) else distance,
        )

    def run_job(self, inputs: JobInputs, progress: ProgressCallback | None = None) -> JobOutputs:
        seed = inputs.options.get("seed")  # "try again" asks for another seed
        request = None if seed is None else dataclasses.replace(self.params.request, seed=int(seed))
        result = self.run(inputs.image, request=request, identity=inputs.identity, progress=progress)
        info = {} if result.likeness is None else {"likeness": round(result.likeness, 3)}
        return JobOutputs(result.image, result.edit_mask, timings=result.timings, info=info)

    def loaded_identities(self) -> set[str]:
        return loaded_identities(self.inpainter)

    def unload_identities(self) -> None:
        unload_identities(self.inpainter)

    def _composite(self, image: Image.Image, work: list[_FaceWork]) -> tuple[Image.Image, np.ndarray]:
        result, edit_mask = image, np.zeros((image.height, image.width), bool)
        for item in work:
            assert item.painted is not None
            pasted = compositing.paste_back(
                result,
                item.painted,
                item.crop.box,
                item.crop.mask,
                # Fully painted up to the painter's hole, fading out over the rest of the margin.
                feather_px=max(1, item.crop.dilate_px - _painted_px(self.params, item.crop.dilate_px)),
                ring_px=2 * item.crop.dilate_px + 2,
            )
            result = pasted.image
            edit_mask |= np.asarray(pasted.edit_mask) > 0
        return result, edit_mask

    def _likeness(self, result: Image.Image, faces: list[Face], identity: Identity | None) -> float:
        """Mean identity distance of the repainted faces to the user's reference selfies."""
        from core.imaging.backends.offline.face_embedding import identity_distance

        assert self.embedder is not None and identity is not None
        references = [reference.embedding for reference in identity.references]
        return float(np.mean([identity_distance(self.embedder.embed(result, f), references) for f in faces]))

    def _inpaint(
        self, item: _FaceWork, request: InpaintRequest, steps: Callable[[float], None]
    ) -> Image.Image:
        """At the model's resolution and back to the crop's own size (downscaling an upscaled face)."""
        image, mask, landmarks, depth, fit = item.image, item.mask, item.landmarks, item.depth, None
        if self.inpainter.resolution is not None:
            image, fit = compositing.fit_square(image, self.inpainter.resolution)
            mask, _ = compositing.fit_square(mask, self.inpainter.resolution, mask=True)
            landmarks = None if landmarks is None else fit.points(landmarks)
            depth = None if depth is None else depth * (fit.inner[0] / fit.original[0])
        painted = self.inpainter.inpaint(
            image, mask, dataclasses.replace(request, landmarks=landmarks, depth=depth), steps
        )
        if fit is not None:
            painted = fit.restore(painted)
        if painted.size != item.crop.image.size:
            painted = painted.resize(item.crop.image.size, Image.Resampling.LANCZOS)
        return painted


def _painted_px(params: UnmaskParams, dilate_px: int) -> int:
    return round(params.paint_share * dilate_px)


def _box_tuple(face: Face) -> tuple[float, float, float, float]:
    return (face.box.x0, face.box.y0, face.box.x1, face.box.y1)


def build_unmask_pipeline(models: ModelSettings) -> UnmaskPipeline:
    """The pipeline for ``models.tier``, with every component built (weights loaded) once
    (``models.candidates``: best-of-N for users with reference selfies)."""
    from core.imaging.backends import registry

    return UnmaskPipeline(
        detector=registry.shared("detector", models),
        mask_classifier=registry.build("mask_classifier", models),
        segmenter=registry.build("segmenter", models),
        upscaler=registry.build("upscaler", models),
        inpainter=registry.shared("inpainter", models),
        params=UnmaskParams.from_models(models),
        embedder=registry.shared("face_embedder", models),
    )


def build_job_runner(settings: Settings) -> UnmaskPipeline:
    """What a worker runs /unmask jobs with (``core.kinds``)."""
    return build_unmask_pipeline(settings.models)
