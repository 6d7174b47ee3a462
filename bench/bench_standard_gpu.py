"""Latency and GPU memory of /unmask on the standard tier, with full-size models and random weights.

    python bench/bench_standard_gpu.py [--runs 5] [--steps 25] [--device auto]
    python bench/bench_standard_gpu.py --device cpu --steps 2 --size small    # smoke run of the code path

``--size full`` builds the production architectures at production size from configs in code (SD 1.5
inpainting UNet / VAE / CLIP ViT-L text encoder, SAM ViT-B, YOLOv8n, Swin-T classifier, Swin2SR x4), so no
download is needed and the timings equal those of the real weights (same shapes, same kernels). They run in
the real backend classes inside the real ``UnmaskPipeline``: a warm-up run, then ``--runs`` timed runs on a
real photo at ``--side`` px. Prints p50 total and per stage, and peak GPU memory allocated.

Random weights decide nothing useful, so the class priors are set the way a real photo would come out: the
detector's face class and the classifier's WithMask label are biased to win (one face, masked). ``--size
small`` uses the tiny tier's models instead. Without a CUDA device (and without ``--device cpu``) it says
so and exits 0.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image  # noqa: E402

from bench.common import gpu_arguments  # noqa: E402
from core.config import ModelSettings  # noqa: E402
from core.imaging.backends.base import Inpainter  # noqa: E402
from core.imaging.backends.standard.mask_classifier import FaceMaskClassifier  # noqa: E402
from core.imaging.backends.standard.sam import SamMaskSegmenter  # noqa: E402
from core.imaging.backends.standard.sd_inpaint import StableDiffusionInpainter  # noqa: E402
from core.imaging.backends.standard.superres import Swin2SRUpscaler  # noqa: E402
from core.imaging.backends.standard.yolo import YoloFaceDetector  # noqa: E402
from core.imaging.backends.tiny import TinyStableDiffusionInpainter  # noqa: E402
from core.imaging.backends.tiny import models as tiny  # noqa: E402
from core.imaging.backends.torch_device import Placement, resolve_dtype  # noqa: E402
from core.imaging.pipelines.unmask import UnmaskParams, UnmaskPipeline  # noqa: E402

PHOTO = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "with_mask" / "wm_001.jpg"
LABELS = {0: "WithMask", 1: "WithoutMask"}


def full_yolo() -> Any:
    """YOLOv8n with one class, "face", like the default face checkpoint; its class bias says "face".

    Only the stride-32 level may fire: its random boxes are selfie-sized (hundreds of pixels), where the finer
    levels' would be 30-60 px faces that a real selfie does not have.
    """
    import torch

    model = tiny.random_yolo({0: "face"}, {0: 3.0})
    network: Any = model.model
    with torch.no_grad():
        for branch in network.model[-1].cv3[:-1]:
            branch[-1].bias.fill_(-10.0)
    return model


def full_classifier() -> tuple[Any, Any]:
    import torch
    from transformers import SwinConfig, SwinForImageClassification, ViTImageProcessor

    config = SwinConfig(id2label=LABELS, label2id={v: k for k, v in LABELS.items()})  # Swin-T defaults
    model: Any = SwinForImageClassification(config)
    with torch.no_grad():
        model.classifier.bias.copy_(torch.tensor([5.0, -5.0]))
    return model, ViTImageProcessor(size={"height": 224, "width": 224})


def full_sam() -> tuple[Any, Any]:
    from transformers import SamConfig, SamImageProcessor, SamModel, SamProcessor

    return SamModel(SamConfig()), SamProcessor(SamImageProcessor())  # defaults: ViT-B encoder, 1024 px


def full_swin2sr() -> tuple[Any, Any]:
    from transformers import Swin2SRConfig, Swin2SRForImageSuperResolution, Swin2SRImageProcessor

    config = Swin2SRConfig(upscale=4, upsampler="pixelshuffle")  # classical-sr-x4-64: 6 x 6 blocks, width 180
    return Swin2SRForImageSuperResolution(config), Swin2SRImageProcessor(size_divisor=config.window_size)


def full_sd_pipeline() -> Any:
    from diffusers import AutoencoderKL, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from core.imaging.backends.tiny.clip_vocab import clip_tokenizer
    from core.imaging.backends.tiny.models import sd15_scheduler

    unet = UNet2DConditionModel(
        sample_size=64,
        in_channels=9,
        out_channels=4,
        layers_per_block=2,
        block_out_channels=(320, 640, 1280, 1280),
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        cross_attention_dim=768,
        attention_head_dim=8,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        layers_per_block=2,
        block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        sample_size=512,
    )
    text = CLIPTextModel(
        CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12)
    )
    return StableDiffusionInpaintPipeline(
        vae=vae,
        text_encoder=text,
        tokenizer=clip_tokenizer(),
        unet=unet,
        scheduler=sd15_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def build(size: str, placement: Placement, steps: int) -> UnmaskPipeline:
    import torch

    small = size == "small"
    with torch.device(placement.device):  # allocate the big random weights on the GPU directly
        detector_model = tiny.tiny_yolo() if small else full_yolo()
        classifier = tiny.tiny_classifier() if small else full_classifier()
        sam = tiny.tiny_sam() if small else full_sam()
        swin2sr = tiny.tiny_swin2sr() if small else full_swin2sr()
        sd = tiny.tiny_sd_inpaint_pipeline() if small else full_sd_pipeline()
    if placement.dtype != torch.float32:
        sd = sd.to(dtype=placement.dtype)
    inpainter: Inpainter = (TinyStableDiffusionInpainter if small else StableDiffusionInpainter)(
        sd, placement
    )
    return UnmaskPipeline(
        detector=YoloFaceDetector(
            detector_model,
            device=str(placement.device),
            half=placement.is_cuda,
            max_det=1,
            image_size=256 if small else 640,
        ),
        mask_classifier=FaceMaskClassifier(*classifier, placement),
        segmenter=SamMaskSegmenter(*sam, placement),
        upscaler=Swin2SRUpscaler(*swin2sr, placement),
        inpainter=inpainter,
        params=UnmaskParams.from_models(ModelSettings(steps=steps)),
    )


def main() -> int:
    args = gpu_arguments(__doc__.splitlines()[0], PHOTO).parse_args()

    import torch

    if args.device != "cpu" and not torch.cuda.is_available():
        print("No CUDA device: this benchmark needs one (smoke run: --device cpu --size small).")
        return 0
    device = torch.device("cuda" if args.device == "auto" else args.device)
    placement = Placement(device, resolve_dtype(device))
    cuda = placement.is_cuda

    started = time.perf_counter()
    pipeline = build(args.size, placement, args.steps)
    build_s = time.perf_counter() - started
    photo = Image.open(args.photo).convert("RGB")
    side = args.side or (192 if args.size == "small" else 1024)
    photo = photo.resize(
        (round(photo.width * side / max(photo.size)), round(photo.height * side / max(photo.size)))
    )

    def timed_run() -> tuple[float, dict[str, float], Any]:
        began = time.perf_counter()
        result = pipeline.run(photo)
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - began, result.timings, result

    timed_run()  # warm-up: kernel selection, allocator growth, lazy imports
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    totals: list[float] = []
    stages: dict[str, list[float]] = {}
    result = None
    for _ in range(args.runs):
        total, timings, result = timed_run()
        totals.append(total)
        for key, seconds in timings.items():
            stages.setdefault(key, []).append(seconds)

    name = torch.cuda.get_device_name(device) if cuda else "CPU"
    print(
        f"device: {name}  dtype: {placement.dtype}  size: {args.size}  steps: {args.steps}  runs: {args.runs}"
    )
    print(f"photo: {photo.width}x{photo.height}  models built in {build_s:.1f}s")
    assert result is not None
    for face in result.faces:
        print(f"face: {face.face.box.width:.0f}x{face.face.box.height:.0f} px  upscaled x{face.upscale}")
    print(f"p50 total: {statistics.median(totals) * 1000:.0f} ms")
    for key, values in stages.items():
        print(f"  {key:<10} {statistics.median(values) * 1000:8.1f} ms")
    if cuda:
        print(f"peak GPU memory allocated: {torch.cuda.max_memory_allocated(device) / 1024**3:.2f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
