"""The /tryon garment painter of the tiny tier, and random IP-Adapter Plus weights of any size.

The standard painter class runs on the tiny SD inpainting pipeline the tiny tier already shares between
/unmask and /suit, with an IP-Adapter Plus written in code: a 2-layer CLIP vision encoder with projection on
32 px images and the adapter's resampler and image key/value projections, random and seeded. They are saved
to a temporary folder in ``h94/IP-Adapter``'s layout and its file format (the original key names, which
diffusers converts on loading), then loaded by the standard painter's own ``from_folder``: tests run every
line of production's loading and painting code, and nothing is downloaded. The benchmark writes full-size
random weights with the same functions.
"""

from __future__ import annotations

import re
import tempfile
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from core.config import ModelSettings
from core.imaging.backends.standard.ip_adapter import encoder_folder
from core.imaging.backends.standard.tryon_painter import DiffusionGarmentPainter
from core.imaging.backends.tiny import build_inpainter
from core.imaging.backends.tiny import models as tiny
from core.imaging.backends.tiny.models import seeded

if TYPE_CHECKING:
    import torch

    from core.imaging.backends.standard.sd_inpaint import StableDiffusionInpainter

__all__ = [
    "TinyDiffusionGarmentPainter",
    "build_garment_painter",
    "random_ip_adapter_plus",
    "tiny_image_encoder",
    "write_ip_adapter_folder",
]

ENCODER_IMAGE_SIZE = 32


class TinyDiffusionGarmentPainter(DiffusionGarmentPainter):
    resolution: ClassVar[int | None] = tiny.SD_RESOLUTION * 3 // 2


def build_garment_painter(models: ModelSettings) -> TinyDiffusionGarmentPainter:
    return _garment_painter(build_inpainter(models), models.ip_adapter_weight, models.ip_adapter_encoder)


@cache
def _garment_painter(
    inpainter: StableDiffusionInpainter, weight: str, encoder: str
) -> TinyDiffusionGarmentPainter:
    # One painter per shared inpainter, as the standard tier's worker builds it once per process.
    with tempfile.TemporaryDirectory(prefix="atelier-tiny-ip-adapter-") as folder:
        root = Path(folder)
        with seeded(8):
            state = random_ip_adapter_plus(
                inpainter.pipeline.unet, image_embed_dim=32, hidden_dims=32, heads=1, num_queries=4
            )
        write_ip_adapter_folder(root, weight, encoder, state, tiny_image_encoder())
        return TinyDiffusionGarmentPainter.from_folder(inpainter, root, weight, encoder)


def tiny_image_encoder() -> Any:
    """CLIP's vision tower with projection (ViT-H/14's class) at 32 px: 2 layers, 32 wide, seeded."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    config = CLIPVisionConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=ENCODER_IMAGE_SIZE,
        patch_size=8,
        projection_dim=32,
    )
    with seeded(9):
        return CLIPVisionModelWithProjection(config).eval()


def random_ip_adapter_plus(
    unet: Any, *, image_embed_dim: int, hidden_dims: int, heads: int, num_queries: int
) -> dict[str, torch.Tensor]:
    """An IP-Adapter Plus for ``unet``, randomly initialised from the current torch RNG, as the original
    checkpoints store it: ``image_proj.*`` (the resampler, its 4 blocks in the reference code's names) and
    ``ip_adapter.<n>.to_k_ip/to_v_ip.weight`` for the n-th attention processor of every cross-attention.

    ``image_embed_dim`` is the image encoder's hidden size; the resampler works ``hidden_dims`` wide with
    ``heads`` heads of 64 and gives ``num_queries`` tokens of the UNet's cross-attention width. SD 1.5's
    ``ip-adapter-plus_sd15``: 1280, 768, 12, 16.
    """
    import torch
    from diffusers.models.embeddings import IPAdapterPlusImageProjection

    cross_attention_dim = unet.config.cross_attention_dim
    projection = IPAdapterPlusImageProjection(
        embed_dims=image_embed_dim,
        output_dims=cross_attention_dim,
        hidden_dims=hidden_dims,
        heads=heads,
        num_queries=num_queries,
    )
    state = {f"image_proj.{key}": value for key, value in _reference_names(projection.state_dict()).items()}
    names = list(unet.attn_processors)
    for index, name in enumerate(names):
        if name.endswith("attn2.processor"):
            hidden_size = _block_width(unet, name)
            for kind in ("to_k_ip", "to_v_ip"):
                layer = torch.nn.Linear(cross_attention_dim, hidden_size, bias=False)
                state[f"ip_adapter.{index}.{kind}.weight"] = layer.weight.detach()
    return {key: value.contiguous() for key, value in state.items()}


def write_ip_adapter_folder(
    root: Path, weight: str, encoder: str, state: dict[str, torch.Tensor], image_encoder: Any
) -> None:
    """Writes ``state`` to ``root/weight`` (safetensors) and ``image_encoder`` where ``load_ip_adapter``
    looks for it: the layout of ``h94/IP-Adapter``."""
    from safetensors.torch import save_file

    (root / weight).parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(root / weight))
    image_encoder.save_pretrained(root / encoder_folder(weight, encoder))


def _block_width(unet: Any, name: str) -> int:
    """The width of the UNet block a processor sits in, the rule diffusers' converter sizes them by."""
    widths = list(unet.config.block_out_channels)
    if name.startswith("mid_block"):
        return int(widths[-1])
    block = int(name.split(".")[1])
    return int(list(reversed(widths))[block] if name.startswith("up_blocks") else widths[block])


# diffusers' names of the resampler's parameters -> the reference implementation's (what the files hold).
_RENAMES = (
    (r"layers\.(\d)\.ln0\.", r"layers.\1.0.norm1."),
    (r"layers\.(\d)\.ln1\.", r"layers.\1.0.norm2."),
    (r"layers\.(\d)\.attn\.to_q\.", r"layers.\1.0.to_q."),
    (r"layers\.(\d)\.attn\.to_out\.0\.", r"layers.\1.0.to_out."),
    (r"layers\.(\d)\.ff\.0\.", r"layers.\1.1.0."),
    (r"layers\.(\d)\.ff\.1\.net\.0\.proj\.", r"layers.\1.1.1."),
    (r"layers\.(\d)\.ff\.1\.net\.2\.", r"layers.\1.1.3."),
)


def _reference_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    import torch

    renamed: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        fused = re.fullmatch(r"layers\.(\d)\.attn\.to_k\.weight", key)
        if fused:  # the reference keeps keys and values in one matrix, keys first
            block = fused.group(1)
            value_key = f"layers.{block}.attn.to_v.weight"
            renamed[f"layers.{block}.0.to_kv.weight"] = torch.cat([value, state[value_key]])
            continue
        if re.fullmatch(r"layers\.(\d)\.attn\.to_v\.weight", key):
            continue
        for pattern, replacement in _RENAMES:
            key = re.sub(pattern, replacement, key)
        renamed[key] = value.detach()
    return renamed
