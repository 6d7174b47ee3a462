"""The /tryon recipe with components written here (no models): what it refuses and in which order, what
the painter gets, what comes back untouched, the job's options, progress and timings."""

from __future__ import annotations

import io
from typing import ClassVar

import numpy as np
import pytest
from PIL import Image, ImageDraw

from core.errors import UserError
from core.imaging.backends.base import Body, BodyPoints, Garment, StepProgress, TryOnRequest
from core.imaging.pipelines.jobio import JobInputs
from core.imaging.pipelines.tryon import STAGES, TryOnPipeline

SIZE = (240, 320)
POINTS: BodyPoints = {
    "nose": (120.0, 50.0),
    "right_shoulder": (80.0, 110.0),
    "left_shoulder": (160.0, 110.0),
    "right_elbow": (70.0, 170.0),
    "left_elbow": (170.0, 170.0),
    "right_wrist": (70.0, 225.0),
    "left_wrist": (170.0, 225.0),
    "right_hip": (95.0, 230.0),
    "left_hip": (145.0, 230.0),
}


def _mask(
    box: tuple[int, int, int, int] | None = None, ellipse: tuple[int, int, int, int] | None = None
) -> Image.Image:
    image = Image.new("L", SIZE, 0)
    draw = ImageDraw.Draw(image)
    if box is not None:
        draw.rectangle(box, fill=255)
    if ellipse is not None:
        draw.ellipse(ellipse, fill=255)
    return image


def _body(points: BodyPoints = POINTS) -> Body:
    person = Image.new("L", SIZE, 0)
    draw = ImageDraw.Draw(person)
    draw.ellipse((90, 10, 150, 90), fill=255)
    draw.rectangle((60, 95, 180, 319), fill=255)
    keep = _mask(ellipse=(90, 10, 150, 90))
    ImageDraw.Draw(keep).rectangle((60, 215, 80, 240), fill=255)  # a hand
    return Body(points, person, _mask((72, 100, 168, 232)), _mask((60, 110, 80, 240)), keep, score=0.99)


def _photo(seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 255, (SIZE[1], SIZE[0], 3), dtype=np.uint8), "RGB")


GARMENT = Garment(
    Image.new("RGB", (100, 120), (200, 30, 30)),
    Image.new("L", (100, 120), 255),
    {
        "collar_right": (40.0, 2.0),
        "collar_left": (60.0, 2.0),
        "shoulder_right": (15.0, 5.0),
        "shoulder_left": (85.0, 5.0),
        "armpit_right": (15.0, 35.0),
        "armpit_left": (85.0, 35.0),
        "sleeve_right": (15.0, 5.0),
        "sleeve_left": (85.0, 5.0),
        "hem_right": (15.0, 118.0),
        "hem_left": (85.0, 118.0),
    },
    "product",
)


class Parser:
    def __init__(self, bodies: list[Body]) -> None:
        self.bodies = bodies

    def parse(self, image: Image.Image) -> list[Body]:
        return self.bodies


class Extractor:
    def __init__(self) -> None:
        self.calls = 0

    def extract(self, image: Image.Image) -> Garment:
        self.calls += 1
        return GARMENT


class Painter:
    """Paints every pixel it is given, inside the mask or not: the pipeline must keep only the mask."""

    resolution: ClassVar[int | None] = None

    def __init__(self) -> None:
        self.requests: list[TryOnRequest] = []

    def paint(self, request: TryOnRequest, progress: StepProgress) -> Image.Image:
        self.requests.append(request)
        progress(1.0)
        return Image.new("RGB", request.person.size, (10, 200, 10))


class SquarePainter(Painter):
    resolution: ClassVar[int | None] = 64


def _pipeline(bodies: list[Body] | None = None, painter: Painter | None = None) -> TryOnPipeline:
    return TryOnPipeline(Parser([_body()] if bodies is None else bodies), Extractor(), painter or Painter())


