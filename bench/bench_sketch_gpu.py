"""Latency and GPU memory of the /sketch painter (standard tier): full-size models, random weights.

    python bench/bench_sketch_gpu.py [--runs 5] [--steps 25] [--device auto]
    python bench/bench_sketch_gpu.py --device cpu --size small --steps 2 --runs 1    # smoke run of the code

``--size full`` builds the production architectures from configs in code, so nothing is downloaded and the
timings equal those of the real weights (same shapes, same kernels): the SD 1.5 inpainting pipeline whose
text encoder and VAE the painter shares (as in ``bench_standard_gpu.py``), SD 1.5's text-to-image UNet, a
ControlNet made from it (``control_v11p_sd15_scribble``'s architecture) and a rank-64 LoRA on its attention
layers (the shape of ``lcm-lora-sdv1-5``). They are written in fp16 to a temporary folder in the hub
repositories' layouts (in /dev/shm where there is one) and loaded by the real
``ControlNetSketchPainter.from_folders``.

Stages, fp16 on CUDA, each a warm-up then ``--runs`` timed runs, on a 512x512 drawing: ``sketch``
(``--steps`` steps with classifier-free guidance, strength 0.6) and ``sketch fast`` (the LCM-LoRA on, 4 steps,
guidance 1). Prints p50 and peak GPU memory per stage, the memory of the models loaded and their load time.
Targets on an H100: fast mode 0.25 s or less.

Without a CUDA device it says so and exits 0, unless asked for the smoke run (``--device cpu --size
small``), which uses the tiny tier's models through the same code.
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_standard_gpu import full_sd_pipeline  # noqa: E402
from bench.common import gpu_arguments, gpu_placement, time_stages  # noqa: E402
from core.config import ModelSettings  # noqa: E402
from core.imaging.backends.base import Box, Face, SketchRequest  # noqa: E402
from core.imaging.backends.standard.sd_inpaint import StableDiffusionInpainter  # noqa: E402
from core.imaging.backends.standard.sketch_painter import ControlNetSketchPainter  # noqa: E402
from core.imaging.backends.tiny import TinyStableDiffusionInpainter  # noqa: E402
from core.imaging.backends.tiny import models as tiny  # noqa: E402
from core.imaging.backends.tiny.sketch_models import (  # noqa: E402
    LCM_WEIGHT,
    TinyControlNetSketchPainter,
    tiny_unet,
    write_sketch_folders,
)
from core.imaging.backends.torch_device import Placement  # noqa: E402
from tests.pipeline.sketch_data import hand_face  # noqa: E402

MODELS = ModelSettings()  # the default prompts, steps and guidance
FAST_TARGET_S = 0.25


def full_unet() -> Any:
    """SD 1.5's text-to-image UNet (``unet/config.json`` of ``stable-diffusion-v1-5``)."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=64,
        in_channels=4,
        out_channels=4,
        layers_per_block=2,
        block_out_channels=(320, 640, 1280, 1280),
        down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        cross_attention_dim=768,
        attention_head_dim=8,
    )


def build(size: str, placement: Placement) -> tuple[ControlNetSketchPainter, float]:
    """The painter on a shared inpainter, and the seconds ``from_folders`` took (disk to device)."""
    import torch

    small = size == "small"
    with torch.device(placement.device):  # allocate the big random weights on the device directly
        sd = tiny.tiny_sd_inpaint_pipeline() if small else full_sd_pipeline()
        unet = tiny_unet(sd.unet.config.cross_attention_dim) if small else full_unet()
    if placement.dtype != torch.float32:
        sd, unet = sd.to(dtype=placement.dtype), unet.to(dtype=placement.dtype)
    inpainter = (TinyStableDiffusionInpainter if small else StableDiffusionInpainter)(sd, placement)
    painter_class = TinyControlNetSketchPainter if small else ControlNetSketchPainter
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(
        prefix="atelier-bench-sketch-", dir=shm if shm.is_dir() else None
    ) as name:
        root = Path(name)
        if small:
            write_sketch_folders(root, unet, conditioning_channels=(8, 16))
        else:
            write_sketch_folders(root, unet, lora_rank=64)
        del unet
        if placement.is_cuda:
            torch.cuda.synchronize()
        began = time.perf_counter()
        painter = painter_class.from_folders(
            inpainter, root / "base", root / "controlnet", root / "lcm", LCM_WEIGHT
        )
        if placement.is_cuda:
            torch.cuda.synchronize()
        load_s = time.perf_counter() - began
    return painter, load_s


def request(side: int, steps: int, fast: bool) -> SketchRequest:
    drawing, head = hand_face(0, side=side)
    face = Face(box=Box(head.x0, head.y0, head.x1, head.y1), score=1.0)
    return SketchRequest(
        drawing=drawing,
        face=face,
        size=drawing.size,
        strength=0.6,
        fast=fast,
        seed=1,
        steps=MODELS.sketch_fast_steps if fast else steps,
        guidance_scale=MODELS.sketch_fast_guidance if fast else MODELS.guidance_scale,
        prompt=MODELS.sketch_prompt,
        negative_prompt=MODELS.sketch_negative_prompt,
    )


def main() -> int:
    parser = gpu_arguments(__doc__.splitlines()[0], Path("unused"))
    args = parser.parse_args()

    import torch

    placement = gpu_placement(args)
    if placement is None:
        return 0
    device, cuda = placement.device, placement.is_cuda

    started = time.perf_counter()
    painter, load_s = build(args.size, placement)
    build_s = time.perf_counter() - started
    loaded_gib = torch.cuda.memory_allocated(device) / 1024**3 if cuda else 0.0

    side = args.side or (128 if args.size == "small" else 512)
    normal, fast = request(side, args.steps, False), request(side, args.steps, True)
    stages: dict[str, Callable[[], Any]] = {
        "sketch": lambda: painter.paint(normal, lambda _f: None),
        "sketch fast": lambda: painter.paint(fast, lambda _f: None),
    }
    results = time_stages(stages, args.runs, device, cuda)

    name = torch.cuda.get_device_name(device) if cuda else "CPU"
    print(f"device: {name}  dtype: {placement.dtype}  size: {args.size}  runs: {args.runs}")
    print(f"drawing {side}x{side}, painted at {painter.working_size((side, side))}")
    print(f"models built in {build_s:.1f}s, of which UNet + ControlNet + LCM-LoRA load {load_s:.2f}s")
    for stage, (seconds, peak) in results.items():
        steps = fast.steps if stage == "sketch fast" else normal.steps
        memory = f"  peak {peak:6.2f} GiB" if cuda else ""
        print(f"  {stage:<12} {steps:2d} steps  p50 {seconds * 1000:9.1f} ms{memory}")
    if cuda:
        print(f"SD inpainting + sketch UNet + ControlNet loaded: {loaded_gib:.2f} GiB allocated")
    met = "met" if results["sketch fast"][0] <= FAST_TARGET_S else "NOT met"
    print(
        f"target (fast mode <= {FAST_TARGET_S} s): {met}"
        + ("" if cuda else " (CPU smoke run: not meaningful)")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
