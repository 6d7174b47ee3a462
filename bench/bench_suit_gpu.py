"""Latency and GPU memory of the /suit backends on the standard tier: full-size models, random weights.

    python bench/bench_suit_gpu.py [--runs 5] [--steps 25] [--device auto]
    python bench/bench_suit_gpu.py --device cpu --size small --steps 2 --runs 1    # smoke run of the code

``--size full`` builds the production architectures from configs in code, so nothing is downloaded and the
timings equal those of the real weights (same shapes, same kernels): SegFormer-B5 with the 19 classes of
``jonathandinu/face-parsing`` at 512 px, SD 1.5 inpainting (as in ``bench_standard_gpu.py``) and
Paint-by-Example (SD's inpainting UNet shape conditioned on a CLIP ViT-L/14 image encoder and its mapper).
They run in the real backend classes, fp16 on CUDA: ``parse`` (a portrait at ``--side`` px), ``paint`` (SD
inpainting of a 512 px crop) and ``paint_exemplar`` (Paint-by-Example, same crop), each a warm-up then
``--runs`` timed runs. Prints p50 per stage, peak GPU memory per stage and the memory of all three loaded.

Without a CUDA device it says so and exits 0, unless asked for the smoke run (``--device cpu --size
small``), which uses the tiny tier's models.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from bench.bench_standard_gpu import full_sd_pipeline  # noqa: E402
from bench.common import gpu_arguments, gpu_placement, time_stages  # noqa: E402
from core.imaging.backends.base import BodyGeometry, Box, Face, SuitRequest  # noqa: E402
from core.imaging.backends.standard.face_parsing import SegformerPortraitParser  # noqa: E402
from core.imaging.backends.standard.paint_by_example import PaintByExampleInpainter  # noqa: E402
from core.imaging.backends.standard.sd_inpaint import StableDiffusionInpainter  # noqa: E402
from core.imaging.backends.standard.suit_painter import DiffusionClothesPainter  # noqa: E402
from core.imaging.backends.tiny import (  # noqa: E402
    TinyDiffusionClothesPainter,
    TinyStableDiffusionInpainter,
    suit_models,
)
from core.imaging.backends.tiny import models as tiny  # noqa: E402
from core.imaging.backends.tiny.suit_models import paint_by_example_scheduler  # noqa: E402
from core.imaging.backends.torch_device import Placement  # noqa: E402

PHOTO = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "without_mask" / "nm_001.jpg"
# Where the face is in that photo, as fractions of its width and height.
FACE = (0.19, 0.21, 0.89, 0.86)
SUIT_PROMPT = "a person wearing a navy business suit, white shirt and tie, plain white background, photo"


def full_face_parser() -> tuple[Any, Any]:
    """SegFormer-B5 (MiT-b5 encoder, 768-wide decoder) with jonathandinu/face-parsing's 19 classes."""
    from transformers import SegformerConfig, SegformerForSemanticSegmentation, SegformerImageProcessor

    labels = dict(enumerate(suit_models.FACE_LABELS))
    config = SegformerConfig(
        depths=[3, 6, 40, 3],
        hidden_sizes=[64, 128, 320, 512],
        num_attention_heads=[1, 2, 5, 8],
        decoder_hidden_size=768,
        id2label=labels,
        label2id={name: i for i, name in labels.items()},
    )
    processor = SegformerImageProcessor(size={"height": 512, "width": 512})
    return SegformerForSemanticSegmentation(config).eval(), processor


def full_paint_by_example(sd: Any) -> Any:
    """Paint-by-Example: a UNet and VAE shaped like SD's inpainting ones, CLIP ViT-L/14 at 224 px."""
    from diffusers import AutoencoderKL, PaintByExamplePipeline, UNet2DConditionModel
    from diffusers.pipelines.deprecated.paint_by_example import PaintByExampleImageEncoder
    from transformers import CLIPImageProcessor, CLIPVisionConfig

    encoder = PaintByExampleImageEncoder(
        CLIPVisionConfig(
            hidden_size=1024,
            intermediate_size=4096,
            num_hidden_layers=24,
            num_attention_heads=16,
            image_size=224,
            patch_size=14,
            projection_dim=768,
        )
    )
    return PaintByExamplePipeline(
        vae=AutoencoderKL.from_config(sd.vae.config),
        image_encoder=encoder,
        unet=UNet2DConditionModel.from_config(sd.unet.config),
        scheduler=paint_by_example_scheduler(),
        safety_checker=None,
        feature_extractor=CLIPImageProcessor(),  # 224 px, CLIP's mean and std
        requires_safety_checker=False,
    )


