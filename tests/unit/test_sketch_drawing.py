"""Cleaning a drawing (canvas, phone photo of paper, a photo that is no drawing) and the sketch descriptor."""

from __future__ import annotations

import numpy as np
from PIL import Image

from core.imaging.backends.offline import sketch_manifold as sm
from core.imaging.drawing import clean_drawing, line_drawing
from tests.pipeline import sketch_data as sd


def test_a_blank_canvas_has_no_strokes() -> None:
    drawing = clean_drawing(sd.blank())
    assert drawing.strokes is None and drawing.stroke_length() == 0.0 and drawing.off_paper < 0.01


def test_a_canvas_drawing_comes_back_stroke_for_stroke() -> None:
    image, head = sd.hand_face(1)
    drawing = clean_drawing(image)
    assert not drawing.paper_found and drawing.size == image.size
    assert np.array_equal(drawing.ink, np.asarray(image.convert("L")) < 128)
    x0, y0, x1, y1 = drawing.strokes or (0, 0, 0, 0)
    assert x0 <= head.x0 + 4 and x1 >= head.x1 - 4 and y1 >= head.y1 - 4


def test_a_phone_photo_of_paper_is_flattened_and_set_upright() -> None:
    image, _ = sd.hand_face(2)
    drawing = clean_drawing(sd.paper_photo(image, seed=3))
    assert drawing.paper_found
    # The sheet is about the paper's size (within the perspective's stretch) and holds the whole face.
    assert abs(drawing.size[0] / image.width - 1) < 0.2 and abs(drawing.size[1] / image.height - 1) < 0.2
    assert drawing.off_paper < 0.15
    assert 0.5 < drawing.stroke_length() / clean_drawing(image).stroke_length() < 1.5


def test_a_photo_of_a_face_is_continuous_tone_and_a_drawing_of_it_is_not() -> None:
    path = sd.face_photos("held-out")[0]
    assert clean_drawing(Image.open(path).convert("RGB")).off_paper >= 0.15
    drawn, _, _ = sd.drawn_face(path)
    assert clean_drawing(drawn).off_paper < 0.15
    assert clean_drawing(sd.paper_photo(drawn, seed=1)).off_paper < 0.15


def test_the_edge_extractor_draws_a_face_with_pencil_sketch_density() -> None:
    _, _, crop = sd.drawn_face(sd.face_photos("held-out")[1])
    assert 0.02 < line_drawing(crop).mean() < 0.15


def test_the_descriptor_is_unit_length_and_prefers_the_same_face() -> None:
    faces = [sd.hand_face(seed, side=sm.CANON, stroke=2)[0] for seed in (0, 1)]
    lines = [np.asarray(face.convert("L")) < 128 for face in faces]
    first, second = (sm.descriptor(ink) for ink in lines)
    shifted = sm.descriptor(np.roll(lines[0], 2, axis=1))
    assert abs(float(np.linalg.norm(first)) - 1.0) < 1e-4
    assert float(first @ shifted) > float(first @ second)


def test_the_sketch_modules_import_no_heavy_library() -> None:
    import subprocess
    import sys
    from pathlib import Path

    modules = [
        "core.imaging.pipelines.sketch",
        "core.imaging.drawing",
        "core.imaging.backends.offline.sketch_manifold",
        "core.imaging.backends.offline.sketch_painter",
        "core.imaging.backends.standard.sketch_painter",
        "core.imaging.backends.tiny.sketch_models",
    ]
    heavy = ["torch", "transformers", "diffusers", "cv2", "openvino", "mediapipe"]
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"loaded = [m for m in {heavy!r} if m in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root, timeout=120)
