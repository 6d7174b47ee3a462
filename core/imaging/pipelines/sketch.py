"""/sketch: a photo-real face from a user's line drawing (drawn on a canvas, or a phone photo of paper).

The components come in through the constructor (``build_sketch_pipeline`` picks them for the tier): a face
finder (MediaPipe's face detector and mesh on every tier: they find drawn faces too, and no diffusion-tier
detector was trained on drawings) and a sketch painter (SD 1.5 + ControlNet scribble on the standard tier,
the face prior's manifold of generated faces on the offline one). The result keeps the drawing's framing:
the face comes back where it was drawn, on a canvas at least 512 px a side. The whole picture is new, so
the edit mask covers all of it.

The user's identity model plays no part (``JobInputs.identity`` is ignored).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from core.config import ModelSettings, Settings
from core.errors import UserError
from core.imaging.backends.base import Box, Face, FaceDetector, SketchPainter, SketchRequest
from core.imaging.drawing import CleanDrawing, clean_drawing
from core.imaging.pipelines.jobio import JobInputs, JobOutputs, loaded_identities, unload_identities
from core.imaging.pipelines.progress import ProgressCallback, StageTracker
from core.imaging.sketch_support import can_draw_faces

# Each stage's share of the progress bar, in run order. Painting dominates on every tier.
STAGES = {
    "drawing": 0.05,
    "face_layout": 0.1,
    "sketch": 0.85,
}


@dataclass(frozen=True)
class SketchParams:
    # Nearly empty: strokes shorter in all than this many times the sheet's longer side (a face's outline
    # alone is about two; a few scribbles, under one).
    min_stroke_length: float = 1.2
    # A continuous-tone picture: this share of it or more darker than paper (``CleanDrawing.off_paper``).
    # Drawn faces, on a canvas or photographed on paper, stay under 0.11; the shared photos of faces are at
    # 0.2 or more.
    photo_off_paper: float = 0.15
    # The face is looked for in the strokes' bounding box grown by this share of its longer side...
    stroke_margin: float = 0.15
    # ...first with the strokes softened by a blur of this share of that box's longer side (lines then
    # read as shading to the detector: 38 of 40 drawn faces found, against 14 as bare lines), then bare.
    detect_blur: float = 0.006
    # The result: the sheet scaled so its shorter side is at least this, and its longer at most max_side.
    min_side: int = 512
    max_side: int = 2048
    seed: int = 0
    strength: float = 0.6
    steps: int = 25
    guidance_scale: float = 7.5
    fast_steps: int = 4
    fast_guidance_scale: float = 1.0
    prompt: str = ""
    negative_prompt: str = ""

    @classmethod
    def from_models(cls, models: ModelSettings) -> SketchParams:
        return cls(
            seed=models.seed,
            strength=models.sketch_strength,
            steps=models.sketch_steps,
            guidance_scale=models.guidance_scale,
            fast_steps=models.sketch_fast_steps,
            fast_guidance_scale=models.sketch_fast_guidance,
            prompt=models.sketch_prompt,
            negative_prompt=models.sketch_negative_prompt,
        )


@dataclass
class SketchResult:
    image: Image.Image
    drawing: CleanDrawing
    # The face found in the drawing, in the result's pixels.
    face: Box
    # Seconds per stage key.
    timings: dict[str, float]


class SketchPipeline:
    def __init__(
        self, finder: FaceDetector, painter: SketchPainter | None, params: SketchParams | None = None
    ) -> None:
        """``painter`` None: this server cannot draw faces (offline without the face prior)."""
        self.finder = finder
        self.painter = painter
        self.params = params or SketchParams()

    def run(
        self,
        image: Image.Image,
        *,
        strength: float | None = None,
        fast: bool = False,
        seed: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> SketchResult:
        p = self.params
        tracker = StageTracker(STAGES, progress)

        # 1. Check inputs
        if image.mode != "RGB":
            raise ValueError(f"expected an RGB drawing, got mode {image.mode}")
        strength = p.strength if strength is None else strength
        if not 0.0 <= strength <= 1.0:
            raise UserError("sketch.strength")
        if self.painter is None:
            raise UserError("sketch.unavailable")

        # 2. Clean the drawing: the paper flattened and upright, strokes as ink; refuse a photo of a face
        with tracker.stage("drawing"):
            drawing = clean_drawing(image)
            if drawing.off_paper >= p.photo_off_paper and self.finder.detect(image):
                raise UserError("sketch.photo")
            if drawing.strokes is None or drawing.stroke_length() < p.min_stroke_length * max(drawing.size):
                raise UserError("sketch.empty")

        # 3. Find the face in it
        with tracker.stage("face_layout"):
            face = self._find_face(drawing)
        if face is None:
            raise UserError("sketch.no_face")

        # 4. Paint the face onto a canvas in the drawing's framing
        with tracker.stage("sketch"):
            size = self._result_size(drawing.size)
            request = SketchRequest(
                drawing=drawing.image(),
                face=face,
                size=size,
                strength=strength,
                fast=fast,
                seed=p.seed if seed is None else seed,
                steps=p.fast_steps if fast else p.steps,
                guidance_scale=p.fast_guidance_scale if fast else p.guidance_scale,
                prompt=p.prompt,
                negative_prompt=p.negative_prompt,
            )
            painted = self.painter.paint(request, tracker.steps("sketch", 0, 1)).convert("RGB")
            if painted.size != size:
                painted = painted.resize(size, Image.Resampling.LANCZOS)
        tracker.finish()
        scale = size[0] / drawing.size[0], size[1] / drawing.size[1]
        box = Box(
            face.box.x0 * scale[0], face.box.y0 * scale[1], face.box.x1 * scale[0], face.box.y1 * scale[1]
        )
        return SketchResult(painted, drawing, box, tracker.timings)

    def run_job(self, inputs: JobInputs, progress: ProgressCallback | None = None) -> JobOutputs:
        strength = inputs.options.get("strength")
        seed = inputs.options.get("seed")  # "try again" asks for another seed
        result = self.run(
            inputs.image,
            strength=None if strength is None else float(strength),
            fast=bool(inputs.options.get("fast", False)),
            seed=None if seed is None else int(seed),
            progress=progress,
        )
        everything = Image.new("L", result.image.size, 255)
        return JobOutputs(result.image, everything, timings=result.timings)

    def loaded_identities(self) -> set[str]:
        """A diffusion painter shares the text encoder and VAE of the inpainting model /unmask uses, which
        may hold a user's adapter: the worker checks (and unloads) it before every job."""
        return loaded_identities(getattr(self.painter, "inpainter", None))

    def unload_identities(self) -> None:
        unload_identities(getattr(self.painter, "inpainter", None))

    def _find_face(self, drawing: CleanDrawing) -> Face | None:
        """The largest face the finder sees in the strokes' box, softened first and then bare; in the
        sheet's pixels."""
        import cv2

        assert drawing.strokes is not None
        x0, y0, x1, y1 = drawing.strokes
        margin = self.params.stroke_margin * max(x1 - x0, y1 - y0)
        width, height = drawing.size
        box = (
            max(0, round(x0 - margin)),
            max(0, round(y0 - margin)),
            min(width, round(x1 + margin)),
            min(height, round(y1 + margin)),
        )
        paper = np.where(drawing.ink[box[1] : box[3], box[0] : box[2]], 0, 255).astype(np.uint8)
        sigma = self.params.detect_blur * max(paper.shape)
        for version in (cv2.GaussianBlur(paper, (0, 0), sigma), paper):
            faces = self.finder.detect(Image.fromarray(version, "L").convert("RGB"))
            if faces:
                return _moved(max(faces, key=lambda f: f.box.width * f.box.height), box[0], box[1])
        return None

    def _result_size(self, size: tuple[int, int]) -> tuple[int, int]:
        width, height = size
        scale = max(1.0, self.params.min_side / min(width, height))
        scale = min(scale, self.params.max_side / max(width, height)) if scale > 1.0 else scale
        return (max(1, round(width * scale)), max(1, round(height * scale)))


def _moved(face: Face, dx: float, dy: float) -> Face:
    b = face.box
    landmarks = None if face.landmarks is None else face.landmarks + np.array([dx, dy], np.float32)
    return Face(
        box=Box(b.x0 + dx, b.y0 + dy, b.x1 + dx, b.y1 + dy),
        score=face.score,
        landmarks=landmarks,
        depth=face.depth,
    )


def build_sketch_pipeline(models: ModelSettings) -> SketchPipeline:
    """The pipeline for ``models.tier``; offline without the face prior it has no painter and refuses every
    drawing with ``sketch.unavailable``."""
    from core.imaging.backends import registry

    painter = registry.build("sketch_painter", models) if can_draw_faces(models) else None
    return SketchPipeline(
        finder=registry.shared("sketch_face_finder", models),
        painter=painter,
        params=SketchParams.from_models(models),
    )


def build_job_runner(settings: Settings) -> SketchPipeline:
    """What a worker runs /sketch jobs with (``core.kinds``)."""
    return build_sketch_pipeline(settings.models)
