"""The /suit backends of the standard tier: the SegFormer portrait parser and the diffusion clothes painter,
around the tiny random models, a colour-keyed stand-in parser on a drawn portrait, and the standard
factories loading the tiny models from local folders laid out like the hub repos, with the network refused."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from core.config import ModelSettings
from core.imaging.backends import registry
from core.imaging.backends.base import (
    BodyGeometry,
    Box,
    ClothesPainter,
    Face,
    Portrait,
    PortraitParser,
    SuitRequest,
)
from core.imaging.backends.standard import face_parsing, paint_by_example, suit_painter
from core.imaging.backends.standard.face_parsing import SegformerPortraitParser
from core.imaging.backends.tiny import models as tiny
from core.imaging.backends.tiny import suit_models
from core.imaging.backends.torch_device import resolve_placement
from core.imaging.models_download import missing_models

FACE = Face(Box(95, 100, 205, 250), 0.9)
GEOMETRY = BodyGeometry(
    chin=(32, 12), neck=((27, 14), (37, 14)), shoulders=((4, 34), (60, 34)), chin_line=np.zeros((3, 2))
)
REQUEST = SuitRequest(
    (20, 30, 70), True, "classic", (255, 255, 255), GEOMETRY, prompt="a navy business suit", steps=2
)
PALETTE = {
    "background": (128, 128, 128),
    "skin": (235, 185, 150),
    "hair": (40, 30, 20),
    "r_eye": (0, 200, 0),
    "l_eye": (0, 0, 255),
    "nose": (255, 0, 0),
    "neck": (255, 255, 0),
    "cloth": (0, 255, 255),
}


class PaletteParser(torch.nn.Module):
    """Labels each pixel with the class of the nearest palette colour: exact on a portrait drawn in them."""

    def __init__(self, palette: dict[str, tuple[int, int, int]]) -> None:
        super().__init__()
        self.config = SimpleNamespace(id2label={i: f"{name}.png" for i, name in enumerate(palette)})
        mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
        self.register_buffer("colours", (torch.tensor(list(palette.values())) / 255 - mean) / std)

    def forward(self, pixel_values: torch.Tensor) -> SimpleNamespace:
        distance = ((pixel_values[:, None] - self.colours[None, :, :, None, None]) ** 2).sum(dim=2)
        return SimpleNamespace(logits=-50 * distance)


def palette_parser(palette: dict[str, tuple[int, int, int]]) -> SegformerPortraitParser:
    from transformers import SegformerImageProcessor

    processor = SegformerImageProcessor(size={"height": 128, "width": 128})
    return SegformerPortraitParser(PaletteParser(palette), processor, resolve_placement("cpu"))


def drawn_portrait() -> Image.Image:
    image = Image.new("RGB", (300, 400), PALETTE["background"])
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 310, 260, 399), fill=PALETTE["cloth"])
    draw.rectangle((125, 230, 175, 320), fill=PALETTE["neck"])
    draw.ellipse((80, 50, 220, 200), fill=PALETTE["hair"])
    draw.ellipse((95, 90, 205, 250), fill=PALETTE["skin"])
    draw.ellipse((115, 140, 135, 150), fill=PALETTE["r_eye"])
    draw.ellipse((165, 140, 185, 150), fill=PALETTE["l_eye"])
    draw.ellipse((143, 165, 157, 195), fill=PALETTE["nose"])
    return image


def assert_well_formed(portrait: Portrait, image: Image.Image, box: Box) -> None:
    assert portrait.keep.mode == "L" and portrait.person.mode == "L"
    assert portrait.keep.size == portrait.person.size == image.size
    (lx, ly), (rx, ry) = portrait.eyes
    assert lx < rx and box.x0 <= lx and rx <= box.x1 and box.y0 <= min(ly, ry) <= box.y1
    assert 0 <= portrait.crown[1] <= portrait.chin[1]
    assert box.y0 + 0.6 * box.height <= portrait.chin[1] <= box.y1 + 0.45 * box.height
    jaw = portrait.jaw
    assert jaw.ndim == 2 and jaw.shape[1] == 2 and len(jaw) >= 3 and np.all(np.diff(jaw[:, 0]) > 0)
    assert portrait.shoulders is None or portrait.shoulders[0][0] < portrait.shoulders[1][0]


# --- the parser --------------------------------------------------------------------------------------------
def test_tiny_parser_gives_a_well_formed_portrait_on_a_photo(
    tiny_models: ModelSettings, masked_photo: Image.Image
) -> None:
    parser = registry.build("portrait_parser", tiny_models)
    assert isinstance(parser, PortraitParser) and parser is registry.build("portrait_parser", tiny_models)
    box = Box(40, 30, 110, 115)
    assert_well_formed(parser.parse(masked_photo, Face(box, 0.9)), masked_photo, box)


def test_tiny_parser_falls_back_to_the_face_box_on_a_blank_image(tiny_models: ModelSettings) -> None:
    image = Image.new("RGB", (200, 260), (255, 255, 255))
    for box in (Box(50, 60, 150, 180), Box(60, 2, 140, 100)):  # the second one touches the top
        assert_well_formed(
            registry.build("portrait_parser", tiny_models).parse(image, Face(box, 0.9)), image, box
        )


def test_a_parser_that_finds_nothing_gives_every_fallback() -> None:
    portrait = palette_parser({"background": (128, 128, 128)}).parse(drawn_portrait(), FACE)
    assert portrait.eyes == ((128.0, 160.0), (172.0, 160.0))
    assert portrait.nose == (150.0, 175.0) and portrait.chin == (150.0, 250.0)
    assert portrait.crown == (150.0, 85.0) and portrait.shoulders is None
    assert portrait.jaw[0] == pytest.approx((95, 175)) and portrait.jaw[-1] == pytest.approx((205, 175))
    keep = np.asarray(portrait.keep)
    assert keep[170, 150] == 255 and keep[20, 20] == 0  # an ellipse over the face box


def test_parser_reads_a_drawn_portrait_by_class_name() -> None:
    image = drawn_portrait()
    portrait = palette_parser(PALETTE).parse(image, FACE)
    assert_well_formed(portrait, image, FACE.box)
    # "r_eye" is the person's right eye: on the image's left.
    assert np.allclose(portrait.eyes, ((125, 145), (175, 145)), atol=3)
    assert np.allclose(portrait.nose, (150, 180), atol=3)
    assert np.allclose(portrait.chin, (150, 249), atol=4) and np.allclose(portrait.crown, (150, 50), atol=4)
    assert np.all(portrait.jaw[:, 1] <= portrait.chin[1] + 1)
    assert portrait.jaw[len(portrait.jaw) // 2, 1] > 240  # through the chin
    keep, person = np.asarray(portrait.keep), np.asarray(portrait.person)
    assert keep[170, 150] == keep[60, 150] == keep[240, 130] == 255  # face, hair, neck above the chin
    assert keep[300, 150] == keep[380, 60] == 0  # neck below the chin, clothes
    assert person[380, 60] > 200 and person[399, 150] > 200 and person[20, 20] < 30
    assert portrait.shoulders is not None
    assert np.allclose(portrait.shoulders, ((40, 361), (260, 361)), atol=4)


# --- the painter -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def square(masked_photo: Image.Image) -> tuple[Image.Image, Image.Image]:
    image = masked_photo.crop((0, 40, 128, 168)).resize((64, 64))
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (0, 24, 64, 64))
    return image, mask


def _paint(
    painter: ClothesPainter, square: tuple[Image.Image, Image.Image], **changes: Any
) -> tuple[np.ndarray, list[float]]:
    steps: list[float] = []
    image, mask = square
    out = painter.paint(image, mask, dataclasses.replace(REQUEST, **changes), steps.append)
    assert out.mode == "RGB" and out.size == image.size
    return np.asarray(out), steps


def test_tiny_painter_is_seeded_and_reports_each_step(
    tiny_models: ModelSettings, square: tuple[Image.Image, Image.Image]
) -> None:
    painter = registry.build("clothes_painter", tiny_models)
    assert isinstance(painter, ClothesPainter) and type(painter).resolution == 64
    assert suit_painter.DiffusionClothesPainter.resolution == 512
    first, steps = _paint(painter, square, seed=3, steps=3)
    assert steps == pytest.approx([1 / 3, 2 / 3, 1.0])
    again, _ = _paint(painter, square, seed=3, steps=3)
    other, _ = _paint(painter, square, seed=4, steps=3)
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_tiny_painter_follows_an_exemplar_with_paint_by_example(
    tiny_models: ModelSettings, square: tuple[Image.Image, Image.Image]
) -> None:
    painter = registry.build("clothes_painter", tiny_models)
    suit = Image.new("RGB", (48, 60), (20, 30, 70))
    plain, _ = _paint(painter, square, seed=5)
    followed, steps = _paint(painter, square, seed=5, exemplar=suit)
    assert steps == pytest.approx([0.5, 1.0])  # PNDM, like the hub repo's scheduler
    assert not np.array_equal(plain, followed)
    again, _ = _paint(painter, square, seed=5, exemplar=suit)
    assert np.array_equal(followed, again)
    assert painter.exemplar_inpainter() is painter.exemplar_inpainter()


def test_tiny_painter_returns_odd_sizes_at_their_own_size(
    tiny_models: ModelSettings, masked_photo: Image.Image
) -> None:
    painter = registry.build("clothes_painter", tiny_models)
    image = masked_photo.crop((0, 0, 70, 61))
    for exemplar in (None, image):
        request = dataclasses.replace(REQUEST, steps=1, exemplar=exemplar)
        out = painter.paint(image, Image.new("L", image.size, 255), request, lambda _f: None)
        assert out.size == (70, 61)
        with pytest.raises(ValueError, match="differ"):
            painter.paint(image, Image.new("L", (64, 64)), request, lambda _f: None)


# --- the standard factories on local folders ---------------------------------------------------------------
def _as_hub_repo(folder: Path) -> None:
    """Rewrites a saved Paint-by-Example folder the way the hub's main branch has it: pickled weights and a
    model_index.json naming the image encoder's old library."""
    from safetensors.torch import load_file

    for path in folder.rglob("*.safetensors"):
        pickle = "pytorch_model.bin" if path.name == "model.safetensors" else "diffusion_pytorch_model.bin"
        torch.save(load_file(path), path.with_name(pickle))
        os.remove(path)
    index = json.loads((folder / "model_index.json").read_text())
    index["image_encoder"] = ["paint_by_example", "PaintByExampleImageEncoder"]
    (folder / "model_index.json").write_text(json.dumps(index))


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> ModelSettings:
    root = tmp_path_factory.mktemp("suit-weights")
    model, processor = suit_models.tiny_face_parser()
    model.save_pretrained(root / "parser")
    processor.save_pretrained(root / "parser")
    config = json.loads((root / "parser" / "preprocessor_config.json").read_text())
    config["image_processor_type"] = "SegformerFeatureExtractor"  # as the hub repo names it
    (root / "parser" / "preprocessor_config.json").write_text(json.dumps(config))
    suit_models.tiny_paint_by_example_pipeline().save_pretrained(root / "pbe")
    _as_hub_repo(root / "pbe")
    tiny.tiny_sd_inpaint_pipeline().save_pretrained(root / "sd", variant="fp16")
    return ModelSettings(
        tier="standard",
        device="cpu",
        face_parser=str(root / "parser"),
        exemplar_inpainter=str(root / "pbe"),
        inpainter=str(root / "sd"),
    )


