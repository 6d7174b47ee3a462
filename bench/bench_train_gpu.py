"""Speed and GPU memory of identity LoRA training, and adapter swap latency on a warm inpainting pipeline.

    python bench/bench_train_gpu.py [--steps 800] [--rank 8] [--resolution 512] [--device auto]
    python bench/bench_train_gpu.py --device cpu --size small --steps 5    # smoke run of the code path

``--size full`` builds the SD 1.5 inpainting architecture at production size from configs in code (9-channel
UNet with blocks 320/640/1280/1280 and 768-wide cross-attention, the SD VAE, a CLIP ViT-L text encoder) with
random weights, so nothing is downloaded and the timings equal those of the real weights (same shapes, same
kernels). It is wrapped in the production ``StableDiffusionInpainter`` (fp16 on CUDA) and trained through
``dreambooth.training.train_identity`` on its warm components, exactly as the train worker does: real face
photos at ``--resolution``, checkpoints into a local blob store every ``--checkpoint-every`` steps.

Prints: total seconds, steps/s (all steps, and steady state after the first 5), checkpoint write time, peak
GPU memory allocated, and the p50/p95 latency of loading + unloading the trained adapter on the warm pipeline
(``use_identity``) over ``--rounds`` rounds. ``--size small`` uses the tiny tier's 64 px pipeline instead.
Without a CUDA device (and without ``--device cpu``) it says so and exits 0.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image, ImageOps  # noqa: E402

from bench.common import percentile  # noqa: E402
from core.blobs import LocalBlobStore  # noqa: E402
from core.identity import checkpoint_prefix, identity_token, owner_slug  # noqa: E402
from core.imaging.backends.base import Identity  # noqa: E402
from core.imaging.backends.standard.identity_lora import loaded_identities, use_identity  # noqa: E402
from core.imaging.backends.standard.sd_inpaint import StableDiffusionInpainter  # noqa: E402
from core.imaging.backends.tiny import TinyStableDiffusionInpainter  # noqa: E402
from dreambooth.checkpoints import BlobCheckpointStore, Checkpoint  # noqa: E402
from dreambooth.training import LoraTrainConfig, train_identity  # noqa: E402

PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "faces" / "without_mask"


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--resolution", type=int, default=None, help="default 512; small: 64")
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--checkpoint-every", type=int, default=100)
    parser.add_argument("--images", type=int, default=5, help="training photos (selfies)")
    parser.add_argument("--rounds", type=int, default=20, help="adapter load + unload rounds")
    parser.add_argument("--mixed-precision", choices=["fp16", "bf16"], default="fp16")
    parser.add_argument("--gradient-checkpointing", action="store_true")
    parser.add_argument("--device", default="auto", help="auto, cuda, cuda:N or cpu")
    parser.add_argument("--size", choices=["full", "small"], default="full")
    parser.add_argument("--photos", type=Path, default=PHOTOS)
    return parser


class TimedCheckpoints(BlobCheckpointStore):
    """The blob-store checkpoints, timing each save (serialisation + atomic write)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.save_seconds: list[float] = []

    def save(self, checkpoint: Checkpoint) -> None:
        began = time.perf_counter()
        super().save(checkpoint)
        self.save_seconds.append(time.perf_counter() - began)


def inpainter(size: str, device: Any, dtype: Any) -> StableDiffusionInpainter:
    import torch

    from core.imaging.backends.tiny import models as tiny
    from core.imaging.backends.torch_device import Placement

    with torch.device(device):  # allocate the big random weights on the GPU directly
        if size == "small":
            sd = tiny.tiny_sd_inpaint_pipeline()
        else:
            from bench.bench_standard_gpu import full_sd_pipeline

            sd = full_sd_pipeline()
    if dtype != torch.float32:
        sd = sd.to(dtype=dtype)
    cls = TinyStableDiffusionInpainter if size == "small" else StableDiffusionInpainter
    return cls(sd, Placement(device, dtype))