def build(size: str, placement: Placement) -> tuple[SegformerPortraitParser, DiffusionClothesPainter]:
    import torch

    small = size == "small"
    with torch.device(placement.device):  # allocate the big random weights on the GPU directly
        parser_parts = suit_models.tiny_face_parser() if small else full_face_parser()
        sd = tiny.tiny_sd_inpaint_pipeline() if small else full_sd_pipeline()
        pbe = suit_models.tiny_paint_by_example_pipeline() if small else full_paint_by_example(sd)
    if placement.dtype != torch.float32:
        sd, pbe = sd.to(dtype=placement.dtype), pbe.to(dtype=placement.dtype)
    parser = SegformerPortraitParser(*parser_parts, placement)
    exemplar = PaintByExampleInpainter(pbe, placement)
    if small:
        return parser, TinyDiffusionClothesPainter(
            TinyStableDiffusionInpainter(sd, placement), lambda: exemplar
        )
    return parser, DiffusionClothesPainter(StableDiffusionInpainter(sd, placement), lambda: exemplar)


def main() -> int:
    args = gpu_arguments(__doc__.splitlines()[0], PHOTO).parse_args()

    import torch

    placement = gpu_placement(args)
    if placement is None:
        return 0
    device, cuda = placement.device, placement.is_cuda

    started = time.perf_counter()
    face_parser, painter = build(args.size, placement)
    build_s = time.perf_counter() - started
    loaded_gib = torch.cuda.memory_allocated(device) / 1024**3 if cuda else 0.0

    photo = Image.open(args.photo).convert("RGB")
    side = args.side or (192 if args.size == "small" else 1024)
    scale = side / max(photo.size)
    photo = photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.Resampling.LANCZOS)
    fx0, fy0, fx1, fy1 = FACE
    face = Face(Box(fx0 * photo.width, fy0 * photo.height, fx1 * photo.width, fy1 * photo.height), 0.9)
    work = painter.resolution or 512
    crop = photo.crop((0, photo.height - photo.width, photo.width, photo.height)).resize((work, work))
    mask = Image.new("L", (work, work), 0)
    mask.paste(255, (0, work // 3, work, work))
    geometry = BodyGeometry(
        chin=(work / 2, work / 3),
        neck=((0.42 * work, work / 3), (0.58 * work, work / 3)),
        shoulders=((0.05 * work, 0.6 * work), (0.95 * work, 0.6 * work)),
        chin_line=np.array([[0, 0.6 * work], [work / 2, work / 3], [work, 0.6 * work]], np.float32),
    )
    request = SuitRequest(
        (25, 35, 70), True, "classic", (255, 255, 255), geometry, prompt=SUIT_PROMPT, steps=args.steps
    )
    exemplar = photo.crop((0, round(0.8 * photo.height), photo.width, photo.height))
    exemplar_request = dataclasses.replace(request, exemplar=exemplar)

    stages: dict[str, Callable[[], Any]] = {
        "parse": lambda: face_parser.parse(photo, face),
        "paint": lambda: painter.paint(crop, mask, request, lambda _f: None),
        "paint_exemplar": lambda: painter.paint(crop, mask, exemplar_request, lambda _f: None),
    }
    results = time_stages(stages, args.runs, device, cuda)

    name = torch.cuda.get_device_name(device) if cuda else "CPU"
    print(
        f"device: {name}  dtype: {placement.dtype}  size: {args.size}  steps: {args.steps}  runs: {args.runs}"
    )
    print(f"photo: {photo.width}x{photo.height}  painter: {work} px  models built in {build_s:.1f}s")
    for stage, (seconds, peak) in results.items():
        memory = f"  peak {peak:6.2f} GiB" if cuda else ""
        print(f"  {stage:<15} p50 {seconds * 1000:9.1f} ms{memory}")
    if cuda:
        print(f"all three models loaded: {loaded_gib:.2f} GiB allocated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
