"""Latency and GPU memory of the /tryon garment painter (standard tier): full-size models, random weights.

    python bench/bench_tryon_gpu.py [--runs 5] [--steps 25] [--device auto]
    python bench/bench_tryon_gpu.py --device cpu --size small --steps 2 --runs 1    # smoke run of the code

``--size full`` builds the production architectures from configs in code, so nothing is downloaded and the
timings equal those of the real weights (same shapes, same kernels): SD 1.5 inpainting (as in
``bench_standard_gpu.py``), the CLIP ViT-H/14 image encoder with projection of ``h94/IP-Adapter`` and an
IP-Adapter Plus for SD 1.5 (16 tokens, resampler 768 wide). The adapter and encoder are written in fp16 to a
temporary folder in the hub repo's layout (in /dev/shm where there is one) and loaded by the real
``DiffusionGarmentPainter.from_folder``, i.e. with diffusers' ``load_ip_adapter``.

Stages, fp16 on CUDA, each a warm-up then ``--runs`` timed runs: ``tryon`` (one person + garment pair: the
painter on a torso mask, painted at 512x768 with ``--steps`` steps and classifier-free guidance) and
``inpaint`` (the shared SD inpainter alone on the same 512x768 crop: what the adapter adds). Then one more
set of try-on runs with a synchronising clock on each model, for the time per model (image encoder, text
encoder, UNet over all steps with the adapter's resampler inside it, VAE encode and decode). Prints p50 per
stage, peak GPU memory per stage, the memory of the models loaded, the adapter's load time and the cost of
installing and removing it around a run. The target: a pair in 2 s or less on an H100.

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

from PIL import Image, ImageDraw  # noqa: E402

from bench.bench_standard_gpu import full_sd_pipeline  # noqa: E402
from bench.common import gpu_arguments, gpu_placement, time_stages  # noqa: E402
from core.config import ModelSettings  # noqa: E402
from core.imaging.backends.base import Body, Garment, InpaintRequest, TryOnRequest  # noqa: E402
from core.imaging.backends.standard.sd_inpaint import StableDiffusionInpainter  # noqa: E402
from core.imaging.backends.standard.tryon_painter import DiffusionGarmentPainter  # noqa: E402
from core.imaging.backends.tiny import TinyStableDiffusionInpainter  # noqa: E402
from core.imaging.backends.tiny import models as tiny  # noqa: E402
from core.imaging.backends.tiny.tryon_models import (  # noqa: E402
    TinyDiffusionGarmentPainter,
    random_ip_adapter_plus,
    tiny_image_encoder,
    write_ip_adapter_folder,
)
from core.imaging.backends.torch_device import Placement  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tryon"
PHOTO = DATA / "people" / "00034_00.jpg"
GARMENT = DATA / "garments" / "04469_00.jpg"
# The old top in the photo, as fractions of its width and height (a person from the thighs up).
TORSO = (0.25, 0.3, 0.75, 0.85)
MODELS = ModelSettings()  # the default prompts and file layout


def full_image_encoder() -> Any:
    """CLIP ViT-H/14 with projection, as ``h94/IP-Adapter``'s ``models/image_encoder/config.json``."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    config = CLIPVisionConfig(
        hidden_size=1280,
        intermediate_size=5120,
        num_hidden_layers=32,
        num_attention_heads=16,
        image_size=224,
        patch_size=14,
        projection_dim=1024,
        hidden_act="gelu",
        layer_norm_eps=1e-5,
    )
    return CLIPVisionModelWithProjection(config).eval()


