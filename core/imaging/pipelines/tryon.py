"""/tryon: the user's photo wearing the top from a second photo (a shop's product shot, or someone wearing
it).

The components come in through the constructor (``build_tryon_pipeline`` picks them for the tier): a body
parser finds the one person and their old top, a garment extractor cuts the new top out of its photo, a
garment painter puts it on. Compositing is done here, never by a model: every pixel outside the edit mask
(the old top plus where the new one lies, less the face, hair, neck, hands and the arms in front of the
body) is returned bit-identical to the input.

The user's identity model plays no part: the face is never repainted, so ``JobInputs.identity`` is ignored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from PIL import Image

from core.config import ModelSettings, Settings
from core.errors import UserError
from core.imaging import compositing
from core.imaging.backends.base import (
    Body,
    BodyParser,
    Garment,
    GarmentExtractor,
    GarmentPainter,
    TryOnRequest,
)
from core.imaging.backends.garment_fit import fit_garment
from core.imaging.pipelines.jobio import JobInputs, JobOutputs, loaded_identities, unload_identities
from core.imaging.pipelines.progress import ProgressCallback, StageTracker

# Each stage's share of the progress bar, in run order. Painting dominates on the diffusion tiers.
STAGES = {
    "person": 0.1,
    "garment": 0.1,
    "fit": 0.05,
    "tryon": 0.7,
    "composite": 0.05,
}
# The joints a person seen from the hips up must show.
UPPER_BODY = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")


@dataclass(frozen=True)
class TryOnParams:
    # Two photos are the same picture when their thumbnails (this many px a side, colour) correlate at least
    # this much and their shapes differ by less than this share: a re-encoded or resized copy does, two
    # photos of the same kind of scene (a person before a white wall) do not.
    same_thumbnail: int = 24
    same_correlation: float = 0.97
    same_aspect: float = 0.05
    # Mask dilation, as a fraction of the shoulder width: the new top's outline is only as exact as the
    # landmarks, and the old top's edge must not peek out beside it. Half of it is the feather.
    dilate_fraction: float = 0.03
    # Gaps narrower than this (shoulder widths) between the old top and the new one's sleeves are closed,
    # and holes filled: a strip of old sleeve left between them would read as a stripe.
    close_fraction: float = 0.06
    # Crop margin around the edit mask, as a fraction of its longer side (context for a diffusion painter).
    crop_margin: float = 0.05
    seed: int = 0
    steps: int = 25
    guidance_scale: float = 7.5
    fidelity: float = 0.8
    prompt: str = ""
    negative_prompt: str = ""

    @classmethod
    def from_models(cls, models: ModelSettings) -> TryOnParams:
        return cls(
            seed=models.seed,
            steps=models.tryon_steps,
            guidance_scale=models.guidance_scale,
            fidelity=models.tryon_fidelity,
            prompt=models.tryon_prompt,
            negative_prompt=models.tryon_negative_prompt,
        )


@dataclass
class TryOnResult:
    image: Image.Image
    # 255 where pixels may differ from the input; 0 where they are bit-identical to it.
    edit_mask: Image.Image
    body: Body
    garment: Garment
    # Seconds per stage key.
    timings: dict[str, float]


class TryOnPipeline:
    def __init__(
        self,
        parser: BodyParser,
        extractor: GarmentExtractor,
        painter: GarmentPainter,
        params: TryOnParams | None = None,
    ) -> None:
        self.parser = parser
        self.extractor = extractor
        self.painter = painter
        self.params = params or TryOnParams()

    def run(
        self,
        image: Image.Image,
        garment_photo: Image.Image,
        *,
        seed: int | None = None,
        fidelity: float | None = None,
        progress: ProgressCallback | None = None,
    ) -> TryOnResult:
        p = self.params
        tracker = StageTracker(STAGES, progress)

        # 1. Check inputs
        for name, photo in (("person", image), ("garment", garment_photo)):
            if photo.mode != "RGB":
                raise ValueError(f"expected an RGB {name} photo, got mode {photo.mode}")
        if fidelity is not None and not 0.0 <= fidelity <= 1.0:
            raise ValueError(f"fidelity must lie in 0..1, got {fidelity}")

        # 2. Find the one person, seen from the hips up
        with tracker.stage("person"):
            bodies = self.parser.parse(image)
        if not bodies:
            raise UserError("tryon.no_person")
        if len(bodies) > 1:
            raise UserError("tryon.several_people", count=len(bodies))
        body = bodies[0]
        if not all(name in body.points for name in UPPER_BODY) or body.torso.getbbox() is None:
            raise UserError("tryon.no_upper_body")

        # 3. Cut the garment out of its photo
        with tracker.stage("garment"):
            if self._same_picture(image, garment_photo):
                raise UserError("tryon.same_photo")
            garment = self.extractor.extract(garment_photo)

        # 4. Edit mask: the old top and where the new one lies, grown (the composite feathers its edge), less
        # what is kept
        with tracker.stage("fit"):
            shape = (image.height, image.width)
            keep = np.asarray(body.keep) > 127
            lies = fit_garment(body, garment).footprint(shape)
            unit = float(np.hypot(*np.subtract(body.points["left_shoulder"], body.points["right_shoulder"])))
            dilate_px = max(2, round(p.dilate_fraction * unit))
            core = _closed((np.asarray(body.torso) > 127) | lies, round(p.close_fraction * unit)) & ~keep
            grown = np.asarray(compositing.dilate(_mask(core), dilate_px)) > 127
            edit = _mask(grown & ~keep)
            box = compositing.crop_box_around(edit, margin=p.crop_margin, min_margin_px=3 * dilate_px + 4)

        # 5. Paint the garment on, on a crop around the torso at the painter's resolution
        with tracker.stage("tryon"):
            request = TryOnRequest(
                person=image.crop(box.as_tuple()),
                mask=edit.crop(box.as_tuple()),
                body=_body_in(body, box),
                garment=garment,
                seed=p.seed if seed is None else seed,
                steps=p.steps,
                guidance_scale=p.guidance_scale,
                fidelity=p.fidelity if fidelity is None else fidelity,
                prompt=p.prompt,
                negative_prompt=p.negative_prompt,
            )
            painted = self._paint(request, tracker)

        # 6. Composite: the painted crop inside the edit mask, feathered; every other pixel as it was
        with tracker.stage("composite"):
            pasted = compositing.paste_back(
                image,
                painted,
                box,
                request.mask,
                feather_px=max(1, dilate_px // 2),
                ring_px=2 * dilate_px + 2,
            )
        tracker.finish()
        return TryOnResult(pasted.image, pasted.edit_mask, body, garment, tracker.timings)

    def run_job(self, inputs: JobInputs, progress: ProgressCallback | None = None) -> JobOutputs:
        garment = inputs.extras.get("garment")
        if garment is None:
            raise ValueError("a /tryon job needs the garment photo as extras['garment']")
        seed = inputs.options.get("seed")  # "try again" asks for another seed
        fidelity = inputs.options.get("fidelity")
        result = self.run(
            inputs.image,
            garment,
            seed=None if seed is None else int(seed),
            fidelity=None if fidelity is None else float(fidelity),
            progress=progress,
        )
        return JobOutputs(result.image, result.edit_mask, timings=result.timings)

    def loaded_identities(self) -> set[str]:
        """A diffusion painter shares the inpainting model with /unmask, which may hold a user's adapter:
        the worker checks (and unloads) it before every job, as for the other kinds."""
        return loaded_identities(self.painter, getattr(self.painter, "inpainter", None))

    def unload_identities(self) -> None:
        unload_identities(self.painter, getattr(self.painter, "inpainter", None))

    def _same_picture(self, a: Image.Image, b: Image.Image) -> bool:
        """The same photo sent twice (perhaps re-encoded or resized): same shape, near-identical thumbnail."""
        p = self.params
        if abs((a.width / a.height) / (b.width / b.height) - 1.0) > p.same_aspect:
            return False
        first, second = _thumbnail(a, p.same_thumbnail), _thumbnail(b, p.same_thumbnail)
        return float(np.mean(first * second)) >= p.same_correlation

    def _paint(self, request: TryOnRequest, tracker: StageTracker) -> Image.Image:
        """At the painter's resolution and back to the crop's own size."""
        steps = tracker.steps("tryon", 0, 1)
        size = self.painter.resolution
        if size is None:
            return self.painter.paint(request, steps).convert("RGB")
        person, fit = compositing.fit_square(request.person, size)
        scaled = dataclasses.replace(
            request,
            person=person,
            mask=compositing.fit_square(request.mask, size, mask=True)[0],
            body=_body_fitted(request.body, fit, size),
        )
        return fit.restore(self.painter.paint(scaled, steps).convert("RGB"))


def _closed(mask: np.ndarray, radius: int) -> np.ndarray:
    """``mask`` with gaps up to ``2 * radius`` wide closed and its holes filled."""
    import cv2

    if radius > 0:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, kernel) > 0
    filled = np.pad(mask.astype(np.uint8), 1)
    cv2.floodFill(filled, np.zeros((filled.shape[0] + 2, filled.shape[1] + 2), np.uint8), (0, 0), 2)
    return np.asarray(filled[1:-1, 1:-1] != 2)


def _mask(mask: np.ndarray) -> Image.Image:
    return Image.fromarray(np.where(mask, 255, 0).astype(np.uint8), "L")


def _thumbnail(image: Image.Image, side: int) -> np.ndarray:
    """A tiny colour copy, zero mean and unit variance (so brightness and contrast do not count)."""
    small = np.asarray(image.convert("RGB").resize((side, side), Image.Resampling.BOX), np.float32)
    return np.asarray((small - small.mean()) / max(1e-6, float(small.std())))


def _body_in(body: Body, box: compositing.CropBox) -> Body:
    """``body`` in the pixels of a crop of its photo."""
    region = box.as_tuple()
    return Body(
        points={name: (x - box.x0, y - box.y0) for name, (x, y) in body.points.items()},
        person=body.person.crop(region),
        torso=body.torso.crop(region),
        arms=body.arms.crop(region),
        keep=body.keep.crop(region),
        score=body.score,
    )


def _body_fitted(body: Body, fit: compositing.SquareFit, size: int) -> Body:
    """``body`` in the pixels of its crop fitted into the painter's square."""

    def square(mask: Image.Image) -> Image.Image:
        return compositing.fit_square(mask, size, mask=True)[0]

    names = list(body.points)
    moved = fit.points(np.array([body.points[name] for name in names], np.float32))
    return Body(
        points={name: (float(x), float(y)) for name, (x, y) in zip(names, moved, strict=True)},
        person=square(body.person),
        torso=square(body.torso),
        arms=square(body.arms),
        keep=square(body.keep),
        score=body.score,
    )


def build_tryon_pipeline(models: ModelSettings) -> TryOnPipeline:
    """The pipeline for ``models.tier``; the body parser is shared with the garment extractor (which finds
    the wearer of a worn top with it)."""
    from core.imaging.backends import registry

    return TryOnPipeline(
        parser=registry.shared("body_parser", models),
        extractor=registry.build("garment_extractor", models),
        painter=registry.build("garment_painter", models),
        params=TryOnParams.from_models(models),
    )


def build_job_runner(settings: Settings) -> TryOnPipeline:
    """What a worker runs /tryon jobs with (``core.kinds``)."""
    return build_tryon_pipeline(settings.models)
