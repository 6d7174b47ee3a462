"""The /tryon garment painter of the standard tier (SD inpainting + IP-Adapter Plus) around the tiny random
models: where and at what size it paints, the adapter's scale, and that /unmask and /suit, which share its
UNet, see nothing of the adapter before, during or after a try-on."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from core.config import ModelSettings
from core.imaging.backends import registry
from core.imaging.backends.base import (
    Body,
    BodyGeometry,
    Garment,
    GarmentPainter,
    InpaintRequest,
    SuitRequest,
    TryOnRequest,
)
from core.imaging.backends.standard import tryon_painter
from core.imaging.backends.standard.tryon_painter import (
    DiffusionGarmentPainter,
    garment_on_white,
    working_crop,
)
from core.imaging.backends.tiny import TinyDiffusionClothesPainter, TinyStableDiffusionInpainter
from core.imaging.backends.tiny import models as tiny
from core.imaging.backends.tiny.tryon_models import (
    TinyDiffusionGarmentPainter,
    random_ip_adapter_plus,
    tiny_image_encoder,
    write_ip_adapter_folder,
)
from core.imaging.backends.torch_device import resolve_placement
from core.imaging.models_download import missing_models

SIDE = 160
# The old top in the person photo at 120x160: chest to hips.
TORSO = (30, 60, 90, 150)
GEOMETRY = BodyGeometry(
    chin=(32, 12), neck=((27, 14), (37, 14)), shoulders=((4, 34), (60, 34)), chin_line=np.zeros((3, 2))
)


def _thumbnail(path: Path) -> Image.Image:
    image = Image.open(path).convert("RGB")
    image.thumbnail((SIDE, SIDE), Image.Resampling.LANCZOS)
    return image


def _garment(image: Image.Image) -> Garment:
    mask = Image.new("L", image.size, 0)
    ImageDraw.Draw(mask).rectangle((8, 8, image.width - 8, image.height - 8), fill=255)
    return Garment(image, mask, {}, "product")


@pytest.fixture(scope="module")
def request_a(shared_data: Path) -> TryOnRequest:
    person = _thumbnail(shared_data / "tryon" / "people" / "00034_00.jpg")
    mask = Image.new("L", person.size, 0)
    mask.paste(255, TORSO)
    body = Body({}, mask, mask, Image.new("L", person.size, 0), Image.new("L", person.size, 0), 0.9)
    garment = _garment(_thumbnail(shared_data / "tryon" / "garments" / "04469_00.jpg"))
    return TryOnRequest(person, mask, body, garment, seed=3, steps=2, prompt="a person wearing the garment")


@pytest.fixture(scope="module")
def garment_b(shared_data: Path) -> Garment:
    return _garment(_thumbnail(shared_data / "tryon" / "garments" / "09166_00.jpg"))


@pytest.fixture
def painter(tiny_models: ModelSettings) -> DiffusionGarmentPainter:
    built = registry.build("garment_painter", tiny_models)
    assert isinstance(built, DiffusionGarmentPainter)
    return built


def _paint(painter: GarmentPainter, request: TryOnRequest, **changes: Any) -> tuple[np.ndarray, list[float]]:
    steps: list[float] = []
    out = painter.paint(dataclasses.replace(request, **changes), steps.append)
    assert out.mode == "RGB" and out.size == request.person.size
    return np.asarray(out), steps


def _ip_scales(unet: Any) -> list[float]:
    from diffusers.models.attention_processor import IPAdapterAttnProcessor2_0

    return [
        scale
        for processor in unet.attn_processors.values()
        if isinstance(processor, IPAdapterAttnProcessor2_0)
        for scale in processor.scale
    ]


def _assert_plain(inpainter: TinyStableDiffusionInpainter) -> None:
    """The shared pipeline as /unmask built it: no adapter layers, no image encoder."""
    pipe = inpainter.pipeline
    assert _ip_scales(pipe.unet) == [] and pipe.unet.encoder_hid_proj is None
    assert pipe.unet.config.encoder_hid_dim_type is None and pipe.image_encoder is None


# --- geometry ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("box", "size"),
    [
        ((200, 300, 500, 800), (512, 768)),  # a torso: portrait
        ((200, 300, 600, 700), (512, 512)),
        ((100, 400, 800, 800), (768, 512)),  # arms out: landscape
    ],
)
def test_the_crop_is_the_masks_box_widened_to_a_shape_sd_paints_well(
    box: tuple[int, int, int, int], size: tuple[int, int]
) -> None:
    mask = Image.new("L", (1000, 1200), 0)
    mask.paste(255, box)
    crop = working_crop(mask, 768, 64)
    assert crop is not None
    (x0, y0, x1, y1), work = crop
    assert work == size
    assert x0 < box[0] and y0 < box[1] and x1 > box[2] and y1 > box[3]  # context on every side
    assert (y1 - y0) / (x1 - x0) == pytest.approx(size[1] / size[0], abs=0.01)


def test_the_crop_stays_inside_the_photo() -> None:
    mask = Image.new("L", (300, 400), 0)
    mask.paste(255, (0, 200, 300, 400))  # the whole width, down to the bottom edge
    crop = working_crop(mask, 768, 64)
    assert crop is not None
    box, (width, height) = crop
    assert box == (0, 140, 300, 400)  # widened as far as the photo goes, then moved up into it
    assert max(width, height) <= 768 and width % 64 == height % 64 == 0
    assert working_crop(Image.new("L", (300, 400), 0), 768, 64) is None


def test_the_garment_reaches_the_encoder_on_white_and_square() -> None:
    image = Image.new("RGB", (40, 80), (200, 0, 0))
    mask = Image.new("L", (40, 80), 0)
    mask.paste(255, (10, 10, 30, 70))
    square = np.asarray(garment_on_white(Garment(image, mask, {}, "product")))
    assert square.shape == (80, 80, 3)
    assert tuple(square[40, 40]) == (200, 0, 0) and tuple(square[5, 40]) == tuple(square[40, 5]) == (255,) * 3
    with pytest.raises(ValueError, match="differ"):
        garment_on_white(Garment(image, Image.new("L", (8, 8)), {}, "product"))


# --- painting ----------------------------------------------------------------------------------------------
def test_tiny_painter_is_the_standard_class_built_once(
    tiny_models: ModelSettings, painter: DiffusionGarmentPainter
) -> None:
    assert isinstance(painter, TinyDiffusionGarmentPainter) and isinstance(painter, GarmentPainter)
    assert painter is registry.build("garment_painter", tiny_models)
    assert type(painter).resolution == 96 and DiffusionGarmentPainter.resolution == 768
    # The same UNet as /unmask's and /suit's; the image encoder lives in the try-on's view only.
    shared = registry.shared("inpainter", tiny_models)
    assert painter.pipeline.unet is shared.pipeline.unet and painter.pipeline.image_encoder is not None
    _assert_plain(shared)


def test_paints_only_the_crop_around_the_mask_and_returns_the_photos_size(
    painter: DiffusionGarmentPainter, request_a: TryOnRequest
) -> None:
    out, steps = _paint(painter, request_a)
    assert steps == pytest.approx([0.5, 1.0])
    crop = painter.crop(request_a.mask)
    assert crop is not None
    (x0, y0, x1, y1), work = crop
    assert work == (64, 96)  # portrait 2:3 at the tiny model's 64 px
    changed = np.any(out != np.asarray(request_a.person), axis=2)
    outside = np.ones_like(changed)
    outside[y0:y1, x0:x1] = False
    assert not changed[outside].any()
    assert changed[TORSO[1] : TORSO[3], TORSO[0] : TORSO[2]].mean() > 0.9


def test_fidelity_is_the_adapter_scale_while_it_paints(
    painter: DiffusionGarmentPainter, request_a: TryOnRequest
) -> None:
    unet = painter.pipeline.unet
    seen: dict[float, list[float]] = {}
    outputs = {}
    for fidelity in (0.2, 0.9):

        def look(_fraction: float, fidelity: float = fidelity) -> None:
            seen.setdefault(fidelity, []).extend(_ip_scales(unet))

        outputs[fidelity] = np.asarray(painter.paint(dataclasses.replace(request_a, fidelity=fidelity), look))
        assert _ip_scales(unet) == []  # taken out again after the run
    assert seen[0.2] and set(seen[0.2]) == {0.2} and set(seen[0.9]) == {0.9}
    assert not np.array_equal(outputs[0.2], outputs[0.9])


def test_another_garment_paints_something_else_and_a_seed_repeats(
    painter: DiffusionGarmentPainter, request_a: TryOnRequest, garment_b: Garment
) -> None:
    first, _ = _paint(painter, request_a)
    second, _ = _paint(painter, request_a, garment=garment_b)
    again, _ = _paint(painter, request_a)
    assert not np.array_equal(first, second) and np.array_equal(first, again)


def test_the_shared_inpainter_is_locked_while_it_paints(
    painter: DiffusionGarmentPainter, request_a: TryOnRequest, tiny_models: ModelSettings
) -> None:
    lock = registry.shared("inpainter", tiny_models).lock
    free: list[bool] = []

    def try_lock(_fraction: float) -> None:
        def attempt() -> None:
            got = lock.acquire(blocking=False)
            free.append(got)
            if got:
                lock.release()

        thread = threading.Thread(target=attempt)
        thread.start()
        thread.join()

    painter.paint(request_a, try_lock)
    assert free == [False, False]


def test_a_run_that_fails_leaves_the_unet_as_it_was(
    painter: DiffusionGarmentPainter, request_a: TryOnRequest, tiny_models: ModelSettings
) -> None:
    def fail(_fraction: float) -> None:
        raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError, match="cancelled"):
        painter.paint(request_a, fail)
    _assert_plain(registry.shared("inpainter", tiny_models))


def test_unmask_and_suit_paint_as_if_no_try_on_had_run(
    painter: DiffusionGarmentPainter, request_a: TryOnRequest, tiny_models: ModelSettings
) -> None:
    _paint(painter, request_a)
    shared = registry.shared("inpainter", tiny_models)
    _assert_plain(shared)
    # The same seeded weights in a pipeline that never saw an adapter.
    fresh = TinyStableDiffusionInpainter(tiny.tiny_sd_inpaint_pipeline(), resolve_placement("cpu"))
    image = request_a.person.crop((0, 0, 64, 64))
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 32, 48, 60))
    unmask = InpaintRequest(seed=7, steps=2, prompt="a face")
    assert np.array_equal(
        np.asarray(shared.inpaint(image, mask, unmask, lambda _f: None)),
        np.asarray(fresh.inpaint(image, mask, unmask, lambda _f: None)),
    )
    suit = SuitRequest((20, 30, 70), True, "classic", (255, 255, 255), GEOMETRY, prompt="a suit", steps=2)
    reference = TinyDiffusionClothesPainter(fresh, _no_exemplar)
    assert np.array_equal(
        np.asarray(registry.build("clothes_painter", tiny_models).paint(image, mask, suit, lambda _f: None)),
        np.asarray(reference.paint(image, mask, suit, lambda _f: None)),
    )


def _no_exemplar() -> Any:
    raise AssertionError("no exemplar in this request")


# --- the standard factory on local folders -----------------------------------------------------------------
@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> ModelSettings:
    """The tiny SD pipeline as the hub publishes SD (fp16 variant) and a random IP-Adapter Plus in the
    layout of ``h94/IP-Adapter``, under the default file names."""
    root = tmp_path_factory.mktemp("tryon-weights")
    sd = tiny.tiny_sd_inpaint_pipeline()
    sd.save_pretrained(root / "sd", variant="fp16")
    models = ModelSettings(
        tier="standard", device="cpu", inpainter=str(root / "sd"), ip_adapter=str(root / "ip")
    )
    with tiny.seeded(8):
        state = random_ip_adapter_plus(sd.unet, image_embed_dim=32, hidden_dims=32, heads=1, num_queries=4)
    write_ip_adapter_folder(
        root / "ip", models.ip_adapter_weight, models.ip_adapter_encoder, state, tiny_image_encoder()
    )
    return models


def test_saved_folder_holds_the_adapter_weights(saved: ModelSettings) -> None:
    assert not [line for line in missing_models(saved) if line.startswith("ip_adapter:")]
    assert (Path(saved.ip_adapter) / "models" / "image_encoder" / "config.json").is_file()


def test_standard_factory_loads_the_adapter_as_written(
    saved: ModelSettings, request_a: TryOnRequest, no_network: None
) -> None:
    from diffusers.models.embeddings import IPAdapterPlusImageProjection

    painter = tryon_painter.build_garment_painter(saved)
    assert type(painter) is DiffusionGarmentPainter
    assert painter._inpainter is registry.shared("inpainter", saved)
    _assert_plain(painter._inpainter)
    # The reference key names written by the tiny tier come back as the same resampler in diffusers' names.
    with tiny.seeded(8):
        expected = IPAdapterPlusImageProjection(
            embed_dims=32, output_dims=32, hidden_dims=32, heads=1, num_queries=4
        ).state_dict()
    loaded = painter.adapter._projection.image_projection_layers[0].state_dict()
    assert loaded.keys() == expected.keys()
    assert all(torch.equal(loaded[key], expected[key]) for key in expected)
    # Painted at the tiny models' size (at 512x768 they would take minutes on a CPU).
    small = TinyDiffusionGarmentPainter(painter._inpainter, painter.pipeline, painter.adapter)
    out, steps = _paint(small, request_a)
    assert steps == pytest.approx([0.5, 1.0]) and out.std() > 0