def build(size: str, placement: Placement) -> tuple[DiffusionGarmentPainter, StableDiffusionInpainter, float]:
    """The painter on the shared inpainter, and the seconds ``from_folder`` took (disk to device)."""
    import torch

    small = size == "small"
    with torch.device(placement.device):  # allocate the big random weights on the device directly
        sd = tiny.tiny_sd_inpaint_pipeline() if small else full_sd_pipeline()
        encoder = tiny_image_encoder() if small else full_image_encoder()
        dims = (32, 32, 1, 4) if small else (1280, 768, 12, 16)
        state = random_ip_adapter_plus(
            sd.unet, image_embed_dim=dims[0], hidden_dims=dims[1], heads=dims[2], num_queries=dims[3]
        )
    if placement.dtype != torch.float32:
        sd, encoder = sd.to(dtype=placement.dtype), encoder.to(dtype=placement.dtype)
    state = {key: value.to("cpu", placement.dtype) for key, value in state.items()}
    inpainter = (TinyStableDiffusionInpainter if small else StableDiffusionInpainter)(sd, placement)
    painter_class = TinyDiffusionGarmentPainter if small else DiffusionGarmentPainter
    weight, folder = MODELS.ip_adapter_weight, MODELS.ip_adapter_encoder
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(prefix="atelier-bench-ip-", dir=shm if shm.is_dir() else None) as root:
        write_ip_adapter_folder(Path(root), weight, folder, state, encoder)
        del encoder, state
        if placement.is_cuda:
            torch.cuda.synchronize()
        began = time.perf_counter()
        painter = painter_class.from_folder(inpainter, Path(root), weight, folder)
        if placement.is_cuda:
            torch.cuda.synchronize()
        load_s = time.perf_counter() - began
    return painter, inpainter, load_s


def load_image(path: Path, fallback: Callable[[], Image.Image]) -> Image.Image:
    return Image.open(path).convert("RGB") if path.is_file() else fallback()


def drawn_person() -> Image.Image:
    image = Image.new("RGB", (768, 1024), (225, 225, 220))
    draw = ImageDraw.Draw(image)
    draw.ellipse((290, 80, 480, 300), fill=(225, 180, 150))
    draw.rectangle((180, 300, 590, 1024), fill=(40, 70, 140))
    return image


def drawn_garment() -> Image.Image:
    image = Image.new("RGB", (768, 1024), (255, 255, 255))
    ImageDraw.Draw(image).polygon(
        [(250, 100), (518, 100), (700, 300), (600, 380), (560, 330), (560, 950), (208, 950), (208, 330)],
        fill=(180, 30, 40),
    )
    return image


def tryon_request(photo: Image.Image, garment_photo: Image.Image, steps: int) -> TryOnRequest:
    fx0, fy0, fx1, fy1 = TORSO
    mask = Image.new("L", photo.size, 0)
    width, height = photo.size
    mask.paste(255, (round(fx0 * width), round(fy0 * height), round(fx1 * width), round(fy1 * height)))
    none = Image.new("L", photo.size, 0)
    body = Body({}, mask, mask, none, none, 0.9)
    # A shop photo on white: the garment is whatever is not near-white.
    silhouette = garment_photo.convert("L").point(lambda v: 255 if v < 240 else 0)
    garment = Garment(garment_photo, silhouette, {}, "product")
    return TryOnRequest(
        photo,
        mask,
        body,
        garment,
        seed=1,
        steps=steps,
        fidelity=MODELS.tryon_fidelity,
        prompt=MODELS.tryon_prompt,
        negative_prompt=MODELS.tryon_negative_prompt,
    )


class ModelClock:
    """Seconds spent in each model, with the device synchronised at each boundary (so only for runs of
    their own: the synchronisation costs a little overlap)."""

    def __init__(self, cuda: bool) -> None:
        self.cuda = cuda
        self.totals: dict[str, float] = {}
        self._began: dict[str, float] = {}

    def _now(self) -> float:
        if self.cuda:
            import torch

            torch.cuda.synchronize()
        return time.perf_counter()

    def start(self, name: str) -> None:
        self._began[name] = self._now()

    def stop(self, name: str) -> None:
        self.totals[name] = self.totals.get(name, 0.0) + self._now() - self._began.pop(name)

    def module(self, name: str, module: Any) -> None:
        module.register_forward_pre_hook(lambda *_args: self.start(name))
        module.register_forward_hook(lambda *_args: self.stop(name))

    def method(self, name: str, owner: Any, attribute: str) -> None:
        original = getattr(owner, attribute)

        def timed(*args: Any, **kwargs: Any) -> Any:
            self.start(name)
            try:
                return original(*args, **kwargs)
            finally:
                self.stop(name)

        setattr(owner, attribute, timed)


