"""/suit: a formal ID photo — suit, shirt and tie painted below the chin, plain background, cropped to an ID
format at print resolution, and a print sheet.

The components come in through the constructor (``build_suit_pipeline`` picks them for the tier). Face and
hair are never repainted: the photo reaches the canvas through one resampling (``OutputTransform.apply``),
and every pixel inside the parser's keep mask is returned exactly as that resampling made it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from core.config import ModelSettings, Settings
from core.errors import UserError
from core.imaging import compositing
from core.imaging.backends.base import (
    BodyGeometry,
    ClothesPainter,
    Face,
    FaceDetector,
    Identity,
    Point,
    PortraitParser,
    SuitRequest,
)
from core.imaging.idphoto import body
from core.imaging.idphoto.catalog import SuitOptions
from core.imaging.idphoto.layout import Layout, LayoutLimits, Placement, plan_layout
from core.imaging.idphoto.sheet import print_sheet
from core.imaging.pipelines.jobio import JobInputs, JobOutputs, loaded_identities, unload_identities
from core.imaging.pipelines.progress import ProgressCallback, StageTracker

STAGES = {
    "detect": 0.05,
    "parse": 0.10,
    "layout": 0.05,
    "background": 0.05,
    "paint": 0.65,
    "composite": 0.05,
    "sheet": 0.05,
}


@dataclass(frozen=True)
class SuitParams:
    detection_threshold: float = 0.5
    # Faces smaller than this (shorter side, px) are refused before anything else.
    min_face_px: int = 64
    # A second face at least this fraction of the main face's area means "two people in the photo".
    second_face_area: float = 0.2
    # A face box within this fraction of its size from the photo's edge is cut by the frame.
    edge_margin: float = 0.02
    limits: LayoutLimits = field(default_factory=LayoutLimits)
    seed: int = 0
    steps: int = 25
    guidance_scale: float = 7.5

    @classmethod
    def from_models(cls, models: ModelSettings) -> SuitParams:
        return cls(
            detection_threshold=models.detection_threshold,
            seed=models.seed,
            steps=models.steps,
            guidance_scale=models.guidance_scale,
        )


@dataclass
class SuitResult:
    image: Image.Image  # the ID photo, RGB, at options.dpi
    sheet: Image.Image  # copies on the chosen paper, at options.dpi
    # 255 where the ID photo equals ``transform.apply(photo)``; 0 where it was repainted or replaced.
    keep_mask: Image.Image
    edit_mask: Image.Image  # the complement of keep_mask
    layout: Layout
    options: SuitOptions
    timings: dict[str, float]

    @property
    def placement(self) -> Placement:
        return self.layout.placement


class SuitPipeline:
    def __init__(
        self,
        detector: FaceDetector,
        parser: PortraitParser,
        painter: ClothesPainter,
        params: SuitParams | None = None,
    ) -> None:
        self.detector = detector
        self.parser = parser
        self.painter = painter
        self.params = params or SuitParams()

    def run(
        self,
        image: Image.Image,
        *,
        options: SuitOptions | None = None,
        exemplar: Image.Image | None = None,
        seed: int | None = None,
        identity: Identity | None = None,
        progress: ProgressCallback | None = None,
    ) -> SuitResult:
        p = self.params
        tracker = StageTracker(STAGES, progress)

        # 1. Check inputs
        if image.mode != "RGB":
            raise ValueError(f"expected an RGB image, got mode {image.mode}")
        options = (options or SuitOptions.defaults()).checked()
        background = options.background_rgb

        # 2. Detect the one face
        with tracker.stage("detect"):
            face = self._one_face(image)

        # 3. Parse the portrait: keep (face, hair), person, eyes, chin, crown, jaw, shoulders
        with tracker.stage("parse"):
            portrait = self.parser.parse(image, face)
        if portrait.chin[1] >= image.height * (1 - p.edge_margin):
            raise UserError("suit.face_cut")

        # 4. Plan the crop for the format (levels the eyes; refuses impossible poses)
        with tracker.stage("layout"):
            layout = plan_layout(portrait, image.size, options.id_format, options.dpi, p.limits)
            transform = layout.transform
            canvas = transform.apply(image, fill=background)
            warped = np.asarray(canvas)
            keep = np.asarray(transform.apply(portrait.keep, mask=True)) == 255
            person = np.asarray(transform.apply(portrait.person, mask=True), np.float32) / 255.0
            chin = transform.point(portrait.chin)
            jaw = transform.points(portrait.jaw)
            head_px = layout.placement.head_mm * options.dpi / 25.4
            shoulders = portrait.shoulders
            geometry = body.body_geometry(
                jaw,
                chin,
                head_px,
                None if shoulders is None else _pair(transform.points(np.array(shoulders))),
                canvas.size,
            )
            face_skin = keep & _lower_face(canvas.size, transform.points(np.array(portrait.eyes)), chin, jaw)
            jaw_width = float(jaw[:, 0].max() - jaw[:, 0].min())
            keep |= body.neck_skin(warped, person > 0.5, face_skin, geometry, jaw_width)
            repaint = body.below(geometry.chin_line, canvas.size) & ~keep

        # 5. Replace the background
        with tracker.stage("background"):
            # The old clothes go too: what the painter leaves uncovered below the chin line is background.
            alpha = np.where(keep, 1.0, np.where(repaint, 0.0, person))[..., None]
            plain = np.round(warped * alpha + np.array(background, np.float32) * (1.0 - alpha))
            canvas = Image.fromarray(plain.astype(np.uint8), "RGB")

        # 6. Paint the clothes below the chin line
        with tracker.stage("paint"):
            prompt, negative = options.prompt()
            style = options.suit_style
            request = SuitRequest(
                colour=style.rgb,
                tie=options.tie,
                cut=options.cut,
                background=background,
                geometry=geometry,
                prompt=prompt,
                negative_prompt=negative,
                seed=p.seed if seed is None else seed,
                steps=p.steps,
                guidance_scale=p.guidance_scale,
                exemplar=exemplar,
                identity=identity,
            )
            painted = self._paint(canvas, repaint, request, tracker)

        # 7. Composite: the painted clothes inside the repaint mask (the painter anti-aliases its own edges;
        # a feather here would blend them with the background under the mask), keep pixels exactly as warped
        with tracker.stage("composite"):
            out = np.where(repaint[..., None], np.asarray(painted), np.asarray(canvas))
            out[keep] = warped[keep]
            result = Image.fromarray(out.astype(np.uint8), "RGB")

        # 8. Print sheet
        with tracker.stage("sheet"):
            sheet = print_sheet(result, options.paper_record, options.dpi)
        tracker.finish()
        keep_image = Image.fromarray(np.where(keep, 255, 0).astype(np.uint8), "L")
        return SuitResult(
            image=result,
            sheet=sheet,
            keep_mask=keep_image,
            edit_mask=Image.fromarray(np.where(keep, 0, 255).astype(np.uint8), "L"),
            layout=layout,
            options=options,
            timings=tracker.timings,
        )

    def run_job(self, inputs: JobInputs, progress: ProgressCallback | None = None) -> JobOutputs:
        options = SuitOptions.from_params(inputs.options)
        result = self.run(
            inputs.image,
            options=options,
            exemplar=inputs.extras.get("exemplar"),
            seed=None if inputs.options.get("seed") is None else int(inputs.options["seed"]),
            identity=inputs.identity,
            progress=progress,
        )
        return JobOutputs(
            result.image, result.edit_mask, {"sheet": result.sheet}, dpi=options.dpi, timings=result.timings
        )

    def loaded_identities(self) -> set[str]:
        return loaded_identities(self.painter, getattr(self.painter, "inpainter", None))

    def unload_identities(self) -> None:
        unload_identities(self.painter, getattr(self.painter, "inpainter", None))

    def _one_face(self, image: Image.Image) -> Face:
        p = self.params
        faces = [f for f in self.detector.detect(image) if f.score >= p.detection_threshold]
        if not faces:
            raise UserError("suit.no_face")
        faces.sort(key=lambda f: f.box.width * f.box.height, reverse=True)
        face = faces[0]
        area = face.box.width * face.box.height
        others = [f for f in faces[1:] if f.box.width * f.box.height >= p.second_face_area * area]
        if others:
            raise UserError("suit.several_faces", count=len(others) + 1)
        if face.box.short_side < p.min_face_px:
            raise UserError("suit.face_too_small", face_px=int(face.box.short_side), min_px=p.min_face_px)
        margin = p.edge_margin * max(face.box.width, face.box.height)
        box = face.box
        if box.x0 <= margin or box.x1 >= image.width - margin or box.y1 >= image.height - margin:
            raise UserError("suit.face_cut")
        return face

    def _paint(
        self, canvas: Image.Image, repaint: np.ndarray, request: SuitRequest, tracker: StageTracker
    ) -> Image.Image:
        """The painter works on the canvas from just above the chin line to the bottom, at its resolution."""
        if not repaint.any():
            return canvas
        rows = np.flatnonzero(repaint.any(axis=1))
        pad = max(4, round(0.05 * canvas.height))
        top = max(0, int(rows[0]) - pad)
        crop = canvas.crop((0, top, canvas.width, canvas.height))
        mask = Image.fromarray(np.where(repaint[top:], 255, 0).astype(np.uint8), "L")
        geometry = request.geometry.mapped(1.0, 0.0, -top)
        fit = None
        if self.painter.resolution is not None:
            size = self.painter.resolution
            crop, fit = compositing.fit_square(crop, size)
            mask, _ = compositing.fit_square(mask, size, mask=True)
            scale = fit.inner[0] / fit.original[0]
            geometry = geometry.mapped(scale, fit.offset[0], fit.offset[1])
        painted = self.painter.paint(
            crop, mask, _with_geometry(request, geometry), tracker.steps("paint", 0, 1)
        )
        if fit is not None:
            painted = fit.restore(painted)
        out = canvas.copy()
        out.paste(painted.convert("RGB"), (0, top))
        return out


def _with_geometry(request: SuitRequest, geometry: BodyGeometry) -> SuitRequest:
    return dataclasses.replace(request, geometry=geometry)


def _lower_face(size: tuple[int, int], eyes: np.ndarray, chin: Point, jaw: np.ndarray) -> np.ndarray:
    """The cheeks and chin: between the eye line and the chin, inside the jaw's middle half."""
    width, height = size
    top = int(max(0, eyes[:, 1].mean() + 0.25 * (chin[1] - eyes[:, 1].mean())))
    bottom = int(min(height, chin[1]))
    half = 0.25 * float(jaw[:, 0].max() - jaw[:, 0].min())
    mask = np.zeros((height, width), bool)
    x0, x1 = int(max(0, chin[0] - half)), int(min(width, chin[0] + half))
    mask[top:bottom, x0:x1] = True
    return mask


def _pair(points: np.ndarray) -> tuple[tuple[float, float], tuple[float, float]]:
    return ((float(points[0, 0]), float(points[0, 1])), (float(points[1, 0]), float(points[1, 1])))


def build_suit_pipeline(models: ModelSettings) -> SuitPipeline:
    """The pipeline for ``models.tier``; the detector is the one /unmask uses, shared in the process."""
    from core.imaging.backends import registry

    return SuitPipeline(
        detector=registry.shared("detector", models),
        parser=registry.build("portrait_parser", models),
        painter=registry.build("clothes_painter", models),
        params=SuitParams.from_models(models),
    )


def build_job_runner(settings: Settings) -> SuitPipeline:
    """What a worker runs /suit jobs with (``core.kinds``)."""
    return build_suit_pipeline(settings.models)