def test_only_the_edit_mask_changes_and_the_face_and_hands_never() -> None:
    photo = _photo()
    result = _pipeline().run(photo, _photo(1))
    edit = np.asarray(result.edit_mask) > 0
    assert result.image.size == photo.size
    assert np.array_equal(np.asarray(result.image)[~edit], np.asarray(photo)[~edit])
    assert not (edit & (np.asarray(_body().keep) > 127)).any()
    # The old top is all in it, and painted (colour-matched to the photo around it, so not exactly green).
    torso = (np.asarray(_body().torso) > 127) & ~(np.asarray(_body().keep) > 127)
    assert edit[torso].all()
    assert np.any(np.asarray(result.image)[torso] != np.asarray(photo)[torso], axis=-1).mean() > 0.9


def test_a_painter_with_a_resolution_gets_a_square_and_its_body_inside_it() -> None:
    painter = SquarePainter()
    photo = _photo()
    result = _pipeline(painter=painter).run(photo, _photo(1))
    request = painter.requests[0]
    assert request.person.size == (64, 64) and request.mask.size == (64, 64)
    assert request.body.torso.size == (64, 64)
    joints = [
        request.body.points[name] for name in ("right_shoulder", "left_shoulder", "right_hip", "left_hip")
    ]
    assert all(0 <= x < 64 and 0 <= y < 64 for x, y in joints)
    edit = np.asarray(result.edit_mask) > 0
    assert np.array_equal(np.asarray(result.image)[~edit], np.asarray(photo)[~edit])


@pytest.mark.parametrize(
    ("bodies", "key"),
    [
        ([], "tryon.no_person"),
        ([_body(), _body({"nose": (40.0, 40.0)})], "tryon.several_people"),
        ([_body({k: v for k, v in POINTS.items() if "hip" not in k})], "tryon.no_upper_body"),
    ],
)
def test_the_person_is_refused_before_the_garment_is_looked_at(bodies: list[Body], key: str) -> None:
    pipeline = _pipeline(bodies)
    with pytest.raises(UserError) as caught:
        pipeline.run(_photo(), _photo(1))
    assert caught.value.key == key
    assert isinstance(pipeline.extractor, Extractor) and pipeline.extractor.calls == 0
    if key == "tryon.several_people":
        assert caught.value.params == {"count": 2}


def test_the_same_photo_is_refused_resized_and_re_encoded_too() -> None:
    ys, xs = np.mgrid[0 : SIZE[1], 0 : SIZE[0]]
    waves = np.stack([128 + 100 * np.sin(xs / 23.0), 128 + 100 * np.cos(ys / 31.0), (xs + ys) % 256], axis=-1)
    photo = Image.fromarray(waves.astype(np.uint8), "RGB")
    buffer = io.BytesIO()
    photo.resize((180, 240)).save(buffer, "JPEG", quality=50)
    pipeline = _pipeline()
    for copy in (photo, Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")):
        with pytest.raises(UserError) as caught:
            pipeline.run(photo, copy)
        assert caught.value.key == "tryon.same_photo"
    assert not pipeline._same_picture(photo, photo.transpose(Image.Transpose.FLIP_TOP_BOTTOM))
    assert not pipeline._same_picture(photo, photo.crop((0, 0, 240, 160)))


def test_the_job_passes_seed_and_fidelity_and_needs_the_garment() -> None:
    painter = Painter()
    pipeline = _pipeline(painter=painter)
    outputs = pipeline.run_job(JobInputs(_photo(), {"seed": "7", "fidelity": 0.3}, {"garment": _photo(1)}))
    assert painter.requests[0].seed == 7 and painter.requests[0].fidelity == pytest.approx(0.3)
    assert outputs.image.size == SIZE and outputs.edit_mask.mode == "L"
    with pytest.raises(ValueError):
        pipeline.run_job(JobInputs(_photo()))
    with pytest.raises(ValueError):
        pipeline.run(_photo(), _photo(1), fidelity=1.5)
    with pytest.raises(ValueError):
        pipeline.run(_photo().convert("L"), _photo(1))


def test_progress_runs_through_every_stage_in_order() -> None:
    seen: list[tuple[str, float]] = []
    result = _pipeline().run(_photo(), _photo(1), progress=lambda key, done: seen.append((key, done)))
    fractions = [done for _, done in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert list(dict.fromkeys(key for key, _ in seen)) == list(STAGES)
    assert set(result.timings) == set(STAGES) and sum(STAGES.values()) == pytest.approx(1.0)