def main() -> int:
    parser = gpu_arguments(__doc__.splitlines()[0], PHOTO)
    parser.add_argument("--garment", type=Path, default=GARMENT)
    args = parser.parse_args()

    import torch

    placement = gpu_placement(args)
    if placement is None:
        return 0
    device, cuda = placement.device, placement.is_cuda

    started = time.perf_counter()
    painter, inpainter, load_s = build(args.size, placement)
    build_s = time.perf_counter() - started
    loaded_gib = torch.cuda.memory_allocated(device) / 1024**3 if cuda else 0.0

    photo = load_image(args.photo, drawn_person)
    side = args.side or (192 if args.size == "small" else 1024)
    scale = side / max(photo.size)
    photo = photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.Resampling.LANCZOS)
    request = tryon_request(photo, load_image(args.garment, drawn_garment), args.steps)
    crop = painter.crop(request.mask)
    assert crop is not None
    box, work = crop
    work_image = photo.crop(box).resize(work, Image.Resampling.LANCZOS)
    work_mask = request.mask.crop(box).resize(work, Image.Resampling.NEAREST)
    inpaint_request = InpaintRequest(seed=1, steps=args.steps, prompt=request.prompt)

    stages: dict[str, Callable[[], Any]] = {
        "tryon": lambda: painter.paint(request, lambda _f: None),
        "inpaint": lambda: inpainter.inpaint(work_image, work_mask, inpaint_request, lambda _f: None),
    }
    results = time_stages(stages, args.runs, device, cuda)

    swaps = 100
    began = time.perf_counter()
    for _ in range(swaps):
        with painter.adapter.installed():
            pass
    swap_ms = (time.perf_counter() - began) / swaps * 1000

    pipe = painter.pipeline
    clock = ModelClock(cuda)
    clock.module("image encoder", pipe.image_encoder)
    clock.module("text encoder", pipe.text_encoder)
    clock.module("unet", pipe.unet)
    clock.method("vae encode", pipe.vae, "encode")
    clock.method("vae decode", pipe.vae, "decode")
    for _ in range(args.runs):
        painter.paint(request, lambda _f: None)

    name = torch.cuda.get_device_name(device) if cuda else "CPU"
    print(
        f"device: {name}  dtype: {placement.dtype}  size: {args.size}  steps: {args.steps}  runs: {args.runs}"
    )
    print(f"photo: {photo.width}x{photo.height}  crop: {box}  painted at {work[0]}x{work[1]}")
    print(f"models built in {build_s:.1f}s, of which IP-Adapter load (from_folder) {load_s:.2f}s")
    for stage, (seconds, peak) in results.items():
        memory = f"  peak {peak:6.2f} GiB" if cuda else ""
        print(f"  {stage:<15} p50 {seconds * 1000:9.1f} ms{memory}")
    print(f"  adapter swap    {swap_ms:9.3f} ms (install + remove, per run)")
    print("  per model in a try-on (mean per run, synchronised):")
    for model, seconds in clock.totals.items():
        print(f"    {model:<15} {seconds / args.runs * 1000:9.1f} ms")
    if cuda:
        print(f"SD inpainting + IP-Adapter + image encoder loaded: {loaded_gib:.2f} GiB allocated")
    target = "met" if results["tryon"][0] <= 2.0 else "NOT met"
    print(f"target (a pair in <= 2 s): {target}" + ("" if cuda else " (CPU smoke run: not meaningful)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
