"""/sketch refuses what it cannot draw from, before any painting: an empty or nearly empty drawing, a photo
of a real face, a drawing with no face, and every drawing on a server that cannot draw faces."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from PIL import Image

from core.config import ModelSettings
from core.errors import UserError
from core.imaging.backends.base import SketchRequest, StepProgress
from core.imaging.backends.offline.detector import MediaPipeFaceDetector
from core.imaging.pipelines.sketch import SketchPipeline, build_sketch_pipeline
from tests.pipeline import sketch_data as sd


class RecordingPainter:
    """Paints grey and remembers what it was asked."""

    def __init__(self) -> None:
        self.requests: list[SketchRequest] = []

    def paint(self, request: SketchRequest, progress: StepProgress) -> Image.Image:
        self.requests.append(request)
        return Image.new("RGB", request.size, (128, 128, 128))


@pytest.fixture(scope="module")
def finder() -> MediaPipeFaceDetector:
    return MediaPipeFaceDetector()


def refusal(pipeline: SketchPipeline, image: Image.Image) -> str:
    with pytest.raises(UserError) as caught:
        pipeline.run(image)
    return caught.value.key


@pytest.mark.parametrize(
    ("make", "key"),
    [
        (sd.blank, "sketch.empty"),
        (lambda: sd.paper_photo(sd.blank(), seed=2), "sketch.empty"),
        (lambda: sd.scribbles(seed=4), "sketch.empty"),
        (lambda: Image.open(sd.face_photos("held-out")[2]).convert("RGB"), "sketch.photo"),
        (sd.house, "sketch.no_face"),
    ],
    ids=["blank", "blank-paper", "scribbles", "photo", "house"],
)
def test_refusals(finder: MediaPipeFaceDetector, make: Callable[[], Image.Image], key: str) -> None:
    painter = RecordingPainter()
    assert refusal(SketchPipeline(finder, painter), make()) == key
    assert painter.requests == []


def test_a_drawn_face_is_found_where_it_was_drawn(finder: MediaPipeFaceDetector) -> None:
    painter = RecordingPainter()
    pipeline = SketchPipeline(finder, painter)
    for image, head in (sd.hand_face(5), sd.hand_face(6, side=400)):
        result = pipeline.run(image, strength=0.3, seed=9)
        request = painter.requests[-1]
        assert request.strength == 0.3 and request.seed == 9 and request.face.landmarks is not None
        assert min(result.image.size) >= 512 and result.image.size == request.size
        scale = result.image.width / image.width
        truth = sd.Box(head.x0 * scale, head.y0 * scale, head.x1 * scale, head.y1 * scale)
        assert sd.iou(result.face, truth) >= 0.5


def test_a_strength_outside_0_to_1_is_refused(finder: MediaPipeFaceDetector) -> None:
    assert refusal_with(SketchPipeline(finder, RecordingPainter()), strength=1.5) == "sketch.strength"


def refusal_with(pipeline: SketchPipeline, strength: float) -> str:
    with pytest.raises(UserError) as caught:
        pipeline.run(sd.hand_face(0)[0], strength=strength)
    return caught.value.key


def test_offline_without_the_face_prior_cannot_draw_faces() -> None:
    pipeline = build_sketch_pipeline(ModelSettings(tier="offline", face_prior="none"))
    assert pipeline.painter is None
    assert refusal(pipeline, sd.hand_face(0)[0]) == "sketch.unavailable"
