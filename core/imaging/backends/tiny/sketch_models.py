"""The /sketch painter of the tiny tier: the standard painter class around random miniature models.

A 4-channel text-to-image UNet like the tiny inpainting UNet, a ControlNet built from it, and an LCM-LoRA of
random weights for that UNet are written to temporary folders in the layouts of
``stable-diffusion-v1-5/stable-diffusion-v1-5``, ``lllyasviel/control_v11p_sd15_scribble`` and
``latent-consistency/lcm-lora-sdv1-5``, then loaded by the standard painter's own ``from_folders`` beside the
tiny inpainter's text encoder and VAE: tests run every line of production's loading and painting code, and
nothing is downloaded.
"""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from core.config import ModelSettings
from core.imaging.backends.standard.sketch_painter import ControlNetSketchPainter
from core.imaging.backends.tiny import build_inpainter
from core.imaging.backends.tiny import models as tiny
from core.imaging.backends.tiny.models import seeded

if TYPE_CHECKING:
    from core.imaging.backends.standard.sd_inpaint import StableDiffusionInpainter

__all__ = ["TinyControlNetSketchPainter", "build_sketch_painter", "write_sketch_folders"]

LCM_WEIGHT = "pytorch_lora_weights.safetensors"


class TinyControlNetSketchPainter(ControlNetSketchPainter):
    resolution: ClassVar[int] = tiny.SD_RESOLUTION


def build_sketch_painter(models: ModelSettings) -> TinyControlNetSketchPainter:
    return _sketch_painter(build_inpainter(models))


@cache
def _sketch_painter(inpainter: StableDiffusionInpainter) -> TinyControlNetSketchPainter:
    # One painter per shared inpainter, as the standard tier's worker builds it once per process.
    with tempfile.TemporaryDirectory(prefix="atelier-tiny-sketch-") as folder:
        root = Path(folder)
        with seeded(10):
            unet = tiny_unet(inpainter.pipeline.unet.config.cross_attention_dim)
        write_sketch_folders(root, unet, conditioning_channels=(8, 16))
        return TinyControlNetSketchPainter.from_folders(
            inpainter, root / "base", root / "controlnet", root / "lcm", LCM_WEIGHT
        )


def tiny_unet(cross_attention_dim: int) -> Any:
    """The tiny inpainting UNet's shape with SD's 4 input channels (draws from the current torch RNG)."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=tiny.SD_RESOLUTION // 2,
        in_channels=4,
        out_channels=4,
        layers_per_block=1,
        block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=cross_attention_dim,
        attention_head_dim=8,
        norm_num_groups=8,
    )


def write_sketch_folders(
    root: Path, unet: Any, *, conditioning_channels: tuple[int, ...] = (16, 32, 96, 256), lora_rank: int = 4
) -> None:
    """Writes ``root/base`` (``unet/`` and ``scheduler/`` like SD 1.5), ``root/controlnet`` (a ControlNet
    made from ``unet``, random) and ``root/lcm/LCM_WEIGHT`` (a random LoRA for ``unet``'s attention layers in
    the diffusers format). ``conditioning_channels``: the ControlNet's image embedding (its length sets the
    downsampling, which must match the VAE's: four entries for SD's 8)."""
    import torch
    from diffusers import ControlNetModel, StableDiffusionPipeline
    from peft import LoraConfig, get_peft_model_state_dict
    from peft.tuners.lora import LoraModel

    unet.save_pretrained(root / "base" / "unet")
    tiny.sd15_scheduler().save_pretrained(root / "base" / "scheduler")
    controlnet = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=conditioning_channels)
    controlnet.save_pretrained(root / "controlnet")
    config = LoraConfig(
        r=lora_rank, lora_alpha=lora_rank, target_modules=["to_q", "to_k", "to_v", "to_out.0"]
    )
    lora: Any = LoraModel(unet, config, "default")
    with torch.no_grad():
        for name, parameter in lora.named_parameters():
            if "lora_B" in name:  # zero at init (a no-op adapter): give it weights that change the output
                parameter.normal_(0.0, 0.02)
    state = get_peft_model_state_dict(unet)
    StableDiffusionPipeline.save_lora_weights(
        root / "lcm", unet_lora_layers=state, weight_name=LCM_WEIGHT, safe_serialization=True
    )
    # Leave the caller's UNet as it was: the LoRA layers were only needed to make the file.
    lora.unload()
