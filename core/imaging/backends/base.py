"""Small interfaces for the steps of an image pipeline. Backends of every tier implement them.

House convention: images are PIL RGB, masks are PIL mode ``L`` with 255 = "edit here". Backends convert to
numpy/BGR/tensors internally and never leak those types through these interfaces.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar, Protocol, runtime_checkable

import numpy as np
from PIL import Image

# fraction in [0, 1] of the current step, e.g. diffusion step 5 of 25 -> 0.2
StepProgress = Callable[[float], None]


@dataclass(frozen=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def short_side(self) -> float:
        return min(self.width, self.height)

    def clipped(self, width: int, height: int) -> Box:
        return Box(
            max(0.0, self.x0), max(0.0, self.y0), min(float(width), self.x1), min(float(height), self.y1)
        )


@dataclass(frozen=True)
class Face:
    box: Box
    score: float
    # (N, 2) pixel coordinates in the full image, or None when the detector gives none.
    landmarks: np.ndarray | None = field(default=None, compare=False)
    # Probability that the face wears a mask, when the detector itself knows (e.g. a YOLO mask class).
    mask_score: float | None = None
    # (N,) depth of each landmark in pixels of the same scale as x (smaller = nearer the camera), when the
    # detector predicts a 3D mesh; the offline painter shades the hidden lower face from it.
    depth: np.ndarray | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ReferenceFace:
    """One accepted selfie of the requesting user: an aligned face crop, its 478 face-mesh landmarks (pixel
    coordinates of ``image``) and its 128-d identity embedding. ``image`` is ``None`` where no backend
    paints from it (the diffusion tiers only compare embeddings)."""

    image: Image.Image | None
    landmarks: np.ndarray = field(compare=False)
    embedding: np.ndarray = field(compare=False)


# What a user's token stands for, in training captions and in prompts at inference alike.
INSTANCE_PROMPT = "a photo of {token} person"


@dataclass(frozen=True)
class Identity:
    """The requesting user's personal identity, as a job sees it.

    ``name`` is derived from the authenticated platform user id only (``core.identity.owner_slug``); it is
    also the adapter's name inside a diffusion pipeline. ``adapter`` is the LoRA's safetensors bytes for this
    worker's base model, or ``None`` when there is none (offline tier, or trained for another base model).
    """

    name: str
    token: str  # the rare word that stands for this person in prompts
    adapter: bytes | None = field(default=None, repr=False, compare=False)
    references: tuple[ReferenceFace, ...] = field(default=(), compare=False)

    @property
    def prompt_subject(self) -> str:
        return INSTANCE_PROMPT.format(token=self.token)


@dataclass(frozen=True)
class InpaintRequest:
    seed: int = 0
    steps: int = 25
    guidance_scale: float = 7.5
    strength: float = 1.0
    prompt: str = ""
    negative_prompt: str = ""
    # Face-mesh landmarks of the face being repainted, in pixel coordinates of the image handed to the
    # inpainter (the pipeline maps them through its crop and resizes). Classical backends use them to place
    # skin, lips and nostrils; generative backends may ignore them.
    landmarks: np.ndarray | None = field(default=None, compare=False)
    # Depth of each landmark (see ``Face.depth``), in the same pixels as ``landmarks``.
    depth: np.ndarray | None = field(default=None, compare=False)
    # The requesting user's identity: generative backends load its adapter and put its token in the prompt;
    # the classical backend transplants the lower face of the best-matching reference selfie.
    identity: Identity | None = field(default=None, compare=False)


@runtime_checkable
class FaceDetector(Protocol):
    def detect(self, image: Image.Image) -> list[Face]: ...


@runtime_checkable
class MaskClassifier(Protocol):
    """Decides which faces wear a mask: returns one probability per face."""

    def mask_probabilities(self, image: Image.Image, faces: list[Face]) -> list[float]: ...


@runtime_checkable
class MaskSegmenter(Protocol):
    """Outlines the face mask worn by ``face``: an ``L`` mask the size of ``image``."""

    def segment(self, image: Image.Image, face: Face) -> Image.Image: ...


@runtime_checkable
class Upscaler(Protocol):
    def upscale(self, image: Image.Image, factor: int) -> Image.Image: ...


@runtime_checkable
class Inpainter(Protocol):
    # Square working resolution the model wants (the pipeline resizes crops to it); None = any size.
    resolution: ClassVar[int | None]

    def inpaint(
        self, image: Image.Image, mask: Image.Image, request: InpaintRequest, progress: StepProgress
    ) -> Image.Image: ...


# --- /suit ----------------------------------------------------------------------------------------------
Point = tuple[float, float]


@dataclass(frozen=True)
class Portrait:
    """What a portrait parser finds around one face, in pixel coordinates of the image it was given.

    ``keep`` is what the suit pipeline must return unchanged: face, hair (long hair below the chin too, where
    the backend can tell), ears, and the neck above the chin line. ``person`` is the whole person against the
    background, soft-edged (0..255), used to replace the background.
    """

    keep: Image.Image  # L, 255 = keep
    person: Image.Image  # L, 0..255 person alpha
    # Eye centres: the one on the image's left first.
    eyes: tuple[Point, Point]
    nose: Point  # tip of the nose (yaw check)
    chin: Point  # lowest point of the chin
    crown: Point  # top of the head, hair included
    # The jaw line from ear to ear through the chin, image left to right, (K, 2) with K >= 3.
    jaw: np.ndarray = field(compare=False)
    # Shoulder points (image-left first) where the backend finds them; None otherwise.
    shoulders: tuple[Point, Point] | None = None


@runtime_checkable
class PortraitParser(Protocol):
    def parse(self, image: Image.Image, face: Face) -> Portrait: ...


@dataclass(frozen=True)
class BodyGeometry:
    """Where clothes go, in pixel coordinates of the image handed to a clothes painter."""

    chin: Point
    # The neck's left and right edges at the chin line (where a shirt collar closes).
    neck: tuple[Point, Point]
    shoulders: tuple[Point, Point]
    # The chin line: from the left shoulder up to the neck, under the chin, down to the right shoulder.
    # Clothes never reach above it. (K, 2), image left to right.
    chin_line: np.ndarray = field(compare=False)

    def mapped(self, scale: float, dx: float = 0.0, dy: float = 0.0) -> BodyGeometry:
        """The same geometry after ``p -> p * scale + (dx, dy)``."""

        def move(p: Point) -> Point:
            return (p[0] * scale + dx, p[1] * scale + dy)

        return BodyGeometry(
            chin=move(self.chin),
            neck=(move(self.neck[0]), move(self.neck[1])),
            shoulders=(move(self.shoulders[0]), move(self.shoulders[1])),
            chin_line=np.asarray(self.chin_line, np.float32) * scale + np.array([dx, dy], np.float32),
        )


@dataclass(frozen=True)
class SuitRequest:
    # A style from ``core.imaging.idphoto`` (colour, tie, cut, prompt): the painter reads what it needs.
    colour: tuple[int, int, int]
    tie: bool
    cut: str  # "classic" | "women"
    background: tuple[int, int, int]
    geometry: BodyGeometry
    prompt: str = ""
    negative_prompt: str = ""
    seed: int = 0
    steps: int = 25
    guidance_scale: float = 7.5
    # A picture of the suit to follow (Paint-by-Example on the standard tier; its colour on the offline one).
    exemplar: Image.Image | None = field(default=None, compare=False)
    identity: Identity | None = field(default=None, compare=False)


@runtime_checkable
class ClothesPainter(Protocol):
    """Paints a suit, shirt and (optionally) tie inside ``mask`` (255 = paint). Pixels of the mask that the
    clothes do not cover become the plain ``request.background``. Returns an image of ``image``'s size; the
    pipeline pastes only the masked part back."""

    resolution: ClassVar[int | None]

    def paint(
        self, image: Image.Image, mask: Image.Image, request: SuitRequest, progress: StepProgress
    ) -> Image.Image: ...


# --- /tryon -----------------------------------------------------------------------------------------------
# Body keypoints by name, pixel coordinates of the image they were found in: "nose", "left_shoulder",
# "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip" (left
# and right as MediaPipe names them: the person's own left, on the image's right in a frontal photo).
BodyPoints = dict[str, Point]


@dataclass(frozen=True)
class Body:
    """One person as the try-on needs them, in pixel coordinates of the photo (masks at the photo's size, L).

    ``torso`` is the upper body's clothing region (the old top: chest, belly, shoulders, down to the hips),
    ``arms`` the arms with the hands, ``keep`` what must come back unchanged (face, hair, neck above the
    collar, hands, and arms in front of the torso)."""

    points: BodyPoints
    person: Image.Image  # 0..255 person alpha
    torso: Image.Image  # 255 = the old top
    arms: Image.Image  # 255 = arms and hands
    keep: Image.Image  # 255 = never painted
    score: float  # how sure the parser is that this is a person seen from the hips up, 0..1


@runtime_checkable
class BodyParser(Protocol):
    """Finds the people in a photo. ``UserError("tryon.no_person")`` when there is none; a parser may return
    several bodies (the pipeline refuses more than one)."""

    def parse(self, image: Image.Image) -> list[Body]: ...


# Garment landmarks by name, pixel coordinates of ``Garment.image``: "collar_left", "collar_right",
# "shoulder_left", "shoulder_right", "sleeve_left", "sleeve_right" (the sleeve ends; at the shoulder for a
# top without that sleeve), "hem_left", "hem_right" (left and right as worn, like BodyPoints: the wearer's
# left is on the image's right), and optionally "armpit_left", "armpit_right" (where the sleeve's seam meets
# the body's side; ``garment_fit`` guesses them when absent).
GarmentPoints = dict[str, Point]


@dataclass(frozen=True)
class Garment:
    """A top cut out of its photo: ``image`` RGB cropped to the garment, ``mask`` its silhouette (L, 255 =
    garment), ``points`` its landmarks."""

    image: Image.Image
    mask: Image.Image
    points: GarmentPoints
    source: str  # "product" (a shop shot on a plain background) | "worn" (taken off a person in the photo)


@runtime_checkable
class GarmentExtractor(Protocol):
    """Cuts the top out of a garment photo. ``UserError("tryon.no_garment")`` when there is none."""

    def extract(self, image: Image.Image) -> Garment: ...


@dataclass(frozen=True)
class TryOnRequest:
    """What a garment painter gets: the person's photo (or a crop of it; every coordinate is in its
    pixels), the edit ``mask`` (255 = paint: where the old top is plus where the new one will lie, minus
    ``Body.keep``), the person's body and the garment. ``fidelity`` is how closely to copy the garment (the
    IP-Adapter scale on the diffusion tiers)."""

    person: Image.Image
    mask: Image.Image
    body: Body = field(compare=False)
    garment: Garment = field(compare=False)
    seed: int = 0
    steps: int = 25
    guidance_scale: float = 7.5
    fidelity: float = 0.8
    prompt: str = ""
    negative_prompt: str = ""


@runtime_checkable
class GarmentPainter(Protocol):
    """Paints the garment onto the person inside ``request.mask`` and returns an image of
    ``request.person``'s size; the pipeline pastes only the masked part back. ``resolution``: the working size
    of the longer side the painter wants its input at (None: any)."""

    resolution: ClassVar[int | None]

    def paint(self, request: TryOnRequest, progress: StepProgress) -> Image.Image: ...


# --- /sketch ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SketchRequest:
    """What a sketch painter gets: the cleaned drawing (RGB, black strokes on white, every coordinate in its
    pixels), the face found in it (its box and face-mesh landmarks), and the size of the result to return
    (the drawing's framing, scaled). ``strength`` (0..1) is how closely the face follows the drawing: low,
    the drawing sets only where the face is and how it is laid out; high, its lines too. ``fast`` asks for
    the quick preview quality."""

    drawing: Image.Image
    face: Face = field(compare=False)
    size: tuple[int, int]
    strength: float = 0.6
    fast: bool = False
    seed: int = 0
    steps: int = 25
    guidance_scale: float = 7.5
    prompt: str = ""
    negative_prompt: str = ""


@runtime_checkable
class SketchPainter(Protocol):
    """Paints a photo-real face following ``request.drawing`` and returns an RGB image of ``request.size``
    whose face lies where the drawing's face is."""

    def paint(self, request: SketchRequest, progress: StepProgress) -> Image.Image: ...


# --- identity ---------------------------------------------------------------------------------------------
@runtime_checkable
class FaceEmbedder(Protocol):
    """A 128-d identity embedding of ``face`` in ``image``; euclidean distance below ~0.6 = same person."""

    def embed(self, image: Image.Image, face: Face) -> np.ndarray: ...