def test_saved_folders_hold_the_suit_weights(saved: ModelSettings) -> None:
    assert not [line for line in missing_models(saved) if line.startswith(("portrait_", "exemplar_"))]


def test_standard_parser_loads_a_local_folder(
    saved: ModelSettings, masked_photo: Image.Image, no_network: None
) -> None:
    loaded = face_parsing.build_portrait_parser(saved).parse(masked_photo, Face(Box(40, 30, 110, 115), 0.9))
    fresh = SegformerPortraitParser(*suit_models.tiny_face_parser(), resolve_placement("cpu"))
    expected = fresh.parse(masked_photo, Face(Box(40, 30, 110, 115), 0.9))
    assert np.array_equal(np.asarray(loaded.keep), np.asarray(expected.keep))
    assert loaded.eyes == expected.eyes and loaded.chin == expected.chin


def test_standard_painter_loads_paint_by_example_from_pickles(
    saved: ModelSettings, square: tuple[Image.Image, Image.Image], no_network: None
) -> None:
    painter = suit_painter.build_clothes_painter(saved)
    assert painter._inpainter is registry.shared("inpainter", saved)
    exemplar = painter.exemplar_inpainter()
    assert isinstance(exemplar, paint_by_example.PaintByExampleInpainter)
    assert exemplar._pipe.unet.dtype == torch.float32
    out, steps = _paint(painter, square, exemplar=Image.new("RGB", (40, 40), (90, 20, 20)))
    assert steps == pytest.approx([0.5, 1.0]) and out.std() > 0