def photos(folder: Path, count: int, side: int) -> list[Image.Image]:
    paths = sorted(folder.glob("*.jpg"))[:count]
    if len(paths) < count:
        raise SystemExit(f"need {count} photos in {folder}, found {len(paths)}")
    return [ImageOps.fit(Image.open(p).convert("RGB"), (side, side), Image.Resampling.LANCZOS) for p in paths]


def main() -> int:
    args = arguments().parse_args()

    import torch

    from core.imaging.backends.torch_device import resolve_dtype

    if args.device != "cpu" and not torch.cuda.is_available():
        print("No CUDA device: this benchmark needs one (smoke run: --device cpu --size small).")
        return 0
    device = torch.device("cuda" if args.device == "auto" else args.device)
    cuda = device.type == "cuda"
    resolution = args.resolution or (64 if args.size == "small" else 512)

    began = time.perf_counter()
    warm = inpainter(args.size, device, resolve_dtype(device))
    build_s = time.perf_counter() - began
    images = photos(args.photos, args.images, resolution)
    config = LoraTrainConfig(
        rank=args.rank,
        alpha=args.rank,
        steps=args.steps,
        resolution=resolution,
        batch_size=args.batch_size,
        checkpoint_every=args.checkpoint_every,
        mixed_precision=args.mixed_precision,
        gradient_checkpointing=args.gradient_checkpointing,
    )
    slug = owner_slug("bench", "1")
    stamps: list[float] = []

    def progress(step: int, total: int, loss: float) -> None:
        stamps.append(time.perf_counter())  # the loss read has synchronised the device
        if step == total or step % max(1, total // 10) == 0:
            print(f"  step {step:>5}/{total}  loss {loss:.4f}")

    with tempfile.TemporaryDirectory(prefix="atelier-bench-train-") as folder:
        store = TimedCheckpoints(LocalBlobStore(Path(folder)), checkpoint_prefix(slug, "bench"))
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats(device)
        began = time.perf_counter()
        result = train_identity(
            warm.pipeline, images, [None] * len(images), identity_token(slug), config, store, progress
        )
        train_s = time.perf_counter() - began
        peak = torch.cuda.max_memory_allocated(device) / 1024**3 if cuda else None
    assert not loaded_identities(warm.pipeline), "training left an adapter on the warm pipeline"

    identity = Identity(name=slug, token=identity_token(slug), adapter=result.adapter)
    swaps: list[float] = []
    for _ in range(args.rounds + 1):  # the first round warms up
        began = time.perf_counter()
        with use_identity(warm.pipeline, identity):
            pass
        if cuda:
            torch.cuda.synchronize()
        swaps.append(time.perf_counter() - began)
    swaps = swaps[1:]

    name = torch.cuda.get_device_name(device) if cuda else "CPU"
    print(f"device: {name}  size: {args.size}  resolution: {resolution}  rank: {args.rank}")
    print(f"steps: {args.steps}  batch: {args.batch_size}  images: {len(images)}  built in {build_s:.1f}s")
    steady = stamps[5:]
    saves = store.save_seconds
    row("training", f"{train_s:.1f} s")
    row("steps/s (all)", f"{args.steps / train_s:.2f}")
    row(
        "steps/s (after 5 steps)",
        f"{(len(steady) - 1) / (steady[-1] - steady[0]):.2f}" if len(steady) > 1 else "n/a",
    )
    row("checkpoint save (mean)", f"{mean(saves) * 1000:.1f} ms ({len(saves)} saved)")
    if peak is not None:
        row("peak GPU memory allocated", f"{peak:.2f} GiB")
    row("adapter size", f"{len(result.adapter) / 1024**2:.2f} MiB")
    row("loss first 5 / last 5", f"{mean(result.losses[:5]):.4f} / {mean(result.losses[-5:]):.4f}")
    row("adapter load+unload p50", f"{percentile(swaps, 50) * 1000:.1f} ms")
    row("adapter load+unload p95", f"{percentile(swaps, 95) * 1000:.1f} ms")
    return 0


def row(label: str, value: str) -> None:
    print(f"{label:<28} {value:>22}")


def mean(values: list[float]) -> float:
    return sum(values) / max(1, len(values))


if __name__ == "__main__":
    sys.exit(main())
